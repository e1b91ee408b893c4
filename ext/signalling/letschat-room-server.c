/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The room server. One Connection per WebSocket, one Room per room name:
 *
 *   SoupServer --/ws--> Connection --join--> Room { parties[0], parties[1] }
 *                          |                          |
 *                          +--signal--(add "from")--> other party
 *
 * Nothing a client sends may crash the server or reach another room: every
 * frame is size-checked, rate-limited and fully validated by
 * letschat-protocol before it touches any state, and every refusal is an
 * `error` message on a socket that stays open (docs/protocol.md). */

#define G_LOG_DOMAIN "letschat-server"

#include "letschat-room-server.h"
#include "letschat-protocol.h"

#include <libsoup/soup.h>
#include <string.h>
#include <sys/random.h>

#define DEFAULT_RATE_LIMIT 50.0
#define DEFAULT_RATE_BURST 200

/* libsoup closes the socket (1009) on frames over its own limit. We set it
 * well above ours so that an oversize message gets a polite `too-large` and
 * the socket survives; only frames over this factor are cut off. */
#define SOUP_PAYLOAD_FACTOR 4

typedef struct _Room Room;

typedef struct
{
  LetsChatRoomServer *server;
  SoupWebsocketConnection *ws;
  gchar *id;
  gchar *name;
  gchar *remote;                /* address, for log lines */
  Room *room;

  /* token bucket */
  gdouble tokens;
  gint64 last_refill_us;
  gboolean told_rate_limited;

  gint64 last_heard_us;         /* last message or pong from the client */
} Connection;

struct _Room
{
  gchar *name;
  gchar *secret;                /* NULL: anybody may enter */
  Connection *parties[2];
  gboolean stranger;
};

struct _LetsChatRoomServer
{
  GObject parent;

  SoupServer *soup;
  GHashTable *connections;      /* Connection* set, owns */
  GHashTable *rooms;            /* name -> Room*, owns */
  GHashTable *room_secrets;     /* name -> secret set at start-up */
  JsonArray *ice_servers;
  Room *waiting_stranger;       /* a stranger room with one party, or NULL */

  guint16 port;
  guint max_message_size;
  gdouble rate_limit;
  guint rate_burst;
  guint ping_interval;          /* s */
  guint ping_timeout;           /* s, 0: never */
  GSource *liveness_check;
};

