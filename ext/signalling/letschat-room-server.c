/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The room server as a GObject, and how a party's socket gets to the
 * rooms. One Connection per WebSocket, one Room per room name, both in
 * letschat-rooms.c:
 *
 *   GSocketService --accept, TLS--> SoupServer --GET /, /r/<room>--> page
 *                                      |
 *                                      +--/ws: origin check, handshake (101)
 *                                      v
 *                   LetsChatWebSocket (on the socket loop)
 *                                      |  letschat_rooms_open_socket()
 *                                      v
 *                   Connection --join--> Room { parties[0], parties[1] }
 *                        +--signal--(add "from")--> other party
 *
 * libsoup serves the page and answers the WebSocket handshake; the socket
 * is then taken over by letschat-websocket.c on one epoll set
 * (letschat-socket-loop.c), so that an idle party costs no work on each
 * main-loop iteration and little memory (docs/performance.md).
 *
 * Here: the properties, the page, the origin check, TLS, listening and
 * accepting, and the public API. This file must not read a party's
 * messages or change a room or a connection's state: that is
 * letschat-rooms.c's, so that every message goes through one place
 * (docs/protocol.md). */

#define G_LOG_DOMAIN "letschat-server"

#include "letschat-room-server.h"
#include "letschat-accept-guard.h"
#include "letschat-cluster-page.h"
#include "letschat-http-guard.h"
#include "letschat-rooms.h"
#include "letschat-turn-credentials.h"
#include "letschat-protocol.h"
#include "letschat-tls-guard.h"
#include "letschat-socket-loop.h"
#include "letschat-web-resources.h"
#include "letschat-websocket.h"

#include <libsoup/soup.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#define DEFAULT_RATE_LIMIT 50.0
#define DEFAULT_RATE_BURST 200

/* The WebSocket layer closes the socket (1009) on messages over its own
 * limit. It is set well above ours so that an oversize message gets a
 * polite `too-large` and the socket survives; only messages over this
 * factor are cut off. */
#define WEBSOCKET_PAYLOAD_FACTOR 4

enum
{
  PROP_0,
  PROP_MAX_MESSAGE_SIZE,
  PROP_RATE_LIMIT,
  PROP_RATE_BURST,
  PROP_PORT,
  PROP_PING_INTERVAL,
  PROP_PING_TIMEOUT,
  PROP_TLS_CERTIFICATE,
  PROP_JOIN_TIMEOUT,
  PROP_MAX_CONNECTIONS,
  PROP_MAX_ROOMS,
  PROP_MAX_PER_IP,
  PROP_ALLOWED_ORIGINS,
  PROP_MAX_ROOMS_PER_IP,
  PROP_CONNECTION_RATE_PER_IP,
  PROP_CONNECTION_BURST_PER_IP,
  PROP_HANDSHAKE_TIMEOUT,
  PROP_PUBLIC_ORIGINS,
  PROP_REDIS_URL,
  PROP_NODE_ID,
  PROP_CLUSTER_URLS,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

G_DEFINE_TYPE (LetsChatRoomServer, letschat_room_server, G_TYPE_OBJECT);

/* Which socket a connection handed to libsoup is on: kept on its remote
 * address, the object soup_server_message_get_remote_address() returns. */
static GQuark
socket_quark (void)
{
  return letschat_http_guard_socket_quark ();
}

/* The handshake's answer (101) has gone out: from here on the socket is
 * ours, not libsoup's. */
static void
on_upgraded (SoupServerMessage * message, gpointer user_data)
{
  LetsChatRoomServer *self = user_data;
  GSocketAddress *addr = soup_server_message_get_remote_address (message);
  GSocket *socket = addr ? g_object_get_qdata (G_OBJECT (addr),
      socket_quark ()) : NULL;
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *ip = NULL;
  g_autofree gchar *remote = NULL;
  LetsChatWebSocket *ws;

  if (socket == NULL) {
    /* every connection comes through on_incoming() */
    g_warning ("A WebSocket upgrade on a connection of unknown origin");
    return;
  }
  if (G_IS_INET_SOCKET_ADDRESS (addr))
    ip = g_inet_address_to_string (g_inet_socket_address_get_address
        (G_INET_SOCKET_ADDRESS (addr)));
  else
    ip = g_strdup ("?");

  letschat_accept_guard_upgraded (socket);
  /* The message goes away with the connection it is stolen from. */
  g_object_ref (message);
  stream = soup_server_message_steal_connection (message);
  ws = letschat_websocket_new (self->socket_loop, stream, socket,
      self->tls_certificate != NULL,
      (guint64) self->max_message_size * WEBSOCKET_PAYLOAD_FACTOR, &error);
  g_object_unref (message);
  if (ws == NULL) {
    g_warning ("Dropped a connection from %s: %s", ip, error->message);
    return;
  }

  if (G_IS_INET_SOCKET_ADDRESS (addr))
    remote = g_strdup_printf ("%s:%u", ip,
        g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr)));
  letschat_rooms_open_socket (self, ws, ip, remote ? remote : "?");
}

/* A WebSocket handshake that passed on_early_ws(). libsoup checks it and
 * writes the answer; no extension is offered (a signal is a few hundred
 * bytes: compression would cost more CPU than it saves). */
