/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The bitrate controller of what a party encodes (see the header). It
 * only reads feedback and sets encoder bitrates: it negotiates nothing
 * (the TWCC extension and transport-cc are in every description,
 * gstletschatcodecs.c) and builds no chain.
 *
 *   other party's rtpsession --transport-cc feedback--> our rtpsession
 *        (every ~100 ms: which packets arrived, when)      | notify::twcc-stats
 *                                                          v  (RTCP thread)
 *                                  Feedback: sums since the last decision
 *                                                          |
 *   session thread, every 200 ms: gst_lets_chat_congestion_tick()
 *        loss, delay trend, received rate -> target -> encoder bitrate
 *
 * The "homegrown" algorithm, loss- and delay-based like the one
 * gst-plugins-rs's webrtcsink calls homegrown and like Google Congestion
 * Control (draft-ietf-rmcat-gcc) in spirit, written here from their
 * descriptions:
 * - loss, smoothed over about a second (LOSS_SMOOTHING per decision:
 *   one 200 ms window holds too few packets, and 10 % random loss would
 *   often read as 15 %), above 15 %: lower the target to
 *   target * (1 - loss / 2), at most once a second, as GCC's loss-based
 *   controller does above 10 % (a small picture's few packets read 10 %
 *   random loss as 11 to 17 % a second, and GCC's threshold cut a
 *   snow call at 10 % loss to 110 kbit/s and 12 fps); between 2 % and
 *   15 %: hold while the delay grows or less arrives than was sent and
 *   not lost, else grow as below. Random loss on a link that is not full
 *   is repaired by NACK/RTX, and cutting the rate for it only blurs the
 *   picture (measured: bench --network, 10 % loss); holding for it kept a
 *   call that started at 300 kbit/s there for good (250 kbit/s, where
 *   Chromium went to 1.5 to 2 Mbit/s);
 * - queueing delay growing (the mean delta of delta above
 *   OVERUSE_DOD_NS, i.e. packets arrive further apart than they were
 *   sent, while less than 95 % of what was sent and not lost arrives, or
 *   above OVERUSE_CLEAR_DOD_NS alone), in two decisions in a row, or in
 *   one when less than 3/4 arrives or the previous decision already went
 *   down for it: the path is full before any loss; aim under what
 *   arrived (85 % of the received rate; of half the target at the least
 *   where as much arrives as was sent, the encoder perhaps what limits it)
 *   and remember that rate as where the path was full (not in the second
 *   after the ladder chose a larger picture: its keyframe's burst says
 *   nothing of the path's rate);
 * - the round trip (rtpsession's, from the other party's receiver
 *   reports) STANDING_QUEUE_S over its least: a queue stands full, which
 *   no longer grows; 85 % of what arrives, again a second later unless it
 *   shrank, and no growth while it stands;
 * - less than 2 % lost (or less than 15 % and the path not full) and no
 *   growing delay, and no decrease in the last second: increase by 10
 *   kbit/s from 85 % of where the path was last full or while 2 % or
 *   more is lost (at 8 % a decision, a call at 10 % random loss went to 4
 *   Mbit/s and froze 8 times a minute), by 8 % a decision below it or
 *   with none known, by 15 % once twice the last full rate arrives;
 *   forget the full rate once 115 % of it arrives without a queue; never
 *   above 1.5 times what was received plus 100 kbit/s (an encoder that
 *   makes less than asked must not let the target run away);
 * - otherwise hold. A REMB from the other party caps the target.
 * The encoders are asked for the target divided by how much more than
 * asked they send (the overshoot). The ladder (gstletschatladder.c)
 * chooses the picture's size and frame rate.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <gst/rtp/rtp.h>

#include "gstletschatcongestion.h"
#include "gstletschatladder.h"

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_congestion_debug);
#define GST_CAT_DEFAULT gst_lets_chat_congestion_debug

