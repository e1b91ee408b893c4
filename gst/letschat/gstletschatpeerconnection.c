/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * One peer connection: one webrtcbin and the state that lives and dies with
 * it (see the header for the teardown order). It makes and tunes the
 * webrtcbin and takes it down; it does not negotiate (that is
 * gstletschatnegotiation.c, driven by the session) and never posts to the
 * bus. Its callbacks run on webrtcbin's threads; the session moves them to
 * its own.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstletschatpeerconnection.h"
#include "gstletschatsendclockrates.h"
#include "gstletschatremb.h"
#include "letschat-protocol.h"

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_peer_connection_debug);
#define GST_CAT_DEFAULT gst_lets_chat_peer_connection_debug

/* What webrtcbin's signal handlers hold: a handler may still be running on
 * one of its threads when close() has disconnected it and freed the peer
 * connection, so they get a reference of their own to this. */
typedef struct
{
  guint generation;
  const GstLetsChatPeerConnectionCallbacks *callbacks;
  gpointer user_data;
  /* Set (atomically) by close: webrtcbin's threads stop calling back. */
  gint closed;
} Handlers;

struct _GstLetsChatPeerConnection
{
  GstElement *webrtcbin;        /* a ref; in the host bin until closed */
  Handlers *handlers;

  /* Session thread only. */
  GstLetsChatNegotiationState state;
  GQueue pending_candidates;    /* of RemoteCandidate */
  GArray *ignored_mlines;       /* of guint */
  GstLetsChatIceTally ice_tally;

  /* The last get-stats asked of webrtcbin (a ref), and whether asking is
   * held off: under stats_lock (the session thread asks, the thread that
   * stops the party or tears webrtcbin down waits). See
   * gst_lets_chat_peer_connection_get_stats(). */
  GMutex stats_lock;
  GstPromise *last_stats;
  gboolean stats_held;
};

typedef struct
{
  guint mline;
  gchar *candidate;
} RemoteCandidate;

struct _GstLetsChatTeardowns
{
  GMutex lock;
  GCond cond;
  guint running;
};

static void
ensure_debug_category (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_lets_chat_peer_connection_debug,
        "letschatpc", 0, "letschat peer connection (one webrtcbin)");
    g_once_init_leave (&done, 1);
  }
}

/* ---------------------------------------------------------------------- */
/* webrtcbin's signals (webrtcbin's threads)                               */

static Handlers *
handlers_ref (Handlers * h)
{
  return g_atomic_rc_box_acquire (h);
}

static void
handlers_unref (gpointer h, GClosure * closure)
{
  g_atomic_rc_box_release (h);
}

static gboolean
handlers_open (Handlers * h)
{
  return !g_atomic_int_get (&h->closed);
}

static void
on_ice_candidate (GstElement * webrtc, guint mline, const gchar * candidate,
    Handlers * h)
{
  if (handlers_open (h))
    h->callbacks->ice_candidate (h->generation, mline, candidate, h->user_data);
}

static void
on_ice_gathering_state (GstElement * webrtc, GParamSpec * pspec, Handlers * h)
{
  GstWebRTCICEGatheringState state;

  g_object_get (webrtc, "ice-gathering-state", &state, NULL);
  if (state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE && handlers_open (h))
    h->callbacks->ice_candidate (h->generation, 0, NULL, h->user_data);
}

static void
on_connection_state (GstElement * webrtc, GParamSpec * pspec, Handlers * h)
{
  GstWebRTCPeerConnectionState state;

  g_object_get (webrtc, "connection-state", &state, NULL);
  if (handlers_open (h))
    h->callbacks->connection_state (h->generation, state, h->user_data);
}

static void
on_pad_added (GstElement * webrtc, GstPad * pad, Handlers * h)
{
  GstPad *peer;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC || !handlers_open (h))
    return;
  h->callbacks->pad_added (h->generation, pad, h->user_data);
  /* Closed meanwhile: close() cut the pads it saw, not this one. */
  if (!handlers_open (h) && (peer = gst_pad_get_peer (pad))) {
    gst_pad_unlink (pad, peer);
    gst_object_unref (peer);
  }
}

static void
on_data_channel (GstElement * webrtc, GstWebRTCDataChannel * channel,
    Handlers * h)
{
  if (handlers_open (h))
    h->callbacks->data_channel (h->generation, channel, h->user_data);
}