static void
on_ws_request (SoupServer * soup, SoupServerMessage * message,
    const char *path, GHashTable * query, gpointer user_data)
{
  if (!soup_websocket_server_process_handshake (message, NULL, NULL, NULL,
          NULL))
    return;                     /* libsoup set the error status */
  g_signal_connect_object (message, "wrote-informational",
      G_CALLBACK (on_upgraded), user_data, 0);
}

/* The browser client (web/), compiled in as a GResource. Every room path
 * gets the same page: it reads the room from the address. A room path
 * whose name is not valid gets the page too, with 404, so that a person
 * following a broken link reads why rather than a bare error. */
static const gchar *
web_resource_for_path (const gchar * path, const gchar ** content_type,
    guint * status)
{
  *content_type = "text/html; charset=utf-8";
  *status = SOUP_STATUS_OK;
  if (g_str_equal (path, "/"))
    return "index.html";
  if (g_str_has_prefix (path, "/r/")) {
    if (!letschat_protocol_room_name_is_valid (path + 3))
      *status = SOUP_STATUS_NOT_FOUND;
    return "index.html";
  }
  if (g_str_equal (path, "/app.js")) {
    *content_type = "text/javascript; charset=utf-8";
    return "app.js";
  }
  if (g_str_equal (path, "/style.css")) {
    *content_type = "text/css; charset=utf-8";
    return "style.css";
  }
  return NULL;
}

static void
on_http (SoupServer * soup, SoupServerMessage * message, const char *path,
    GHashTable * query, gpointer user_data)
{
  const gchar *method = soup_server_message_get_method (message);
  const gchar *name, *content_type;
  guint status;
  g_autofree gchar *resource_path = NULL;
  g_autoptr (GBytes) body = NULL;

  name = web_resource_for_path (path, &content_type, &status);
  if (!name) {
    soup_server_message_set_status (message, SOUP_STATUS_NOT_FOUND, NULL);
    return;
  }
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    soup_server_message_set_status (message, SOUP_STATUS_METHOD_NOT_ALLOWED,
        NULL);
    return;
  }
  /* Looked up in our own resource rather than the global table: the
   * signalling library is static, and this reference keeps the page linked
   * into every program that uses it. */
  resource_path = g_strconcat ("/org/letschat/web/", name, NULL);
  body = g_resource_lookup_data (letschat_web_get_resource (), resource_path,
      G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);
  g_assert (body);
  soup_server_message_set_status (message, status, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers
      (message), "Cache-Control", "no-cache");
  soup_server_message_set_response (message, content_type,
      SOUP_MEMORY_COPY, g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

/* "scheme://host:port" with the scheme's default port filled in, lower
 * case, or NULL. */
static gchar *
origin_key (const gchar * origin)
{
  g_autoptr (GUri) uri = g_uri_parse (origin, G_URI_FLAGS_NONE, NULL);
  g_autofree gchar *host = NULL;
  g_autofree gchar *scheme = NULL;
  gint port;

  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return NULL;
  scheme = g_ascii_strdown (g_uri_get_scheme (uri), -1);
  port = g_uri_get_port (uri);
  if (port <= 0)
    port = g_str_equal (scheme, "https") ? 443 : 80;
  host = g_ascii_strdown (g_uri_get_host (uri), -1);
  return g_strdup_printf ("%s://%s:%d", scheme, host, port);
}

static gboolean
origins_equal (const gchar * a, const gchar * b)
{
  g_autofree gchar *key_a = origin_key (a);
  g_autofree gchar *key_b = origin_key (b);

  return key_a && key_b && g_str_equal (key_a, key_b);
}

/* Browsers send Origin with every WebSocket handshake, and a page from any
 * site can open one: without this check any web page a user visits could
 * use their browser against the server. Clients that are not browsers
 * send no Origin; they are not what the check is for.
 *
 * The server's own page is never recognised by the request's Host header:
 * a DNS-rebinding page (http://evil.example:8443, its name pointed at the
 * server once loaded) sends a Host that matches its Origin. So the page's
 * origin is either configured (public-origins), or one the browser cannot
 * have reached through a name: the address the connection really came
 * to, as an IP literal, or localhost on a loopback address; with the
 * server's scheme and port. */
static gboolean
origin_is_allowed (LetsChatRoomServer * self, SoupServerMessage * message)
{
  SoupMessageHeaders *headers =
      soup_server_message_get_request_headers (message);
  const gchar *origin = soup_message_headers_get_one (headers, "Origin");
  const gchar *own_scheme = self->tls_certificate ? "https" : "http";
  GSocketAddress *local = soup_server_message_get_local_address (message);
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GInetAddress) origin_ip = NULL;
  GInetAddress *local_ip;
  gint port;
  gchar **allowed;

  if (origin == NULL)
    return TRUE;
  for (allowed = self->allowed_origins; allowed && *allowed; allowed++) {
    if (g_str_equal (*allowed, "*")
        || g_ascii_strcasecmp (*allowed, origin) == 0)
      return TRUE;
  }
  /* After a failover the page of another node talks to this one. */
  if (letschat_cluster_page_origin_is_node ((const gchar * const *)
          self->cluster_urls, origin))
    return TRUE;
  if (self->public_origins) {
    for (allowed = self->public_origins; *allowed; allowed++)
      if (origins_equal (*allowed, origin))
        return TRUE;
    return FALSE;
  }

  uri = g_uri_parse (origin, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL || g_uri_get_host (uri) == NULL
      || g_strcmp0 (g_uri_get_scheme (uri), own_scheme) != 0
      || !G_IS_INET_SOCKET_ADDRESS (local))
    return FALSE;
  port = g_uri_get_port (uri);
  if (port <= 0)
    port = g_str_equal (own_scheme, "https") ? 443 : 80;
  if (port != self->port)
    return FALSE;
  local_ip = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local));
  if (g_ascii_strcasecmp (g_uri_get_host (uri), "localhost") == 0)
    return g_inet_address_get_is_loopback (local_ip);
  origin_ip = g_inet_address_new_from_string (g_uri_get_host (uri));
  return origin_ip && g_inet_address_equal (origin_ip, local_ip);
}