#define LOSS_DECREASE 0.15
#define LOSS_INCREASE 0.02
#define LOSS_SMOOTHING 0.2
#define OVERUSE_DOD_NS 300000
#define OVERUSE_RECEIVED 0.95
#define OVERUSE_CLEAR_DOD_NS 2000000
#define OVERUSE_CLEAR_RECEIVED 0.75
#define DECREASE_TO_RECEIVED 0.85
#define INCREASE_FACTOR 1.08
#define INCREASE_FAR_FACTOR 1.15
#define FAR_FROM_FULL 2.0
#define INCREASE_NEAR_ESTIMATE 10000
#define NEAR_FULL_LOW 0.85
#define NEAR_FULL_HIGH 1.15
#define HOLD_AFTER_DECREASE_US (1 * G_USEC_PER_SEC)
#define OVERSHOOT_SMOOTHING 0.1
#define PICTURE_GREW_BURST_US G_USEC_PER_SEC
/* A queue that stands: the round trip this much over its least. */
#define STANDING_QUEUE_S 0.1
#define STANDING_QUEUE_SHRINKING_S 0.02
/* The least round trip is that of the last 15 to 30 s: a path that
 * changed (another route, a relay) is taken as it now is. */
#define BASE_RTT_BUCKET_US (15 * G_USEC_PER_SEC)
#define OVERSHOOT_MAX 2.0

/* Sums of the feedback since the last decision; shared with the RTCP
 * thread's handlers, which may outlive a webrtcbin's time. */
typedef struct
{
  GMutex lock;
  guint64 packets_sent, packets_received;
  guint64 received_rate_sum;    /* bitrate-recv x packets */
  guint64 sent_rate_sum;        /* bitrate-sent x packets */
  gint64 dod_sum;               /* avg-delta-of-delta x packets */
  guint remb;                   /* bit/s, 0: none */
} Feedback;

struct _GstLetsChatCongestion
{
  GstLetsChatCongestionControl control;
  guint min_bitrate, max_bitrate, start_bitrate;

  GstElement *webrtc;           /* the one followed (a ref) */
  GObject *rtp_session;         /* its rtpsession element (a ref) */
  Feedback *feedback;

  gdouble target;
  guint estimate;
  guint full_at;                /* received bit/s at the last decrease,
                                 * 0: none known (or past) */
  guint last_full_at;           /* the same, kept once past */
  guint applied;                /* last bitrate set on the encoders */
  gdouble overshoot;            /* sent / applied, smoothed, >= 1 */
  gint overuse_ticks;
  gboolean decreased_for_delay; /* by the previous decision */
  gdouble smoothed_loss;        /* exponentially weighted, ~1 s */
  gint64 last_decrease_us;
  gint64 picture_grew_us;       /* when the ladder last chose a larger one */
  /* Round trips (s; < 0: none yet): the least of this bucket and of the
   * one before, and what it was at the last decrease for a standing
   * queue. */
  gdouble rtt_min, rtt_min_before, rtt_at_standing_decrease;
  gint64 rtt_bucket_start_us;
  gboolean warned_pre_encoded;
};