enum
{
  PROP_0,
  PROP_MAX_MESSAGE_SIZE,
  PROP_RATE_LIMIT,
  PROP_RATE_BURST,
  PROP_PORT,
  PROP_PING_INTERVAL,
  PROP_PING_TIMEOUT,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

G_DEFINE_TYPE (LetsChatRoomServer, letschat_room_server, G_TYPE_OBJECT);

/* Ids and stranger room names must not be guessable: a guessed room name
 * is a way into somebody's call. */
static gchar *
random_hex (gsize n_bytes)
{
  guint8 bytes[32];
  GString *hex = g_string_sized_new (n_bytes * 2);
  gsize i;

  g_assert (n_bytes <= sizeof (bytes));
  if (getrandom (bytes, n_bytes, 0) != (gssize) n_bytes) {
    /* getrandom() on Linux only fails before the pool is seeded */
    for (i = 0; i < n_bytes; i++)
      bytes[i] = g_random_int_range (0, 256);
  }
  for (i = 0; i < n_bytes; i++)
    g_string_append_printf (hex, "%02x", bytes[i]);
  return g_string_free (hex, FALSE);
}

/* Compares digests rather than the strings, so that neither the time taken
 * nor an early exit tells an attacker how much of a guess was right. */
static gboolean
secret_equal (const gchar * a, const gchar * b)
{
  g_autoptr (GChecksum) ca = g_checksum_new (G_CHECKSUM_SHA256);
  g_autoptr (GChecksum) cb = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 da[32], db[32];
  gsize la = sizeof (da), lb = sizeof (db);
  guint8 diff = 0;
  gsize i;

  if (a == NULL || b == NULL)
    return FALSE;

  g_checksum_update (ca, (const guchar *) a, -1);
  g_checksum_update (cb, (const guchar *) b, -1);
  g_checksum_get_digest (ca, da, &la);
  g_checksum_get_digest (cb, db, &lb);
  for (i = 0; i < sizeof (da); i++)
    diff |= da[i] ^ db[i];
  return diff == 0;
}

static void
send_text (Connection * conn, const gchar * text)
{
  /* A party may be half-way through closing; libsoup asserts on sending to
   * a socket that is not open. */
  if (soup_websocket_connection_get_state (conn->ws) ==
      SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text (conn->ws, text);
}

/* @room: the room the request was about, for the log line */
static void
refuse (Connection * conn, const gchar * room, LetsChatProtocolError code,
    const gchar * message)
{
  const gchar *wire_code = letschat_protocol_error_to_code (code);
  g_autofree gchar *text = letschat_protocol_build_error (wire_code, message);
  g_autofree gchar *escaped = g_strescape (message, NULL);

  g_info ("refused id=%s addr=%s room=%s code=%s: %s", conn->id,
      conn->remote, room ? room : "-", wire_code, escaped);
  send_text (conn, text);
}

static void
send_error (Connection * conn, LetsChatProtocolError code,
    const gchar * message)
{
  refuse (conn, conn->room ? conn->room->name : NULL, code, message);
}

static Room *
room_new (const gchar * name, const gchar * secret, gboolean stranger)
{
  Room *room = g_new0 (Room, 1);

  room->name = g_strdup (name);
  room->secret = g_strdup (secret);
  room->stranger = stranger;
  return room;
}

static void
room_free (Room * room)
{
  g_free (room->name);
  if (room->secret) {
    /* secrets do not linger in freed memory */
    memset (room->secret, 0, strlen (room->secret));
    g_free (room->secret);
  }
  g_free (room);
}

static guint
room_n_parties (Room * room)
{
  return (room->parties[0] != NULL) + (room->parties[1] != NULL);
}

static Connection *
room_other_party (Room * room, Connection * conn)
{
  return room->parties[0] == conn ? room->parties[1] : room->parties[0];
}

/* Takes @conn out of its room, tells the other party, and drops the room
 * once empty (which also frees a secret its first party had set). */
static void
connection_leave_room (Connection * conn, const gchar * reason)
{
  LetsChatRoomServer *self = conn->server;
  Room *room = conn->room;
  Connection *other;

  if (room == NULL)
    return;

  if (room->parties[0] == conn)
    room->parties[0] = NULL;
  else
    room->parties[1] = NULL;
  conn->room = NULL;

  g_info ("leave room=%s id=%s addr=%s reason=%s", room->name, conn->id,
      conn->remote, reason);

  other = room_other_party (room, NULL);
  if (other) {
    g_autofree gchar *text = letschat_protocol_build_peer_left (conn->id);
    send_text (other, text);
  }

  if (self->waiting_stranger == room && room_n_parties (room) != 1)
    self->waiting_stranger = NULL;

  if (room_n_parties (room) == 0)
    g_hash_table_remove (self->rooms, room->name);
}

static void
connection_enter_room (Connection * conn, Room * room, const gchar * name)
{
  LetsChatRoomServer *self = conn->server;
  Connection *peer = room_other_party (room, NULL);
  g_autoptr (JsonNode) ice_servers = NULL;
  g_autofree gchar *welcome = NULL;
  g_autofree gchar *escaped_name = NULL;

  g_free (conn->name);
  conn->name = g_strdup (name);

  if (room->parties[0] == NULL)
    room->parties[0] = conn;
  else
    room->parties[1] = conn;
  conn->room = room;

  ice_servers = json_node_init_array (json_node_alloc (), self->ice_servers);
  welcome = letschat_protocol_build_welcome (conn->id, room->name,
      peer ? peer->id : NULL, peer ? peer->name : NULL, ice_servers);
  send_text (conn, welcome);

  if (peer) {
    g_autofree gchar *joined =
        letschat_protocol_build_peer_joined (conn->id, conn->name);
    send_text (peer, joined);
  }

  escaped_name = conn->name ? g_strescape (conn->name, NULL) : NULL;
  g_info ("join room=%s id=%s addr=%s name=\"%s\" parties=%u%s", room->name,
      conn->id, conn->remote, escaped_name ? escaped_name : "",
      room_n_parties (room), room->stranger ? " stranger" : "");
}

/* A party that lost its connection (or whose server restarted) comes back
 * under its old id, so the other party knows it is the same one and the
 * call, still flowing peer to peer, goes on. Ids are not credentials: room
 * secrets protect rooms. An id held by a connected party is not given. */
static void
connection_take_previous_id (Connection * conn, const gchar * id)
{
  GHashTableIter iter;
  Connection *other;

  if (id == NULL || g_str_equal (id, conn->id))
    return;
  g_hash_table_iter_init (&iter, conn->server->connections);
  while (g_hash_table_iter_next (&iter, (gpointer *) & other, NULL))
    if (g_str_equal (other->id, id))
      return;
  g_info ("resume id=%s was=%s addr=%s", id, conn->id, conn->remote);
  g_free (conn->id);
  conn->id = g_strdup (id);
}

static void
on_pong (SoupWebsocketConnection * ws, GBytes * message, gpointer user_data)
{
  Connection *conn = user_data;

  conn->last_heard_us = g_get_monotonic_time ();
}

/* A party whose machine vanished (lid closed, network gone) never closes
 * its socket: without an answer to our pings for ping-timeout seconds it
 * is closed, which frees its seat and tells the other party peer-left. */
static gboolean
check_liveness (gpointer user_data)
{
  LetsChatRoomServer *self = user_data;
  gint64 limit = g_get_monotonic_time () -
      (gint64) self->ping_timeout * G_USEC_PER_SEC;
  g_autoptr (GPtrArray) dead = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  Connection *conn;
  guint i;

  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, (gpointer *) & conn, NULL)) {
    if (conn->last_heard_us < limit &&
        soup_websocket_connection_get_state (conn->ws) ==
        SOUP_WEBSOCKET_STATE_OPEN) {
      g_info ("timeout id=%s addr=%s: no answer for %u s", conn->id,
          conn->remote, self->ping_timeout);
      /* Its seat is free now, not when the close handshake (which a dead
       * party never answers) gives up. */
      connection_leave_room (conn, "timeout");
      g_ptr_array_add (dead, g_object_ref (conn->ws));
    }
  }
  /* Closing may end in on_closed(), which changes the table. */
  for (i = 0; i < dead->len; i++)
    soup_websocket_connection_close (g_ptr_array_index (dead, i),
        SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "no answer to pings");
  return G_SOURCE_CONTINUE;
}

