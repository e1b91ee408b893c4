/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
/*
 * BaselineParty: one party of a call written the way GStreamer's
 * webrtc-sendrecv example writes it (a webrtcbin with its defaults, the
 * send chain linked to a request pad, decodebin on every incoming pad), but
 * speaking the letschat room protocol through LetsChatClient so that the
 * benchmark compares the elements with the same signalling.
 *
 * Lives on the thread-default main context of the thread that creates it.
 */
typedef struct _BaselineParty BaselineParty;

/* Called on decodebin's streaming thread for each decoded video pad: @pad
 * is decodebin's source pad, already linked to @sink (not yet started). */
typedef void (*BaselineDecodedFunc) (BaselineParty * party, GstPad * pad,
    GstElement * sink, gpointer user_data);

/* @pipeline holds a webrtcbin called "sendrecv" with its send chain linked.
 * @sink_description is what decoded video goes to (a bin description). */
BaselineParty *baseline_party_new (GstElement * pipeline,
    const gchar * sink_description, BaselineDecodedFunc decoded,
    gpointer user_data);

/* Opens the WebSocket; baseline_party_is_connected() tells when it is up. */
void baseline_party_connect (BaselineParty * party, const gchar * url);
gboolean baseline_party_is_connected (BaselineParty * party);

void baseline_party_join (BaselineParty * party, const gchar * room);

/* When this party learned that the other one is in the room (its welcome
 * listed a peer, or peer-joined came), in gst_util_get_timestamp() time;
 * GST_CLOCK_TIME_NONE before that. */
GstClockTime baseline_party_peer_time (BaselineParty * party);
gboolean baseline_party_failed (BaselineParty * party);

void baseline_party_free (BaselineParty * party);

G_END_DECLS
