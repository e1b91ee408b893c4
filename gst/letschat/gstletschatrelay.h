/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
/* GstLetsChatRelay: where a sending chain (encoder, payloader) meets the
 * party's current peer connection.
 *
 *   payloader ! [relay sink pad | relay src pad] ! webrtcbin sink_%u
 *
 * A call outlives its peer connections: when the other party leaves, or
 * ICE fails, webrtcbin is replaced by a new one. The relay stays linked to
 * the payloader the whole time. While no webrtcbin is attached it drops
 * what arrives, and it never hands a flow error (FLUSHING, NOT_LINKED,
 * EOS, ERROR) from a webrtcbin that is going away or failing back to the
 * live source (which would stop it for good); a webrtcbin that refuses the
 * stream is a warning on the bus.
 * Upstream events (keyframe requests from the other party) pass through.
 *
 * Its two pads belong to no element, like a GstHarness's: they only carry
 * data between the two elements they link. */
typedef struct _GstLetsChatRelay GstLetsChatRelay;

/* Links @upstream (a payloader's src pad) to a new relay. */
GstLetsChatRelay *gst_lets_chat_relay_new (GstPad * upstream);
void gst_lets_chat_relay_free (GstLetsChatRelay * relay);

/* Asks the encoder upstream for a keyframe (force-key-unit). */
void gst_lets_chat_relay_request_keyframe (GstLetsChatRelay * relay);

/* The sending chain was rebuilt (another codec): take from @upstream. */
void gst_lets_chat_relay_set_upstream (GstLetsChatRelay * relay,
    GstPad * upstream);

/* Attaches to (or, with NULL, detaches from) a webrtcbin sink pad. */
void gst_lets_chat_relay_attach (GstLetsChatRelay * relay, GstPad * webrtc_pad);

G_END_DECLS