static void
handle_join (Connection * conn, LetsChatMessage * msg)
{
  LetsChatRoomServer *self = conn->server;
  Room *room;
  const gchar *required;

  if (conn->room) {
    send_error (conn, LETSCHAT_PROTOCOL_ERROR_ALREADY_JOINED,
        "You are already in a room: send leave first.");
    return;
  }

  if (msg->room == NULL) {
    /* Strangers: the first one gets a fresh room at once and waits in it,
     * the next one is put into that room. Secrets do not apply. */
    room = self->waiting_stranger;
    if (room == NULL || room_n_parties (room) != 1) {
      g_autofree gchar *name = NULL;

      do {
        gchar *hex = random_hex (8);

        g_free (name);
        name = g_strconcat ("stranger-", hex, NULL);
        g_free (hex);
      } while (g_hash_table_contains (self->rooms, name));

      room = room_new (name, NULL, TRUE);
      g_hash_table_insert (self->rooms, room->name, room);
      self->waiting_stranger = room;
    } else {
      self->waiting_stranger = NULL;
    }
    connection_enter_room (conn, room, msg->name);
    return;
  }

  room = g_hash_table_lookup (self->rooms, msg->room);
  required = g_hash_table_lookup (self->room_secrets, msg->room);
  if (required == NULL && room != NULL)
    required = room->secret;

  /* The secret is checked before the room's size so that a stranger cannot
   * learn whether a protected room is busy. */
  if (required != NULL && !secret_equal (required, msg->secret)) {
    refuse (conn, msg->room, LETSCHAT_PROTOCOL_ERROR_UNAUTHORIZED,
        msg->secret ? "Wrong secret for this room." :
        "This room needs a secret.");
    return;
  }

  if (room != NULL && room_n_parties (room) >= 2) {
    refuse (conn, msg->room, LETSCHAT_PROTOCOL_ERROR_ROOM_FULL,
        "This room already has two parties.");
    return;
  }

  if (room == NULL) {
    /* The first party sets the secret, unless one was configured. An empty
     * secret means none. */
    const gchar *secret = required;

    if (secret == NULL && msg->secret && msg->secret[0])
      secret = msg->secret;
    room = room_new (msg->room, secret, FALSE);
    g_hash_table_insert (self->rooms, room->name, room);
  }

  connection_take_previous_id (conn, msg->id);
  connection_enter_room (conn, room, msg->name);
}