GType
gst_lets_chat_congestion_control_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_LETS_CHAT_CONGESTION_CONTROL_NONE,
        "None: the encoder keeps start-bitrate", "none"},
    {GST_LETS_CHAT_CONGESTION_CONTROL_HOMEGROWN,
          "Loss- and delay-based, from transport-wide feedback and REMB",
        "homegrown"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstLetsChatCongestionControl", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

static Feedback *
feedback_new (void)
{
  Feedback *f = g_atomic_rc_box_new0 (Feedback);

  g_mutex_init (&f->lock);
  return f;
}

static void
feedback_clear (Feedback * f)
{
  g_mutex_clear (&f->lock);
}

static void
feedback_unref (gpointer f, GClosure * closure)
{
  g_atomic_rc_box_release_full (f, (GDestroyNotify) feedback_clear);
}

/* rtpsession's RTCP thread: one transport-cc feedback read. */
static void
on_twcc_stats (GObject * rtp_session, GParamSpec * pspec, Feedback * f)
{
  GstStructure *s = NULL;
  guint sent = 0, received = 0, rate = 0, sent_rate = 0;
  gint64 dod = 0;

  g_object_get (rtp_session, "twcc-stats", &s, NULL);
  if (!s)
    return;
  gst_structure_get (s, "packets-sent", G_TYPE_UINT, &sent, "packets-recv",
      G_TYPE_UINT, &received, "bitrate-recv", G_TYPE_UINT, &rate,
      "bitrate-sent", G_TYPE_UINT, &sent_rate,
      "avg-delta-of-delta", G_TYPE_INT64, &dod, NULL);
  gst_structure_free (s);
  /* rtpsession 1.22's first figures can be garbage. */
  if (dod > GST_SECOND || dod < -GST_SECOND)
    dod = 0;
  g_mutex_lock (&f->lock);
  f->packets_sent += sent;
  f->packets_received += MIN (received, sent);
  f->received_rate_sum += (guint64) rate *received;
  f->sent_rate_sum += (guint64) sent_rate *received;
  f->dod_sum += dod * (gint64) received;
  g_mutex_unlock (&f->lock);
}

/* REMB (draft-alvestrand-rmcat-remb): a payload-specific feedback (206)
 * of format 15 whose FCI starts with "REMB", then the number of SSRCs,
 * a 6-bit exponent and an 18-bit mantissa. */
static void
on_feedback_rtcp (GObject * session, guint type, guint fbtype,
    guint sender_ssrc, guint media_ssrc, GstBuffer * fci, Feedback * f)
{
  GstMapInfo map;
  guint64 bitrate;

  if (type != GST_RTCP_TYPE_PSFB || fbtype != GST_RTCP_PSFB_TYPE_AFB || !fci
      || !gst_buffer_map (fci, &map, GST_MAP_READ))
    return;
  if (map.size >= 8 && memcmp (map.data, "REMB", 4) == 0) {
    bitrate = ((guint64) (map.data[5] & 0x03) << 16 | map.data[6] << 8 |
        map.data[7]) << (map.data[5] >> 2);
    g_mutex_lock (&f->lock);
    f->remb = (guint) MIN (bitrate, G_MAXUINT);
    g_mutex_unlock (&f->lock);
  }
  gst_buffer_unmap (fci, &map);
}

guint
gst_lets_chat_congestion_start_bitrate (guint min_bitrate, guint max_bitrate,
    guint start_bitrate)
{
  return CLAMP (start_bitrate, min_bitrate, MAX (max_bitrate, min_bitrate));
}

GstLetsChatCongestion *
gst_lets_chat_congestion_new (GstLetsChatCongestionControl control,
    guint min_bitrate, guint max_bitrate, guint start_bitrate)
{
  GstLetsChatCongestion *cc = g_new0 (GstLetsChatCongestion, 1);
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_lets_chat_congestion_debug,
        "letschatcongestion", 0, "letschat congestion control");
    g_once_init_leave (&done, 1);
  }
  cc->control = control;
  cc->min_bitrate = min_bitrate;
  cc->max_bitrate = MAX (max_bitrate, min_bitrate);
  cc->start_bitrate = gst_lets_chat_congestion_start_bitrate (min_bitrate,
      max_bitrate, start_bitrate);
  cc->target = cc->start_bitrate;
  cc->overshoot = 1.0;
  return cc;
}

static void
congestion_unfollow (GstLetsChatCongestion * cc)
{
  if (cc->rtp_session)
    g_signal_handlers_disconnect_by_data (cc->rtp_session, cc->feedback);
  g_clear_object (&cc->rtp_session);
  if (cc->webrtc) {
    GstElement *rtpbin = gst_bin_get_by_name (GST_BIN (cc->webrtc), "rtpbin");
    GObject *internal = NULL;

    if (rtpbin)
      g_signal_emit_by_name (rtpbin, "get-internal-session", 0, &internal);
    if (internal)
      g_signal_handlers_disconnect_by_data (internal, cc->feedback);
    g_clear_object (&internal);
    gst_clear_object (&rtpbin);
  }
  gst_clear_object (&cc->webrtc);
  if (cc->feedback)
    feedback_unref (cc->feedback, NULL);
  cc->feedback = NULL;
}