/* ---------------------------------------------------------------------- */
/* Making one                                                              */

/* libnice's agent, tuned. No UPnP port mapping: libnice would multicast
 * SSDP discovery to the local network and ask the router to open ports,
 * which nobody asked for (a STUN or TURN server does that job properly
 * when configured). */
static void
webrtcbin_tune_ice (GstElement * webrtc)
{
  GObject *ice = NULL, *agent = NULL;

  g_object_get (webrtc, "ice-agent", &ice, NULL);
  if (ice && g_object_class_find_property (G_OBJECT_GET_CLASS (ice), "agent"))
    g_object_get (ice, "agent", &agent, NULL);
  if (agent && g_object_class_find_property (G_OBJECT_GET_CLASS (agent),
          "upnp"))
    g_object_set (agent, "upnp", FALSE, NULL);
  /* Connectivity checks every 5 ms (RFC 8445's lowest pacing) instead of
   * libnice's 20: a two-party call has few candidate pairs, and ICE took
   * 64 ms of a 180 ms call setup on loopback with 20, 18 to 30 ms with 5. */
  if (agent && g_object_class_find_property (G_OBJECT_GET_CLASS (agent),
          "stun-pacing-timer"))
    g_object_set (agent, "stun-pacing-timer", 5, NULL);
  g_clear_object (&agent);
  g_clear_object (&ice);
}

/* rtpjitterbuffer holds a stream's first packet for its whole latency
 * before it lets anything out, even when packets arrive in order: 50 ms
 * of every call's setup. With faststart it starts as soon as a few
 * consecutive packets are in (a keyframe is many), and keeps its latency
 * for reordering afterwards. */
#define JITTERBUFFER_FASTSTART_PACKETS 5

/* The m-line of the other party's description that lists @ssrc
 * (a=ssrc:<ssrc> ...), or -1. */
static gint
remote_mline_of_ssrc (GstElement * webrtc, guint ssrc)
{
  GstWebRTCSessionDescription *remote = NULL;
  gint mline = -1;
  guint i, j;

  g_object_get (webrtc, "remote-description", &remote, NULL);
  for (i = 0; remote && mline < 0 &&
      i < gst_sdp_message_medias_len (remote->sdp); i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (remote->sdp, i);

    for (j = 0; j < gst_sdp_media_attributes_len (media); j++) {
      const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, j);

      if (g_str_equal (attr->key, "ssrc") && attr->value
          && g_ascii_strtoull (attr->value, NULL, 10) == ssrc) {
        mline = (gint) i;
        break;
      }
    }
  }
  g_clear_pointer (&remote, gst_webrtc_session_description_free);
  return mline;
}

/* webrtcbin 1.22 gives each new jitter buffer the do-retransmission of
 * every stream it knows in turn, not of the buffer's own stream (its
 * jitter_buffer_set_retransmission() does not compare the SSRC): with
 * BUNDLE all of them end with the setting of the last stream it lists.
 * With aiortc that is the audio, so its video was never asked to
 * retransmit a packet (0 NACKs; a keyframe request for every loss
 * instead). Here, after webrtcbin, the transceiver of the stream's own
 * m-line decides; a stream the description does not list keeps
 * webrtcbin's choice. */
static void
jitterbuffer_retransmit_as_negotiated (GstElement * webrtc,
    GstElement * jitterbuffer, guint ssrc)
{
  GArray *transceivers = NULL;
  gint mline = remote_mline_of_ssrc (webrtc, ssrc);
  guint i;

  if (mline < 0)
    return;
  g_signal_emit_by_name (webrtc, "get-transceivers", &transceivers);
  for (i = 0; transceivers && i < transceivers->len; i++) {
    GstWebRTCRTPTransceiver *t =
        g_array_index (transceivers, GstWebRTCRTPTransceiver *, i);
    guint index = G_MAXUINT;
    gboolean do_nack = FALSE;

    g_object_get (t, "mlineindex", &index, "do-nack", &do_nack, NULL);
    if (index == (guint) mline) {
      GST_DEBUG_OBJECT (jitterbuffer, "ssrc %u (m-line %d): "
          "do-retransmission %d", ssrc, mline, do_nack);
      g_object_set (jitterbuffer, "do-retransmission", do_nack, NULL);
      break;
    }
  }
  if (transceivers)
    g_array_unref (transceivers);
}

