/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * rtpsession learns the clock rate of each stream it sends.
 *
 * A sender report gives the RTP time of "now", which takes the stream's
 * clock rate. rtpsession learns it from the caps on its send pad, which
 * name one stream (`ssrc`, `clock-rate`). With BUNDLE every stream of the
 * call comes through webrtcbin's rtpfunnel, whose caps name none; so at
 * the first report rtpsession asks for each stream's clock rate, and it
 * lets go of its lock to ask in the middle of a walk of its sources. When
 * the other party's first packets or reports add a source just then, the
 * walk breaks: GLib-CRITICAL "g_hash_table_foreach: assertion 'version ==
 * hash_table->version' failed" and a report cut short; in a test, where
 * criticals are fatal, a failed call (a few calls in a thousand on a
 * loaded 2-core machine). GStreamer 1.22.10 walks a copy; Debian 12 has
 * 1.22.0.
 *
 * So, at the first packet of each stream it sends (RTX included), the
 * session is given the funnel's caps with that stream's ssrc, payload and
 * clock rate, as if the stream had come alone, and then the funnel's caps
 * again; both are stopped at the session's other side, where what follows
 * saw the funnel's caps and goes on seeing them:
 *
 *                     +------------- rtpsession -------------+
 *   rtpfunnel ... --> send_rtp_sink                send_rtp_src --> ...
 *                     ^ first packet of an ssrc:   ^ our two caps events
 *                     | our caps (ssrc, rate),     | stop here
 *                     | then the funnel's again    |
 *
 * The clock rate of a payload type comes from the negotiated answer (every
 * video payload, RTX and FEC included, is 90 kHz; Opus 48 kHz), learnt
 * before anything is sent. A stream whose payload type is not known yet is
 * left to rtpsession, as before.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstletschatsendclockrates.h"

#include <gst/rtp/rtp.h>
#include <stdlib.h>

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_send_clock_rates_debug);
#define GST_CAT_DEFAULT gst_lets_chat_send_clock_rates_debug

/* What the negotiation learnt, for every session of a webrtcbin. */
typedef struct
{
  gint refcount;
  GMutex lock;
  GHashTable *rate_of_payload;  /* under lock: payload -> clock rate */
} ClockRates;

/* One rtpsession, under its send pad's stream lock (held by its streaming
 * thread, and by whoever sends an event into it). */
typedef struct
{
  gint refcount;
  ClockRates *rates;
  GHashTable *told;             /* ssrcs the session knows the rate of */
  gboolean telling;             /* our caps events are on their way */
} SessionWatch;

static ClockRates *
clock_rates_ref (ClockRates * rates)
{
  g_atomic_int_inc (&rates->refcount);
  return rates;
}

static void
clock_rates_unref (ClockRates * rates)
{
  if (!g_atomic_int_dec_and_test (&rates->refcount))
    return;
  g_mutex_clear (&rates->lock);
  g_hash_table_destroy (rates->rate_of_payload);
  g_free (rates);
}

static SessionWatch *
session_watch_ref (SessionWatch * watch)
{
  g_atomic_int_inc (&watch->refcount);
  return watch;
}

static void
session_watch_unref (SessionWatch * watch)
{
  if (!g_atomic_int_dec_and_test (&watch->refcount))
    return;
  clock_rates_unref (watch->rates);
  g_hash_table_destroy (watch->told);
  g_free (watch);
}

static void
session_watch_closure_unref (gpointer watch, GClosure * closure)
{
  session_watch_unref (watch);
}

/* The ClockRates of @webrtc, made at the first call (from the thread that
 * adds the session, or the one that negotiates, whichever comes first). */
static ClockRates *
clock_rates_of (GstElement * webrtc)
{
  static gsize quark = 0;
  static GMutex creating;
  ClockRates *rates;

  if (g_once_init_enter (&quark)) {
    GST_DEBUG_CATEGORY_INIT (gst_lets_chat_send_clock_rates_debug,
        "letschatsendclockrates", 0,
        "letschat: rtpsession told the clock rate of each stream it sends");
    g_once_init_leave (&quark,
        g_quark_from_static_string ("letschat-send-clock-rates"));
  }

  g_mutex_lock (&creating);
  rates = g_object_get_qdata (G_OBJECT (webrtc), (GQuark) quark);
  if (!rates) {
    rates = g_new0 (ClockRates, 1);
    rates->refcount = 1;
    g_mutex_init (&rates->lock);
    rates->rate_of_payload = g_hash_table_new (NULL, NULL);
    g_object_set_qdata_full (G_OBJECT (webrtc), (GQuark) quark, rates,
        (GDestroyNotify) clock_rates_unref);
  }
  g_mutex_unlock (&creating);
  return rates;
}

