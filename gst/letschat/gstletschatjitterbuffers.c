/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The latency of the call's jitter buffers follows what retransmission
 * needs.
 *
 * A packet that does not come is asked for again (NACK) until the jitter
 * buffer's latency has passed since it was due; then it counts as lost, a
 * VP8 or H.264 picture that refers to it cannot be decoded, and the
 * receiver waits for a keyframe it asks for: a freeze of a few hundred
 * milliseconds for one packet. 50 ms (letschatsrc's default latency, low
 * for conversation) leaves room for one or two requests on a loaded
 * machine: through 10 % random loss, packets whose retransmission came
 * 10 to 20 ms too late, or whose one retransmission was lost too, froze
 * the picture 22 times a minute (bench/network.py, loss10); with 150 ms,
 * twice. Browsers do the same: their jitter buffer waits as long as a
 * retransmission takes when there is loss, and no longer when there is
 * none.
 *
 * So four times a second, per jitter buffer that retransmission has
 * repaired at least once (an audio stream, or a sender without RTX, is
 * left alone):
 * packets lost since the last look, while its latency leaves room for
 * fewer than six requests for a packet over the floor (a request's time is
 * rtpjitterbuffer's own measure: the retransmission round trip and twice
 * the jitter), raise its latency to that room, by half at least and to
 * three times at most, up to max-latency; 30 seconds with nothing lost take a third off, down to the
 * floor. At once to the room rather than by half each second: by half,
 * 50, 75, 112, 168 ms took three seconds of freezes at 10 % loss (2 to 14
 * freezes a minute against 0 to 2). Coming down by a third is undone at
 * the next loss only if the requests need more, so the latency settles
 * near what they need even when it rose too far at a call's start, where
 * requests are slow (RTCP is spaced widely until rtpsession has seen some
 * media: 32 ms a request at first, 10 ms later). Four looks a second
 * rather than one: at a call's start, while the first keyframes cross the
 * loss, a second at 50 ms was a second of freezes (3 % loss: 4 and 4
 * freezes a minute with one look a second, 2 and 2 with four). Raising
 * holds back only the pictures that wait for a packet; but the jitter
 * buffer posts a latency message, and a pipeline that handles it
 * (gst-launch-1.0 does; an application calls gst_bin_recalculate_latency)
 * then plays everything that much later, which is why it comes back down.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstletschatjitterbuffers.h"

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_jitterbuffers_debug);
#define GST_CAT_DEFAULT gst_lets_chat_jitterbuffers_debug

/* Requests for one packet the latency leaves room for, over the floor
 * (which covers noticing the gap): at 10 % loss a request or its answer is
 * lost one time in five, six in a row one time in 15,000. */
#define REQUESTS_ROOM 6
#define CALM_US (30 * G_USEC_PER_SEC)

/* What is remembered of one jitter buffer, on it. */
typedef struct
{
  guint64 lost;                 /* its num-lost at the last look */
  gint64 last_event_us;         /* a loss or a change of latency */
  gint64 last_look_us;          /* a look in the same tick is not another */
} Seen;

static GQuark
seen_quark (void)
{
  static gsize quark = 0;

  /* Two parties in one process look from two session threads. */
  if (g_once_init_enter (&quark)) {
    GST_DEBUG_CATEGORY_INIT (gst_lets_chat_jitterbuffers_debug,
        "letschatjitterbuffers", 0,
        "letschat: jitter buffer latency that follows retransmission");
    g_once_init_leave (&quark,
        g_quark_from_static_string ("letschat-jitterbuffer-seen"));
  }
  return (GQuark) quark;
}

static guint64
stat_u64 (const GstStructure * s, const gchar * name)
{
  guint64 v = 0;

  gst_structure_get_uint64 (s, name, &v);
  return v;
}