static void
on_new_jitterbuffer (GstElement * rtpbin, GstElement * jitterbuffer,
    guint session, guint ssrc, gpointer user_data)
{
  jitterbuffer_retransmit_as_negotiated (user_data, jitterbuffer, ssrc);
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (jitterbuffer),
          "faststart-min-packets"))
    g_object_set (jitterbuffer, "faststart-min-packets",
        JITTERBUFFER_FASTSTART_PACKETS, NULL);
  /* A NACK only for a gap in the sequence numbers, not for a packet that
   * is later than its predecessors let expect: on a rate-limited link a
   * keyframe queues for hundreds of milliseconds, and asking for all of
   * it again (then declaring it lost, then asking for a keyframe, which
   * queues again) left 6 frames a second of 30 through 600 kbit/s
   * (bench/network.py); with gaps only, 18 and no freeze. */
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (jitterbuffer),
          "rtx-next-seqnum"))
    g_object_set (jitterbuffer, "rtx-next-seqnum", FALSE, NULL);
}

/* A sender adapts only as fast as it hears how its packets arrived:
 * transport-cc feedback every 100 ms (as browsers send it), so that a
 * sender - letschat or a browser - sees a drop of the path's rate within a
 * fraction of a second. rtpsession 1.22 sends that feedback with its RTCP
 * packets (about two a second by default), hence the shorter RTCP
 * interval; later versions have a feedback interval of its own. */
#define FEEDBACK_INTERVAL (100 * GST_MSECOND)

/* RTCP budget of each side, bits per second: one ~150-byte compound
 * packet (receiver report, transport-cc, NACK) every 24 ms would fit, so
 * FEEDBACK_INTERVAL, not the budget, is what spaces them. */
#define RTCP_BUDGET_BPS 50000

static void
on_rtpbin_element_added (GstBin * rtpbin, GstElement * element,
    gpointer user_data)
{
  GstElement *webrtc = user_data;
  GObjectClass *klass = G_OBJECT_GET_CLASS (element);

  if (g_object_class_find_property (klass, "twcc-feedback-interval"))
    g_object_set (element, "twcc-feedback-interval",
        (guint64) FEEDBACK_INTERVAL, NULL);
  else if (g_object_class_find_property (klass, "twcc-stats") &&
      g_object_class_find_property (klass, "rtcp-min-interval"))
    g_object_set (element, "rtcp-min-interval", (guint64) FEEDBACK_INTERVAL,
        NULL);

  /* A NACK goes out at once only as "early" RTCP (RFC 4585). rtpsession
   * allows one early packet per regular interval, or another one when the
   * NACK's deadline (the jitter buffer's latency, less how late the packet
   * already is, less the retransmission round trip the jitter buffer has
   * measured) reaches past that interval; otherwise the NACK waits for the
   * next regular RTCP packet and is dropped if its deadline passes first.
   * rtpsession spaces regular RTCP by a bandwidth it derives from the
   * media it has seen; in a call's first seconds it has seen little, so
   * regular RTCP went out every 0.4 to 0.8 s (GST_DEBUG=rtpsession:6: "next
   * deterministic interval: 0:00:00.765"), NACKs waited that long, and the
   * jitter buffer's retransmission round trip rose to 300 ms on a 1 ms
   * link. That left NACK deadlines of 0: for ten seconds a third of the
   * NACKs waited for a regular packet (100 ms apart) and came back after
   * the 50 ms jitter buffer had given up. A fixed RTCP budget (what the
   * SDP's b=RS/b=RR set, RFC 3556) keeps regular RTCP FEEDBACK_INTERVAL
   * apart from the first packet (docs/congestion.md). The values are bits
   * per second despite the blurb. */
  if (g_object_class_find_property (klass, "rtcp-rr-bandwidth") &&
      g_object_class_find_property (klass, "rtcp-rs-bandwidth"))
    g_object_set (element, "rtcp-rr-bandwidth", RTCP_BUDGET_BPS,
        "rtcp-rs-bandwidth", RTCP_BUDGET_BPS, NULL);

  /* rtpsession 1.22 keeps each feedback packet it receives for 2 s with
   * the running time it arrived at, and fails a critical assertion when one
   * comes while that time is unknown, as a browser's first transport-cc
   * feedback can (browser-churn-vp8-pipeline-first: once in 5 to 20 calls).
   * Nothing of letschat reads what is kept. */
  if (g_object_class_find_property (klass, "internal-session")) {
    GObject *internal = NULL;

    g_object_get (element, "internal-session", &internal, NULL);
    if (internal && g_object_class_find_property (G_OBJECT_GET_CLASS
            (internal), "rtcp-feedback-retention-window"))
      g_object_set (internal, "rtcp-feedback-retention-window",
          GST_CLOCK_TIME_NONE, NULL);
    g_clear_object (&internal);
    /* And it learns the clock rate of what we send before it needs it. */
    gst_lets_chat_send_clock_rates_watch (webrtc, element);
    /* A sender that reads REMB alone gets one (gstletschatremb.c). */
    gst_lets_chat_remb_watch (webrtc, element);
  }
}