void
gst_lets_chat_congestion_free (GstLetsChatCongestion * cc)
{
  congestion_unfollow (cc);
  g_free (cc);
}

/* Follows @webrtc's RTP session 0 (the BUNDLE's, or the video's). FALSE
 * while it has none yet. */
static gboolean
congestion_follow (GstLetsChatCongestion * cc, GstElement * webrtc)
{
  GstElement *rtpbin, *session = NULL;
  GObject *internal = NULL;

  if (cc->webrtc == webrtc && cc->rtp_session)
    return TRUE;
  if (cc->webrtc != webrtc) {
    congestion_unfollow (cc);
    cc->webrtc = gst_object_ref (webrtc);
    cc->target = cc->start_bitrate;
    cc->estimate = cc->full_at = cc->last_full_at = 0;
    cc->overshoot = 1.0;
    cc->overuse_ticks = 0;
    cc->decreased_for_delay = FALSE;
    cc->last_decrease_us = 0;
    cc->picture_grew_us = 0;
    cc->rtt_min = cc->rtt_min_before = cc->rtt_at_standing_decrease = -1;
    cc->rtt_bucket_start_us = 0;
  }
  rtpbin = gst_bin_get_by_name (GST_BIN (webrtc), "rtpbin");
  if (!rtpbin)
    return FALSE;
  g_signal_emit_by_name (rtpbin, "get-session", 0, &session);
  if (session && g_object_class_find_property (G_OBJECT_GET_CLASS (session),
          "twcc-stats")) {
    cc->feedback = feedback_new ();
    cc->rtp_session = G_OBJECT (gst_object_ref (session));
    g_signal_connect_data (session, "notify::twcc-stats",
        G_CALLBACK (on_twcc_stats), g_atomic_rc_box_acquire (cc->feedback),
        feedback_unref, 0);
    g_signal_emit_by_name (rtpbin, "get-internal-session", 0, &internal);
    if (internal)
      g_signal_connect_data (internal, "on-feedback-rtcp",
          G_CALLBACK (on_feedback_rtcp),
          g_atomic_rc_box_acquire (cc->feedback), feedback_unref, 0);
    g_clear_object (&internal);
    GST_INFO ("following the transport-wide feedback of %" GST_PTR_FORMAT,
        webrtc);
  }
  gst_clear_object (&session);
  gst_object_unref (rtpbin);
  return cc->rtp_session != NULL;
}

/* The round trip (s) of the last receiver report the other party sent
 * about what we send, as rtpsession measured it (RFC 3550 LSR/DLSR); -1:
 * none yet. Our sender reports wait in the same queue as our media, so a
 * queue that stands full shows here where the delay no longer grows. */
static gdouble
session_round_trip (GObject * session)
{
  GstStructure *stats = NULL;
  const GValue *sources;
  gdouble rtt = -1;
  guint i;

  g_object_get (session, "stats", &stats, NULL);
  if (!stats)
    return -1;
  sources = gst_structure_get_value (stats, "source-stats");
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS;
  if (sources && G_VALUE_HOLDS_BOXED (sources)) {
    GValueArray *array = g_value_get_boxed (sources);

    for (i = 0; array && i < array->n_values; i++) {
      const GstStructure *s =
          gst_value_get_structure (g_value_array_get_nth (array, i));
      gboolean internal = TRUE, have_rb = FALSE;
      guint round_trip = 0;

      if (!gst_structure_get (s, "internal", G_TYPE_BOOLEAN, &internal,
              "have-rb", G_TYPE_BOOLEAN, &have_rb, "rb-round-trip",
              G_TYPE_UINT, &round_trip, NULL) || internal || !have_rb
          || round_trip == 0)
        continue;
      /* NTP short format, 16.16 fixed point seconds */
      rtt = MAX (rtt, round_trip / 65536.0);
    }
  }
  G_GNUC_END_IGNORE_DEPRECATIONS;
  gst_structure_free (stats);
  return rtt;
}

