/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The call's statistics for the application (see the header, and
 * docs/stats.md for every field). This file turns webrtcbin's get-stats
 * into letschat's shape; it neither asks for them nor posts them (the
 * session does both, on its thread) and changes nothing in the call.
 *
 * webrtcbin 1.22's own figures need help: its outbound and inbound entries
 * all say kind=audio and point at the wrong codec, the retransmission
 * (RTX) streams appear as streams of their own, and it counts no frames.
 * So each SSRC is looked up in the descriptions (its m-line gives the
 * kind and codec, a=ssrc-group:FID which SSRC retransmits which), and
 * frames are counted here from the RTP marker bit, which ends every video
 * frame, on webrtcbin's pads.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gst/rtp/rtp.h>
#include <gst/webrtc/webrtc.h>

#include "gstletschatstats.h"
#include "gstletschatremb.h"

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_stats_debug);
#define GST_CAT_DEFAULT gst_lets_chat_stats_debug

/* Frames per SSRC on one webrtcbin's pads; shared with the pad probes,
 * which may outlive the webrtcbin's time as the current one. */
typedef struct
{
  GMutex lock;
  GHashTable *frames;           /* SSRC -> guint64 *, under lock */
} FrameCounter;

/* What the previous collection saw of one stream, for rates. */
typedef struct
{
  guint64 bytes;
  guint64 frames;
  gint64 time_us;               /* 0: none yet */
} Previous;

/* The latest report block the other party's RTCP carried about one SSRC
 * we send (RFC 3550 6.4.1). */
typedef struct
{
  guint8 fraction_lost;         /* /256 */
  gint32 packets_lost;          /* cumulative */
  guint32 jitter;               /* clock rate units */
} ReportBlock;

/* Those blocks, by SSRC, read on the RTCP thread. */
typedef struct
{
  GMutex lock;
  GHashTable *blocks;           /* SSRC -> ReportBlock *, under lock */
} ReportBlocks;

struct _GstLetsChatStats
{
  GMutex lock;
  FrameCounter *counter;        /* of the current webrtcbin */
  ReportBlocks *reports;        /* of its RTP session 0 */
  GObject *reports_session;     /* that session, while followed (a ref) */
  GstStructure *latest;
  GHashTable *previous;         /* "send-video" ... -> Previous */
};

/* One SSRC of a description. */
typedef struct
{
  gchar *kind;                  /* "video", "audio" */
  gchar *codec;                 /* encoding name of the m-line's first format */
  guint32 rtx_of;               /* 0, or the SSRC it retransmits */
} SsrcInfo;

static void
ensure_debug_category (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_lets_chat_stats_debug, "letschatstats", 0,
        "letschat call statistics");
    g_once_init_leave (&done, 1);
  }
}

/* ---------------------------------------------------------------------- */
/* Frames, counted on webrtcbin's pads (streaming threads)                 */

static FrameCounter *
frame_counter_new (void)
{
  FrameCounter *c = g_atomic_rc_box_new0 (FrameCounter);

  g_mutex_init (&c->lock);
  c->frames = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  return c;
}

static void
frame_counter_clear (FrameCounter * c)
{
  g_hash_table_unref (c->frames);
  g_mutex_clear (&c->lock);
}

static void
frame_counter_unref (gpointer c)
{
  g_atomic_rc_box_release_full (c, (GDestroyNotify) frame_counter_clear);
}

static void
frame_counter_closure_unref (gpointer c, GClosure * closure)
{
  frame_counter_unref (c);
}

static gboolean
count_frame (GstBuffer ** buffer, guint idx, gpointer user_data)
{
  FrameCounter *c = user_data;
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  guint64 *n;
  guint32 ssrc;

  if (!gst_rtp_buffer_map (*buffer, GST_MAP_READ, &rtp))
    return TRUE;
  if (gst_rtp_buffer_get_marker (&rtp)) {
    ssrc = gst_rtp_buffer_get_ssrc (&rtp);
    g_mutex_lock (&c->lock);
    n = g_hash_table_lookup (c->frames, GUINT_TO_POINTER (ssrc));
    if (!n) {
      n = g_new0 (guint64, 1);
      g_hash_table_insert (c->frames, GUINT_TO_POINTER (ssrc), n);
    }
    (*n)++;
    g_mutex_unlock (&c->lock);
  }
  gst_rtp_buffer_unmap (&rtp);
  return TRUE;
}

