/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/sdp/sdp.h>

/* Receiving from a party that asked for REMB and not for transport-wide
 * feedback (aiortc, or any stack whose sender adapts on REMB alone),
 * letschat estimates the bandwidth it receives and tells the sender in
 * REMB packets; with every other party it does nothing. The .c says how.
 *
 * What it knows lives on @webrtc (qdata), so a new webrtcbin starts
 * afresh. */

G_BEGIN_DECLS
/* Watches @session, an rtpsession of @webrtc's rtpbin, as it is added:
 * its received packets, and its RTCP packets, which carry the REMB. */
void gst_lets_chat_remb_watch (GstElement * webrtc, GstElement * session);

/* What the other party's description (@sdp, the remote one) asked for,
 * and its payload types. Any thread. */
void gst_lets_chat_remb_learn (GstElement * webrtc, const GstSDPMessage * sdp);

/* GStreamer's SDP writer knows no goog-remb, so letschat adds it to its
 * @description: to an offer (@offer NULL) on every video format, as
 * letschat sends REMB if the answer asks for it and not for transport-cc;
 * to an answer to @offer where the offer asked for it so. */
void gst_lets_chat_remb_describe (const GstSDPMessage * offer,
    GstSDPMessage * description);

/* The bitrate (bit/s) letschat last told the sender of @webrtc's media in
 * a REMB, 0 if none. Any thread. */
guint gst_lets_chat_remb_sent_bitrate (GstElement * webrtc);

G_END_DECLS
