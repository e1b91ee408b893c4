/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include "gstletschatcodecs.h"
#include "gstletschatsendstream.h"
#include "gstletschatsettings.h"

G_BEGIN_DECLS
/* GstLetsChatSession: one party of a call. It owns the room signalling
 * (a LetsChatClient on a private thread) and the one webrtcbin of the
 * party, and makes the offer or the answer. A letschatsink and a letschatsrc
 * with the same server-url and room in one pipeline share one session: one
 * WebSocket, one peer connection, media both ways.
 *
 * webrtcbin lives inside the first element of the party to start (the
 * "host"); the other element links its chains to it across the two bins. */
#define GST_TYPE_LETS_CHAT_SESSION (gst_lets_chat_session_get_type ())
G_DECLARE_FINAL_TYPE (GstLetsChatSession, gst_lets_chat_session, GST,
    LETS_CHAT_SESSION, GstObject);

typedef enum
{
  GST_LETS_CHAT_ROLE_SINK,
  GST_LETS_CHAT_ROLE_SRC,
} GstLetsChatRole;

/* What the session asks of the element that receives (letschatsrc),
 * without knowing its type. Called on webrtcbin's and the session's
 * threads. */
typedef struct
{
  /* A stream of the other party: @webrtc_pad is webrtcbin's src pad, of
   * the peer connection @generation. */
  void (*add_stream) (GstElement * receiver, GstPad * webrtc_pad,
      guint generation, GstClockTime peer_joined_time);
  /* Nobody sends for @duration from now: keep downstream going. */
  void (*push_gap) (GstElement * receiver, GstClockTime duration);
} GstLetsChatReceiverFuncs;

/* NULL->READY: joins (or creates) the party of @element's pipeline for its
 * server-url and room, and starts connecting to the room server.
 * @receiver: for GST_LETS_CHAT_ROLE_SRC. */
GstLetsChatSession *gst_lets_chat_session_acquire (GstElement * element,
    GstLetsChatRole role, const GstLetsChatSettings * settings,
    const GstLetsChatReceiverFuncs * receiver, GError ** error);

/* After acquire(): the shared properties of @element that differ from
 * the party's, which are not used, as a warning's text; NULL if none. */
gchar *gst_lets_chat_session_describe_ignored_settings (GstLetsChatSession *
    self, GstElement * element, const GstLetsChatSettings * settings);

/* From the elements' handle_message: TRUE if @message is the session's to
 * handle (an error inside webrtcbin, which ends a peer connection, not the
 * pipeline; anything from a peer connection that is over) and must not go
 * further. */
gboolean gst_lets_chat_session_handle_message (GstLetsChatSession * self,
    GstMessage * message);

/* READY->PAUSED: every element of the party has attached; join the room as
 * soon as the WebSocket is open. */
void gst_lets_chat_session_start (GstLetsChatSession * self);

/* PAUSED->READY: leaves the room; the call changes no more, so the
 * pipeline can stop without webrtcbins coming and going under it. */
void gst_lets_chat_session_stop (GstLetsChatSession * self);

/* READY->NULL: detaches @element; the last one out closes the call. */
void gst_lets_chat_session_release (GstLetsChatSession * self,
    GstElement * element);

/* The sink asks the session not to negotiate while one of its pads does not
 * know its codec yet (its caps have not arrived). */
void gst_lets_chat_session_hold_negotiation (GstLetsChatSession * self);
void gst_lets_chat_session_release_negotiation (GstLetsChatSession * self);

/* The sink's chain for one stream ends at @upstream (a payloader's src
 * pad): the session feeds it to the current peer connection and to every
 * later one. Returns a handle for remove_send_stream(). */
gpointer gst_lets_chat_session_add_send_stream (GstLetsChatSession * self,
    GstPad * upstream, const GstLetsChatCodec * codec);

/* Answering, the session switches such a stream to the codec the offer
 * prefers, unless the application @chosen its codec and the offer has it;
 * offering, back to the codec it was made with (the sink's video-codec). */
void gst_lets_chat_session_set_send_stream_switchable (GstLetsChatSession *
    self, gpointer handle, GstLetsChatSwitchCodecFunc func,
    gpointer user_data, gboolean chosen);
void gst_lets_chat_session_remove_send_stream (GstLetsChatSession * self,
    gpointer handle);

/* The party of @element (a letschatsink or letschatsrc between READY and
 * NULL), or NULL. */
GstLetsChatSession *gst_lets_chat_session_find (GstElement * element);

/* Any thread: sends @text to the other party's chat (waiting for the chat
 * to open if the call is still connecting). FALSE with a sentence for the
 * user in @error if it cannot go. */
/* strangers=true: leave the current stranger and queue for the next one
 * (any thread). FALSE with @error when the party does not talk to
 * strangers. */
gboolean gst_lets_chat_session_next_stranger (GstLetsChatSession * self,
    GError ** error);

gboolean gst_lets_chat_session_send_chat (GstLetsChatSession * self,
    const gchar * text, GError ** error);

/* Any thread: the latest statistics of the call (a "letschat/stats"
 * structure, empty before the first collection; docs/stats.md). */
GstStructure *gst_lets_chat_session_get_stats (GstLetsChatSession * self);

/* Jitter buffer of the party's webrtcbin, in milliseconds, and how far it
 * may follow retransmission up (@max_latency_ms <= @latency_ms: fixed). */
void gst_lets_chat_session_set_latency (GstLetsChatSession * self,
    guint latency_ms, guint max_latency_ms);

G_END_DECLS