static void
webrtcbin_tune_rtpbin (GstElement * webrtc)
{
  GstElement *rtpbin = gst_bin_get_by_name (GST_BIN (webrtc), "rtpbin");

  if (rtpbin) {
    /* webrtcbin outlives its rtpbin, so it needs no ref. */
    g_signal_connect (rtpbin, "element-added",
        G_CALLBACK (on_rtpbin_element_added), webrtc);
    g_signal_connect (rtpbin, "new-jitterbuffer",
        G_CALLBACK (on_new_jitterbuffer), webrtc);
    /* Sender reports from the capture time of what was sent, not its send
     * time (its capture time plus the pipeline's latency). rtpsession
     * before GStreamer 1.23.1 counts a packet sent before the pipeline's
     * latency is known as sent at an unknown time, and a sender report
     * made from it puts its RTP timestamp ahead by the whole running time
     * (upstream 2a2ef23829); the other party's rtpbin then shifts that
     * stream by as much to "synchronise" it. A call's first packets
     * always go out before the latency is known (webrtcbin joins a
     * pipeline already playing), so its first report could carry it: a
     * recording then began with its audio 0.5 s after its video. From
     * the capture time, every report is right; lip sync is the same, as
     * both streams share the latency. */
    g_object_set (rtpbin, "rtcp-sync-send-time", FALSE, NULL);
    gst_object_unref (rtpbin);
  }
}

static gboolean
settings_have_ice_servers (const GstLetsChatSettings * settings)
{
  return settings->stun_server || (settings->turn_servers &&
      settings->turn_servers[0]);
}

static gboolean
webrtcbin_set_user_ice_servers (GstElement * webrtc,
    const GstLetsChatSettings * settings, GError ** error)
{
  gchar **t;

  if (settings->stun_server)
    g_object_set (webrtc, "stun-server", settings->stun_server, NULL);
  for (t = settings->turn_servers; t && *t; t++) {
    g_autofree gchar *uri = NULL;
    g_autoptr (GError) invalid = NULL;
    gboolean ok = FALSE;

    uri = letschat_protocol_turn_uri_for_webrtcbin (*t, &invalid);
    if (uri)
      g_signal_emit_by_name (webrtc, "add-turn-server", uri, &ok);
    if (!ok) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "%s", invalid ? invalid->message : "Invalid TURN server: write it "
          "as turn://user:password@host:port");
      return FALSE;
    }
  }
  return TRUE;
}

/* The user's STUN and TURN servers win; without any, the room server's. */
static void
webrtcbin_set_server_ice_servers (GstElement * webrtc,
    const GstLetsChatSettings * settings, gchar ** uris)
{
  gchar **t;

  if (settings_have_ice_servers (settings))
    return;
  for (t = uris; t && *t; t++) {
    gboolean ok;

    if (g_str_has_prefix (*t, "stun://")) {
      GST_INFO ("STUN server from the room server: %s", *t);
      g_object_set (webrtc, "stun-server", *t, NULL);
    } else {
      GST_INFO ("TURN server from the room server");
      g_signal_emit_by_name (webrtc, "add-turn-server", *t, &ok);
    }
  }
}

void gst_lets_chat_peer_connection_set_server_ice_servers
    (GstLetsChatPeerConnection * pc, const GstLetsChatSettings * settings,
    gchar ** server_ice_uris)
{
  webrtcbin_set_server_ice_servers (pc->webrtcbin, settings, server_ice_uris);
}