static GstPadProbeReturn
frame_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
    count_frame ((GstBuffer **) & info->data, 0, user_data);
  else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
    gst_buffer_list_foreach (GST_PAD_PROBE_INFO_BUFFER_LIST (info),
        count_frame, user_data);
  return GST_PAD_PROBE_OK;
}

/* Sink pads carry what we send (before rtpbin), src pads what we receive
 * (after the jitter buffer): both in media SSRCs. */
static void
watch_pad (GstElement * webrtc, GstPad * pad, FrameCounter * c)
{
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST, frame_probe,
      g_atomic_rc_box_acquire (c), frame_counter_unref);
}

static guint64
frames_of (FrameCounter * c, guint32 ssrc)
{
  guint64 *n, frames = 0;

  if (!c)
    return 0;
  g_mutex_lock (&c->lock);
  n = g_hash_table_lookup (c->frames, GUINT_TO_POINTER (ssrc));
  if (n)
    frames = *n;
  g_mutex_unlock (&c->lock);
  return frames;
}

/* ---------------------------------------------------------------------- */
/* Report blocks, read from the RTCP the other party sends (RTCP thread)   */

/* webrtcbin 1.22's remote-inbound-rtp entries cannot give each sent stream
 * its report: rtpsession keeps one report block per reporting party, the
 * last of each packet it received, so of a receiver report about our video
 * and its RTX (or our audio), only the second was kept, and the video's
 * loss and jitter read 0 through a call that lost 10 % of its packets. */

static ReportBlocks *
report_blocks_new (void)
{
  ReportBlocks *r = g_atomic_rc_box_new0 (ReportBlocks);

  g_mutex_init (&r->lock);
  r->blocks = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  return r;
}

static void
report_blocks_clear (ReportBlocks * r)
{
  g_hash_table_unref (r->blocks);
  g_mutex_clear (&r->lock);
}

static void
report_blocks_unref (gpointer r, GClosure * closure)
{
  g_atomic_rc_box_release_full (r, (GDestroyNotify) report_blocks_clear);
}

static void
on_receiving_rtcp (GObject * session, GstBuffer * buffer, ReportBlocks * r)
{
  GstRTCPBuffer rtcp = GST_RTCP_BUFFER_INIT;
  GstRTCPPacket packet;
  gboolean more;

  if (!gst_rtcp_buffer_map (buffer, GST_MAP_READ, &rtcp))
    return;
  for (more = gst_rtcp_buffer_get_first_packet (&rtcp, &packet); more;
      more = gst_rtcp_packet_move_to_next (&packet)) {
    GstRTCPType type = gst_rtcp_packet_get_type (&packet);
    guint i;

    if (type != GST_RTCP_TYPE_SR && type != GST_RTCP_TYPE_RR)
      continue;
    for (i = 0; i < gst_rtcp_packet_get_rb_count (&packet); i++) {
      guint32 ssrc, highest, jitter, lsr, dlsr;
      guint8 fraction;
      gint32 lost;
      ReportBlock *b;

      gst_rtcp_packet_get_rb (&packet, i, &ssrc, &fraction, &lost, &highest,
          &jitter, &lsr, &dlsr);
      g_mutex_lock (&r->lock);
      b = g_hash_table_lookup (r->blocks, GUINT_TO_POINTER (ssrc));
      if (!b) {
        b = g_new0 (ReportBlock, 1);
        g_hash_table_insert (r->blocks, GUINT_TO_POINTER (ssrc), b);
      }
      b->fraction_lost = fraction;
      b->packets_lost = lost;
      b->jitter = jitter;
      g_mutex_unlock (&r->lock);
    }
  }
  gst_rtcp_buffer_unmap (&rtcp);
}

static gboolean
report_block_of (ReportBlocks * r, guint32 ssrc, ReportBlock * out)
{
  ReportBlock *b;

  if (!r)
    return FALSE;
  g_mutex_lock (&r->lock);
  b = g_hash_table_lookup (r->blocks, GUINT_TO_POINTER (ssrc));
  if (b)
    *out = *b;
  g_mutex_unlock (&r->lock);
  return b != NULL;
}

/* Under stats->lock. */
static void
reports_unfollow (GstLetsChatStats * stats)
{
  if (stats->reports_session)
    g_signal_handlers_disconnect_by_data (stats->reports_session,
        stats->reports);
  g_clear_object (&stats->reports_session);
  if (stats->reports)
    report_blocks_unref (stats->reports, NULL);
  stats->reports = NULL;
}