static void
on_early_ws (SoupServer * soup, SoupServerMessage * message,
    const char *path, GHashTable * query, gpointer user_data)
{
  LetsChatRoomServer *self = user_data;
  static const gchar body[] = "This page's origin may not use this letschat "
      "server (see --public-origin and --allowed-origin).\n";

  if (origin_is_allowed (self, message))
    return;
  self->metrics->origins_refused++;
  g_info ("refused handshake origin=%s: not an allowed origin",
      soup_message_headers_get_one
      (soup_server_message_get_request_headers (message), "Origin"));
  soup_server_message_set_status (message, SOUP_STATUS_FORBIDDEN, NULL);
  soup_server_message_set_response (message, "text/plain; charset=utf-8",
      SOUP_MEMORY_STATIC, body, strlen (body));
}

static void
letschat_room_server_init (LetsChatRoomServer * self)
{
  self->connections = g_hash_table_new_full (NULL, NULL,
      (GDestroyNotify) letschat_rooms_connection_free, NULL);
  self->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) letschat_rooms_room_free);
  self->refused = g_hash_table_new_full (NULL, NULL,
      (GDestroyNotify) letschat_websocket_unref, NULL);
  self->parser = json_parser_new ();
  self->generator = json_generator_new ();
  self->relay_text = g_string_sized_new (2048);
  self->room_secrets = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, g_free);
  self->ice_servers = json_array_new ();
  self->turn_urls = g_ptr_array_new_with_free_func (g_free);
  self->turn_ttl = LETSCHAT_DEFAULT_TURN_TTL;
  self->max_message_size = LETSCHAT_DEFAULT_MAX_MESSAGE_SIZE;
  self->rate_limit = DEFAULT_RATE_LIMIT;
  self->rate_burst = DEFAULT_RATE_BURST;
  self->ping_interval = LETSCHAT_DEFAULT_PING_INTERVAL;
  self->ping_timeout = LETSCHAT_DEFAULT_PING_TIMEOUT;
  self->join_timeout = LETSCHAT_DEFAULT_JOIN_TIMEOUT;
  self->max_connections = LETSCHAT_DEFAULT_MAX_CONNECTIONS;
  self->max_rooms = LETSCHAT_DEFAULT_MAX_ROOMS;
  self->max_per_ip = LETSCHAT_DEFAULT_MAX_PER_IP;
  self->handshake_timeout = LETSCHAT_DEFAULT_HANDSHAKE_TIMEOUT;
  self->per_ip = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->max_rooms_per_ip = LETSCHAT_DEFAULT_MAX_ROOMS_PER_IP;
  self->connection_rate_per_ip = LETSCHAT_CONNECTIONS_PER_S;
  self->connection_burst_per_ip = LETSCHAT_CONNECTIONS_BURST;
  self->address_limits = letschat_address_limits_new ();
  self->log_limiter = letschat_log_limiter_new ();
  self->metrics = letschat_metrics_new ();
}

static void
letschat_room_server_dispose (GObject * object)
{
  LetsChatRoomServer *self = LETSCHAT_ROOM_SERVER (object);

  letschat_room_server_shutdown (self);
  if (self->cluster)
    letschat_cluster_rooms_shutdown (self);
  /* Rooms first: a room frees its parties of other nodes and so reads
   * its parties, which must not be freed yet. */
  g_hash_table_remove_all (self->rooms);
  /* Connections whose close handshake is still running are dropped
   * here: the sockets go away with their LetsChatWebSocket, all before
   * the loop that watches them. */
  g_hash_table_remove_all (self->connections);
  g_hash_table_remove_all (self->refused);
  g_clear_pointer (&self->cluster, letschat_cluster_free);
  g_queue_clear (&self->stranger_queue);
  g_clear_object (&self->soup);
  g_clear_pointer (&self->socket_loop, letschat_socket_loop_free);

  G_OBJECT_CLASS (letschat_room_server_parent_class)->dispose (object);
}