static void
handle_signal (Connection * conn, LetsChatMessage * msg)
{
  Connection *other;
  g_autofree gchar *text = NULL;

  if (conn->room == NULL) {
    send_error (conn, LETSCHAT_PROTOCOL_ERROR_NOT_JOINED,
        "Join a room before sending signals.");
    return;
  }

  /* Alone in the room: there is nobody to relay to. The protocol has no
   * error for this (the peer may have just left), so it is dropped. */
  other = room_other_party (conn->room, conn);
  if (other == NULL)
    return;

  /* The validated node is re-serialized, never re-parsed: the peer gets
   * exactly the data that was sent, plus "from". */
  text = letschat_protocol_build_signal (conn->id, msg->data);
  send_text (other, text);
}

static void
handle_leave (Connection * conn)
{
  if (conn->room == NULL) {
    send_error (conn, LETSCHAT_PROTOCOL_ERROR_NOT_JOINED,
        "You are not in a room.");
    return;
  }
  connection_leave_room (conn, "leave");
}

/* One token per message, refilled at rate-limit per second up to
 * rate-burst. Only the first refused message of a flood is answered, so
 * that a flood cannot make us flood back. */
static gboolean
connection_take_token (Connection * conn)
{
  LetsChatRoomServer *self = conn->server;
  gint64 now = g_get_monotonic_time ();

  conn->tokens += (now - conn->last_refill_us) * self->rate_limit / 1e6;
  conn->tokens = MIN (conn->tokens, (gdouble) self->rate_burst);
  conn->last_refill_us = now;

  if (conn->tokens < 1.0)
    return FALSE;
  conn->tokens -= 1.0;
  return TRUE;
}