/* Under stats->lock: reads what the other party reports of what @webrtc
 * sends, from its RTP session 0 (the BUNDLE's) once it has one. */
static void
reports_follow (GstLetsChatStats * stats, GstElement * webrtc)
{
  GstElement *rtpbin;
  GObject *session = NULL;

  if (stats->reports_session)
    return;
  rtpbin = gst_bin_get_by_name (GST_BIN (webrtc), "rtpbin");
  if (rtpbin)
    g_signal_emit_by_name (rtpbin, "get-internal-session", 0, &session);
  gst_clear_object (&rtpbin);
  if (!session)
    return;
  if (!stats->reports)
    stats->reports = report_blocks_new ();
  stats->reports_session = session;
  g_signal_connect_data (session, "on-receiving-rtcp",
      G_CALLBACK (on_receiving_rtcp), g_atomic_rc_box_acquire (stats->reports),
      report_blocks_unref, 0);
}

/* ---------------------------------------------------------------------- */

GstLetsChatStats *
gst_lets_chat_stats_new (void)
{
  GstLetsChatStats *stats = g_new0 (GstLetsChatStats, 1);

  ensure_debug_category ();
  g_mutex_init (&stats->lock);
  stats->previous = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);
  return stats;
}

void
gst_lets_chat_stats_free (GstLetsChatStats * stats)
{
  if (stats->counter)
    frame_counter_unref (stats->counter);
  reports_unfollow (stats);
  if (stats->latest)
    gst_structure_free (stats->latest);
  g_hash_table_unref (stats->previous);
  g_mutex_clear (&stats->lock);
  g_free (stats);
}

void
gst_lets_chat_stats_watch_webrtcbin (GstLetsChatStats * stats,
    GstElement * webrtc)
{
  FrameCounter *c = webrtc ? frame_counter_new () : NULL, *old;
  GstIterator *it;
  GValue v = G_VALUE_INIT;

  g_mutex_lock (&stats->lock);
  old = stats->counter;
  stats->counter = c;
  g_hash_table_remove_all (stats->previous);
  reports_unfollow (stats);
  g_mutex_unlock (&stats->lock);
  if (old)
    frame_counter_unref (old);
  if (!c)
    return;

  g_signal_connect_data (webrtc, "pad-added", G_CALLBACK (watch_pad),
      g_atomic_rc_box_acquire (c), frame_counter_closure_unref, 0);
  it = gst_element_iterate_pads (webrtc);
  while (gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    watch_pad (webrtc, g_value_get_object (&v), c);
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
}

GstStructure *
gst_lets_chat_stats_get (GstLetsChatStats * stats)
{
  GstStructure *s;

  g_mutex_lock (&stats->lock);
  s = stats->latest ? gst_structure_copy (stats->latest) :
      gst_structure_new_empty ("letschat/stats");
  g_mutex_unlock (&stats->lock);
  return s;
}

/* ---------------------------------------------------------------------- */
/* Which SSRC is which: the descriptions                                   */

static void
ssrc_info_free (gpointer p)
{
  SsrcInfo *info = p;

  g_free (info->kind);
  g_free (info->codec);
  g_free (info);
}

static gchar *
media_first_codec (const GstSDPMedia * media)
{
  GstCaps *caps;
  gchar *codec = NULL;
  gint pt;

  if (gst_sdp_media_formats_len (media) == 0)
    return NULL;
  pt = atoi (gst_sdp_media_get_format (media, 0));
  caps = gst_sdp_media_get_caps_from_media (media, pt);
  if (caps) {
    codec = g_strdup (gst_structure_get_string (gst_caps_get_structure (caps,
                0), "encoding-name"));
    gst_caps_unref (caps);
  }
  return codec;
}

/* SSRC -> SsrcInfo, for the streams @desc announces. */
static GHashTable *
describe_ssrcs (GstWebRTCSessionDescription * desc)
{
  GHashTable *ssrcs = g_hash_table_new_full (NULL, NULL, NULL, ssrc_info_free);
  guint m, a;

  for (m = 0; desc && m < gst_sdp_message_medias_len (desc->sdp); m++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (desc->sdp, m);
    GHashTable *rtx = g_hash_table_new (NULL, NULL);

    for (a = 0; a < gst_sdp_media_attributes_len (media); a++) {
      const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, a);
      guint32 primary, repair;

      if (g_str_equal (attr->key, "ssrc-group") && attr->value &&
          sscanf (attr->value, "FID %u %u", &primary, &repair) == 2)
        g_hash_table_insert (rtx, GUINT_TO_POINTER (repair),
            GUINT_TO_POINTER (primary));
    }
    for (a = 0; a < gst_sdp_media_attributes_len (media); a++) {
      const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, a);
      SsrcInfo *info;
      guint32 ssrc;

      if (!g_str_equal (attr->key, "ssrc") || !attr->value ||
          sscanf (attr->value, "%u", &ssrc) != 1 ||
          g_hash_table_contains (ssrcs, GUINT_TO_POINTER (ssrc)))
        continue;
      info = g_new0 (SsrcInfo, 1);
      info->kind = g_strdup (gst_sdp_media_get_media (media));
      info->codec = media_first_codec (media);
      info->rtx_of = GPOINTER_TO_UINT (g_hash_table_lookup (rtx,
              GUINT_TO_POINTER (ssrc)));
      g_hash_table_insert (ssrcs, GUINT_TO_POINTER (ssrc), info);
    }
    g_hash_table_unref (rtx);
  }
  return ssrcs;
}

