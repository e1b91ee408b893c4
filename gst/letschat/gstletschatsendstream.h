/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

#include "gstletschatcodecs.h"
#include "gstletschatrelay.h"

G_BEGIN_DECLS
/* GstLetsChatSendStream: one stream the party sends. The sink's chain for
 * it ends at a payloader; a relay carries what it makes to the current
 * peer connection's webrtcbin, and to every later one.
 *
 *   letschatsink chain -> payloader -> relay -> webrtcbin sink_%u
 *
 * Each new webrtcbin gets a send transceiver (request pad) for the stream
 * at once, with the codec as its preference; the relay links to it only
 * once the call is negotiated and the answer lets the stream be sent
 * (gst_lets_chat_send_stream_start()).
 *
 * Not thread-safe: the session serialises calls with its pc_lock. */
typedef struct _GstLetsChatSendStream GstLetsChatSendStream;

/* For a stream the sink encodes itself: rebuilds its chain for @codec and
 * returns the new payloader's src pad, or NULL if it could not (the old
 * chain then stays). Called on the session thread, before negotiating. */
typedef GstPad *(*GstLetsChatSwitchCodecFunc) (gpointer user_data,
    const GstLetsChatCodec * codec);

GstLetsChatSendStream *gst_lets_chat_send_stream_new (GstPad * upstream,
    const GstLetsChatCodec * codec);
/* The payloader's src pad (a new ref): the statistics and the congestion
 * control find the encoder and its caps upstream of it. */
GstPad *gst_lets_chat_send_stream_get_upstream (GstLetsChatSendStream * stream);
void gst_lets_chat_send_stream_free (GstLetsChatSendStream * stream);

const GstLetsChatCodec *gst_lets_chat_send_stream_get_codec
    (GstLetsChatSendStream * stream);

/* Raw input the sink encodes can change codec; @chosen: the application
 * chose the codec (keep it whenever the other party takes it). */
void gst_lets_chat_send_stream_set_switchable (GstLetsChatSendStream *
    stream, GstLetsChatSwitchCodecFunc func, gpointer user_data,
    gboolean chosen);
gboolean gst_lets_chat_send_stream_is_switchable (GstLetsChatSendStream *
    stream);
gboolean gst_lets_chat_send_stream_is_chosen (GstLetsChatSendStream * stream);
/* The codec the stream was made with (the sink's video-codec). */
const GstLetsChatCodec *gst_lets_chat_send_stream_get_preferred
    (GstLetsChatSendStream * stream);

/* Session thread, no lock held (it waits for the stream's thread): from
 * now on the stream is encoded to @codec. FALSE if it cannot be. */
gboolean gst_lets_chat_send_stream_switch_codec (GstLetsChatSendStream *
    stream, const GstLetsChatCodec * codec, GMutex * lock);

/* Gives the stream a send transceiver on @webrtc (NULL: none), leaving the
 * one of the previous webrtcbin; the relay is detached until _start(). */
void gst_lets_chat_send_stream_attach (GstLetsChatSendStream * stream,
    GstElement * webrtc);

/* Sets the transceiver's codec preferences (the offer's format for the
 * stream's codec, when answering) and makes the payloader stamp @pt. */
void gst_lets_chat_send_stream_set_format (GstLetsChatSendStream * stream,
    GstCaps * prefs, gint pt);

/* Once both descriptions are applied: links the relay to the transceiver's
 * pad if @answer lets the stream be sent (@offerer: we made the offer).
 * Returns whether it did. */
gboolean gst_lets_chat_send_stream_start (GstLetsChatSendStream * stream,
    GstWebRTCSessionDescription * answer, gboolean offerer);

void gst_lets_chat_send_stream_request_keyframe (GstLetsChatSendStream *
    stream);

G_END_DECLS
