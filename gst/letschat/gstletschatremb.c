/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * REMB for a sender that adapts on nothing else.
 *
 * A party that offers or answers `a=rtcp-fb:<pt> goog-remb` and no
 * `transport-cc` on its video (aiortc, for one) sets its encoder's bitrate
 * from the REMB packets (draft-alvestrand-rmcat-remb) its receiver sends,
 * and from nothing else: without them it sends at its own fixed rate
 * whatever the path carries. GStreamer sends no REMB (no element or
 * rtpsession setting estimates what it receives), so letschat does, with
 * a receive-side estimate of its own, as a browser's receiver does for such
 * a sender (webrtc.org's remote bitrate estimator, "single stream": the
 * arrival of each video frame against its RTP timestamp):
 *
 *                     +------------- rtpsession -------------+
 *   ... srtpdec  -->  recv_rtp_sink                          |
 *                     ^ each packet: size, arrival,          |
 *                     | and for video frames, the delay      |
 *                     | against the RTP timestamp            |
 *                     |           RTCP out <-- on-sending-rtcp: + REMB
 *
 * Every 200 ms (at a packet) it decides, from what came in since:
 * - the queue: how much later than the fastest frame of the last 30 s the
 *   fastest frame of these 200 ms came (a one-way delay, so the two clocks
 *   do not need to agree; the fastest, as a sender spreads a frame's
 *   packets and a busy sender its frames). A queue over 40 ms that is not
 *   shrinking, or any over 150 ms, means the path is full;
 * - the loss, over the last second, of the video streams' sequence numbers:
 *   over 10 % means the path is full too (a link with a short queue drops
 *   rather than delays).
 * Full: the estimate drops to 85 % of what arrived over the last 500 ms,
 * and under what it was: by half the loss, or by 5 % (a sender may send
 * more than it is told, its audio and keyframes on top, so that what
 * arrives stays at what the path carries); at most once in 500 ms, as
 * what the sender does about it needs a round trip to show. With no queue to speak of (under 20 ms) and under 2 %
 * loss, it grows by 8 % a second, never past 1.5 times what arrives (a
 * sender that uses less than it may is not asking for more); otherwise it
 * holds. It starts, after a second of media, at 1.5 times what arrived.
 *
 * The estimate goes out in every RTCP packet the session sends (at least
 * 50 ms apart), naming the streams it covers; the sender reads it as its
 * ceiling. No REMB goes to a party that asked for transport-cc: it
 * estimates better itself, from the transport-wide feedback letschat
 * sends it (docs/congestion.md).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/rtp/rtp.h>

#include "gstletschatremb.h"

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_remb_debug);
#define GST_CAT_DEFAULT gst_lets_chat_remb_debug

#define DECISION_US (200 * G_TIME_SPAN_MILLISECOND)
#define RATE_BUCKET_US (100 * G_TIME_SPAN_MILLISECOND)
#define RATE_BUCKETS 5          /* what arrived over the last 500 ms */
#define LOSS_DECISIONS 5        /* loss over the last second */
#define BASE_BUCKET_US (5 * G_TIME_SPAN_SECOND)
#define BASE_BUCKETS 6          /* the fastest frame of the last 30 s */
#define QUEUE_FULL_US (40 * G_TIME_SPAN_MILLISECOND)
#define QUEUE_OVERFULL_US (150 * G_TIME_SPAN_MILLISECOND)
#define QUEUE_EMPTY_US (20 * G_TIME_SPAN_MILLISECOND)
#define LOSS_FULL 0.10
#define LOSS_LOW 0.02
#define DECREASE_FACTOR 0.85
#define SECOND_DECREASE_FACTOR 0.95
#define DECREASE_SPACING_US (500 * G_TIME_SPAN_MILLISECOND)
#define INCREASE_PER_DECISION 1.016     /* 8 % a second */
#define CEILING_FACTOR 1.5
#define MIN_ESTIMATE 50000
#define MAX_ESTIMATE 20000000
#define START_AFTER_US G_TIME_SPAN_SECOND
#define REMB_SPACING_US (50 * G_TIME_SPAN_MILLISECOND)
#define MAX_STREAMS 4
#define STREAM_GONE_US (5 * G_TIME_SPAN_SECOND)

/* What the other party asked for and its payload types, for every session
 * of a webrtcbin (a g_atomic_rc_box). */