/* ---------------------------------------------------------------------- */
/* Building a collection                                                   */

static const GstStructure *
entry (const GstStructure * reply, const gchar * id)
{
  const GValue *v = id ? gst_structure_get_value (reply, id) : NULL;

  return v && GST_VALUE_HOLDS_STRUCTURE (v) ? gst_value_get_structure (v) :
      NULL;
}

static GstWebRTCStatsType
entry_type (const GstStructure * s)
{
  GstWebRTCStatsType type = 0;

  gst_structure_get (s, "type", GST_TYPE_WEBRTC_STATS_TYPE, &type, NULL);
  return type;
}

static guint64
get_u64 (const GstStructure * s, const gchar * field)
{
  guint64 v64 = 0;
  gint64 i64 = 0;
  guint v = 0;
  gint i = 0;

  if (!s)
    return 0;
  if (gst_structure_get_uint64 (s, field, &v64))
    return v64;
  if (gst_structure_get_int64 (s, field, &i64))
    return MAX (i64, 0);
  if (gst_structure_get_uint (s, field, &v))
    return v;
  if (gst_structure_get_int (s, field, &i))
    return MAX (i, 0);
  return 0;
}

static gdouble
get_double (const GstStructure * s, const gchar * field)
{
  gdouble d = 0;

  if (s)
    gst_structure_get_double (s, field, &d);
  return d;
}

static const GstStructure *
sub_structure (const GstStructure * s, const gchar * field)
{
  const GValue *v = s ? gst_structure_get_value (s, field) : NULL;

  return v && GST_VALUE_HOLDS_STRUCTURE (v) ? gst_value_get_structure (v) :
      NULL;
}

/* What the other party's latest receiver report says of our @ssrc
 * (webrtcbin's remote-inbound-rtp entry), or NULL. webrtcbin 1.22 links
 * the outbound-rtp entry to it (remote-id) only when it happened to make
 * the report's entry first, which depends on the order of rtpsession's
 * sources: in many calls it did not, and the round trip, the jitter and the
 * loss the other party reports read 0 all call long. Its round trip is
 * the one read from it: loss and jitter come from the report blocks read
 * directly (ReportBlocks, above). */
static const GstStructure *
remote_inbound (const GstStructure * reply, const GstStructure * out,
    guint32 ssrc)
{
  const GstStructure *linked = entry (reply, gst_structure_get_string (out,
          "remote-id"));
  gint i;

  if (linked)
    return linked;
  for (i = 0; i < gst_structure_n_fields (reply); i++) {
    const GstStructure *s = entry (reply, gst_structure_nth_field_name (reply,
            i));
    guint s_ssrc = 0;

    if (s && entry_type (s) == GST_WEBRTC_STATS_REMOTE_INBOUND_RTP
        && gst_structure_get_uint (s, "ssrc", &s_ssrc) && s_ssrc == ssrc)
      return s;
  }
  return NULL;
}

/* The round trip (s) of the latest receiver report about any stream we
 * send: the transport's, which all of a call's streams share (BUNDLE); 0:
 * none yet. */
