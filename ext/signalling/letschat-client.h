/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/**
 * LetsChatClient:
 *
 * One party's WebSocket connection to a letschat room server, speaking the
 * room protocol (docs/protocol.md).
 *
 * Threading: the client lives on the thread-default #GMainContext of the
 * thread that calls letschat_client_new(). Every method must be called from
 * that context and every signal is emitted from it.
 *
 * Signals (all emitted on the client's context):
 * - "welcome" (const gchar *id, const gchar *room, const gchar *peer_id,
 *   const gchar *peer_name, JsonNode *ice_servers): answer to join.
 *   @peer_id/@peer_name are NULL when the room was empty (this party then
 *   waits; the other one will offer). @ice_servers is the welcome's
 *   `ice_servers` array node (never NULL, may be an empty array).
 * - "peer-joined" (const gchar *peer_id, const gchar *peer_name)
 * - "peer-left" (const gchar *peer_id)
 * - "signal" (const gchar *from, JsonNode *data): relayed `signal` data,
 *   an object node holding either "sdp" or "ice".
 * - "server-error" (const gchar *code, const gchar *message): the server
 *   refused a request (protocol `error` message).
 * - "closed" (const GError *error): the WebSocket is gone. @error says why
 *   (NULL after letschat_client_close()).
 */
#define LETSCHAT_TYPE_CLIENT (letschat_client_get_type ())
G_DECLARE_FINAL_TYPE (LetsChatClient, letschat_client, LETSCHAT, CLIENT,
    GObject);

LetsChatClient *letschat_client_new (void);

/* Opens the WebSocket to @url (ws:// or wss://, path included, e.g.
 * ws://127.0.0.1:8443/ws). Fails with G_IO_ERROR_TIMED_OUT after
 * @timeout_ms (0: no limit of our own). */
void letschat_client_connect_async (LetsChatClient * self, const gchar * url,
    guint timeout_ms, GCancellable * cancellable,
    GAsyncReadyCallback callback, gpointer user_data);
/* wss:// only trusts the system's CA store by default. This trusts the
 * PEM certificates in @file instead (a self-signed server certificate or
 * a private CA); NULL goes back to the system store. */
gboolean letschat_client_set_tls_ca_file (LetsChatClient * self,
    const gchar * file, GError ** error);

/* Accepts any server certificate (with a warning on each connection):
 * for tests only, the connection can then be read by anybody on the way. */
void letschat_client_set_insecure_tls (LetsChatClient * self,
    gboolean insecure);

gboolean letschat_client_connect_finish (LetsChatClient * self,
    GAsyncResult * result, GError ** error);

/* Sends `join`. @room NULL or "" asks to be paired with a stranger;
 * @secret and @name may be NULL. */
void letschat_client_join (LetsChatClient * self, const gchar * room,
    const gchar * secret, const gchar * name);

/* Sends `signal` with @data (an object node with "sdp" or "ice"). */
/* The same, asking to keep @previous_id (the id of this party's earlier
 * connection): after a reconnection the other party sees it come back. */
void letschat_client_join_as (LetsChatClient * self, const gchar * room,
    const gchar * secret, const gchar * name, const gchar * previous_id);

void letschat_client_send_signal (LetsChatClient * self, JsonNode * data);

void letschat_client_leave (LetsChatClient * self);

/* Closes the WebSocket (normal closure). Safe to call more than once. */
void letschat_client_close (LetsChatClient * self);

gboolean letschat_client_is_connected (LetsChatClient * self);

G_END_DECLS
