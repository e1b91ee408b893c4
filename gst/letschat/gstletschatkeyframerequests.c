/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Keyframe requests the encoder answers (see the header).
 *
 *   encoder --src pad probe: a keyframe went on (time, size)--> payloader
 *      ^                                                            |
 *      +-- force-key-unit (PLI/FIR from the other party) <-- webrtcbin
 *          ignored while the last keyframe may still be on its way
 *
 * A receiver that loses a packet asks for a keyframe (PLI, FIR) and keeps
 * asking while it waits for one; rtpsession lets a new request through
 * once a round trip has passed since the last, and a round trip measured
 * before the link's queue filled says little about how long a keyframe
 * takes to cross it. In the first second of a call over a 600 kbit/s
 * link, 320x180 snow keyframes of 180 to 310 kbit went out 0.03 to 0.1 s
 * apart, each asked for by the other party before the last one could
 * have arrived (at 600 kbit/s, 0.3 to 0.5 s each): together more than the
 * link's queue holds, so packets of each were lost and the other party
 * asked again. A request is taken as about the last keyframe only once
 * that keyframe can have crossed a path that carries the encoder's
 * bitrate, plus ROUND_TRIP_US for the request to come back.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/video/video.h>

#include "gstletschatkeyframerequests.h"
#include "gstletschatcongestion.h"

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_keyframe_requests_debug);
#define GST_CAT_DEFAULT gst_lets_chat_keyframe_requests_debug

#define OWN_REQUEST "letschat-own-request"
#define ROUND_TRIP_US (100 * 1000)

typedef struct
{
  GMutex lock;
  gint64 keyframe_us;           /* when the last one went on, 0: none */
  gint64 crossing_us;           /* how long it takes to cross the path */
} KeyframeRequests;

static void
keyframe_requests_free (gpointer data)
{
  KeyframeRequests *k = data;

  g_mutex_clear (&k->lock);
  g_free (k);
}

static GstPadProbeReturn
on_encoder_src (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  KeyframeRequests *k = data;
  gint64 now = g_get_monotonic_time ();

  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
    GstElement *encoder;
    guint bitrate;

    if (GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_DELTA_UNIT))
      return GST_PAD_PROBE_OK;
    encoder = gst_pad_get_parent_element (pad);
    bitrate = encoder ? gst_lets_chat_congestion_get_encoder_bitrate (encoder)
        : 0;
    gst_clear_object (&encoder);
    g_mutex_lock (&k->lock);
    k->keyframe_us = now;
    k->crossing_us = bitrate ? gst_buffer_get_size (buffer) * 8 *
        G_USEC_PER_SEC / bitrate : 0;
    g_mutex_unlock (&k->lock);
  } else if (info->type & GST_PAD_PROBE_TYPE_EVENT_UPSTREAM) {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
    const GstStructure *s = gst_event_get_structure (event);
    gint64 since = -1, wait = 0;

    if (!gst_video_event_is_force_key_unit (event)
        || (s && gst_structure_has_field (s, OWN_REQUEST)))
      return GST_PAD_PROBE_OK;
    g_mutex_lock (&k->lock);
    if (k->keyframe_us) {
      since = now - k->keyframe_us;
      wait = k->crossing_us + ROUND_TRIP_US;
    }
    g_mutex_unlock (&k->lock);
    if (since >= 0 && since < wait) {
      GST_DEBUG_OBJECT (pad, "a keyframe request %" G_GINT64_FORMAT " ms "
          "after a keyframe that takes %" G_GINT64_FORMAT " ms to arrive: "
          "about what was lost before it, ignored", since / 1000,
          (wait - ROUND_TRIP_US) / 1000);
      return GST_PAD_PROBE_DROP;
    }
  }
  return GST_PAD_PROBE_OK;
}

void
gst_lets_chat_keyframe_requests_watch (GstElement * encoder)
{
  GstPad *src = gst_element_get_static_pad (encoder, "src");
  KeyframeRequests *k;
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_lets_chat_keyframe_requests_debug,
        "letschatkeyframes", 0, "letschat keyframe requests answered");
    g_once_init_leave (&done, 1);
  }
  if (!src)
    return;
  k = g_new0 (KeyframeRequests, 1);
  g_mutex_init (&k->lock);
  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_encoder_src, k,
      keyframe_requests_free);
  gst_object_unref (src);
}

GstEvent *
gst_lets_chat_keyframe_request_new (void)
{
  GstEvent *event = gst_video_event_new_upstream_force_key_unit
      (GST_CLOCK_TIME_NONE, TRUE, 0);

  gst_structure_set (gst_event_writable_structure (event), OWN_REQUEST,
      G_TYPE_BOOLEAN, TRUE, NULL);
  return event;
}