static gdouble
transport_round_trip (const GstStructure * reply)
{
  gdouble rtt = 0;
  gint i;

  for (i = 0; i < gst_structure_n_fields (reply); i++) {
    const GstStructure *s = entry (reply, gst_structure_nth_field_name (reply,
            i));

    if (s && entry_type (s) == GST_WEBRTC_STATS_REMOTE_INBOUND_RTP)
      rtt = MAX (rtt, get_double (s, "round-trip-time"));
  }
  return rtt;
}

/* The codec a sent SSRC is encoded with: webrtcbin's encode codec entry
 * for it ("video/VP8" -> "VP8"). */
static gchar *
sent_codec (const GstStructure * reply, guint32 ssrc)
{
  gint i;

  for (i = 0; i < gst_structure_n_fields (reply); i++) {
    const GstStructure *s = entry (reply, gst_structure_nth_field_name (reply,
            i));
    const gchar *mime;
    guint s_ssrc = 0;

    if (!s || entry_type (s) != GST_WEBRTC_STATS_CODEC ||
        !gst_structure_get_uint (s, "ssrc", &s_ssrc) || s_ssrc != ssrc ||
        !(mime = gst_structure_get_string (s, "mime-type")))
      continue;
    return g_strdup (strchr (mime, '/') ? strchr (mime, '/') + 1 : mime);
  }
  return NULL;
}

/* The first caps with a width along @pad's stream downstream (a
 * depayloader's or decoder's output), or NULL. */
static GstCaps *
video_caps_downstream (GstPad * pad)
{
  GstPad *peer = gst_pad_get_peer (pad);
  GstCaps *found = NULL;
  guint depth;

  for (depth = 0; peer && !found && depth < 6; depth++) {
    GstElement *e = gst_pad_get_parent_element (peer);
    GstPad *src = e ? gst_element_get_static_pad (e, "src") : NULL;
    GstCaps *caps = src ? gst_pad_get_current_caps (src) : NULL;

    gst_object_unref (peer);
    peer = NULL;
    if (caps && gst_structure_has_field (gst_caps_get_structure (caps, 0),
            "width"))
      found = gst_caps_ref (caps);
    else if (src)
      peer = gst_pad_get_peer (src);
    gst_clear_caps (&caps);
    gst_clear_object (&src);
    gst_clear_object (&e);
  }
  gst_clear_object (&peer);
  return found;
}

