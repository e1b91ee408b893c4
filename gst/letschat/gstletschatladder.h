/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
/* The ladder: the picture size and frame rate a video encoder of
 * letschat's own send chain is given (videoscale ! videorate ! capsfilter
 * in front of it, gstletschatcodecs.c), from the target bitrate and from
 * how the encoder copes with the picture at that bitrate. Steps and
 * figures: docs/congestion.md.
 *
 * Threads: the session thread's decisions (gst_lets_chat_ladder_update)
 * and the encoder's streaming threads, which count what it encoded and
 * judge each keyframe as it comes out, share the ladder under a lock of
 * its own. */
/* Every congestion decision: the step for @bitrate on the ladder in front
 * of @encoder, if it has one (not H.264, not pre-encoded video). TRUE
 * when the picture grew: its first frame is a keyframe of the new size,
 * sent at once. */
    gboolean gst_lets_chat_ladder_update (GstElement * encoder, guint bitrate);

/* From the making of the chain: follow what @encoder makes from its first
 * frame on (the first keyframe, before any call decision, is the one that
 * tells most about the picture). */
void gst_lets_chat_ladder_watch (GstElement * encoder);

G_END_DECLS