typedef struct
{
  GMutex lock;
  gint wanted;                  /* atomic: goog-remb, no transport-cc */
  GHashTable *video_rate_of_payload;    /* under lock: payload -> clock rate */
  GHashTable *media_payloads;   /* under lock: audio and video, not RTX/FEC */
  guint sent_bitrate;           /* under lock: the last REMB's, 0: none */
} RembPolicy;

/* A video stream received (one SSRC): its sequence numbers and frames. */
typedef struct
{
  guint32 ssrc;
  gint64 last_seen_us;
  gboolean video;
  gint clock_rate;
  /* video only: */
  guint64 ext_seq_max;          /* 0: no packet yet */
  guint64 ext_seq_first;
  guint received;
  guint32 last_ts;
  gint64 ext_ts;
} Stream;

/* One rtpsession (a g_atomic_rc_box). Everything under lock: packets come
 * in the receiving thread, RTCP goes out from the session's own. */
typedef struct
{
  RembPolicy *policy;
  GMutex lock;

  Stream streams[MAX_STREAMS];
  guint n_streams;

  gint64 first_packet_us;       /* 0: none yet */
  gint64 last_decision_us;
  gint64 last_decrease_us;

  /* bytes that arrived, in 100 ms buckets */
  guint64 rate_bytes[RATE_BUCKETS];
  guint rate_index;
  gint64 rate_bucket_start_us;

  /* the fastest frame (arrival less RTP time) of this decision, and of
   * each 5 s of the last 30 s */
  gint64 decision_fastest;
  gboolean decision_has_frame;
  gint64 base_fastest[BASE_BUCKETS];
  guint base_index;
  gint64 base_bucket_start_us;
  gint64 queue_us;              /* at the last decision, -1: unknown */

  /* video packets expected and received, per decision */
  guint64 expected_at_decision, received_at_decision;
  guint expected[LOSS_DECISIONS], lost[LOSS_DECISIONS];
  guint loss_index;

  guint estimate;               /* bit/s, 0: none yet */
  gint64 last_remb_us;
} RembWatch;

static void
remb_policy_clear (gpointer data)
{
  RembPolicy *policy = data;

  g_mutex_clear (&policy->lock);
  g_hash_table_destroy (policy->video_rate_of_payload);
  g_hash_table_destroy (policy->media_payloads);
}

static void
remb_policy_unref (gpointer policy)
{
  g_atomic_rc_box_release_full (policy, remb_policy_clear);
}

static void
remb_watch_clear (gpointer data)
{
  RembWatch *watch = data;

  remb_policy_unref (watch->policy);
  g_mutex_clear (&watch->lock);
}

static void
remb_watch_unref (gpointer watch)
{
  g_atomic_rc_box_release_full (watch, remb_watch_clear);
}

static void
remb_watch_closure_unref (gpointer watch, GClosure * closure)
{
  remb_watch_unref (watch);
}

/* The RembPolicy of @webrtc, made at the first call. */
static RembPolicy *
remb_policy_of (GstElement * webrtc)
{
  static gsize quark = 0;
  static GMutex creating;
  RembPolicy *policy;

  if (g_once_init_enter (&quark)) {
    GST_DEBUG_CATEGORY_INIT (gst_lets_chat_remb_debug, "letschatremb", 0,
        "letschat: receive-side bandwidth estimate, sent as REMB");
    g_once_init_leave (&quark, g_quark_from_static_string ("letschat-remb"));
  }

  g_mutex_lock (&creating);
  policy = g_object_get_qdata (G_OBJECT (webrtc), (GQuark) quark);
  if (!policy) {
    policy = g_atomic_rc_box_new0 (RembPolicy);
    g_mutex_init (&policy->lock);
    policy->video_rate_of_payload = g_hash_table_new (NULL, NULL);
    policy->media_payloads = g_hash_table_new (NULL, NULL);
    g_object_set_qdata_full (G_OBJECT (webrtc), (GQuark) quark, policy,
        remb_policy_unref);
  }
  g_mutex_unlock (&creating);
  return policy;
}