static void
on_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer user_data)
{
  Connection *conn = user_data;
  LetsChatRoomServer *self = conn->server;
  g_autoptr (LetsChatMessage) msg = NULL;
  g_autoptr (GError) error = NULL;
  gsize size;
  const gchar *text = g_bytes_get_data (bytes, &size);

  conn->last_heard_us = g_get_monotonic_time ();

  if (!connection_take_token (conn)) {
    if (!conn->told_rate_limited) {
      g_autofree gchar *message =
          g_strdup_printf ("Too many messages: at most %g per second "
          "(bursts of %u). Messages are dropped until you slow down.",
          self->rate_limit, self->rate_burst);
      send_error (conn, LETSCHAT_PROTOCOL_ERROR_RATE_LIMITED, message);
      conn->told_rate_limited = TRUE;
    }
    return;
  }
  conn->told_rate_limited = FALSE;

  if (size > self->max_message_size) {
    g_autofree gchar *message =
        g_strdup_printf ("The message has %" G_GSIZE_FORMAT
        " bytes; the limit is %u.", size, self->max_message_size);
    send_error (conn, LETSCHAT_PROTOCOL_ERROR_TOO_LARGE, message);
    return;
  }

  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    send_error (conn, LETSCHAT_PROTOCOL_ERROR_BAD_REQUEST,
        "Binary frames are not part of the protocol: send JSON text.");
    return;
  }

  msg = letschat_message_parse (text, size, LETSCHAT_PROTOCOL_FROM_CLIENT,
      &error);
  if (msg == NULL) {
    send_error (conn, error->code, error->message);
    return;
  }

  switch (msg->type) {
    case LETSCHAT_MESSAGE_JOIN:
      handle_join (conn, msg);
      break;
    case LETSCHAT_MESSAGE_SIGNAL:
      handle_signal (conn, msg);
      break;
    case LETSCHAT_MESSAGE_LEAVE:
      handle_leave (conn);
      break;
    default:
      /* letschat_message_parse() only returns client kinds here */
      g_assert_not_reached ();
  }
}

static void
connection_free (Connection * conn)
{
  g_signal_handlers_disconnect_by_data (conn->ws, conn);
  g_object_unref (conn->ws);
  g_free (conn->id);
  g_free (conn->name);
  g_free (conn->remote);
  g_free (conn);
}

static void
on_closed (SoupWebsocketConnection * ws, gpointer user_data)
{
  Connection *conn = user_data;

  connection_leave_room (conn, "closed");
  g_info ("disconnect id=%s addr=%s code=%u", conn->id, conn->remote,
      soup_websocket_connection_get_close_code (ws));
  /* frees conn */
  g_hash_table_remove (conn->server->connections, conn);
}

static void
on_websocket (SoupServer * soup, SoupServerMessage * message,
    const char *path, SoupWebsocketConnection * ws, gpointer user_data)
{
  LetsChatRoomServer *self = user_data;
  Connection *conn = g_new0 (Connection, 1);
  GSocketAddress *addr = soup_server_message_get_remote_address (message);

  conn->server = self;
  conn->ws = g_object_ref (ws);
  conn->id = random_hex (16);
  conn->tokens = self->rate_burst;
  conn->last_refill_us = g_get_monotonic_time ();
  if (G_IS_INET_SOCKET_ADDRESS (addr)) {
    GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (addr);
    g_autofree gchar *ip =
        g_inet_address_to_string (g_inet_socket_address_get_address (inet));

    conn->remote = g_strdup_printf ("%s:%u", ip,
        g_inet_socket_address_get_port (inet));
  } else {
    conn->remote = g_strdup ("?");
  }

  soup_websocket_connection_set_max_incoming_payload_size (ws,
      (guint64) self->max_message_size * SOUP_PAYLOAD_FACTOR);
  /* Pings keep NATs open and find dead peers (see check_liveness); libsoup
   * answers the peer's pings on its own. */
  soup_websocket_connection_set_keepalive_interval (ws, self->ping_interval);
  conn->last_heard_us = g_get_monotonic_time ();

  g_signal_connect (ws, "message", G_CALLBACK (on_message), conn);
  g_signal_connect (ws, "pong", G_CALLBACK (on_pong), conn);
  g_signal_connect (ws, "closed", G_CALLBACK (on_closed), conn);
  g_hash_table_add (self->connections, conn);

  g_info ("connect id=%s addr=%s", conn->id, conn->remote);
}

/* The landing page. A browser client will replace it; until then it says
 * where to connect. */