GstLetsChatPeerConnection *
gst_lets_chat_peer_connection_new (GstElement * host,
    gboolean receive_only_host, const GstLetsChatSettings * settings,
    gchar ** server_ice_uris, guint latency, guint generation,
    const GstLetsChatPeerConnectionCallbacks * callbacks, gpointer user_data,
    GError ** error)
{
  GstLetsChatPeerConnection *pc;
  GstElement *webrtc;

  ensure_debug_category ();
  webrtc = gst_element_factory_make ("webrtcbin", NULL);
  if (!webrtc) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
        "The GStreamer element 'webrtcbin' is missing: install "
        "gstreamer1.0-plugins-bad and gstreamer1.0-nice");
    return NULL;
  }
  gst_object_ref_sink (webrtc);
  /* One transport for every stream, as browsers do: fewer ICE checks,
   * faster setup. */
  gst_util_set_object_arg (G_OBJECT (webrtc), "bundle-policy", "max-bundle");
  webrtcbin_tune_ice (webrtc);
  webrtcbin_tune_rtpbin (webrtc);
  g_object_set (webrtc, "latency", latency, NULL);
  if (!webrtcbin_set_user_ice_servers (webrtc, settings, error)) {
    gst_object_unref (webrtc);
    return NULL;
  }
  webrtcbin_set_server_ice_servers (webrtc, settings, server_ice_uris);

  pc = g_new0 (GstLetsChatPeerConnection, 1);
  pc->webrtcbin = webrtc;
  pc->handlers = g_atomic_rc_box_new0 (Handlers);
  pc->handlers->generation = generation;
  pc->handlers->callbacks = callbacks;
  pc->handlers->user_data = user_data;
  g_queue_init (&pc->pending_candidates);
  g_mutex_init (&pc->stats_lock);
  pc->ignored_mlines = g_array_new (FALSE, FALSE, sizeof (guint));

  g_signal_connect_data (webrtc, "on-ice-candidate",
      G_CALLBACK (on_ice_candidate), handlers_ref (pc->handlers),
      handlers_unref, 0);
  g_signal_connect_data (webrtc, "notify::ice-gathering-state",
      G_CALLBACK (on_ice_gathering_state), handlers_ref (pc->handlers),
      handlers_unref, 0);
  g_signal_connect_data (webrtc, "notify::connection-state",
      G_CALLBACK (on_connection_state), handlers_ref (pc->handlers),
      handlers_unref, 0);
  g_signal_connect_data (webrtc, "pad-added", G_CALLBACK (on_pad_added),
      handlers_ref (pc->handlers), handlers_unref, 0);
  g_signal_connect_data (webrtc, "on-data-channel",
      G_CALLBACK (on_data_channel), handlers_ref (pc->handlers),
      handlers_unref, 0);

  gst_bin_add (GST_BIN (host), webrtc);
  /* webrtcbin holds network sinks (nicesink) that never see an EOS when the
   * party only receives; a letschatsrc hosting it must not count as a sink,
   * or the pipeline would wait for that EOS forever. */
  if (receive_only_host) {
    GST_OBJECT_FLAG_UNSET (webrtc, GST_ELEMENT_FLAG_SINK);
    GST_OBJECT_FLAG_UNSET (host, GST_ELEMENT_FLAG_SINK);
  }
  gst_element_sync_state_with_parent (webrtc);
  GST_INFO ("peer connection %u: %" GST_PTR_FORMAT " in %" GST_PTR_FORMAT,
      generation, webrtc, host);
  return pc;
}

/* Loss recovery on every video transceiver, ours and those webrtcbin made
 * for an offer's m-lines: with do-nack webrtcbin offers and answers
 * generic NACK and an RTX format per codec, keeps what it sent for
 * retransmission, and its jitter buffers ask for what is missing. Not on
 * audio: browsers do not retransmit audio, and Chromium refuses an offer
 * whose audio has an RTX stream ("Failed to add remote stream ssrc"). */
static gboolean
transceiver_is_video (GstWebRTCRTPTransceiver * t)
{
  GstWebRTCKind kind = GST_WEBRTC_KIND_UNKNOWN;
  GstCaps *prefs = NULL;
  gboolean video = FALSE;

  g_object_get (t, "kind", &kind, "codec-preferences", &prefs, NULL);
  if (kind == GST_WEBRTC_KIND_VIDEO)
    video = TRUE;
  else if (kind == GST_WEBRTC_KIND_UNKNOWN && prefs && !gst_caps_is_empty
      (prefs))
    video = g_strcmp0 (gst_structure_get_string (gst_caps_get_structure
            (prefs, 0), "media"), "video") == 0;
  gst_clear_caps (&prefs);
  return video;
}