void
gst_lets_chat_remb_learn (GstElement * webrtc, const GstSDPMessage * sdp)
{
  RembPolicy *policy = remb_policy_of (webrtc);
  gboolean remb = FALSE, transport_cc = FALSE;
  guint i, j;

  g_mutex_lock (&policy->lock);
  g_hash_table_remove_all (policy->video_rate_of_payload);
  g_hash_table_remove_all (policy->media_payloads);
  for (i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (sdp, i);
    gboolean video = g_strcmp0 (gst_sdp_media_get_media (media), "video") == 0;

    /* Rejected m-lines and the data channel's carry no RTP. */
    if (gst_sdp_media_get_port (media) == 0
        || !g_str_has_suffix (gst_sdp_media_get_proto (media), "RTP/SAVPF"))
      continue;
    for (j = 0; j < gst_sdp_media_formats_len (media); j++) {
      const gchar *format = gst_sdp_media_get_format (media, j);
      gchar *end = NULL;
      gint64 payload = g_ascii_strtoll (format, &end, 10);
      const GstStructure *s;
      const gchar *name;
      GstCaps *caps;
      gint rate = 0;
      gboolean flag;

      if (end == format || *end || payload < 0 || payload > 127)
        continue;
      caps = gst_sdp_media_get_caps_from_media (media, (gint) payload);
      if (!caps)
        continue;
      s = gst_caps_get_structure (caps, 0);
      name = gst_structure_get_string (s, "encoding-name");
      if (name && g_ascii_strcasecmp (name, "RTX") != 0
          && g_ascii_strcasecmp (name, "RED") != 0
          && g_ascii_strcasecmp (name, "ULPFEC") != 0
          && gst_structure_get_int (s, "clock-rate", &rate) && rate > 0) {
        g_hash_table_add (policy->media_payloads,
            GINT_TO_POINTER ((gint) payload));
        if (video) {
          g_hash_table_insert (policy->video_rate_of_payload,
              GINT_TO_POINTER ((gint) payload), GINT_TO_POINTER (rate));
          if (gst_structure_get_boolean (s, "rtcp-fb-goog-remb", &flag) && flag)
            remb = TRUE;
        }
      }
      if (gst_structure_get_boolean (s, "rtcp-fb-transport-cc", &flag) && flag)
        transport_cc = TRUE;
      gst_caps_unref (caps);
    }
  }
  g_atomic_int_set (&policy->wanted, remb && !transport_cc);
  GST_INFO ("the other party asked for REMB: %s, for transport-cc: %s; %s",
      remb ? "yes" : "no", transport_cc ? "yes" : "no",
      remb && !transport_cc ? "sending REMB" : "no REMB");
  g_mutex_unlock (&policy->lock);
}

/* Whether @media asks for goog-remb and not transport-cc on @payload. */
static gboolean
media_wants_remb (const GstSDPMedia * media, gint payload)
{
  GstCaps *caps = gst_sdp_media_get_caps_from_media (media, payload);
  const GstStructure *s;
  gboolean remb = FALSE, transport_cc = FALSE;

  if (!caps)
    return FALSE;
  s = gst_caps_get_structure (caps, 0);
  gst_structure_get_boolean (s, "rtcp-fb-goog-remb", &remb);
  gst_structure_get_boolean (s, "rtcp-fb-transport-cc", &transport_cc);
  gst_caps_unref (caps);
  return remb && !transport_cc;
}

/* A payload of @media that is not RTX, RED or FEC. */
static gboolean
is_media_payload (const GstSDPMedia * media, gint payload)
{
  GstCaps *caps = gst_sdp_media_get_caps_from_media (media, payload);
  const gchar *name;
  gboolean is_media;

  if (!caps)
    return FALSE;
  name = gst_structure_get_string (gst_caps_get_structure (caps, 0),
      "encoding-name");
  is_media = name && g_ascii_strcasecmp (name, "RTX") != 0
      && g_ascii_strcasecmp (name, "RED") != 0
      && g_ascii_strcasecmp (name, "ULPFEC") != 0;
  gst_caps_unref (caps);
  return is_media;
}