static void
serve_index (SoupServerMessage * message)
{
  static const gchar page[] =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
      "<title>letschat</title></head>\n<body><p>letschat room server "
      "\xe2\x80\x94 WebSocket endpoint /ws</p></body></html>\n";

  soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
  soup_server_message_set_response (message, "text/html; charset=utf-8",
      SOUP_MEMORY_STATIC, page, strlen (page));
}

static void
on_http (SoupServer * soup, SoupServerMessage * message, const char *path,
    GHashTable * query, gpointer user_data)
{
  const gchar *method = soup_server_message_get_method (message);

  if (g_strcmp0 (path, "/") != 0) {
    soup_server_message_set_status (message, SOUP_STATUS_NOT_FOUND, NULL);
    return;
  }
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    soup_server_message_set_status (message, SOUP_STATUS_METHOD_NOT_ALLOWED,
        NULL);
    return;
  }
  serve_index (message);
}

static void
letschat_room_server_init (LetsChatRoomServer * self)
{
  self->connections = g_hash_table_new_full (NULL, NULL,
      (GDestroyNotify) connection_free, NULL);
  self->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) room_free);
  self->room_secrets = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, g_free);
  self->ice_servers = json_array_new ();
  self->max_message_size = LETSCHAT_DEFAULT_MAX_MESSAGE_SIZE;
  self->rate_limit = DEFAULT_RATE_LIMIT;
  self->rate_burst = DEFAULT_RATE_BURST;
  self->ping_interval = LETSCHAT_DEFAULT_PING_INTERVAL;
  self->ping_timeout = LETSCHAT_DEFAULT_PING_TIMEOUT;
}

static void
letschat_room_server_dispose (GObject * object)
{
  LetsChatRoomServer *self = LETSCHAT_ROOM_SERVER (object);

  letschat_room_server_shutdown (self);
  /* Connections whose close handshake is still running are dropped
   * here: the sockets go away with their SoupWebsocketConnection. */
  g_hash_table_remove_all (self->connections);
  g_hash_table_remove_all (self->rooms);
  self->waiting_stranger = NULL;
  g_clear_object (&self->soup);

  G_OBJECT_CLASS (letschat_room_server_parent_class)->dispose (object);
}

static void
letschat_room_server_finalize (GObject * object)
{
  LetsChatRoomServer *self = LETSCHAT_ROOM_SERVER (object);

  g_hash_table_unref (self->connections);
  g_hash_table_unref (self->rooms);
  g_hash_table_unref (self->room_secrets);
  json_array_unref (self->ice_servers);

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
  g_autoptr (GUri) parsed = NULL;
  g_autofree gchar *url = NULL;
  const gchar *scheme;
  const gchar *user, *password;

  g_return_val_if_fail (LETSCHAT_IS_ROOM_SERVER (self), FALSE);
  g_return_val_if_fail (uri != NULL, FALSE);

  /* Browser style "stun:host:port" / "turn:host:port?transport=tcp" has no
   * "//" and no credentials: hand it out as it is. */
  if ((g_str_has_prefix (uri, "stun:") || g_str_has_prefix (uri, "stuns:")
          || g_str_has_prefix (uri, "turn:")
          || g_str_has_prefix (uri, "turns:")) && !strstr (uri, "//")) {
    letschat_room_server_add_ice_server (self, uri, NULL, NULL);
    return TRUE;
  }

  /* GStreamer style "turn://user:pass@host:port" (as webrtcbin's
   * turn-server): split into RTCIceServer {urls, username, credential}. */
  parsed = g_uri_parse (uri, G_URI_FLAGS_HAS_PASSWORD, error);
  if (parsed == NULL)
    return FALSE;

  scheme = g_uri_get_scheme (parsed);
  if (g_strcmp0 (scheme, "stun") != 0 && g_strcmp0 (scheme, "stuns") != 0
      && g_strcmp0 (scheme, "turn") != 0 && g_strcmp0 (scheme, "turns") != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "ICE server %s: the scheme must be stun, stuns, turn or turns", uri);
    return FALSE;
  }
  if (g_uri_get_host (parsed) == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "ICE server %s has no host", uri);
    return FALSE;
  }

  if (g_uri_get_port (parsed) > 0)
    url = g_strdup_printf ("%s:%s:%d", scheme, g_uri_get_host (parsed),
        g_uri_get_port (parsed));
  else
    url = g_strdup_printf ("%s:%s", scheme, g_uri_get_host (parsed));
  if (g_uri_get_query (parsed)) {
    gchar *with_query = g_strconcat (url, "?", g_uri_get_query (parsed),
        NULL);
    g_free (url);
    url = with_query;
  }

  user = g_uri_get_user (parsed);
  password = g_uri_get_password (parsed);
  letschat_room_server_add_ice_server (self, url, user, password);
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