static void
congestion_decide (GstLetsChatCongestion * cc)
{
  guint64 sent, received, rate_sum, sent_rate_sum;
  gint64 dod_sum, now = g_get_monotonic_time ();
  gdouble loss, received_rate, sent_rate, dod, target = cc->target;
  gboolean path_full, clearly_full, growing, decreased_for_delay;
  gboolean keyframe_burst, standing = FALSE;
  gdouble rtt, base_rtt;
  const gchar *why = NULL;
  guint remb;

  g_mutex_lock (&cc->feedback->lock);
  sent = cc->feedback->packets_sent;
  received = cc->feedback->packets_received;
  rate_sum = cc->feedback->received_rate_sum;
  sent_rate_sum = cc->feedback->sent_rate_sum;
  dod_sum = cc->feedback->dod_sum;
  remb = cc->feedback->remb;
  cc->feedback->packets_sent = cc->feedback->packets_received = 0;
  cc->feedback->received_rate_sum = cc->feedback->sent_rate_sum = 0;
  cc->feedback->dod_sum = 0;
  g_mutex_unlock (&cc->feedback->lock);
  if (sent == 0 && remb == 0)
    return;

  if (sent)
    cc->smoothed_loss += LOSS_SMOOTHING * (1.0 - (gdouble) received / sent
        - cc->smoothed_loss);
  loss = cc->smoothed_loss;
  received_rate = received ? (gdouble) rate_sum / received : 0;
  sent_rate = received ? (gdouble) sent_rate_sum / received : 0;
  dod = received ? (gdouble) dod_sum / received : 0;
  /* An encoder makes more than it is asked for: a busy picture at its
   * worst quantizer, keyframes, and what else the path carries
   * (retransmissions, audio). Ask it for less by as much, as browsers'
   * encoders are (measured: 550 kbit/s sent for 424 asked at 160x90). */
  if (sent_rate > 0 && cc->applied)
    cc->overshoot += OVERSHOOT_SMOOTHING * (CLAMP (sent_rate / cc->applied,
            1.0, OVERSHOOT_MAX) - cc->overshoot);
  /* A queue builds only where less arrives than was sent and not lost: on
   * a busy machine the arrival times alone jitter by milliseconds. */
  path_full = received_rate < sent_rate * (1.0 - loss) * OVERUSE_RECEIVED;
  growing = dod > OVERUSE_DOD_NS;
  clearly_full = growing
      && received_rate < sent_rate * (1.0 - loss) * OVERUSE_CLEAR_RECEIVED;
  cc->overuse_ticks = growing && (path_full || dod > OVERUSE_CLEAR_DOD_NS) ?
      cc->overuse_ticks + 1 : 0;
  decreased_for_delay = cc->decreased_for_delay;
  cc->decreased_for_delay = FALSE;
  /* The ladder gave the encoder a larger picture within the last second:
   * its keyframe went out at once (letschat has no pacer), and a queue
   * seen now is that burst's. */
  keyframe_burst = cc->picture_grew_us
      && now - cc->picture_grew_us < PICTURE_GREW_BURST_US;

  /* A queue that stands full no longer grows: the delay rule does not see
   * it, and before anything is lost a full 4 Mbit/s link held 300 ms of
   * media (a receiver's jitter buffer at its limit, a storm of keyframe
   * requests). The round trip sees it. */
  rtt = session_round_trip (cc->rtp_session);
  if (rtt > 0) {
    if (now - cc->rtt_bucket_start_us > BASE_RTT_BUCKET_US) {
      cc->rtt_min_before = cc->rtt_min;
      cc->rtt_min = -1;
      cc->rtt_bucket_start_us = now;
    }
    if (cc->rtt_min < 0 || rtt < cc->rtt_min)
      cc->rtt_min = rtt;
    base_rtt = cc->rtt_min_before > 0 ? MIN (cc->rtt_min,
        cc->rtt_min_before) : cc->rtt_min;
    standing = rtt > base_rtt + STANDING_QUEUE_S;
  }

  /* Once clearly more than where the path was last full arrives without
   * a queue growing, the path has grown and that rate is past: forget it,
   * as GCC resets its link capacity estimate. Then a keyframe's burst
   * having passed, what arrives falling back under it no longer brings
   * back the creep near it (which held a call whose link had gone from
   * 500 kbit/s to 4 Mbit/s at +50 kbit/s a second for 2 to 4 s); and a
   * burst seen in the second after a decrease counts too. (What arrives,
   * not the target: the target alone above it said nothing, it went to
   * 800 kbit/s over a 600 kbit/s link, a freeze every 8 s.) */
  if (cc->full_at && !growing && loss < LOSS_INCREASE
      && received_rate > cc->full_at * NEAR_FULL_HIGH) {
    GST_DEBUG ("%.0f bit/s arrive, the path was full at %u bit/s: "
        "forgotten", received_rate, cc->full_at);
    cc->full_at = 0;
  }

  /* Overuse: growing delay in two decisions in a row; or in one, when the
   * path is clearly full (the delay growing while less than 3/4 of what
   * was sent and not lost arrives: at least a quarter more sent than the
   * path carries, which neither jitter nor a keyframe's burst gives;
   * waiting for a second decision let a 3 Mbit/s call send into a link
   * fallen to 500 kbit/s 200 ms longer, the first decision after the
   * drop reading 0.6 to 0.7 of it arriving, with a delta of delta of 1.4
   * to 3.2 ms; a keyframe's burst through a tbf at 600 kbit/s read 2 to 3
   * ms but 0.8 to 0.9 of it arriving, and deciding on the 2 ms alone took
   * the path's full rate for 450 kbit/s, under what it was), or when the
   * previous decision already went down for it and the path is still
   * full (GCC reduces further once a round trip, at most
   * 200 ms, has passed; waiting for two more decisions took the target
   * from 1.1 Mbit/s to 480 kbit/s 0.4 s after the drop instead of 0.2 s;
   * what arrives while a queue builds is the path's rate, and the target
   * never goes under 85 % of it). */
  if (sent && (cc->overuse_ticks >= 2 || clearly_full || (growing
              && path_full && decreased_for_delay))) {
    why = "delay";
    /* Not under half the target at once where the encoder may be what
     * limits what arrives: while it makes less than asked (a smaller
     * picture starting, frames dropped), what arrives says little about
     * the path, and a queue still draining took a 600 kbit/s call to 130
     * kbit/s. A path that fell further is followed one decision later.
     * Where less arrives than was sent, the path is what limits it: go
     * under what arrives at once (a 3 Mbit/s call whose link fell to 500
     * kbit/s went to 1.1 Mbit/s first). */
    if (received_rate > 0)
      target = MIN (target, (path_full ? received_rate :
              MAX (received_rate, target * 0.5)) * DECREASE_TO_RECEIVED);
    /* What arrived while the keyframe of a larger picture went through
     * says the path did not take that burst, not that it is full at that
     * rate: it neither lowers where the path was last full nor makes one
     * up where none is known. Taken for the full rate, it held a call
     * whose link had grown from 500 kbit/s back to 4 Mbit/s at +50 kbit/s
     * a second from 2.5 Mbit/s (70 % of the link 7.9 to 16.2 s after it
     * grew, where the target is 10 s). */
    if (!keyframe_burst)
      cc->full_at = cc->last_full_at = (guint) received_rate;
    else if (cc->full_at)
      cc->full_at = MAX (cc->full_at, (guint) received_rate);
    cc->estimate = (guint) received_rate;
    cc->last_decrease_us = now;
    cc->overuse_ticks = 0;
    cc->decreased_for_delay = TRUE;
  } else if (sent && standing
      && now - cc->last_decrease_us > HOLD_AFTER_DECREASE_US
      && (cc->rtt_at_standing_decrease < 0
          || rtt > cc->rtt_at_standing_decrease - STANDING_QUEUE_SHRINKING_S)) {
    /* A queue stands and has not shrunk since the last cut for it: under
     * what arrives, which is the path's rate while the queue is full. */
    why = "standing queue";
    if (received_rate > 0)
      target = MIN (target, received_rate * DECREASE_TO_RECEIVED);
    cc->estimate = cc->full_at = cc->last_full_at = (guint) received_rate;
    cc->last_decrease_us = now;
    cc->rtt_at_standing_decrease = rtt;
  } else if (sent && loss > LOSS_DECREASE
      && now - cc->last_decrease_us > HOLD_AFTER_DECREASE_US) {
    why = "loss";
    target = target * (1.0 - loss / 2);
    cc->estimate = cc->full_at = cc->last_full_at = (guint) received_rate;
    cc->last_decrease_us = now;
  } else if (sent && (loss < LOSS_INCREASE || (loss < LOSS_DECREASE
              && !growing && !path_full)) && !standing
      && now - cc->last_decrease_us > HOLD_AFTER_DECREASE_US) {
    /* Near where the path was full last time, creep (a rate-limited
     * link's queue takes 8 % a decision as a burst it then drops).
     * Where twice that rate arrives without a queue, the path is far
     * from full: grow by 15 % a decision, twice a second, as GCC probes
     * further at twice a rate that got through (letschat has no padding
     * to probe with: the target itself is the probe). At 8 % a decision
     * a call took 5 s to grow back from 500 kbit/s to 3 Mbit/s after its
     * link did; 15 % as soon as the full rate was forgotten took a 600
     * kbit/s link's target to 918 kbit/s (a freeze) from a full rate
     * measured at 460 kbit/s, twice which that link does not reach. The
     * cap below and the delay rule stop it. */
    if ((cc->full_at && target > cc->full_at * NEAR_FULL_LOW)
        || loss >= LOSS_INCREASE)
      target += INCREASE_NEAR_ESTIMATE;
    else if (!cc->full_at && cc->last_full_at
        && received_rate > cc->last_full_at * FAR_FROM_FULL)
      target *= INCREASE_FAR_FACTOR;
    else
      target *= INCREASE_FACTOR;
    target = MIN (target, received_rate * 1.5 + 100000);
    target = MAX (target, cc->target);
    if (received_rate > cc->estimate)
      cc->estimate = (guint) received_rate;
  }
  if (remb && target > remb) {
    target = remb;
    why = "REMB";
  }
  cc->target = CLAMP (target, cc->min_bitrate, cc->max_bitrate);
  if (!standing)
    cc->rtt_at_standing_decrease = -1;
  if (why)
    GST_INFO ("%s%s: target %.0f bit/s (loss %.1f %%, delta of delta %.0f "
        "us, received %.0f bit/s, sent %.0f bit/s, overshoot %.2f, round "
        "trip %.0f ms)", why, keyframe_burst ? " (a larger picture's "
        "keyframe)" : "", cc->target, loss * 100, dod / 1000, received_rate,
        sent_rate, cc->overshoot, rtt * 1000);
  else
    GST_LOG ("target %.0f bit/s (loss %.1f %%, delta of delta %.0f us, "
        "received %.0f bit/s, sent %.0f bit/s, overshoot %.2f, round trip "
        "%.0f ms)", cc->target, loss * 100, dod / 1000, received_rate,
        sent_rate, cc->overshoot, rtt * 1000);
}

