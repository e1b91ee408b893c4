/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
/* The receiving jitter buffers of a call (rtpjitterbuffer, inside
 * webrtcbin's rtpbin), whose latency follows what retransmission needs:
 * from letschatsrc's `latency` up to its `max-latency` while packets that
 * retransmission could have repaired are lost, and back down after a calm
 * spell. Why and how: docs/congestion.md, "Latency that follows loss".
 *
 * Session thread only. What it remembers of each jitter buffer lives on
 * that jitter buffer (qdata), so a new webrtcbin starts afresh. */
/* How often the session looks (four times a second: the .c says why). */
#define GST_LETS_CHAT_JITTERBUFFERS_TICK_MS 250
/* letschatsrc's max-latency default, ms. */
#define GST_LETS_CHAT_DEFAULT_MAX_LATENCY 300
/* Adapts the latency of @webrtc's jitter buffers, between @floor_ms and
 * @max_ms (@max_ms <= @floor_ms: fixed at @floor_ms, as before). Returns
 * the highest latency among them now, in ms (0: none yet). */
    guint gst_lets_chat_jitterbuffers_adapt (GstElement * webrtc,
    guint floor_ms, guint max_ms);

G_END_DECLS
