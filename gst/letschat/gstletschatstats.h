/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
/* GstLetsChatStats: the call's quality, as the application reads it (the
 * elements' `stats` property and the `letschat/stats` bus message). Built
 * from webrtcbin's get-stats, the descriptions (which SSRC is which stream,
 * which is its retransmission stream) and what letschat counts itself
 * (frames, from the RTP marker bit on webrtcbin's pads). Field names:
 * docs/stats.md.
 *
 * The session owns one; it is thread-safe. */
typedef struct _GstLetsChatStats GstLetsChatStats;

/* What letschat's own controls report for the stats: the sender's
 * congestion control (gstletschatcongestion.c; bits per second, 0 when
 * unknown) and the receiver's jitter buffers (gstletschatjitterbuffers.c;
 * their highest latency in ms, 0 when none). */
typedef struct
{
  guint target_bitrate;
  guint available_bandwidth;
  guint receive_latency;
} GstLetsChatStatsControls;

GstLetsChatStats *gst_lets_chat_stats_new (void);
void gst_lets_chat_stats_free (GstLetsChatStats * stats);

/* The peer connection's webrtcbin (NULL: none): counting starts afresh on
 * each. Call before its pads exist (pads added later are watched). */
void gst_lets_chat_stats_watch_webrtcbin (GstLetsChatStats * stats,
    GstElement * webrtc);

/* The latest collection (a copy), or an empty "letschat/stats" before the
 * first one. */
GstStructure *gst_lets_chat_stats_get (GstLetsChatStats * stats);

/* Builds a collection from webrtcbin's get-stats reply @reply, its
 * descriptions and @controls; keeps it as the latest and returns a copy.
 * @send_caps: the caps each sent stream's encoder makes (video/x-vp8,
 * width=..., ...), for the resolution. Call on the session thread (it
 * reads webrtcbin's properties: never from a get-stats promise callback,
 * which runs under webrtcbin's lock). */
GstStructure *gst_lets_chat_stats_update (GstLetsChatStats * stats,
    GstElement * webrtc, const GstStructure * reply, GList * send_caps,
    const GstLetsChatStatsControls * controls);

G_END_DECLS