/* vp8enc and vp9enc take bit/s in target-bitrate, x264enc kbit/s in
 * bitrate, openh264enc bit/s in bitrate. */
void
gst_lets_chat_congestion_set_encoder_bitrate (GstElement * encoder,
    guint bitrate)
{
  GObjectClass *klass = G_OBJECT_GET_CLASS (encoder);
  const gchar *factory = GST_OBJECT_NAME (gst_element_get_factory (encoder));

  if (g_object_class_find_property (klass, "target-bitrate"))
    g_object_set (encoder, "target-bitrate", (gint) bitrate, NULL);
  else if (g_str_equal (factory, "x264enc"))
    g_object_set (encoder, "bitrate", MAX (bitrate / 1000, 1), NULL);
  else if (g_object_class_find_property (klass, "bitrate"))
    g_object_set (encoder, "bitrate", bitrate, NULL);
}

guint
gst_lets_chat_congestion_get_encoder_bitrate (GstElement * encoder)
{
  GObjectClass *klass = G_OBJECT_GET_CLASS (encoder);
  const gchar *factory = GST_OBJECT_NAME (gst_element_get_factory (encoder));
  gint target = 0;
  guint bitrate = 0;

  if (g_object_class_find_property (klass, "target-bitrate")) {
    g_object_get (encoder, "target-bitrate", &target, NULL);
    return MAX (target, 0);
  }
  if (g_object_class_find_property (klass, "bitrate"))
    g_object_get (encoder, "bitrate", &bitrate, NULL);
  return g_str_equal (factory, "x264enc") ? bitrate * 1000 : bitrate;
}