static void
letschat_room_server_finalize (GObject * object)
{
  LetsChatRoomServer *self = LETSCHAT_ROOM_SERVER (object);

  g_hash_table_unref (self->connections);
  g_hash_table_unref (self->refused);
  g_object_unref (self->parser);
  g_object_unref (self->generator);
  g_string_free (self->relay_text, TRUE);
  g_hash_table_unref (self->rooms);
  g_hash_table_unref (self->room_secrets);
  g_hash_table_unref (self->per_ip);
  letschat_address_limits_free (self->address_limits);
  letschat_log_limiter_free (self->log_limiter);
  json_array_unref (self->ice_servers);
  g_ptr_array_unref (self->turn_urls);
  if (self->turn_secret) {
    memset (self->turn_secret, 0, strlen (self->turn_secret));
    g_free (self->turn_secret);
  }
  g_clear_object (&self->tls_certificate);
  g_strfreev (self->allowed_origins);
  letschat_metrics_unref (self->metrics);
  g_strfreev (self->public_origins);
  g_free (self->redis_url);
  g_free (self->node_id);
  g_strfreev (self->cluster_urls);

  G_OBJECT_CLASS (letschat_room_server_parent_class)->finalize (object);
}

static void
letschat_room_server_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  LetsChatRoomServer *self = LETSCHAT_ROOM_SERVER (object);

  switch (prop_id) {
    case PROP_MAX_MESSAGE_SIZE:
      self->max_message_size = g_value_get_uint (value);
      break;
    case PROP_RATE_LIMIT:
      self->rate_limit = g_value_get_double (value);
      break;
    case PROP_RATE_BURST:
      self->rate_burst = g_value_get_uint (value);
      break;
    case PROP_PING_INTERVAL:
      self->ping_interval = g_value_get_uint (value);
      break;
    case PROP_PING_TIMEOUT:
      self->ping_timeout = g_value_get_uint (value);
      break;
    case PROP_TLS_CERTIFICATE:
      letschat_tls_guard_init_priority ();
      g_set_object (&self->tls_certificate, g_value_get_object (value));
      break;
    case PROP_JOIN_TIMEOUT:
      self->join_timeout = g_value_get_uint (value);
      break;
    case PROP_MAX_CONNECTIONS:
      self->max_connections = g_value_get_uint (value);
      break;
    case PROP_MAX_ROOMS:
      self->max_rooms = g_value_get_uint (value);
      break;
    case PROP_MAX_ROOMS_PER_IP:
      self->max_rooms_per_ip = g_value_get_uint (value);
      break;
    case PROP_CONNECTION_RATE_PER_IP:
      self->connection_rate_per_ip = g_value_get_double (value);
      break;
    case PROP_CONNECTION_BURST_PER_IP:
      self->connection_burst_per_ip = g_value_get_uint (value);
      break;
    case PROP_MAX_PER_IP:
      self->max_per_ip = g_value_get_uint (value);
      break;
    case PROP_ALLOWED_ORIGINS:
      g_strfreev (self->allowed_origins);
      self->allowed_origins = g_value_dup_boxed (value);
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      self->handshake_timeout = g_value_get_uint (value);
      break;
    case PROP_REDIS_URL:
      g_free (self->redis_url);
      self->redis_url = g_value_dup_string (value);
      break;
    case PROP_NODE_ID:
      g_free (self->node_id);
      self->node_id = g_value_dup_string (value);
      break;
    case PROP_PUBLIC_ORIGINS:
      g_strfreev (self->public_origins);
      self->public_origins = g_value_dup_boxed (value);
      if (self->public_origins && self->public_origins[0] == NULL)
        g_clear_pointer (&self->public_origins, g_strfreev);
      break;
    case PROP_CLUSTER_URLS:
      g_strfreev (self->cluster_urls);
      self->cluster_urls = g_value_dup_boxed (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
letschat_room_server_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  LetsChatRoomServer *self = LETSCHAT_ROOM_SERVER (object);

  switch (prop_id) {
    case PROP_MAX_MESSAGE_SIZE:
      g_value_set_uint (value, self->max_message_size);
      break;
    case PROP_RATE_LIMIT:
      g_value_set_double (value, self->rate_limit);
      break;
    case PROP_RATE_BURST:
      g_value_set_uint (value, self->rate_burst);
      break;
    case PROP_PING_INTERVAL:
      g_value_set_uint (value, self->ping_interval);
      break;
    case PROP_PING_TIMEOUT:
      g_value_set_uint (value, self->ping_timeout);
      break;
    case PROP_TLS_CERTIFICATE:
      g_value_set_object (value, self->tls_certificate);
      break;
    case PROP_JOIN_TIMEOUT:
      g_value_set_uint (value, self->join_timeout);
      break;
    case PROP_MAX_CONNECTIONS:
      g_value_set_uint (value, self->max_connections);
      break;
    case PROP_MAX_ROOMS:
      g_value_set_uint (value, self->max_rooms);
      break;
    case PROP_MAX_ROOMS_PER_IP:
      g_value_set_uint (value, self->max_rooms_per_ip);
      break;
    case PROP_CONNECTION_RATE_PER_IP:
      g_value_set_double (value, self->connection_rate_per_ip);
      break;
    case PROP_CONNECTION_BURST_PER_IP:
      g_value_set_uint (value, self->connection_burst_per_ip);
      break;
    case PROP_MAX_PER_IP:
      g_value_set_uint (value, self->max_per_ip);
      break;
    case PROP_ALLOWED_ORIGINS:
      g_value_set_boxed (value, self->allowed_origins);
      break;
    case PROP_HANDSHAKE_TIMEOUT:
      g_value_set_uint (value, self->handshake_timeout);
      break;
    case PROP_REDIS_URL:
      g_value_set_string (value, self->redis_url);
      break;
    case PROP_NODE_ID:
      g_value_set_string (value, self->node_id);
      break;
    case PROP_PUBLIC_ORIGINS:
      g_value_set_boxed (value, self->public_origins);
      break;
    case PROP_CLUSTER_URLS:
      g_value_set_boxed (value, self->cluster_urls);
      break;
    case PROP_PORT:
      g_value_set_uint (value, letschat_room_server_get_port (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
letschat_room_server_class_init (LetsChatRoomServerClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->dispose = letschat_room_server_dispose;
  gobject_class->finalize = letschat_room_server_finalize;
  gobject_class->set_property = letschat_room_server_set_property;
  gobject_class->get_property = letschat_room_server_get_property;

  properties[PROP_MAX_MESSAGE_SIZE] =
      g_param_spec_uint ("max-message-size", "Max message size",
      "Largest message, in bytes, that the server accepts; bigger ones are "
      "refused with a too-large error (frames over four times this size "
      "close the connection). Set before listening", 256, G_MAXUINT / 8,
      LETSCHAT_DEFAULT_MAX_MESSAGE_SIZE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  properties[PROP_RATE_LIMIT] =
      g_param_spec_double ("rate-limit", "Rate limit",
      "Messages per second each connection may send on average; more are "
      "refused with a rate-limited error", 0.1, 1e6, DEFAULT_RATE_LIMIT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  properties[PROP_RATE_BURST] =
      g_param_spec_uint ("rate-burst", "Rate burst",
      "Messages a connection may send at once before rate-limit applies "
      "(the size of its token bucket)", 1, G_MAXUINT, DEFAULT_RATE_BURST,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  properties[PROP_PORT] =
      g_param_spec_uint ("port", "Port",
      "The TCP port the server listens on (0 before listening)", 0,
      G_MAXUINT16, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  properties[PROP_PING_INTERVAL] =
      g_param_spec_uint ("ping-interval", "Ping interval",
      "Seconds between the WebSocket pings sent to each party. Set before "
      "listening", 1, 3600, LETSCHAT_DEFAULT_PING_INTERVAL,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  properties[PROP_PING_TIMEOUT] =
      g_param_spec_uint ("ping-timeout", "Ping timeout",
      "Seconds without a message or a pong after which a party counts as "
      "gone: its socket is closed and the other party told peer-left "
      "(0: never). Set before listening", 0, 3600,
      LETSCHAT_DEFAULT_PING_TIMEOUT, G_PARAM_READWRITE |
      G_PARAM_STATIC_STRINGS);

  properties[PROP_TLS_CERTIFICATE] =
      g_param_spec_object ("tls-certificate", "TLS certificate",
      "Certificate with its private key: the server then speaks https:// "
      "and wss:// only. Set before listening", G_TYPE_TLS_CERTIFICATE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  properties[PROP_JOIN_TIMEOUT] =
      g_param_spec_uint ("join-timeout", "Join timeout",
      "Seconds a connection may stay open without joining a room before it "
      "is closed (0: forever)", 0, 3600, LETSCHAT_DEFAULT_JOIN_TIMEOUT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  properties[PROP_MAX_CONNECTIONS] =
      g_param_spec_uint ("max-connections", "Max connections",
      "WebSocket connections open at once; more are refused (error "
      "rate-limited, close 1008)", 1, G_MAXUINT,
      LETSCHAT_DEFAULT_MAX_CONNECTIONS,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  properties[PROP_MAX_ROOMS] =
      g_param_spec_uint ("max-rooms", "Max rooms",
      "Rooms live at once; joins that would open another are refused "
      "(error rate-limited)", 1, G_MAXUINT, LETSCHAT_DEFAULT_MAX_ROOMS,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  properties[PROP_MAX_PER_IP] =
      g_param_spec_uint ("max-per-ip", "Max per IP",
      "WebSocket connections open at once from one IP address", 1,
      G_MAXUINT, LETSCHAT_DEFAULT_MAX_PER_IP,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  properties[PROP_ALLOWED_ORIGINS] =
      g_param_spec_boxed ("allowed-origins", "Allowed origins",
      "Web origins (e.g. https://example.org) whose pages may connect, "
      "besides the server's own page and clients that send no Origin; "
      "\"*\" allows every origin", G_TYPE_STRV,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  properties[PROP_MAX_ROOMS_PER_IP] =
      g_param_spec_uint ("max-rooms-per-ip", "Max rooms per IP",
      "Rooms opened by one IP address (an IPv6 /64) that live at once; "
      "joins that would open another are refused (error rate-limited)", 1,
      G_MAXUINT, LETSCHAT_DEFAULT_MAX_ROOMS_PER_IP,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  properties[PROP_CONNECTION_RATE_PER_IP] =
      g_param_spec_double ("connection-rate-per-ip", "Connection rate per IP",
      "New WebSocket connections a second from one IP address (an IPv6 "
      "/64) on average; more are refused (error rate-limited, close 1008)",
      0.001, G_MAXDOUBLE, LETSCHAT_CONNECTIONS_PER_S,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  properties[PROP_CONNECTION_BURST_PER_IP] =
      g_param_spec_uint ("connection-burst-per-ip", "Connection burst per IP",
      "New WebSocket connections one IP address (an IPv6 /64) may open at "
      "once before connection-rate-per-ip applies", 1, G_MAXUINT,
      LETSCHAT_CONNECTIONS_BURST, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  properties[PROP_HANDSHAKE_TIMEOUT] =
      g_param_spec_uint ("handshake-timeout", "Handshake timeout",
      "Seconds a connection that is not a WebSocket may take for its TLS "
      "handshake and request head, for each response, and idle between "
      "requests, before it is closed (0: forever). Set before listening",
      0, 3600, LETSCHAT_DEFAULT_HANDSHAKE_TIMEOUT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  properties[PROP_PUBLIC_ORIGINS] =
      g_param_spec_boxed ("public-origins", "Public origins",
      "The origins (e.g. https://chat.example.org) of the server's own page "
      "as browsers reach it. When unset, the page is recognised only when "
      "reached by IP address (or localhost on loopback), never by the "
      "request's Host header", G_TYPE_STRV,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  properties[PROP_REDIS_URL] =
      g_param_spec_string ("redis-url", "Redis URL",
      "redis://HOST:PORT[/DB] of the Redis that holds the rooms, shared by "
      "every node of a cluster (parties of one room may then be on two "
      "nodes); NULL: the rooms live in this process only. Set before "
      "listening", NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_NODE_ID] =
      g_param_spec_string ("node-id", "Node id",
      "This node's name in Redis and in log lines (with redis-url); NULL: "
      "the host name. A random suffix is added at each start. Set before "
      "listening", NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_CLUSTER_URLS] =
      g_param_spec_boxed ("cluster-urls", "Cluster URLs",
      "WebSocket URLs (ws:// or wss://) of the nodes of this server's "
      "cluster, this one included: the page reads them at /cluster.json and "
      "moves to the next when its server goes away; the origins of their "
      "pages may connect here", G_TYPE_STRV,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (gobject_class, N_PROPERTIES, properties);
}

LetsChatRoomServer *
letschat_room_server_new (void)
{
  return g_object_new (LETSCHAT_TYPE_ROOM_SERVER, NULL);
}

void
letschat_room_server_set_room_secret (LetsChatRoomServer * self,
    const gchar * room, const gchar * secret)
{
  Room *live;

  g_return_if_fail (LETSCHAT_IS_ROOM_SERVER (self));
  g_return_if_fail (letschat_protocol_room_name_is_valid (room));

  if (secret == NULL || secret[0] == '\0') {
    g_hash_table_remove (self->room_secrets, room);
    return;
  }
  g_hash_table_insert (self->room_secrets, g_strdup (room), g_strdup (secret));

  /* A room that is already live keeps its parties but now needs the
   * configured secret for the next join. */
  live = g_hash_table_lookup (self->rooms, room);
  if (live) {
    g_free (live->secret);
    live->secret = g_strdup (secret);
  }
}

void
letschat_room_server_add_ice_server (LetsChatRoomServer * self,
    const gchar * url, const gchar * username, const gchar * credential)
{
  g_return_if_fail (LETSCHAT_IS_ROOM_SERVER (self));
  g_return_if_fail (url != NULL);

  json_array_add_element (self->ice_servers,
      letschat_protocol_ice_server_new (url, username, credential));
}

gboolean
letschat_room_server_add_ice_server_uri (LetsChatRoomServer * self,
    const gchar * uri, GError ** error)
{
  JsonNode *server;

  g_return_val_if_fail (LETSCHAT_IS_ROOM_SERVER (self), FALSE);
  g_return_val_if_fail (uri != NULL, FALSE);

  server = letschat_protocol_ice_server_from_uri (uri, error);
  if (server == NULL)
    return FALSE;
  json_array_add_element (self->ice_servers, server);
  return TRUE;
}

void
letschat_room_server_set_turn_secret (LetsChatRoomServer * self,
    const gchar * secret, guint ttl)
{
  g_return_if_fail (LETSCHAT_IS_ROOM_SERVER (self));
  g_return_if_fail (secret != NULL && secret[0] != '\0');
  g_return_if_fail (ttl > 0);

  if (self->turn_secret) {
    memset (self->turn_secret, 0, strlen (self->turn_secret));
    g_free (self->turn_secret);
  }
  self->turn_secret = g_strdup (secret);
  self->turn_ttl = ttl;
}

gboolean
letschat_room_server_add_turn_uri (LetsChatRoomServer * self,
    const gchar * uri, GError ** error)
{
  g_autoptr (JsonNode) server = NULL;
  JsonObject *o;
  const gchar *url;

  g_return_val_if_fail (LETSCHAT_IS_ROOM_SERVER (self), FALSE);
  g_return_val_if_fail (uri != NULL, FALSE);

  /* The same forms --ice-server takes, as browsers write them
   * ("turn:host:3478", "turns:host:5349?transport=tcp"); the credentials
   * are made per party, so the URI must not carry any. */
  server = letschat_protocol_ice_server_from_uri (uri, error);
  if (server == NULL)
    return FALSE;
  o = json_node_get_object (server);
  url = json_object_get_string_member (o, "urls");
  if (!g_str_has_prefix (url, "turn:") && !g_str_has_prefix (url, "turns:")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "TURN URI %s: it must start with turn: or turns: (STUN servers "
        "go to --ice-server)", uri);
    return FALSE;
  }
  if (json_object_has_member (o, "username")) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "TURN URI %s: leave the user and password out, each party gets "
        "credentials made from the TURN secret (or use --ice-server for "
        "fixed credentials)", uri);
    return FALSE;
  }
  g_ptr_array_add (self->turn_urls, g_strdup (url));
  return TRUE;
}

JsonNode *
letschat_room_server_ice_servers_for (LetsChatRoomServer * self,
    const gchar * party_id)
{
  JsonArray *servers = json_array_sized_new (json_array_get_length
      (self->ice_servers) + self->turn_urls->len);
  g_autofree gchar *username = NULL;
  g_autofree gchar *password = NULL;
  JsonNode *node;
  guint i;

  for (i = 0; i < json_array_get_length (self->ice_servers); i++)
    json_array_add_element (servers,
        json_node_copy (json_array_get_element (self->ice_servers, i)));

  if (self->turn_secret && self->turn_urls->len > 0) {
    username = letschat_turn_credentials_username (g_get_real_time () /
        G_USEC_PER_SEC, self->turn_ttl, party_id);
    password = letschat_turn_credentials_password (self->turn_secret, username);
    for (i = 0; i < self->turn_urls->len; i++)
      json_array_add_element (servers,
          letschat_protocol_ice_server_new (self->turn_urls->pdata[i],
              username, password));
  }
  node = json_node_init_array (json_node_alloc (), servers);
  json_array_unref (servers);
  return node;
}

gboolean
letschat_room_server_set_tls_files (LetsChatRoomServer * self,
    const gchar * cert_file, const gchar * key_file, GError ** error)
{
  g_autoptr (GTlsCertificate) cert = NULL;
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (LETSCHAT_IS_ROOM_SERVER (self), FALSE);
  g_return_val_if_fail (cert_file != NULL && key_file != NULL, FALSE);

  cert = g_tls_certificate_new_from_files (cert_file, key_file, &local_error);
  if (cert == NULL) {
    g_set_error (error, local_error->domain, local_error->code,
        "Could not use the TLS certificate %s with the key %s (both PEM): "
        "%s", cert_file, key_file, local_error->message);
    return FALSE;
  }
  g_object_set (self, "tls-certificate", cert, NULL);
  return TRUE;
}

static gboolean
resolve_host (const gchar * host, GInetAddress ** address, GError ** error)
{
  g_autoptr (GResolver) resolver = NULL;
  GList *addresses;

  if (host == NULL || g_strcmp0 (host, "localhost") == 0)
    host = "127.0.0.1";

  *address = g_inet_address_new_from_string (host);
  if (*address)
    return TRUE;

  resolver = g_resolver_get_default ();
  addresses = g_resolver_lookup_by_name (resolver, host, NULL, error);
  if (addresses == NULL)
    return FALSE;
  *address = g_object_ref (addresses->data);
  g_resolver_free_addresses (addresses);
  return TRUE;
}

/* The kernel caps the listen backlog at net.core.somaxconn. GLib's default
 * (10) would reset the connections of a burst of parties reconnecting at
 * once, after a server restart. */
#define LISTEN_BACKLOG 4096

/* Connections are accepted by letschat-accept-guard.c, shake hands in
 * letschat-tls-guard.c with TLS, and are handed to libsoup with
 * soup_server_accept_iostream() rather than by soup_server_listen*():
 * libsoup 3.2's own listener keeps a reference to every socket it accepts,
 * so that each connection, page or WebSocket, lost 344 bytes for good
 * (valgrind; docs/performance.md). */
static void
hand_to_soup (LetsChatRoomServer * self, GSocketConnection * connection,
    GIOStream * stream)
{
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_autoptr (GSocketAddress) local = NULL;
  g_autoptr (GSocketAddress) remote = NULL;

  local = g_socket_connection_get_local_address (connection, NULL);
  remote = g_socket_connection_get_remote_address (connection, NULL);
  if (local == NULL || remote == NULL)
    return;                     /* gone already */
  g_object_set_qdata_full (G_OBJECT (remote), socket_quark (),
      g_object_ref (socket), g_object_unref);
  soup_server_accept_iostream (self->soup, stream, local, remote, NULL);
}

static void
on_tls_ready (GSocketConnection * connection, GIOStream * stream,
    gpointer user_data)
{
  LetsChatRoomServer *self = user_data;

  if (stream)
    hand_to_soup (self, connection, stream);
  else
    g_atomic_int_inc (&self->metrics->tls_handshakes_failed);
}

static void
on_accepted (GSocketConnection * connection, gpointer user_data)
{
  LetsChatRoomServer *self = user_data;
  GSocket *socket = g_socket_connection_get_socket (connection);

  if (self->tls_guard)
    letschat_tls_guard_start (self->tls_guard, connection,
        letschat_accept_guard_key_of (socket) ?
        letschat_accept_guard_key_of (socket) : "?");
  else
    hand_to_soup (self, connection, G_IO_STREAM (connection));
}

/* A bound, listening, non-blocking TCP socket on @address. */
static GSocket *
listening_socket_new (GSocketAddress * address, GError ** error)
{
  g_autoptr (GSocket) socket = NULL;

  socket = g_socket_new (g_socket_address_get_family (address),
      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);
  if (socket == NULL)
    return NULL;
  g_socket_set_listen_backlog (socket, LISTEN_BACKLOG);
  if (!g_socket_bind (socket, address, TRUE, error)
      || !g_socket_listen (socket, error))
    return NULL;
  return g_steal_pointer (&socket);
}

gboolean
letschat_room_server_listen (LetsChatRoomServer * self, const gchar * host,
    guint16 port, GError ** error)
{
  g_autoptr (GInetAddress) address = NULL;
  g_autoptr (GSocketAddress) socket_address = NULL;
  g_autoptr (GSocketAddress) bound_address = NULL;
  g_autoptr (GSocket) listening = NULL;
  g_autoptr (GError) listen_error = NULL;
  g_autofree gchar *ip = NULL;

  g_return_val_if_fail (LETSCHAT_IS_ROOM_SERVER (self), FALSE);
  g_return_val_if_fail (self->soup == NULL, FALSE);

  if (!resolve_host (host, &address, error))
    return FALSE;

  if (self->redis_url) {
    self->cluster = letschat_cluster_new (self, self->redis_url,
        self->node_id, error);
    if (self->cluster == NULL)
      return FALSE;
  }
  self->socket_loop = letschat_socket_loop_new (NULL, error);
  if (self->socket_loop == NULL)
    return FALSE;
  self->soup = soup_server_new ("server-header", "letschat ",
      "tls-certificate", self->tls_certificate, NULL);
  soup_server_add_handler (self->soup, "/", on_http, self, NULL);
  letschat_metrics_add_handlers (self, self->soup);
  letschat_cluster_page_add_handler (self->soup, &self->cluster_urls);
  /* Origin NULL here: on_early_ws() checks it, with the server's own
   * page and allowed-origins. */
  soup_server_add_early_handler (self->soup, "/ws", on_early_ws, self, NULL);
  soup_server_add_handler (self->soup, "/ws", on_ws_request, self, NULL);

  socket_address = g_inet_socket_address_new (address, port);
  listening = listening_socket_new (socket_address, &listen_error);
  if (listening)
    bound_address = g_socket_get_local_address (listening, &listen_error);
  if (bound_address == NULL) {
    ip = g_inet_address_to_string (address);
    g_set_error (error, listen_error->domain, listen_error->code,
        "Could not listen on %s:%u: %s", ip, port, listen_error->message);
    g_clear_object (&self->soup);
    g_clear_pointer (&self->socket_loop, letschat_socket_loop_free);
    return FALSE;
  }
  if (self->tls_certificate)
    self->tls_guard = letschat_tls_guard_new (self->tls_certificate,
        on_tls_ready, self);
  self->acceptor = letschat_accept_guard_new (listening, on_accepted, self);
  letschat_accept_guard_set_limits (self->acceptor,
      self->max_connections + LETSCHAT_PAGE_ALLOWANCE_TOTAL,
      self->max_per_ip + LETSCHAT_PAGE_ALLOWANCE_PER_IP);
  letschat_accept_guard_set_deadline (self->acceptor, self->handshake_timeout);
  letschat_http_guard_attach (self);

  self->port =
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound_address));
  letschat_rooms_start_liveness_check (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PORT]);
  return TRUE;
}

guint16
letschat_room_server_get_port (LetsChatRoomServer * self)
{
  g_return_val_if_fail (LETSCHAT_IS_ROOM_SERVER (self), 0);
  return self->port;
}

void
letschat_room_server_shutdown (LetsChatRoomServer * self)
{
  GHashTableIter iter;
  Connection *conn;

  g_return_if_fail (LETSCHAT_IS_ROOM_SERVER (self));

  if (self->liveness_check) {
    g_source_destroy (self->liveness_check);
    g_clear_pointer (&self->liveness_check, g_source_unref);
  }

  /* Connections stay in the table until their sockets are closed, so that
   * callers can wait for the close handshakes (n_connections). Closing
   * only starts the handshake, so the table does not change here. */
  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, (gpointer *) & conn, NULL))
    if (conn->ws)
      letschat_websocket_close (conn->ws, LETSCHAT_WEBSOCKET_CLOSE_GOING_AWAY,
          "server shutting down");

  if (self->acceptor) {
    self->transport_counters_at_stop =
        *letschat_accept_guard_get_counters (self->acceptor);
    g_clear_pointer (&self->acceptor, letschat_accept_guard_free);
  }
  g_clear_pointer (&self->tls_guard, letschat_tls_guard_free);
  if (self->soup)
    soup_server_disconnect (self->soup);
}

guint
letschat_room_server_get_n_connections (LetsChatRoomServer * self)
{
  g_return_val_if_fail (LETSCHAT_IS_ROOM_SERVER (self), 0);
  return g_hash_table_size (self->connections);
}

guint
letschat_room_server_get_n_rooms (LetsChatRoomServer * self)
{
  g_return_val_if_fail (LETSCHAT_IS_ROOM_SERVER (self), 0);
  return g_hash_table_size (self->rooms);
}

void
letschat_room_server_get_transport_counters (LetsChatRoomServer * self,
    LetsChatTransportCounters * counters)
{
  g_return_if_fail (LETSCHAT_IS_ROOM_SERVER (self));
  *counters = self->acceptor ?
      *letschat_accept_guard_get_counters (self->acceptor) :
      self->transport_counters_at_stop;
  if (self->tls_guard)
    counters->tls_handshakes_waited =
        letschat_tls_guard_get_n_waited (self->tls_guard);
}
