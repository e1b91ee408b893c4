/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>

#include "gstletschatpeerconnection.h"
#include "gstletschatsendstream.h"

G_BEGIN_DECLS
/* What goes into an offer or an answer, and what is done to the other
 * party's descriptions before webrtcbin sees them. Session thread only;
 * the session runs the offer/answer exchange (create-offer, set-*-
 * description, create-answer) and calls these at its steps:
 *
 *   offering:  send_preferred -> add_receivers -> create-offer
 *   answering: normalise(offer) -> add_receivers -> receive_as_offered
 *              -> send_as_offered -> set-remote-description -> create-answer
 *   answer in: normalise(answer) -> set-remote-description
 */

/* Rewrites what webrtcbin 1.22 would refuse in a standard description
 * (docs/protocol.md, "What letschat accepts"): BUNDLE members with ICE
 * credentials of their own take those of the group's first m-line, and
 * their candidates are not used (told to @pc). Appends a sentence per
 * change to @changes. */
void gst_lets_chat_negotiation_normalise (GstSDPMessage * sdp,
    GstLetsChatPeerConnection * pc, GString * changes);

/* Receive-only transceivers for the kinds of media no send stream has
 * (only if @receive, the party has a letschatsrc); the send transceivers
 * also receive then. Once per peer connection. */
void gst_lets_chat_negotiation_add_receivers (GstElement * webrtc,
    gboolean receive);

/* Answering: receive-only transceivers take the formats of the offer's
 * m-line of their kind, with its payload types. */
void gst_lets_chat_negotiation_receive_as_offered (GstElement * webrtc,
    GstWebRTCSessionDescription * offer);

/* Answering: each send stream takes the offer's format for its codec (a
 * stream the sink encodes first switches to the codec the offer prefers).
 * @streams is a copy of the list, @lock guards the streams. Returns the
 * codecs the offer does not take, comma separated, or NULL. */
gchar *gst_lets_chat_negotiation_send_as_offered (GList * streams,
    GMutex * lock, GstWebRTCSessionDescription * offer);

/* Offering: every stream the sink encodes goes back to the codec its
 * properties chose. */
void gst_lets_chat_negotiation_send_preferred (GList * streams, GMutex * lock);

G_END_DECLS