void
gst_lets_chat_remb_describe (const GstSDPMessage * offer,
    GstSDPMessage * description)
{
  guint i, j;

  for (i = 0; i < gst_sdp_message_medias_len (description) &&
      (!offer || i < gst_sdp_message_medias_len (offer)); i++) {
    GstSDPMedia *media =
        (GstSDPMedia *) gst_sdp_message_get_media (description, i);
    const GstSDPMedia *offered = offer ? gst_sdp_message_get_media (offer,
        i) : NULL;

    if (g_strcmp0 (gst_sdp_media_get_media (media), "video") != 0
        || gst_sdp_media_get_port (media) == 0)
      continue;
    for (j = 0; j < gst_sdp_media_formats_len (media); j++) {
      const gchar *format = gst_sdp_media_get_format (media, j);
      gint payload = (gint) g_ascii_strtoll (format, NULL, 10);
      gchar *value;

      if (offered ? !media_wants_remb (offered, payload) :
          !is_media_payload (media, payload))
        continue;
      value = g_strdup_printf ("%d goog-remb", payload);
      gst_sdp_media_add_attribute (media, "rtcp-fb", value);
      g_free (value);
    }
  }
}

guint
gst_lets_chat_remb_sent_bitrate (GstElement * webrtc)
{
  RembPolicy *policy = remb_policy_of (webrtc);
  guint bitrate;

  g_mutex_lock (&policy->lock);
  bitrate = policy->sent_bitrate;
  g_mutex_unlock (&policy->lock);
  return bitrate;
}

/* ---------------------------------------------------------------------- */
/* Estimating                                                              */

/* The stream of @ssrc, made at its first packet; NULL when the table is
 * full of streams still alive. */
static Stream *
stream_of (RembWatch * watch, guint32 ssrc, gint64 now)
{
  Stream *stream = NULL;
  guint i;

  for (i = 0; i < watch->n_streams; i++)
    if (watch->streams[i].ssrc == ssrc)
      return &watch->streams[i];
  if (watch->n_streams < MAX_STREAMS) {
    stream = &watch->streams[watch->n_streams++];
  } else {
    for (i = 0; i < watch->n_streams; i++)
      if (now - watch->streams[i].last_seen_us > STREAM_GONE_US) {
        stream = &watch->streams[i];
        break;
      }
  }
  if (stream) {
    memset (stream, 0, sizeof (*stream));
    stream->ssrc = ssrc;
  }
  return stream;
}

static void
advance_rate_buckets (RembWatch * watch, gint64 now)
{
  while (now - watch->rate_bucket_start_us >= RATE_BUCKET_US) {
    watch->rate_index = (watch->rate_index + 1) % RATE_BUCKETS;
    watch->rate_bytes[watch->rate_index] = 0;
    watch->rate_bucket_start_us += RATE_BUCKET_US;
    /* Nothing for a long while: start the buckets from now. */
    if (now - watch->rate_bucket_start_us >= RATE_BUCKETS * RATE_BUCKET_US) {
      memset (watch->rate_bytes, 0, sizeof (watch->rate_bytes));
      watch->rate_bucket_start_us = now;
    }
  }
}

/* bit/s over the buckets before the current one */
static guint
incoming_rate (RembWatch * watch)
{
  guint64 bytes = 0;
  guint i;

  for (i = 0; i < RATE_BUCKETS; i++)
    if (i != watch->rate_index)
      bytes += watch->rate_bytes[i];
  return (guint) MIN (bytes * 8 * G_TIME_SPAN_SECOND /
      ((RATE_BUCKETS - 1) * RATE_BUCKET_US), G_MAXUINT);
}

static void
note_frame_delay (RembWatch * watch, gint64 delay, gint64 now)
{
  if (!watch->decision_has_frame || delay < watch->decision_fastest)
    watch->decision_fastest = delay;
  watch->decision_has_frame = TRUE;

  if (now - watch->base_bucket_start_us >= BASE_BUCKET_US) {
    watch->base_index = (watch->base_index + 1) % BASE_BUCKETS;
    watch->base_fastest[watch->base_index] = G_MAXINT64;
    watch->base_bucket_start_us = now;
  }
  watch->base_fastest[watch->base_index] =
      MIN (watch->base_fastest[watch->base_index], delay);
}

static gint64
base_delay (RembWatch * watch)
{
  gint64 base = G_MAXINT64;
  guint i;

  for (i = 0; i < BASE_BUCKETS; i++)
    base = MIN (base, watch->base_fastest[i]);
  return base;
}

static gdouble
recent_loss (RembWatch * watch)
{
  guint64 expected = 0, lost = 0;
  guint i;

  for (i = 0; i < LOSS_DECISIONS; i++) {
    expected += watch->expected[i];
    lost += watch->lost[i];
  }
  return expected ? (gdouble) lost / expected : 0.0;
}