void
gst_lets_chat_congestion_tick (GstLetsChatCongestion * cc,
    GstElement * webrtc, GList * encoders, gboolean pre_encoded)
{
  guint bitrate;
  GList *l;

  if (cc->control == GST_LETS_CHAT_CONGESTION_CONTROL_NONE) {
    bitrate = cc->start_bitrate;
  } else {
    /* Between calls, hold on to no webrtcbin: a closed one keeps its ICE
     * thread while anything has a reference to it. The encoder gets what
     * the next call starts at, and the ladder reads the picture at it
     * meanwhile: a call that starts with a picture too busy for its size
     * starts with a keyframe that costs the encoder half a second or more
     * of dropped frames (a freeze in the first second of every call of the
     * network bench's 720p snow). */
    if (!webrtc) {
      congestion_unfollow (cc);
      bitrate = cc->start_bitrate;
    } else if (!congestion_follow (cc, webrtc)) {
      return;
    } else {
      congestion_decide (cc);
      bitrate = (guint) MAX (cc->target / cc->overshoot, cc->min_bitrate);
    }
    if (pre_encoded && !cc->warned_pre_encoded && cc->estimate &&
        cc->target < cc->max_bitrate / 2) {
      GST_WARNING ("the path takes about %u bit/s, but video that comes "
          "already encoded cannot be re-rated: encode it in the pipeline "
          "(give letschatsink raw video) to let letschat adapt", cc->estimate);
      cc->warned_pre_encoded = TRUE;
    }
  }
  /* With congestion-control=none too: the bitrate is fixed, and the
   * picture's size still fits it and the picture's cost (a 720p ball at
   * the 300 kbit/s default went to the bitrate's 480x270 at its first
   * keyframe, and without the ladder's decisions stayed there). */
  for (l = encoders; l; l = l->next)
    if (gst_lets_chat_ladder_update (l->data, bitrate))
      cc->picture_grew_us = g_get_monotonic_time ();
  /* Encoders reconfigure on each change: not for less than 2 %. */
  if (encoders && cc->applied && ABS ((gint64) bitrate - cc->applied) <
      cc->applied / 50)
    return;
  for (l = encoders; l; l = l->next)
    gst_lets_chat_congestion_set_encoder_bitrate (l->data, bitrate);
  if (encoders)
    cc->applied = bitrate;
}

void
gst_lets_chat_congestion_get (GstLetsChatCongestion * cc,
    guint * target_bitrate, guint * available_bandwidth)
{
  *target_bitrate = cc->control == GST_LETS_CHAT_CONGESTION_CONTROL_NONE ?
      cc->start_bitrate : (guint) cc->target;
  *available_bandwidth = cc->estimate;
}
