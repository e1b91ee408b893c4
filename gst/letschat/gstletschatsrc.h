/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_LETS_CHAT_SRC (gst_lets_chat_src_get_type ())
G_DECLARE_FINAL_TYPE (GstLetsChatSrc, gst_lets_chat_src, GST, LETS_CHAT_SRC,
    GstBin);

/* Called by the session when webrtcbin adds a pad for a stream of the other
 * party: builds the depayload/decode chain and exposes a new source pad. */
void gst_lets_chat_src_add_stream (GstLetsChatSrc * self, GstPad * webrtc_pad,
    guint generation, GstClockTime peer_joined_time);

/* Called by the session while the other party is away. */
void gst_lets_chat_src_push_gap (GstLetsChatSrc * self,
    GstClockTime duration);

G_END_DECLS