static void
decide (RembWatch * watch, gint64 now)
{
  guint64 expected = 0, received = 0;
  guint rate, ceiling, before = watch->estimate;
  gint64 queue = -1, previous_queue = watch->queue_us;
  gdouble loss;
  const gchar *why = "holds";
  guint i;

  /* Video packets expected (by sequence number) and received since the
   * last decision. */
  for (i = 0; i < watch->n_streams; i++) {
    Stream *s = &watch->streams[i];

    if (s->video && s->ext_seq_max) {
      expected += s->ext_seq_max - s->ext_seq_first + 1;
      received += s->received;
    }
  }
  watch->loss_index = (watch->loss_index + 1) % LOSS_DECISIONS;
  if (expected >= watch->expected_at_decision
      && received >= watch->received_at_decision) {
    guint64 e = expected - watch->expected_at_decision;
    guint64 r = received - watch->received_at_decision;

    watch->expected[watch->loss_index] = (guint) e;
    watch->lost[watch->loss_index] = (guint) (e > r ? e - r : 0);
  } else {
    /* a stream was replaced: start over */
    watch->expected[watch->loss_index] = 0;
    watch->lost[watch->loss_index] = 0;
  }
  watch->expected_at_decision = expected;
  watch->received_at_decision = received;
  loss = recent_loss (watch);

  if (watch->decision_has_frame)
    queue = watch->decision_fastest - base_delay (watch);
  watch->decision_has_frame = FALSE;
  watch->queue_us = queue;

  advance_rate_buckets (watch, now);
  rate = incoming_rate (watch);
  ceiling = (guint) MIN (CEILING_FACTOR * rate, MAX_ESTIMATE);

  if (!watch->estimate) {
    if (now - watch->first_packet_us < START_AFTER_US)
      return;
    watch->estimate = CLAMP (ceiling, MIN_ESTIMATE, MAX_ESTIMATE);
    why = "starts at 1.5 times what arrives";
  } else if ((queue > QUEUE_FULL_US && queue >= previous_queue)
      || queue > QUEUE_OVERFULL_US || loss > LOSS_FULL) {
    if (now - watch->last_decrease_us >= DECREASE_SPACING_US) {
      /* Under what arrives, and under what was allowed: a sender may
       * overshoot what it is told (its audio, its keyframes), so that what
       * arrives stays at what the path carries. */
      guint lower = (guint) MIN (DECREASE_FACTOR * rate,
          watch->estimate * (loss > LOSS_FULL ? 1.0 - loss / 2 :
              SECOND_DECREASE_FACTOR));

      watch->estimate = MAX (lower, MIN_ESTIMATE);
      watch->last_decrease_us = now;
      why = loss > LOSS_FULL ? "drops (loss)" : "drops (queue)";
    }
  } else if (queue >= 0 && queue < QUEUE_EMPTY_US && loss < LOSS_LOW) {
    if (watch->estimate < ceiling) {
      watch->estimate = MIN ((guint) (INCREASE_PER_DECISION *
              watch->estimate), ceiling);
      why = "grows";
    }
  }
  if (watch->estimate != before)
    GST_LOG ("estimate %s: %u -> %u bit/s (arriving %u bit/s, queue %"
        G_GINT64_FORMAT " ms, loss %.1f %%)", why, before, watch->estimate,
        rate, queue / 1000, loss * 100);
}