/* Read from the listening socket rather than soup_server_get_uris(),
 * which leaks an address per call in libsoup 3.2. */
static guint16
bound_port (SoupServer * soup)
{
  GSList *listeners = soup_server_get_listeners (soup);
  guint16 port = 0;

  if (listeners) {
    g_autoptr (GSocketAddress) addr =
        g_socket_get_local_address (listeners->data, NULL);

    if (G_IS_INET_SOCKET_ADDRESS (addr))
      port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr));
  }
  g_slist_free (listeners);
  return port;
}

gboolean
letschat_room_server_listen (LetsChatRoomServer * self, const gchar * host,
    guint16 port, GError ** error)
{
  g_autoptr (GInetAddress) address = NULL;
  g_autoptr (GSocketAddress) socket_address = NULL;
  g_autoptr (GError) listen_error = NULL;
  g_autofree gchar *ip = NULL;

  g_return_val_if_fail (LETSCHAT_IS_ROOM_SERVER (self), FALSE);
  g_return_val_if_fail (self->soup == NULL, FALSE);

  if (!resolve_host (host, &address, error))
    return FALSE;

  self->soup = soup_server_new ("server-header", "letschat ", NULL);
  soup_server_add_handler (self->soup, "/", on_http, self, NULL);
  /* Origin NULL: any origin may connect for now (no cookies or ambient
   * authority are involved; rooms are protected by their secrets). */
  soup_server_add_websocket_handler (self->soup, "/ws", NULL, NULL,
      on_websocket, self, NULL);

  socket_address = g_inet_socket_address_new (address, port);
  if (!soup_server_listen (self->soup, socket_address, 0, &listen_error)) {
    ip = g_inet_address_to_string (address);
    g_set_error (error, listen_error->domain, listen_error->code,
        "Could not listen on %s:%u: %s", ip, port, listen_error->message);
    g_clear_object (&self->soup);
    return FALSE;
  }

  self->port = bound_port (self->soup);
  if (self->ping_timeout > 0) {
    self->liveness_check = g_timeout_source_new_seconds (1);
    g_source_set_callback (self->liveness_check, check_liveness, self, NULL);
    g_source_attach (self->liveness_check,
        g_main_context_get_thread_default ());
  }
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
  g_autoptr (GPtrArray) sockets = NULL;
  guint i;

  g_return_if_fail (LETSCHAT_IS_ROOM_SERVER (self));

  if (self->liveness_check) {
    g_source_destroy (self->liveness_check);
    g_clear_pointer (&self->liveness_check, g_source_unref);
  }

  /* Connections stay in the table until libsoup reports them closed, so
   * that callers can wait for the close handshakes (n_connections). The
   * sockets are collected first because closing one may end up in
   * on_closed(), which changes the table. */
  sockets = g_ptr_array_new_with_free_func (g_object_unref);
  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, (gpointer *) & conn, NULL))
    g_ptr_array_add (sockets, g_object_ref (conn->ws));

  for (i = 0; i < sockets->len; i++) {
    SoupWebsocketConnection *ws = g_ptr_array_index (sockets, i);

    if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
          "server shutting down");
  }

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
