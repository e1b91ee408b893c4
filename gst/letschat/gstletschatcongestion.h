/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
/* GstLetsChatCongestion: the bitrate controller of what a party encodes.
 * It reads the other party's transport-wide feedback (rtpsession's
 * twcc-stats) and REMB, and sets the video encoders' bitrate between
 * min-bitrate and max-bitrate. Algorithm and figures: docs/congestion.md.
 *
 * Session thread only, except the feedback, which webrtcbin's RTCP thread
 * hands in under a lock of its own. */
    typedef enum
{
  GST_LETS_CHAT_CONGESTION_CONTROL_NONE,
  GST_LETS_CHAT_CONGESTION_CONTROL_HOMEGROWN,
} GstLetsChatCongestionControl;

#define GST_TYPE_LETS_CHAT_CONGESTION_CONTROL \
    (gst_lets_chat_congestion_control_get_type ())
GType gst_lets_chat_congestion_control_get_type (void);

#define GST_LETS_CHAT_DEFAULT_CONGESTION_CONTROL \
    GST_LETS_CHAT_CONGESTION_CONTROL_HOMEGROWN
#define GST_LETS_CHAT_DEFAULT_MIN_BITRATE 100000
#define GST_LETS_CHAT_DEFAULT_MAX_BITRATE 4000000
/* As browsers start a call: the path is not known yet, and a start above
 * what it takes overflows its queue before the first feedback comes (a
 * 600 kbit/s link, 1 Mbit/s: a freeze of 2 to 2.7 s in the first 3 s,
 * docs/congestion.md). */
#define GST_LETS_CHAT_DEFAULT_START_BITRATE 300000

/* How often the controller decides. */
#define GST_LETS_CHAT_CONGESTION_TICK_MS 200

typedef struct _GstLetsChatCongestion GstLetsChatCongestion;

GstLetsChatCongestion *gst_lets_chat_congestion_new
    (GstLetsChatCongestionControl control, guint min_bitrate,
    guint max_bitrate, guint start_bitrate);
void gst_lets_chat_congestion_free (GstLetsChatCongestion * cc);

/* Every GST_LETS_CHAT_CONGESTION_TICK_MS: follows @webrtc's feedback (a
 * new webrtcbin starts afresh at start-bitrate), decides, and sets the
 * bitrate of @encoders (video encoders, GstElement). @pre_encoded: a
 * video stream is sent as it came, which cannot be re-rated (a warning in
 * the log when the path is congested). */
void gst_lets_chat_congestion_tick (GstLetsChatCongestion * cc,
    GstElement * webrtc, GList * encoders, gboolean pre_encoded);

/* Sets @encoder's bitrate (bit/s), whichever property its kind has it
 * in; and reads it (0: unknown). */
void gst_lets_chat_congestion_set_encoder_bitrate (GstElement * encoder,
    guint bitrate);
guint gst_lets_chat_congestion_get_encoder_bitrate (GstElement * encoder);

/* What a call starts at: @start_bitrate within the other two. */
guint gst_lets_chat_congestion_start_bitrate (guint min_bitrate,
    guint max_bitrate, guint start_bitrate);

/* bit/s: what the encoders are asked for, and what the path seems to take
 * (0 when unknown). */
void gst_lets_chat_congestion_get (GstLetsChatCongestion * cc,
    guint * target_bitrate, guint * available_bandwidth);

G_END_DECLS
