/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The party's statistics, collected on the session thread: every
 * stats-interval ms (every second when that is 0, for the `stats`
 * property) webrtcbin's get-stats is asked, its reply comes back to this
 * thread (webrtcbin replies under its own lock, where its properties
 * cannot be read), gstletschatstats.c shapes it, and it goes on the bus as
 * `letschat/stats` when stats-interval is not 0. It changes nothing in the
 * call.
 *
 * The congestion control of what the party encodes ticks here too, every
 * GST_LETS_CHAT_CONGESTION_TICK_MS (gstletschatcongestion.c decides; this
 * finds the encoders and reads letschatsink's settings), and so does the
 * latency of the receiving jitter buffers, every
 * GST_LETS_CHAT_JITTERBUFFERS_TICK_MS (gstletschatjitterbuffers.c).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/video/video.h>

#include "gstletschatsessionprivate.h"
#include "gstletschatjitterbuffers.h"

#define STATS_PROPERTY_INTERVAL_MS 1000

/* The caps of what each sent video stream's encoder makes (for the
 * resolution): the payloader's input. */
static GList *
session_send_caps (GstLetsChatSession * self)
{
  GList *caps = NULL, *l;

  g_mutex_lock (&self->pc_lock);
  for (l = self->send_streams; l; l = l->next) {
    GstPad *upstream = gst_lets_chat_send_stream_get_upstream (l->data);
    GstElement *payloader = gst_pad_get_parent_element (upstream);
    GstPad *sink = payloader ?
        gst_element_get_static_pad (payloader, "sink") : NULL;
    GstCaps *c = sink ? gst_pad_get_current_caps (sink) : NULL;

    if (c && gst_structure_has_field (gst_caps_get_structure (c, 0), "width"))
      caps = g_list_append (caps, gst_caps_ref (c));
    gst_clear_caps (&c);
    gst_clear_object (&sink);
    gst_clear_object (&payloader);
    gst_object_unref (upstream);
  }
  g_mutex_unlock (&self->pc_lock);
  return caps;
}

static void
session_on_stats (GstLetsChatSession * self, gpointer data)
{
  GstPromise *promise = data;
  const GstStructure *reply;
  GstLetsChatStatsControls controls = { 0, };
  GstStructure *collection;
  GList *send_caps;

  if (gst_promise_wait (promise) != GST_PROMISE_RESULT_REPLIED ||
      !(reply = gst_promise_get_reply (promise)) ||
      gst_structure_has_field (reply, "error") || !self->pc)
    return;
  session_congestion_report (self, &controls);
  controls.receive_latency = self->receive_latency;
  send_caps = session_send_caps (self);
  collection = gst_lets_chat_stats_update (self->stats, session_webrtcbin
      (self), reply, send_caps, &controls);
  g_list_free_full (send_caps, (GDestroyNotify) gst_caps_unref);
  if (self->settings.stats_interval > 0)
    session_post (self, collection);
  else
    gst_structure_free (collection);
}

static gboolean
session_stats_tick (gpointer data)
{
  GstLetsChatSession *self = data;
  GstPromise *promise;

  if (!self->pc || !self->peer_id)
    return G_SOURCE_CONTINUE;
  promise = session_new_promise (self, session_on_stats);
  gst_lets_chat_peer_connection_get_stats (self->pc, promise);
  gst_promise_unref (promise);
  return G_SOURCE_CONTINUE;
}

void
session_start_stats (GstLetsChatSession * self)
{
  guint interval = self->settings.stats_interval ?
      self->settings.stats_interval : STATS_PROPERTY_INTERVAL_MS;

  if (self->stats_source)
    return;
  self->stats_source = g_timeout_source_new (interval);
  g_source_set_callback (self->stats_source, session_stats_tick, self, NULL);
  g_source_attach (self->stats_source, self->context);
}

void
session_stop_stats (GstLetsChatSession * self)
{
  if (self->stats_source) {
    g_source_destroy (self->stats_source);
    g_clear_pointer (&self->stats_source, g_source_unref);
  }
}

GstStructure *
gst_lets_chat_session_get_stats (GstLetsChatSession * self)
{
  return gst_lets_chat_stats_get (self->stats);
}

/* The video encoder upstream of @payloader, or NULL (a new ref). */
static GstElement *
find_encoder (GstElement * payloader)
{
  GstElement *e = gst_object_ref (payloader);
  guint depth;

  for (depth = 0; e && depth < 8; depth++) {
    GstPad *sink = gst_element_get_static_pad (e, "sink");
    GstPad *peer = sink ? gst_pad_get_peer (sink) : NULL;

    gst_object_unref (e);
    e = peer ? gst_pad_get_parent_element (peer) : NULL;
    gst_clear_object (&peer);
    gst_clear_object (&sink);
    if (e && GST_IS_VIDEO_ENCODER (e))
      return e;
  }
  gst_clear_object (&e);
  return NULL;
}

/* The video encoders of the sent streams; @pre_encoded: a video stream
 * has none. */
static GList *
session_video_encoders (GstLetsChatSession * self, gboolean * pre_encoded)
{
  GList *encoders = NULL, *l;

  *pre_encoded = FALSE;
  g_mutex_lock (&self->pc_lock);
  for (l = self->send_streams; l; l = l->next) {
    GstPad *upstream = gst_lets_chat_send_stream_get_upstream (l->data);
    GstElement *payloader = gst_pad_get_parent_element (upstream);
    GstElement *encoder = NULL;

    if (payloader && g_str_equal (gst_lets_chat_send_stream_get_codec
            (l->data)->media, "video")) {
      encoder = find_encoder (payloader);
      if (encoder)
        encoders = g_list_append (encoders, encoder);
      else
        *pre_encoded = TRUE;
    }
    gst_clear_object (&payloader);
    gst_object_unref (upstream);
  }
  g_mutex_unlock (&self->pc_lock);
  return encoders;
}

static gboolean
session_congestion_tick (gpointer data)
{
  GstLetsChatSession *self = data;
  gboolean pre_encoded;
  GList *encoders;

  if (!self->pc)
    return G_SOURCE_CONTINUE;
  encoders = session_video_encoders (self, &pre_encoded);
  gst_lets_chat_congestion_tick (self->congestion, self->peer_id ?
      session_webrtcbin (self) : NULL, encoders, pre_encoded);
  g_list_free_full (encoders, gst_object_unref);
  return G_SOURCE_CONTINUE;
}

/* letschatsink's congestion settings (none without a sink). */
static GstLetsChatCongestion *
session_make_congestion (GstLetsChatSession * self)
{
  GstLetsChatCongestionControl control = GST_LETS_CHAT_CONGESTION_CONTROL_NONE;
  guint min = GST_LETS_CHAT_DEFAULT_MIN_BITRATE,
      max = GST_LETS_CHAT_DEFAULT_MAX_BITRATE,
      start = GST_LETS_CHAT_DEFAULT_START_BITRATE;
  GstElement *sink;

  GST_OBJECT_LOCK (self);
  sink = self->sink ? gst_object_ref (self->sink) : NULL;
  GST_OBJECT_UNLOCK (self);
  if (!sink)
    return NULL;
  g_object_get (sink, "congestion-control", &control, "min-bitrate", &min,
      "max-bitrate", &max, "start-bitrate", &start, NULL);
  gst_object_unref (sink);
  return gst_lets_chat_congestion_new (control, min, max, start);
}

void
session_start_congestion (GstLetsChatSession * self)
{
  if (self->congestion_source || self->congestion)
    return;
  self->congestion = session_make_congestion (self);
  if (!self->congestion)
    return;
  self->congestion_source =
      g_timeout_source_new (GST_LETS_CHAT_CONGESTION_TICK_MS);
  g_source_set_callback (self->congestion_source, session_congestion_tick,
      self, NULL);
  g_source_attach (self->congestion_source, self->context);
}

void
session_stop_congestion (GstLetsChatSession * self)
{
  if (self->congestion_source) {
    g_source_destroy (self->congestion_source);
    g_clear_pointer (&self->congestion_source, g_source_unref);
  }
  g_clear_pointer (&self->congestion, gst_lets_chat_congestion_free);
}

void
session_congestion_report (GstLetsChatSession * self,
    GstLetsChatStatsControls * controls)
{
  controls->target_bitrate = controls->available_bandwidth = 0;
  if (self->congestion)
    gst_lets_chat_congestion_get (self->congestion,
        &controls->target_bitrate, &controls->available_bandwidth);
}

static gboolean
session_jitterbuffers_tick (gpointer data)
{
  GstLetsChatSession *self = data;
  guint floor_ms, max_ms;

  if (!self->pc)
    return G_SOURCE_CONTINUE;
  g_mutex_lock (&self->pc_lock);
  floor_ms = self->latency;
  max_ms = self->max_latency;
  g_mutex_unlock (&self->pc_lock);
  self->receive_latency = gst_lets_chat_jitterbuffers_adapt
      (session_webrtcbin (self), floor_ms, max_ms);
  return G_SOURCE_CONTINUE;
}

void
session_start_jitterbuffers (GstLetsChatSession * self)
{
  if (self->jitterbuffers_source)
    return;
  self->jitterbuffers_source =
      g_timeout_source_new (GST_LETS_CHAT_JITTERBUFFERS_TICK_MS);
  g_source_set_callback (self->jitterbuffers_source,
      session_jitterbuffers_tick, self, NULL);
  g_source_attach (self->jitterbuffers_source, self->context);
}

void
session_stop_jitterbuffers (GstLetsChatSession * self)
{
  if (self->jitterbuffers_source) {
    g_source_destroy (self->jitterbuffers_source);
    g_clear_pointer (&self->jitterbuffers_source, g_source_unref);
  }
  self->receive_latency = 0;
}