/* FEC, where asked for: ULPFEC in RED, its packets about a tenth of the
 * media's (webrtcbin's fec-percentage), enough to rebuild one packet lost
 * in a group at a few per cent of random loss. */
#define FEC_PERCENTAGE 10

void
gst_lets_chat_peer_connection_enable_loss_recovery (GstElement * webrtc,
    gboolean nack, gboolean fec)
{
  GArray *transceivers = NULL;
  guint i;

  g_signal_emit_by_name (webrtc, "get-transceivers", &transceivers);
  for (i = 0; transceivers && i < transceivers->len; i++) {
    GstWebRTCRTPTransceiver *t =
        g_array_index (transceivers, GstWebRTCRTPTransceiver *, i);

    if (!transceiver_is_video (t))
      continue;
    if (nack)
      g_object_set (t, "do-nack", TRUE, NULL);
    if (fec)
      g_object_set (t, "fec-type", GST_WEBRTC_FEC_TYPE_ULP_RED,
          "fec-percentage", FEC_PERCENTAGE, NULL);
  }
  if (transceivers)
    g_array_unref (transceivers);
}

/* ---------------------------------------------------------------------- */
/* Tearing one down                                                        */

GstLetsChatTeardowns *
gst_lets_chat_teardowns_new (void)
{
  GstLetsChatTeardowns *t = g_atomic_rc_box_new0 (GstLetsChatTeardowns);

  g_mutex_init (&t->lock);
  g_cond_init (&t->cond);
  return t;
}

static void
teardowns_clear (gpointer data)
{
  GstLetsChatTeardowns *t = data;

  g_mutex_clear (&t->lock);
  g_cond_clear (&t->cond);
}

static void
teardowns_unref (GstLetsChatTeardowns * t)
{
  g_atomic_rc_box_release_full (t, teardowns_clear);
}

void
gst_lets_chat_teardowns_wait_and_free (GstLetsChatTeardowns * t)
{
  g_mutex_lock (&t->lock);
  while (t->running > 0)
    g_cond_wait (&t->cond, &t->lock);
  g_mutex_unlock (&t->lock);
  teardowns_unref (t);
}

typedef struct
{
  GstElement *webrtcbin;
  GstLetsChatTeardowns *teardowns;
  GstPromise *last_stats;       /* to wait for before NULL, or NULL */
} Teardown;

/* Its own thread: NULL may have to wait for a streaming thread of the
 * pipeline that is inside the webrtcbin (waiting for preroll in a sink
 * that is paused, say) until the pipeline moves on. */
static gpointer
teardown_thread (gpointer data)
{
  Teardown *td = data;

  /* Not below PAUSED while webrtcbin's thread may still be answering a
   * get-stats (see gst_lets_chat_peer_connection_get_stats()). */
  if (td->last_stats) {
    gst_promise_wait (td->last_stats);
    gst_promise_unref (td->last_stats);
  }
  gst_element_set_state (td->webrtcbin, GST_STATE_NULL);
  GST_INFO ("%" GST_PTR_FORMAT " is down", td->webrtcbin);
  gst_object_unref (td->webrtcbin);
  g_mutex_lock (&td->teardowns->lock);
  td->teardowns->running--;
  g_cond_broadcast (&td->teardowns->cond);
  g_mutex_unlock (&td->teardowns->lock);
  teardowns_unref (td->teardowns);
  g_free (td);
  return NULL;
}

/* Buffers, events and queries; not flushes, which this probe type does
 * not see: they are what unblocks a streaming thread. */
static GstPadProbeReturn
drop_everything (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  return GST_PAD_PROBE_DROP;
}

void
gst_lets_chat_peer_connection_drop_stream (GstPad * pad)
{
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_DATA_DOWNSTREAM |
      GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM, drop_everything, NULL, NULL);
}

/* Step 1 for the receive side: what webrtcbin still pushes into a
 * letschatsrc chain stops at its own pad (dropped as if delivered, so it
 * posts no not-linked error), and the link across the two bins goes. */