/* Returns the latency @jitterbuffer has after the look. */
static guint
adapt_one (GstElement * jitterbuffer, guint floor_ms, guint max_ms, gint64 now)
{
  GstStructure *stats = NULL;
  Seen *seen = g_object_get_qdata (G_OBJECT (jitterbuffer), seen_quark ());
  guint latency = 0, target;
  guint64 lost, repaired, request_ns;

  g_object_get (jitterbuffer, "latency", &latency, "stats", &stats, NULL);
  if (!stats)
    return latency;
  lost = stat_u64 (stats, "num-lost");
  repaired = stat_u64 (stats, "rtx-success-count");
  /* rtpjitterbuffer's time between two requests for one packet. */
  request_ns = stat_u64 (stats, "rtx-rtt") + 2 * stat_u64 (stats, "avg-jitter");
  gst_structure_free (stats);

  if (!seen) {
    seen = g_new0 (Seen, 1);
    seen->lost = lost;
    seen->last_event_us = now;
    g_object_set_qdata_full (G_OBJECT (jitterbuffer), seen_quark (), seen,
        g_free);
    return latency;
  }
  /* rtpbin added a stream during the tick's walk, which then began again. */
  if (seen->last_look_us == now)
    return latency;
  seen->last_look_us = now;
  target = latency;
  if (lost > seen->lost && repaired > 0) {
    guint64 need = floor_ms + REQUESTS_ROOM * request_ns / GST_MSECOND;
    /* A latency of 0 has no multiple: the room at once. */
    guint64 most = latency ? 3 * (guint64) latency : need;

    /* Above what the requests need, a loss is bad luck or the sender's
     * (its history, its load), which more waiting would not repair. */
    if (latency < need)
      target = MIN (max_ms, MIN (most, MAX (latency + (guint64) latency / 2,
                  need)));
    seen->last_event_us = now;
  } else if (latency > floor_ms && now - seen->last_event_us >= CALM_US) {
    target = MAX (floor_ms, latency - latency / 3);
  }
  if (lost > seen->lost)
    GST_LOG_OBJECT (jitterbuffer, "%" G_GUINT64_FORMAT " lost in the last "
        "look, %" G_GUINT64_FORMAT " repaired in all", lost - seen->lost,
        repaired);
  seen->lost = lost;
  if (target != latency) {
    GST_INFO_OBJECT (jitterbuffer, "latency %u ms -> %u ms (%s; a "
        "retransmission request takes %" G_GUINT64_FORMAT " ms)", latency,
        target, target > latency ? "packets lost that retransmission could "
        "have repaired" : "30 s without loss", request_ns / GST_MSECOND);
    g_object_set (jitterbuffer, "latency", target, NULL);
    seen->last_event_us = now;
  }
  return target;
}

guint
gst_lets_chat_jitterbuffers_adapt (GstElement * webrtc, guint floor_ms,
    guint max_ms)
{
  GstElement *rtpbin = gst_bin_get_by_name (GST_BIN (webrtc), "rtpbin");
  GstIterator *it;
  GValue item = G_VALUE_INIT;
  gint64 now = g_get_monotonic_time ();
  guint highest = 0;

  seen_quark ();
  if (!rtpbin)
    return 0;
  it = gst_bin_iterate_elements (GST_BIN (rtpbin));
  for (;;) {
    GstIteratorResult r = gst_iterator_next (it, &item);
    GstElement *e;
    guint latency = 0;

    if (r == GST_ITERATOR_RESYNC) {
      /* rtpbin added a stream meanwhile: look at them all again. */
      gst_iterator_resync (it);
      highest = 0;
      continue;
    }
    if (r != GST_ITERATOR_OK)
      break;
    e = g_value_get_object (&item);
    if (g_str_equal (G_OBJECT_TYPE_NAME (e), "GstRtpJitterBuffer")) {
      if (max_ms > floor_ms)
        latency = adapt_one (e, floor_ms, max_ms, now);
      else
        g_object_get (e, "latency", &latency, NULL);
    }
    highest = MAX (highest, latency);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  gst_object_unref (rtpbin);
  return highest;
}