void
gst_lets_chat_send_clock_rates_learn (GstElement * webrtc,
    const GstSDPMessage * sdp)
{
  ClockRates *rates = clock_rates_of (webrtc);
  guint i, j;

  g_mutex_lock (&rates->lock);
  for (i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (sdp, i);

    for (j = 0; j < gst_sdp_media_formats_len (media); j++) {
      gint payload = atoi (gst_sdp_media_get_format (media, j));
      GstCaps *caps = gst_sdp_media_get_caps_from_media (media, payload);
      gint rate = 0;

      if (caps && gst_structure_get_int (gst_caps_get_structure (caps, 0),
              "clock-rate", &rate) && rate > 0)
        g_hash_table_insert (rates->rate_of_payload,
            GINT_TO_POINTER (payload), GINT_TO_POINTER (rate));
      gst_clear_caps (&caps);
    }
  }
  g_mutex_unlock (&rates->lock);
}

static gint
clock_rate_of_payload (ClockRates * rates, guint payload)
{
  gint rate;

  g_mutex_lock (&rates->lock);
  rate = GPOINTER_TO_INT (g_hash_table_lookup (rates->rate_of_payload,
          GUINT_TO_POINTER (payload)));
  g_mutex_unlock (&rates->lock);
  return rate;
}

/* Sends @caps into the session through @pad (its send_rtp_sink). */
static void
tell_session (SessionWatch * watch, GstPad * pad, GstCaps * caps)
{
  watch->telling = TRUE;
  if (!gst_pad_send_event (pad, gst_event_new_caps (caps)))
    GST_DEBUG_OBJECT (pad, "the session refused %" GST_PTR_FORMAT, caps);
  watch->telling = FALSE;
}

static void
tell_if_new (SessionWatch * watch, GstPad * pad, GstBuffer * buffer)
{
  guint8 header[12];
  guint32 ssrc;
  guint payload;
  gint rate;
  GstCaps *funnel_caps, *caps;

  /* The fixed RTP header, version 2: the payload type and the SSRC. */
  if (gst_buffer_extract (buffer, 0, header, 12) < 12 || (header[0] >> 6) != 2)
    return;
  ssrc = GST_READ_UINT32_BE (header + 8);
  if (g_hash_table_contains (watch->told, GUINT_TO_POINTER (ssrc)))
    return;
  payload = header[1] & 0x7f;
  rate = clock_rate_of_payload (watch->rates, payload);
  funnel_caps = gst_pad_get_current_caps (pad);
  if (rate <= 0 || !funnel_caps) {
    gst_clear_caps (&funnel_caps);
    return;
  }

  caps = gst_caps_copy (funnel_caps);
  gst_caps_set_simple (caps, "ssrc", G_TYPE_UINT, ssrc, "payload", G_TYPE_INT,
      (gint) payload, "clock-rate", G_TYPE_INT, rate, NULL);
  GST_DEBUG_OBJECT (pad, "ssrc %u: payload %u, %d Hz", ssrc, payload, rate);
  tell_session (watch, pad, caps);
  tell_session (watch, pad, funnel_caps);
  gst_caps_unref (caps);
  gst_caps_unref (funnel_caps);
  g_hash_table_add (watch->told, GUINT_TO_POINTER (ssrc));
}

static GstPadProbeReturn
on_send_packets (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  SessionWatch *watch = user_data;

  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    tell_if_new (watch, pad, GST_PAD_PROBE_INFO_BUFFER (info));
  } else {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    guint i;

    for (i = 0; i < gst_buffer_list_length (list); i++)
      tell_if_new (watch, pad, gst_buffer_list_get (list, i));
  }
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_sent_event (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  SessionWatch *watch = user_data;

  if (watch->telling &&
      GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_CAPS)
    return GST_PAD_PROBE_DROP;
  return GST_PAD_PROBE_OK;
}

static void
on_session_pad_added (GstElement * session, GstPad * pad, gpointer user_data)
{
  SessionWatch *watch = user_data;
  const gchar *name = GST_PAD_NAME (pad);

  if (g_str_equal (name, "send_rtp_sink"))
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
        GST_PAD_PROBE_TYPE_BUFFER_LIST, on_send_packets,
        session_watch_ref (watch), (GDestroyNotify) session_watch_unref);
  else if (g_str_equal (name, "send_rtp_src"))
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
        on_sent_event, session_watch_ref (watch),
        (GDestroyNotify) session_watch_unref);
}

void
gst_lets_chat_send_clock_rates_watch (GstElement * webrtc, GstElement * session)
{
  SessionWatch *watch = g_new0 (SessionWatch, 1);

  watch->refcount = 1;
  watch->rates = clock_rates_ref (clock_rates_of (webrtc));
  watch->told = g_hash_table_new (NULL, NULL);
  g_signal_connect_data (session, "pad-added",
      G_CALLBACK (on_session_pad_added), watch, session_watch_closure_unref, 0);
}