static void
note_packet (RembWatch * watch, GstBuffer * buffer, gint64 now)
{
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  guint32 ssrc, ts;
  guint16 seq;
  guint payload;
  gsize size = gst_buffer_get_size (buffer);
  Stream *stream;
  gint rate = 0;
  gboolean media;

  if (!gst_rtp_buffer_map (buffer, GST_MAP_READ, &rtp))
    return;
  ssrc = gst_rtp_buffer_get_ssrc (&rtp);
  seq = gst_rtp_buffer_get_seq (&rtp);
  ts = gst_rtp_buffer_get_timestamp (&rtp);
  payload = gst_rtp_buffer_get_payload_type (&rtp);
  gst_rtp_buffer_unmap (&rtp);

  g_mutex_lock (&watch->policy->lock);
  media = g_hash_table_contains (watch->policy->media_payloads,
      GUINT_TO_POINTER (payload));
  rate = GPOINTER_TO_INT (g_hash_table_lookup
      (watch->policy->video_rate_of_payload, GUINT_TO_POINTER (payload)));
  g_mutex_unlock (&watch->policy->lock);

  g_mutex_lock (&watch->lock);
  if (!watch->first_packet_us) {
    guint i;

    watch->first_packet_us = watch->last_decision_us = now;
    watch->rate_bucket_start_us = watch->base_bucket_start_us = now;
    for (i = 0; i < BASE_BUCKETS; i++)
      watch->base_fastest[i] = G_MAXINT64;
    watch->queue_us = -1;
  }
  /* Every packet (RTX, audio) takes its part of the path. */
  advance_rate_buckets (watch, now);
  watch->rate_bytes[watch->rate_index] += size;

  if (media && (stream = stream_of (watch, ssrc, now))) {
    stream->last_seen_us = now;
    if (rate > 0) {
      stream->video = TRUE;
      stream->clock_rate = rate;
      if (!stream->ext_seq_max) {
        /* sequence numbers count from 1 << 16, so that 0 means none */
        stream->ext_seq_first = stream->ext_seq_max = (1 << 16) + seq;
        stream->ext_ts = ts;
        stream->last_ts = ts;
        note_frame_delay (watch, now - gst_util_uint64_scale_int
            (stream->ext_ts, G_TIME_SPAN_SECOND, rate), now);
      } else {
        gint16 step = (gint16) (seq - (guint16) stream->ext_seq_max);

        if (step > 0)
          stream->ext_seq_max += step;
        /* A newer frame: how late it is against its RTP time. */
        if ((gint32) (ts - stream->last_ts) > 0) {
          stream->ext_ts += (gint32) (ts - stream->last_ts);
          stream->last_ts = ts;
          note_frame_delay (watch, now - gst_util_uint64_scale_int
              (stream->ext_ts, G_TIME_SPAN_SECOND, rate), now);
        }
      }
      stream->received++;
    }
  }
  if (now - watch->last_decision_us >= DECISION_US) {
    watch->last_decision_us = now;
    decide (watch, now);
  }
  g_mutex_unlock (&watch->lock);
}

static gboolean
note_list_packet (GstBuffer ** buffer, guint idx, gpointer user_data)
{
  RembWatch *watch = user_data;

  note_packet (watch, *buffer, g_get_monotonic_time ());
  return TRUE;
}

static GstPadProbeReturn
on_received_packets (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  RembWatch *watch = user_data;

  if (!g_atomic_int_get (&watch->policy->wanted))
    return GST_PAD_PROBE_OK;
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER)
    note_packet (watch, GST_PAD_PROBE_INFO_BUFFER (info),
        g_get_monotonic_time ());
  else
    gst_buffer_list_foreach (GST_PAD_PROBE_INFO_BUFFER_LIST (info),
        note_list_packet, watch);
  return GST_PAD_PROBE_OK;
}

/* ---------------------------------------------------------------------- */
/* Telling the sender                                                      */

/* The SSRC an RTCP compound packet comes from: its first packet's. */
static gboolean
compound_sender (GstRTCPBuffer * rtcp, guint32 * ssrc)
{
  GstRTCPPacket packet;

  if (!gst_rtcp_buffer_get_first_packet (rtcp, &packet))
    return FALSE;
  switch (gst_rtcp_packet_get_type (&packet)) {
    case GST_RTCP_TYPE_SR:
      gst_rtcp_packet_sr_get_sender_info (&packet, ssrc, NULL, NULL, NULL,
          NULL);
      return TRUE;
    case GST_RTCP_TYPE_RR:
      *ssrc = gst_rtcp_packet_rr_get_ssrc (&packet);
      return TRUE;
    default:
      return FALSE;
  }
}

/* REMB: payload-specific feedback (206) of format 15, media SSRC 0, the
 * FCI "REMB", the number of SSRCs, the bitrate as a 6-bit exponent and an
 * 18-bit mantissa, then the SSRCs. */
