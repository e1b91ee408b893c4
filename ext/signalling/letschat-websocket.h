/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "letschat-socket-loop.h"

G_BEGIN_DECLS
/* The server's side of one WebSocket once libsoup has done the HTTP
 * handshake: RFC 6455 frames on a socket watched by a LetsChatSocketLoop
 * (see letschat-websocket.c for why not SoupWebsocketConnection). */
typedef struct _LetsChatWebSocket LetsChatWebSocket;

typedef enum
{
  LETSCHAT_WEBSOCKET_OPEN,
  LETSCHAT_WEBSOCKET_CLOSING,   /* a close frame went out or came in */
  LETSCHAT_WEBSOCKET_CLOSED
} LetsChatWebSocketState;

/* WebSocket close codes (RFC 6455, 7.4.1) */
#define LETSCHAT_WEBSOCKET_CLOSE_NORMAL 1000
#define LETSCHAT_WEBSOCKET_CLOSE_GOING_AWAY 1001
#define LETSCHAT_WEBSOCKET_CLOSE_PROTOCOL_ERROR 1002
#define LETSCHAT_WEBSOCKET_CLOSE_NO_STATUS 1005
#define LETSCHAT_WEBSOCKET_CLOSE_ABNORMAL 1006
#define LETSCHAT_WEBSOCKET_CLOSE_BAD_DATA 1007
#define LETSCHAT_WEBSOCKET_CLOSE_POLICY_VIOLATION 1008
#define LETSCHAT_WEBSOCKET_CLOSE_TOO_BIG 1009

/* Called on the loop's context, never from inside a call the owner made
 * (send, ping, close): a callback cannot pull state out from under its
 * caller. */
typedef struct
{
  /* A whole message; @data is only valid during the call. */
  void (*message) (LetsChatWebSocket * ws, gboolean is_text,
      const gchar * data, gsize size, gpointer user_data);
  void (*pong) (LetsChatWebSocket * ws, gpointer user_data);
  /* Once, when the socket is gone. */
  void (*closed) (LetsChatWebSocket * ws, gpointer user_data);
} LetsChatWebSocketCallbacks;

/* @stream: what soup_server_message_steal_connection() returned; @socket:
 * the message's socket. A plain socket is taken over (the stream may be
 * dropped after this); a TLS one is read and written through @stream,
 * which is kept. Frames whose message would pass @max_payload bytes close
 * the socket (1009). Nothing is read until letschat_websocket_start(). */
LetsChatWebSocket *letschat_websocket_new (LetsChatSocketLoop * loop,
    GIOStream * stream, GSocket * socket, gboolean tls, guint64 max_payload,
    GError ** error);
void letschat_websocket_start (LetsChatWebSocket * ws,
    const LetsChatWebSocketCallbacks * callbacks, gpointer user_data);
/* NULL: no more callbacks (before letting go of the last reference). */
void letschat_websocket_set_callbacks (LetsChatWebSocket * ws,
    const LetsChatWebSocketCallbacks * callbacks, gpointer user_data);

LetsChatWebSocket *letschat_websocket_ref (LetsChatWebSocket * ws);
/* The last reference closes the socket at once (no close handshake). */
void letschat_websocket_unref (LetsChatWebSocket * ws);

LetsChatWebSocketState letschat_websocket_get_state (LetsChatWebSocket * ws);
/* The code of the peer's close frame, or 1006 when the socket went away
 * without one. */
gushort letschat_websocket_get_close_code (LetsChatWebSocket * ws);
/* Why this side ended the connection without a completed close handshake
 * (the peer broke the protocol, did not read, did not answer the close),
 * for log lines; NULL otherwise. */
const gchar *letschat_websocket_get_drop_reason (LetsChatWebSocket * ws);

/* Ignored unless open. */
void letschat_websocket_send_text (LetsChatWebSocket * ws, const gchar * text,
    gssize length);
void letschat_websocket_ping (LetsChatWebSocket * ws);
/* Starts the close handshake; the socket goes when the peer answers, or
 * after a few seconds if it does not. */
void letschat_websocket_close (LetsChatWebSocket * ws, gushort code,
    const gchar * reason);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LetsChatWebSocket, letschat_websocket_unref);

G_END_DECLS