static void
cut_receive_chains (GstElement * webrtc)
{
  GList *pads = NULL, *l;

  GST_OBJECT_LOCK (webrtc);
  for (l = GST_ELEMENT (webrtc)->srcpads; l; l = l->next)
    pads = g_list_prepend (pads, gst_object_ref (l->data));
  GST_OBJECT_UNLOCK (webrtc);
  for (l = pads; l; l = l->next) {
    GstPad *peer;

    gst_lets_chat_peer_connection_drop_stream (l->data);
    if ((peer = gst_pad_get_peer (l->data))) {
      gst_pad_unlink (l->data, peer);
      gst_object_unref (peer);
    }
  }
  g_list_free_full (pads, gst_object_unref);
}

void
gst_lets_chat_peer_connection_close (GstLetsChatPeerConnection * pc,
    GstLetsChatTeardowns * teardowns)
{
  GstElement *webrtc = pc->webrtcbin;
  GstObject *parent;
  Teardown *td;
  RemoteCandidate *c;

  GST_INFO ("closing peer connection %u (%" GST_PTR_FORMAT ")",
      pc->handlers->generation, webrtc);
  g_atomic_int_set (&pc->handlers->closed, 1);
  g_signal_handlers_disconnect_matched (webrtc, G_SIGNAL_MATCH_DATA, 0, 0,
      NULL, NULL, pc->handlers);
  g_atomic_rc_box_release (pc->handlers);

  /* 1. The pipeline's threads stop entering it. */
  cut_receive_chains (webrtc);
  /* 2. Out of the pipeline: its state stays where we put it, and what it
   * posts from now on reaches no bus. */
  gst_element_set_locked_state (webrtc, TRUE);
  parent = gst_object_get_parent (GST_OBJECT (webrtc));
  if (parent) {
    gst_bin_remove (GST_BIN (parent), webrtc);
    gst_object_unref (parent);
  }
  /* 3. NULL elsewhere; 4. counted until done. */
  td = g_new0 (Teardown, 1);
  td->webrtcbin = webrtc;
  td->teardowns = g_atomic_rc_box_acquire (teardowns);
  td->last_stats = gst_lets_chat_peer_connection_hold_stats (pc);
  g_mutex_lock (&teardowns->lock);
  teardowns->running++;
  g_mutex_unlock (&teardowns->lock);
  g_thread_unref (g_thread_new ("letschat-teardown", teardown_thread, td));

  while ((c = g_queue_pop_head (&pc->pending_candidates))) {
    g_free (c->candidate);
    g_free (c);
  }
  g_array_unref (pc->ignored_mlines);
  g_mutex_clear (&pc->stats_lock);
  g_free (pc);
}

/* ---------------------------------------------------------------------- */
/* Statistics                                                              */

/* Why get-stats is tracked: webrtcbin answers it on its own thread, where
 * rtpsession walks its table of sources (rtp_session_create_stats(), with
 * g_hash_table_foreach under the RTP session's lock). GStreamer before
 * 1.22.10 (Debian 12 has 1.22.0) empties that table WITHOUT the lock when
 * rtpbin goes from PAUSED to READY (rtp_session_reset(), fixed upstream by
 * "rtpmanager/rtsession: race conditions leading to critical warnings"),
 * and webrtcbin's thread runs until READY->NULL. A get-stats still being
 * answered while its webrtcbin went down walked a table being emptied:
 * GLib-CRITICAL "g_hash_table_foreach: assertion 'version ==
 * hash_table->version' failed" (seen once in elements-signaller-custom,
 * where one party stops and the other drops its peer connection while
 * both ask for stats every second).
 *
 * So a webrtcbin leaves PAUSED only once the last get-stats asked of it is
 * answered, and none is asked after that: webrtcbin answers them one at a
 * time on one thread, in the order they were asked (from the session
 * thread only), so the last one answered means all are. */
gboolean
gst_lets_chat_peer_connection_get_stats (GstLetsChatPeerConnection * pc,
    GstPromise * promise)
{
  g_mutex_lock (&pc->stats_lock);
  if (pc->stats_held) {
    g_mutex_unlock (&pc->stats_lock);
    /* Never to be asked: answered with nothing here, or its last unref
     * would free it pending, a critical warning (errors-room-full, 1 run
     * in 4 on a loaded machine: the connection came up as the pipeline
     * stopped). Not gst_promise_expire(): GStreamer 1.22.0's forgets the
     * change func's data but not its notify, which then gets NULL. */
    gst_promise_reply (promise, NULL);
    return FALSE;
  }
  if (pc->last_stats)
    gst_promise_unref (pc->last_stats);
  pc->last_stats = gst_promise_ref (promise);
  g_mutex_unlock (&pc->stats_lock);
  /* Outside the lock: one who holds the stats from now waits for this
   * promise, which this emission gets answered. */
  g_signal_emit_by_name (pc->webrtcbin, "get-stats", NULL, promise);
  return TRUE;
}