static gboolean
add_remb (GstRTCPBuffer * rtcp, guint32 sender, guint bitrate,
    const guint32 * ssrcs, guint n_ssrcs)
{
  GstRTCPPacket packet;
  guint8 *fci;
  guint exponent = 0, i;
  guint64 mantissa = bitrate;

  if (!gst_rtcp_buffer_add_packet (rtcp, GST_RTCP_TYPE_PSFB, &packet))
    return FALSE;
  gst_rtcp_packet_fb_set_type (&packet, GST_RTCP_PSFB_TYPE_AFB);
  gst_rtcp_packet_fb_set_sender_ssrc (&packet, sender);
  gst_rtcp_packet_fb_set_media_ssrc (&packet, 0);
  if (!gst_rtcp_packet_fb_set_fci_length (&packet, 2 + n_ssrcs)) {
    gst_rtcp_packet_remove (&packet);
    return FALSE;
  }
  while (mantissa > 0x3ffff) {
    mantissa >>= 1;
    exponent++;
  }
  fci = gst_rtcp_packet_fb_get_fci (&packet);
  memcpy (fci, "REMB", 4);
  fci[4] = n_ssrcs;
  fci[5] = (exponent << 2) | (mantissa >> 16);
  fci[6] = (mantissa >> 8) & 0xff;
  fci[7] = mantissa & 0xff;
  for (i = 0; i < n_ssrcs; i++)
    GST_WRITE_UINT32_BE (fci + 8 + 4 * i, ssrcs[i]);
  return TRUE;
}

static gboolean
on_sending_rtcp (GObject * internal_session, GstBuffer * buffer,
    gboolean early, gpointer user_data)
{
  RembWatch *watch = user_data;
  GstRTCPBuffer rtcp = GST_RTCP_BUFFER_INIT;
  guint32 ssrcs[MAX_STREAMS], sender;
  guint n_ssrcs = 0, bitrate, i;
  gint64 now = g_get_monotonic_time ();

  if (!g_atomic_int_get (&watch->policy->wanted))
    return FALSE;

  g_mutex_lock (&watch->lock);
  bitrate = watch->estimate;
  for (i = 0; i < watch->n_streams; i++)
    if (now - watch->streams[i].last_seen_us < STREAM_GONE_US)
      ssrcs[n_ssrcs++] = watch->streams[i].ssrc;
  if (!bitrate || !n_ssrcs || now - watch->last_remb_us < REMB_SPACING_US) {
    g_mutex_unlock (&watch->lock);
    return FALSE;
  }
  g_mutex_unlock (&watch->lock);

  if (!gst_buffer_is_writable (buffer)
      || !gst_rtcp_buffer_map (buffer, GST_MAP_READWRITE, &rtcp))
    return FALSE;
  if (compound_sender (&rtcp, &sender)
      && add_remb (&rtcp, sender, bitrate, ssrcs, n_ssrcs)) {
    GST_DEBUG ("REMB %u bit/s for %u streams", bitrate, n_ssrcs);
    g_mutex_lock (&watch->lock);
    watch->last_remb_us = now;
    g_mutex_unlock (&watch->lock);
    g_mutex_lock (&watch->policy->lock);
    watch->policy->sent_bitrate = bitrate;
    g_mutex_unlock (&watch->policy->lock);
  }
  gst_rtcp_buffer_unmap (&rtcp);
  return FALSE;
}

static void
on_session_pad_added (GstElement * session, GstPad * pad, gpointer user_data)
{
  RembWatch *watch = user_data;

  if (g_str_equal (GST_PAD_NAME (pad), "recv_rtp_sink"))
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
        GST_PAD_PROBE_TYPE_BUFFER_LIST, on_received_packets,
        g_atomic_rc_box_acquire (watch), remb_watch_unref);
}

void
gst_lets_chat_remb_watch (GstElement * webrtc, GstElement * session)
{
  RembWatch *watch = g_atomic_rc_box_new0 (RembWatch);
  GObject *internal = NULL;

  watch->policy = g_atomic_rc_box_acquire (remb_policy_of (webrtc));
  g_mutex_init (&watch->lock);
  g_object_get (session, "internal-session", &internal, NULL);
  if (internal) {
    g_signal_connect_data (internal, "on-sending-rtcp",
        G_CALLBACK (on_sending_rtcp), g_atomic_rc_box_acquire (watch),
        remb_watch_closure_unref, 0);
    g_object_unref (internal);
  }
  g_signal_connect_data (session, "pad-added",
      G_CALLBACK (on_session_pad_added), watch, remb_watch_closure_unref, 0);
}
