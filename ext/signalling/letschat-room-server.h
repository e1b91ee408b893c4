/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "letschat-accept-guard.h"

G_BEGIN_DECLS
/**
 * LetsChatRoomServer:
 *
 * The room server: a SoupServer with the WebSocket endpoint `/ws` speaking
 * the room protocol (docs/protocol.md): rooms of at most two parties,
 * secrets, strangers paired at random, signal relay, every error code.
 *
 * Used by the `letschat-server` program and by the elements' `serve=true`.
 * It runs on the thread-default #GMainContext of the thread that calls
 * letschat_room_server_listen(); every other method must be called from
 * that context too.
 *
 * Properties (set before listen):
 * - "max-message-size" (guint, default 65536): bigger messages are refused
 *   with `too-large`.
 * - "ping-interval" (guint s, default 10), "ping-timeout" (guint s, default
 *   30, 0: never): a party heard nothing from for ping-timeout is closed
 *   and the other party told `peer-left`.
 * - "rate-limit" (gdouble, default 50) and "rate-burst" (guint, default
 *   200): a token bucket per connection; messages beyond it are refused
 *   with `rate-limited`.
 * - "port" (guint, read-only): the bound port.
 * - "tls-certificate" (GTlsCertificate): serve https:// and wss:// (see
 *   letschat_room_server_set_tls_files()).
 * - "join-timeout" (guint s, default 30, 0: never): sockets that have not
 *   joined a room by then are closed (1008).
 * - "max-connections" (default 1000), "max-per-ip" (default 32): more
 *   WebSockets are answered with a `rate-limited` error and closed (1008).
 * - "max-rooms" (default 500): a join that would open one more room gets
 *   `rate-limited`.
 * - "allowed-origins" (GStrv): web origins allowed besides the server's
 *   own page and clients sending no Origin ("*": all); others get 403.
 * - "public-origins" (GStrv): the server's own page's origins; unset, the
 *   page reached by the IP address the connection came to (or localhost
 *   on loopback), never by the request's Host header.
 * - "handshake-timeout" (default 5 s): a connection that is not a
 *   WebSocket is closed when its TLS handshake and request head, a
 *   response, or the wait for its next request takes longer
 *   (docs/security.md, "Before a WebSocket exists").
 *
 * A connection that goes on sending a whole rate-burst of messages after
 * being told `rate-limited` is closed (1008).
 *
 * Log lines (one per join, leave and refused request) go through g_log with
 * the domain "letschat-server" at G_LOG_LEVEL_INFO. Secrets are never logged.
 */
#define LETSCHAT_TYPE_ROOM_SERVER (letschat_room_server_get_type ())
G_DECLARE_FINAL_TYPE (LetsChatRoomServer, letschat_room_server, LETSCHAT,
    ROOM_SERVER, GObject);

#define LETSCHAT_DEFAULT_PORT 8443
#define LETSCHAT_DEFAULT_MAX_MESSAGE_SIZE 65536
#define LETSCHAT_DEFAULT_PING_INTERVAL 10
#define LETSCHAT_DEFAULT_PING_TIMEOUT 30
#define LETSCHAT_DEFAULT_JOIN_TIMEOUT 30
#define LETSCHAT_DEFAULT_MAX_CONNECTIONS 1000
#define LETSCHAT_DEFAULT_MAX_ROOMS 500
#define LETSCHAT_DEFAULT_MAX_PER_IP 32
#define LETSCHAT_DEFAULT_MAX_ROOMS_PER_IP 10
#define LETSCHAT_DEFAULT_TURN_TTL 86400
#define LETSCHAT_DEFAULT_HANDSHAKE_TIMEOUT 5
/* TCP connections taken beyond max-per-ip and max-connections (which count
 * WebSockets), so that loading the page is never refused because of one's
 * own or others' WebSockets. */
#define LETSCHAT_PAGE_ALLOWANCE_PER_IP 8
#define LETSCHAT_PAGE_ALLOWANCE_TOTAL 64

LetsChatRoomServer *letschat_room_server_new (void);

/* Room @room only admits parties that present @secret (set at start-up,
 * before or after listen). */
void letschat_room_server_set_room_secret (LetsChatRoomServer * self,
    const gchar * room, const gchar * secret);

/* Adds an entry handed to every party in `welcome`'s ice_servers
 * (e.g. "stun:stun.example.org:3478", or a turn: URL with credentials). */
void letschat_room_server_add_ice_server (LetsChatRoomServer * self,
    const gchar * url, const gchar * username, const gchar * credential);

/* Like add_ice_server() but from one URI: "stun:host:port" is handed out
 * as is; "turn://user:pass@host:port" (webrtcbin's turn-server form) is
 * split into {urls: "turn:host:port", username, credential}. */
gboolean letschat_room_server_add_ice_server_uri (LetsChatRoomServer * self,
    const gchar * uri, GError ** error);

/* Short-lived TURN credentials (TURN REST API, coturn's use-auth-secret):
 * every welcome lists each URI added with add_turn_uri() with username
 * "<now + @ttl s>:<party id>" and credential base64 (HMAC-SHA1 (@secret,
 * username)). @secret is the TURN server's static-auth-secret; it is never
 * logged nor sent. */
void letschat_room_server_set_turn_secret (LetsChatRoomServer * self,
    const gchar * secret, guint ttl);

/* A TURN server for set_turn_secret()'s credentials, browser style
 * ("turn:host:3478", "turns:host:5349?transport=tcp"), without
 * credentials of its own. */
gboolean letschat_room_server_add_turn_uri (LetsChatRoomServer * self,
    const gchar * uri, GError ** error);

/* Loads a PEM certificate (chain) and its private key: the server then
 * serves https:// and wss:// only. Call before listen. The error names the
 * file that could not be used. */
gboolean letschat_room_server_set_tls_files (LetsChatRoomServer * self,
    const gchar * cert_file, const gchar * key_file, GError ** error);

/* Listens on @host (an IP address or "localhost"), @port (0: any free
 * port, see get_port). */
gboolean letschat_room_server_listen (LetsChatRoomServer * self,
    const gchar * host, guint16 port, GError ** error);

/* The port actually bound (useful after listening on port 0). */
guint16 letschat_room_server_get_port (LetsChatRoomServer * self);

/* Closes every connection (1001 going away) and stops listening. */
void letschat_room_server_shutdown (LetsChatRoomServer * self);

/* Number of open WebSocket connections and of live rooms (for tests). */
guint letschat_room_server_get_n_connections (LetsChatRoomServer * self);
guint letschat_room_server_get_n_rooms (LetsChatRoomServer * self);

/* What the transport refused or cut so far (letschat-accept-guard.h). */
void letschat_room_server_get_transport_counters (LetsChatRoomServer * self,
    LetsChatTransportCounters * counters);

G_END_DECLS