GstPromise *
gst_lets_chat_peer_connection_hold_stats (GstLetsChatPeerConnection * pc)
{
  GstPromise *last;

  g_mutex_lock (&pc->stats_lock);
  pc->stats_held = TRUE;
  last = pc->last_stats;
  pc->last_stats = NULL;
  g_mutex_unlock (&pc->stats_lock);
  return last;
}

void
gst_lets_chat_peer_connection_resume_stats (GstLetsChatPeerConnection * pc)
{
  g_mutex_lock (&pc->stats_lock);
  pc->stats_held = FALSE;
  g_mutex_unlock (&pc->stats_lock);
}

/* ---------------------------------------------------------------------- */
/* Accessors and remote candidates                                         */

GstElement *
gst_lets_chat_peer_connection_get_webrtcbin (GstLetsChatPeerConnection * pc)
{
  return pc->webrtcbin;
}

GstLetsChatNegotiationState *
gst_lets_chat_peer_connection_state (GstLetsChatPeerConnection * pc)
{
  return &pc->state;
}

GstElement *
gst_lets_chat_peer_connection_find_webrtcbin (GstObject * object)
{
  GstObject *o = gst_object_ref (object), *parent;

  while (o) {
    GstElementFactory *factory = GST_IS_ELEMENT (o) ?
        gst_element_get_factory (GST_ELEMENT (o)) : NULL;

    if (factory && g_str_equal (GST_OBJECT_NAME (factory), "webrtcbin"))
      return GST_ELEMENT (o);
    parent = gst_object_get_parent (o);
    gst_object_unref (o);
    o = parent;
  }
  return NULL;
}

gboolean
gst_lets_chat_peer_connection_owns (GstLetsChatPeerConnection * pc,
    GstObject * object)
{
  return object == GST_OBJECT (pc->webrtcbin) ||
      gst_object_has_as_ancestor (object, GST_OBJECT (pc->webrtcbin));
}

static gboolean
mline_is_ignored (GstLetsChatPeerConnection * pc, guint mline)
{
  guint i;

  for (i = 0; i < pc->ignored_mlines->len; i++)
    if (g_array_index (pc->ignored_mlines, guint, i) == mline)
      return TRUE;
  return FALSE;
}

void
gst_lets_chat_peer_connection_ignore_candidates_of (GstLetsChatPeerConnection
    * pc, guint mline)
{
  if (!mline_is_ignored (pc, mline))
    g_array_append_val (pc->ignored_mlines, mline);
}

static void
add_candidate (GstLetsChatPeerConnection * pc, guint mline,
    const gchar * candidate)
{
  if (mline_is_ignored (pc, mline)) {
    GST_DEBUG ("not using a candidate of m-line %u (bundled): %s", mline,
        candidate);
    return;
  }
  g_signal_emit_by_name (pc->webrtcbin, "add-ice-candidate", mline, candidate);
}

void
gst_lets_chat_peer_connection_add_remote_candidate (GstLetsChatPeerConnection
    * pc, guint mline, const gchar * candidate)
{
  RemoteCandidate *c;

  gst_lets_chat_ice_tally_add (&pc->ice_tally, candidate, FALSE);
  /* webrtcbin needs the remote description before any remote candidate. */
  if (pc->state.remote_set) {
    add_candidate (pc, mline, candidate);
    return;
  }
  c = g_new0 (RemoteCandidate, 1);
  c->mline = mline;
  c->candidate = g_strdup (candidate);
  g_queue_push_tail (&pc->pending_candidates, c);
}

GstLetsChatIceTally *
gst_lets_chat_peer_connection_ice_tally (GstLetsChatPeerConnection * pc)
{
  return &pc->ice_tally;
}

void
gst_lets_chat_peer_connection_flush_candidates (GstLetsChatPeerConnection * pc)
{
  RemoteCandidate *c;

  while ((c = g_queue_pop_head (&pc->pending_candidates))) {
    add_candidate (pc, c->mline, c->candidate);
    g_free (c->candidate);
    g_free (c);
  }
}