static GstCaps *
received_video_caps (GstElement * webrtc)
{
  GstIterator *it = gst_element_iterate_src_pads (webrtc);
  GValue v = G_VALUE_INIT;
  GstCaps *found = NULL;

  while (!found && gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstPad *pad = g_value_get_object (&v);
    GstCaps *caps = gst_pad_get_current_caps (pad);

    if (caps && g_strcmp0 (gst_structure_get_string (gst_caps_get_structure
                (caps, 0), "media"), "video") == 0)
      found = video_caps_downstream (pad);
    gst_clear_caps (&caps);
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  return found;
}

static void
set_resolution (GstStructure * stream, GstCaps * caps)
{
  const GstStructure *s;
  gint width = 0, height = 0;

  if (caps) {
    s = gst_caps_get_structure (caps, 0);
    gst_structure_get_int (s, "width", &width);
    gst_structure_get_int (s, "height", &height);
  }
  gst_structure_set (stream, "width", G_TYPE_INT, width, "height",
      G_TYPE_INT, height, NULL);
}

/* A stream's structure, with the fields every stream has. */
static GstStructure *
stream_new (const gchar * name, const gchar * codec, guint32 ssrc)
{
  return gst_structure_new (name, "codec", G_TYPE_STRING,
      codec ? codec : "unknown", "ssrc", G_TYPE_UINT, ssrc,
      "retransmitted-packets", G_TYPE_UINT64, (guint64) 0, NULL);
}

static Previous *
previous_of (GstLetsChatStats * stats, const gchar * name)
{
  Previous *prev = g_hash_table_lookup (stats->previous, name);

  if (!prev) {
    prev = g_new0 (Previous, 1);
    g_hash_table_insert (stats->previous, g_strdup (name), prev);
  }
  return prev;
}

/* Bitrate and frame rate since the previous collection. */
static void
set_rates (GstLetsChatStats * stats, GstStructure * stream,
    const gchar * name, guint64 bytes, guint64 frames, gint64 now)
{
  Previous *prev = previous_of (stats, name);
  guint bitrate = 0;
  gdouble frame_rate = 0;

  if (prev->time_us && now > prev->time_us && bytes >= prev->bytes
      && frames >= prev->frames) {
    gdouble seconds = (now - prev->time_us) / (gdouble) G_USEC_PER_SEC;

    bitrate = (guint) ((bytes - prev->bytes) * 8 / seconds);
    frame_rate = (frames - prev->frames) / seconds;
  }
  prev->bytes = bytes;
  prev->frames = frames;
  prev->time_us = now;
  gst_structure_set (stream, "bytes", G_TYPE_UINT64, bytes, "bitrate",
      G_TYPE_UINT, bitrate, NULL);
  /* Audio packets carry no frame boundary (the marker bit starts a talk
   * spurt there). */
  if (g_str_has_suffix (name, "-video"))
    gst_structure_set (stream, "frames", G_TYPE_UINT64, frames, "frame-rate",
        G_TYPE_DOUBLE, frame_rate, NULL);
}

static GstStructure *
sent_stream (GstLetsChatStats * stats, const GstStructure * reply,
    const GstStructure * out, guint32 ssrc, const SsrcInfo * info,
    gint64 now, gdouble call_rtt)
{
  const GstStructure *remote = remote_inbound (reply, out, ssrc);
  const GstStructure *ours = sub_structure (out, "gst-rtpsource-stats");
  gchar *codec = sent_codec (reply, ssrc);
  gchar *name = g_strdup_printf ("send-%s", info->kind);
  GstStructure *s = stream_new (name, codec ? codec : info->codec, ssrc);
  guint clock_rate = (guint) get_u64 (ours, "clock-rate");
  gdouble rtt = get_double (remote, "round-trip-time");
  ReportBlock block = { 0, };

  report_block_of (stats->reports, ssrc, &block);
  gst_structure_set (s, "packets", G_TYPE_UINT64, get_u64 (out,
          "packets-sent"), "packets-lost", G_TYPE_UINT64,
      (guint64) MAX (block.packets_lost, 0), "fraction-lost", G_TYPE_DOUBLE,
      block.fraction_lost / 256.0, "jitter", G_TYPE_DOUBLE, clock_rate ?
      block.jitter / (gdouble) clock_rate : 0.0, "nacks", G_TYPE_UINT,
      (guint) get_u64 (out, "nack-count"), "plis", G_TYPE_UINT,
      (guint) get_u64 (out, "pli-count"), "firs", G_TYPE_UINT,
      (guint) get_u64 (out, "fir-count"), "round-trip-time", G_TYPE_DOUBLE,
      rtt > 0 ? rtt : call_rtt, NULL);
  set_rates (stats, s, name, get_u64 (out, "bytes-sent"),
      frames_of (stats->counter, ssrc), now);
  g_free (codec);
  g_free (name);
  return s;
}

static GstStructure *
received_stream (GstLetsChatStats * stats, const GstStructure * in,
    guint32 ssrc, const SsrcInfo * info, gint64 now)
{
  const GstStructure *src = sub_structure (in, "gst-rtpsource-stats");
  gchar *name = g_strdup_printf ("receive-%s", info->kind);
  GstStructure *s = stream_new (name, info->codec, ssrc);
  guint64 received = get_u64 (in, "packets-received");

  /* The fraction lost in our latest receiver report (RFC 3550: 1/256). */
  gst_structure_set (s, "packets", G_TYPE_UINT64, received, "packets-lost",
      G_TYPE_UINT64, get_u64 (in, "packets-lost"), "fraction-lost",
      G_TYPE_DOUBLE, get_u64 (src, "sent-rb-fractionlost") / 256.0, "jitter",
      G_TYPE_DOUBLE, get_double (in, "jitter"), "nacks", G_TYPE_UINT,
      (guint) get_u64 (in, "nack-count"), "plis", G_TYPE_UINT,
      (guint) get_u64 (in, "pli-count"), "firs", G_TYPE_UINT,
      (guint) get_u64 (in, "fir-count"), NULL);
  set_rates (stats, s, name, get_u64 (in, "bytes-received"),
      frames_of (stats->counter, ssrc), now);
  g_free (name);
  return s;
}

/* Retransmitted packets are those of the stream's RTX SSRC. */
static void
add_retransmitted (GstStructure * collection, const gchar * name,
    guint64 packets)
{
  const GValue *v = gst_structure_get_value (collection, name);
  GstStructure *s;

  if (!v || !GST_VALUE_HOLDS_STRUCTURE (v))
    return;
  s = gst_structure_copy (gst_value_get_structure (v));
  gst_structure_set (s, "retransmitted-packets", G_TYPE_UINT64,
      get_u64 (s, "retransmitted-packets") + packets, NULL);
  gst_structure_set (collection, name, GST_TYPE_STRUCTURE, s, NULL);
  gst_structure_free (s);
}

/* What webrtcbin's rtprtxsend (@factory) or rtprtxreceive sent or received
 * on the RTX SSRCs since the call began; -1: no such element. The RTX
 * SSRC's own figures cannot be summed over a call: rtpsession forgets a
 * source silent for 5 s, and webrtcbin 1.22 reports a forgotten one no
 * more, so a call's count went from 34 back to 0 and stayed there through
 * 140 retransmissions more (bench/network.py, step). */
static gint64
retransmitted_by (GstElement * webrtc, const gchar * factory)
{
  GstIterator *it = gst_bin_iterate_all_by_element_factory_name (GST_BIN
      (webrtc), factory);
  GValue item = G_VALUE_INIT;
  gint64 total = -1;
  guint packets;

  while (it && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    packets = 0;
    g_object_get (g_value_get_object (&item), "num-rtx-packets", &packets,
        NULL);
    total = MAX (total, 0) + packets;
    g_value_reset (&item);
  }
  g_value_unset (&item);
  if (it)
    gst_iterator_free (it);
  return total;
}

/* Only video asks for retransmissions (letschat and browsers alike), so
 * the session's retransmissions are the video stream's. */
static void
set_retransmitted (GstStructure * collection, const gchar * name,
    gint64 packets)
{
  const GValue *v = gst_structure_get_value (collection, name);
  GstStructure *s;

  if (packets < 0 || !v || !GST_VALUE_HOLDS_STRUCTURE (v))
    return;
  s = gst_structure_copy (gst_value_get_structure (v));
  gst_structure_set (s, "retransmitted-packets", G_TYPE_UINT64,
      MAX (get_u64 (s, "retransmitted-packets"), (guint64) packets), NULL);
  gst_structure_set (collection, name, GST_TYPE_STRUCTURE, s, NULL);
  gst_structure_free (s);
}

static void
set_candidate (GstStructure * collection, const GstStructure * reply,
    const gchar * side, const gchar * id)
{
  const GstStructure *c = entry (reply, id);
  const gchar *type = c ? gst_structure_get_string (c, "candidate-type") : NULL;
  const gchar *address = c ? gst_structure_get_string (c, "address") : NULL;
  gchar *field = g_strdup_printf ("%s-candidate-type", side);
  gchar *where = address ? g_strdup_printf ("%s:%u", address,
      (guint) get_u64 (c, "port")) : g_strdup ("");

  gst_structure_set (collection, field, G_TYPE_STRING, type ? type : "", NULL);
  g_free (field);
  field = g_strdup_printf ("%s-address", side);
  gst_structure_set (collection, field, G_TYPE_STRING, where, NULL);
  g_free (field);
  g_free (where);
}

/* The transport the selected pair carries the call over: udp, or tcp
 * (ICE-TCP, which a lossy or UDP-hostile path may end up on). One field
 * from the local candidate, not one per side: both candidates of a pair
 * have the same transport. */
static void
set_protocol (GstStructure * collection, const GstStructure * reply,
    const gchar * local_id)
{
  const GstStructure *c = entry (reply, local_id);
  const gchar *protocol = c ? gst_structure_get_string (c, "protocol") : NULL;

  gst_structure_set (collection, "candidate-protocol", G_TYPE_STRING,
      protocol ? protocol : "", NULL);
}

static void
set_selected_pair (GstStructure * collection, const GstStructure * reply)
{
  const GstStructure *pair = NULL;
  gint i;

  for (i = 0; !pair && i < gst_structure_n_fields (reply); i++) {
    const GstStructure *s = entry (reply, gst_structure_nth_field_name (reply,
            i));

    if (s && entry_type (s) == GST_WEBRTC_STATS_TRANSPORT)
      pair = entry (reply, gst_structure_get_string (s,
              "selected-candidate-pair-id"));
  }
  set_candidate (collection, reply, "local", pair ?
      gst_structure_get_string (pair, "local-candidate-id") : NULL);
  set_candidate (collection, reply, "remote", pair ?
      gst_structure_get_string (pair, "remote-candidate-id") : NULL);
  set_protocol (collection, reply, pair ?
      gst_structure_get_string (pair, "local-candidate-id") : NULL);
}

GstStructure *
gst_lets_chat_stats_update (GstLetsChatStats * stats, GstElement * webrtc,
    const GstStructure * reply, GList * send_caps,
    const GstLetsChatStatsControls * controls)
{
  GstWebRTCSessionDescription *local = NULL, *remote = NULL;
  GHashTable *sent, *received;
  GstStructure *collection, *copy;
  GstCaps *receive_caps;
  gint64 now = g_get_monotonic_time ();
  gdouble rtt;
  gint i, pass;

  g_object_get (webrtc, "current-local-description", &local,
      "current-remote-description", &remote, NULL);
  sent = describe_ssrcs (local);
  received = describe_ssrcs (remote);
  g_clear_pointer (&local, gst_webrtc_session_description_free);
  g_clear_pointer (&remote, gst_webrtc_session_description_free);
  receive_caps = received_video_caps (webrtc);

  collection = gst_structure_new ("letschat/stats", "timestamp",
      G_TYPE_UINT64, (guint64) now * 1000, NULL);

  rtt = transport_round_trip (reply);
  g_mutex_lock (&stats->lock);
  reports_follow (stats, webrtc);
  /* Media streams first, then their retransmission streams. */
  for (pass = 0; pass < 2; pass++) {
    for (i = 0; i < gst_structure_n_fields (reply); i++) {
      const GstStructure *s = entry (reply,
          gst_structure_nth_field_name (reply, i));
      GstWebRTCStatsType type = s ? entry_type (s) : 0;
      GHashTable *ssrcs = type == GST_WEBRTC_STATS_OUTBOUND_RTP ? sent :
          type == GST_WEBRTC_STATS_INBOUND_RTP ? received : NULL;
      const SsrcInfo *info;
      GstStructure *stream;
      guint ssrc = 0;

      if (!ssrcs || !gst_structure_get_uint (s, "ssrc", &ssrc) ||
          !(info = g_hash_table_lookup (ssrcs, GUINT_TO_POINTER (ssrc))))
        continue;
      if (pass == 1 && info->rtx_of) {
        gchar *name = g_strdup_printf ("%s-%s", ssrcs == sent ? "send" :
            "receive", info->kind);

        add_retransmitted (collection, name, get_u64 (s, ssrcs == sent ?
                "packets-sent" : "packets-received"));
        g_free (name);
        continue;
      }
      if (pass == 1 || info->rtx_of)
        continue;
      if (ssrcs == sent)
        stream = sent_stream (stats, reply, s, ssrc, info, now, rtt);
      else
        stream = received_stream (stats, s, ssrc, info, now);
      if (g_str_equal (info->kind, "video"))
        set_resolution (stream, ssrcs == sent ? (send_caps ? send_caps->data :
                NULL) : receive_caps);
      gst_structure_set (collection, gst_structure_get_name (stream),
          GST_TYPE_STRUCTURE, stream, NULL);
      gst_structure_free (stream);
    }
  }
  g_mutex_unlock (&stats->lock);
  set_retransmitted (collection, "send-video", retransmitted_by (webrtc,
          "rtprtxsend"));
  set_retransmitted (collection, "receive-video", retransmitted_by (webrtc,
          "rtprtxreceive"));

  gst_structure_set (collection, "round-trip-time", G_TYPE_DOUBLE, rtt,
      "target-bitrate", G_TYPE_UINT, controls->target_bitrate,
      "available-bandwidth", G_TYPE_UINT, controls->available_bandwidth,
      "receive-latency", G_TYPE_UINT, controls->receive_latency,
      "remb-bitrate", G_TYPE_UINT, gst_lets_chat_remb_sent_bitrate (webrtc),
      NULL);
  set_selected_pair (collection, reply);

  g_hash_table_unref (sent);
  g_hash_table_unref (received);
  gst_clear_caps (&receive_caps);

  copy = gst_structure_copy (collection);
  g_mutex_lock (&stats->lock);
  if (stats->latest)
    gst_structure_free (stats->latest);
  stats->latest = collection;
  g_mutex_unlock (&stats->lock);
  return copy;
}
