/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
/* Keyframe requests from the other party that come before the last
 * keyframe can have reached it: they are about what it lost before that
 * keyframe, which the keyframe already repairs, and answering each one
 * sends keyframe after keyframe into a path that is already short of
 * room (docs/congestion.md). letschat's own requests (a new peer
 * connection, a smaller picture) are always answered.
 *
 * Threads: the encoder's src thread (keyframes going out) and whichever
 * thread sends a request upstream (rtpsession's, for the other party's
 * PLI and FIR) share a small state under a lock. */
/* From the making of the send chain: follow the keyframes @encoder sends
 * on and the requests that come up to it. Watch it after anything that
 * drops its output (the ladder), so that only keyframes that were sent
 * count. */
void gst_lets_chat_keyframe_requests_watch (GstElement * encoder);

/* An upstream force-key-unit event of letschat's own, always answered. */
GstEvent *gst_lets_chat_keyframe_request_new (void);

G_END_DECLS
