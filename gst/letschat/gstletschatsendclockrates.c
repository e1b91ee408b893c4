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
 * again; both are handled at the session's other side and go no further
 * (a dropped sticky event would only wait there for the next packet), so
 * what follows saw the funnel's caps and goes on seeing them. A stream the
 * session forgot (5 s without a packet, or a collision) and makes anew
 * has no clock rate again: it is told again at its next packet:
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

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_send_clock_rates_debug);
#define GST_CAT_DEFAULT gst_lets_chat_send_clock_rates_debug

/* What the negotiation learnt, for every session of a webrtcbin (a
 * g_atomic_rc_box). */
typedef struct
{
  GMutex lock;
  GHashTable *rate_of_payload;  /* under lock: payload -> clock rate */
} ClockRates;

/* One rtpsession (a g_atomic_rc_box). */
typedef struct
{
  ClockRates *rates;
  GMutex lock;
  GHashTable *told;             /* under lock: ssrcs it knows the rate of */
  /* Under the send pad's stream lock (held by its streaming thread, and by
   * whoever sends a serialized event into it; every caps event leaving
   * the session's send_rtp_src comes through there): */
  gboolean telling;             /* our caps events are on their way */
} SessionWatch;

static void
clock_rates_clear (gpointer data)
{
  ClockRates *rates = data;

  g_mutex_clear (&rates->lock);
  g_hash_table_destroy (rates->rate_of_payload);
}

static void
clock_rates_unref (gpointer rates)
{
  g_atomic_rc_box_release_full (rates, clock_rates_clear);
}

static void
session_watch_clear (gpointer data)
{
  SessionWatch *watch = data;

  clock_rates_unref (watch->rates);
  g_mutex_clear (&watch->lock);
  g_hash_table_destroy (watch->told);
}

static void
session_watch_unref (gpointer watch)
{
  g_atomic_rc_box_release_full (watch, session_watch_clear);
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
    rates = g_atomic_rc_box_new0 (ClockRates);
    g_mutex_init (&rates->lock);
    rates->rate_of_payload = g_hash_table_new (NULL, NULL);
    g_object_set_qdata_full (G_OBJECT (webrtc), (GQuark) quark, rates,
        clock_rates_unref);
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
  /* What an earlier negotiation said no longer holds. */
  g_hash_table_remove_all (rates->rate_of_payload);
  for (i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (sdp, i);

    /* Rejected m-lines and the data channel's carry no RTP. */
    if (gst_sdp_media_get_port (media) == 0
        || !g_str_has_suffix (gst_sdp_media_get_proto (media), "RTP/SAVPF"))
      continue;
    for (j = 0; j < gst_sdp_media_formats_len (media); j++) {
      const gchar *format = gst_sdp_media_get_format (media, j);
      gchar *end = NULL;
      gint64 payload = g_ascii_strtoll (format, &end, 10);
      GstCaps *caps;
      gint rate = 0;

      if (end == format || *end || payload < 0 || payload > 127)
        continue;
      caps = gst_sdp_media_get_caps_from_media (media, (gint) payload);
      if (caps && gst_structure_get_int (gst_caps_get_structure (caps, 0),
              "clock-rate", &rate) && rate > 0)
        g_hash_table_insert (rates->rate_of_payload,
            GINT_TO_POINTER ((gint) payload), GINT_TO_POINTER (rate));
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
static gboolean
tell_session (SessionWatch * watch, GstPad * pad, GstCaps * caps)
{
  gboolean taken;

  watch->telling = TRUE;
  taken = gst_pad_send_event (pad, gst_event_new_caps (caps));
  watch->telling = FALSE;
  if (!taken)
    GST_WARNING_OBJECT (pad, "the session refused %" GST_PTR_FORMAT, caps);
  return taken;
}

static gboolean
was_told (SessionWatch * watch, guint32 ssrc)
{
  gboolean told;

  g_mutex_lock (&watch->lock);
  told = g_hash_table_contains (watch->told, GUINT_TO_POINTER (ssrc));
  g_mutex_unlock (&watch->lock);
  return told;
}

static void
mark_told (SessionWatch * watch, guint32 ssrc)
{
  g_mutex_lock (&watch->lock);
  g_hash_table_add (watch->told, GUINT_TO_POINTER (ssrc));
  g_mutex_unlock (&watch->lock);
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
  if (was_told (watch, ssrc))
    return;
  payload = header[1] & 0x7f;
  rate = clock_rate_of_payload (watch->rates, payload);
  funnel_caps = gst_pad_get_current_caps (pad);
  if (rate <= 0 || !funnel_caps) {
    gst_clear_caps (&funnel_caps);
    return;
  }
  /* Caps that name a stream already (no BUNDLE, one stream alone) tell
   * the session by themselves. */
  if (gst_structure_has_field (gst_caps_get_structure (funnel_caps, 0), "ssrc")) {
    mark_told (watch, ssrc);
    gst_caps_unref (funnel_caps);
    return;
  }

  caps = gst_caps_copy (funnel_caps);
  gst_caps_set_simple (caps, "ssrc", G_TYPE_UINT, ssrc, "payload", G_TYPE_INT,
      (gint) payload, "clock-rate", G_TYPE_INT, rate, NULL);
  GST_DEBUG_OBJECT (pad, "ssrc %u: payload %u, %d Hz", ssrc, payload, rate);
  if (tell_session (watch, pad, caps))
    mark_told (watch, ssrc);
  tell_session (watch, pad, funnel_caps);
  gst_caps_unref (caps);
  gst_caps_unref (funnel_caps);
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
  GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);

  /* Handled, not dropped: a dropped sticky event stays pending on the pad
   * and goes out with the next packet. */
  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS && watch->telling) {
    gst_event_unref (event);
    GST_PAD_PROBE_INFO_DATA (info) = NULL;
    return GST_PAD_PROBE_HANDLED;
  }
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
        g_atomic_rc_box_acquire (watch), session_watch_unref);
  else if (g_str_equal (name, "send_rtp_src"))
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
        on_sent_event, g_atomic_rc_box_acquire (watch), session_watch_unref);
}

/* A sent stream the session made anew (after forgetting it) has no clock
 * rate: tell it again. Also called for the streams our caps make, before
 * they count as told. */
static void
on_new_sender_ssrc (GObject * internal_session, GObject * source,
    gpointer user_data)
{
  SessionWatch *watch = user_data;
  guint ssrc = 0;

  g_object_get (source, "ssrc", &ssrc, NULL);
  g_mutex_lock (&watch->lock);
  g_hash_table_remove (watch->told, GUINT_TO_POINTER (ssrc));
  g_mutex_unlock (&watch->lock);
}

void
gst_lets_chat_send_clock_rates_watch (GstElement * webrtc, GstElement * session)
{
  SessionWatch *watch = g_atomic_rc_box_new0 (SessionWatch);
  GObject *internal = NULL;

  watch->rates = g_atomic_rc_box_acquire (clock_rates_of (webrtc));
  g_mutex_init (&watch->lock);
  watch->told = g_hash_table_new (NULL, NULL);
  g_object_get (session, "internal-session", &internal, NULL);
  if (internal) {
    g_signal_connect_data (internal, "on-new-sender-ssrc",
        G_CALLBACK (on_new_sender_ssrc), g_atomic_rc_box_acquire (watch),
        session_watch_closure_unref, 0);
    g_object_unref (internal);
  }
  g_signal_connect_data (session, "pad-added",
      G_CALLBACK (on_session_pad_added), watch, session_watch_closure_unref, 0);
}
