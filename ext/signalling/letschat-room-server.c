/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The room server. One Connection per WebSocket, one Room per room name:
 *
 *   SoupServer --/ws handshake--> LetsChatWebSocket (on the socket loop)
 *                                    |
 *                                Connection --join--> Room { parties[0],
 *                                    |                       parties[1] }
 *                                    +--signal--(add "from")--> other party
 *
 * libsoup serves the page and answers the WebSocket handshake; the socket
 * is then taken over by letschat-websocket.c on one epoll set
 * (letschat-socket-loop.c), so that an idle party costs no work on each
 * main-loop iteration and little memory (docs/performance.md).
 *
 * Nothing a client sends may crash the server or reach another room: every
 * frame is size-checked, rate-limited and fully validated by
 * letschat-protocol before it touches any state, and every refusal is an
 * `error` message on a socket that stays open (docs/protocol.md). */

#define G_LOG_DOMAIN "letschat-server"

#include "letschat-room-server.h"
#include "letschat-room-server-private.h"
#include "letschat-protocol.h"
#include "letschat-socket-loop.h"
#include "letschat-web-resources.h"
#include "letschat-websocket.h"

#include <libsoup/soup.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/random.h>

#define DEFAULT_RATE_LIMIT 50.0
#define DEFAULT_RATE_BURST 200

#define CLOSE_POLICY_VIOLATION LETSCHAT_WEBSOCKET_CLOSE_POLICY_VIOLATION

/* The WebSocket layer closes the socket (1009) on messages over its own
 * limit. It is set well above ours so that an oversize message gets a
 * polite `too-large` and the socket survives; only messages over this
 * factor are cut off. */
#define WEBSOCKET_PAYLOAD_FACTOR 4

typedef struct _Room Room;

typedef struct
{
  LetsChatRoomServer *server;
  LetsChatWebSocket *ws;
  gchar *id;
  gchar *name;
  gchar *remote;                /* address, for log lines */
  gchar *ip;                    /* key into per_ip */
  Room *room;
  gboolean ever_joined;
  gint64 connected_us;

  /* token bucket */
  gdouble tokens;
  gint64 last_refill_us;
  gboolean told_rate_limited;
  guint dropped;                /* messages dropped since told */

  gint64 last_heard_us;         /* last message or pong from the client */
  guint ping_slot;              /* pinged when the second count hits it */

  /* A connection without a socket (ws NULL), for the fuzzer: replies go
   * to send_func, and closing only marks it closed. */
  LetsChatRoomServerSendFunc send_func;
  gpointer send_data;
  gushort virtual_close_code;   /* 0 while open */
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
  GSocketService *service;      /* accepts, for soup */
  LetsChatSocketLoop *socket_loop;
  GHashTable *connections;      /* Connection* set, owns */
  GHashTable *refused;          /* LetsChatWebSocket* told why, closing */

  /* Kept for every message rather than made for each */
  JsonParser *parser;
  JsonGenerator *generator;
  GString *relay_text;
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
  guint64 liveness_ticks;

  GTlsCertificate *tls_certificate;
  guint join_timeout;           /* s, 0: never */
  guint max_connections;
  guint max_rooms;
  guint max_per_ip;
  GStrv allowed_origins;
  GHashTable *per_ip;           /* ip -> count of open connections */
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
  PROP_TLS_CERTIFICATE,
  PROP_JOIN_TIMEOUT,
  PROP_MAX_CONNECTIONS,
  PROP_MAX_ROOMS,
  PROP_MAX_PER_IP,
  PROP_ALLOWED_ORIGINS,
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

static gboolean
connection_is_open (Connection * conn)
{
  if (conn->ws == NULL)
    return conn->virtual_close_code == 0;
  return letschat_websocket_get_state (conn->ws) == LETSCHAT_WEBSOCKET_OPEN;
}

static void
send_text (Connection * conn, const gchar * text)
{
  if (conn->ws == NULL) {
    if (connection_is_open (conn))
      conn->send_func (text, conn->send_data);
    return;
  }
  /* does nothing once the party is closing */
  letschat_websocket_send_text (conn->ws, text, -1);
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
  conn->ever_joined = TRUE;

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
on_pong (LetsChatWebSocket * ws, gpointer user_data)
{
  Connection *conn = user_data;

  conn->last_heard_us = g_get_monotonic_time ();
}

/* Once a second, for every socket: a ping when its turn comes (each has
 * its own second of the ping interval, so that pings are spread out rather
 * than sent to everybody at once), and the timeouts below. One timer for
 * all rather than one per socket: see letschat-websocket.c.
 *
 * A party whose machine vanished (lid closed, network gone) never closes
 * its socket: without an answer to our pings for ping-timeout seconds it
 * is closed, which frees its seat and tells the other party peer-left. */
static gboolean
check_liveness (gpointer user_data)
{
  LetsChatRoomServer *self = user_data;
  gint64 now = g_get_monotonic_time ();
  gint64 limit = now - (gint64) self->ping_timeout * G_USEC_PER_SEC;
  gint64 join_limit = now - (gint64) self->join_timeout * G_USEC_PER_SEC;
  guint slot = self->ping_interval ?
      self->liveness_ticks++ % self->ping_interval : 0;
  GHashTableIter iter;
  Connection *conn;

  /* Closing only starts the close handshake ("closed" comes later), so
   * the table does not change under the iteration. */
  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, (gpointer *) & conn, NULL)) {
    if (conn->ws == NULL || !connection_is_open (conn))
      continue;
    /* A socket that never joins only holds a slot of max-connections and
     * max-per-ip: an attacker could fill them with idle sockets. */
    if (self->join_timeout > 0 && !conn->ever_joined
        && conn->connected_us < join_limit) {
      g_info ("timeout id=%s addr=%s: no join within %u s", conn->id,
          conn->remote, self->join_timeout);
      letschat_websocket_close (conn->ws, CLOSE_POLICY_VIOLATION,
          "no join in time");
      continue;
    }
    if (self->ping_timeout > 0 && conn->last_heard_us < limit) {
      g_info ("timeout id=%s addr=%s: no answer for %u s", conn->id,
          conn->remote, self->ping_timeout);
      /* Its seat is free now, not when the close handshake (which a dead
       * party never answers) gives up. */
      connection_leave_room (conn, "timeout");
      letschat_websocket_close (conn->ws, LETSCHAT_WEBSOCKET_CLOSE_GOING_AWAY,
          "no answer to pings");
      continue;
    }
    if (self->ping_interval > 0
        && conn->ping_slot % self->ping_interval == slot)
      letschat_websocket_ping (conn->ws);
  }
  return G_SOURCE_CONTINUE;
}

/* Rooms cost memory and log lines: a client looping over fresh room
 * names must hit a ceiling. The protocol has no code of its own for this;
 * rate-limited says "later", which is what the party should do. */
static gboolean
refuse_if_no_room_left (Connection * conn, const gchar * room)
{
  LetsChatRoomServer *self = conn->server;
  g_autofree gchar *message = NULL;

  if (g_hash_table_size (self->rooms) < self->max_rooms)
    return FALSE;
  message = g_strdup_printf ("The server already holds its maximum of %u "
      "rooms; try again later.", self->max_rooms);
  refuse (conn, room, LETSCHAT_PROTOCOL_ERROR_RATE_LIMITED, message);
  return TRUE;
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

      if (refuse_if_no_room_left (conn, NULL))
        return;

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

    if (refuse_if_no_room_left (conn, msg->room))
      return;

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
  LetsChatRoomServer *self = conn->server;
  Connection *other;

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
  g_string_truncate (self->relay_text, 0);
  letschat_protocol_append_signal (self->relay_text, self->generator,
      conn->id, msg->data);
  send_text (other, self->relay_text->str);
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

/* Everything a connection's bytes can do to the server goes through here
 * (the fuzzer calls it directly). */
static void
connection_receive (Connection * conn, gboolean is_text, const gchar * text,
    gsize size)
{
  LetsChatRoomServer *self = conn->server;
  g_autoptr (LetsChatMessage) msg = NULL;
  g_autoptr (GError) error = NULL;

  conn->last_heard_us = g_get_monotonic_time ();

  if (!connection_take_token (conn)) {
    if (!conn->told_rate_limited) {
      g_autofree gchar *message =
          g_strdup_printf ("Too many messages: at most %g per second "
          "(bursts of %u). Messages are dropped until you slow down.",
          self->rate_limit, self->rate_burst);
      send_error (conn, LETSCHAT_PROTOCOL_ERROR_RATE_LIMITED, message);
      conn->told_rate_limited = TRUE;
      conn->dropped = 0;
    } else if (++conn->dropped >= self->rate_burst && connection_is_open (conn)) {
      /* Told once, it went on for another whole burst: not a client that
       * will slow down. Its seat is freed for the other party. */
      g_info ("closing id=%s addr=%s: rate limit ignored", conn->id,
          conn->remote);
      connection_leave_room (conn, "rate-limited");
      if (conn->ws)
        letschat_websocket_close (conn->ws, CLOSE_POLICY_VIOLATION,
            "rate limit exceeded");
      else
        conn->virtual_close_code = CLOSE_POLICY_VIOLATION;
    }
    return;
  }
  /* Only a client that let its bucket fill up again has slowed down: one
   * that keeps the rate just under the limit between floods still has its
   * drops counted (and, independent of timing, gets closed). */
  if (conn->tokens + 1.0 >= self->rate_burst) {
    conn->told_rate_limited = FALSE;
    conn->dropped = 0;
  }

  if (size > self->max_message_size) {
    g_autofree gchar *message =
        g_strdup_printf ("The message has %" G_GSIZE_FORMAT
        " bytes; the limit is %u.", size, self->max_message_size);
    send_error (conn, LETSCHAT_PROTOCOL_ERROR_TOO_LARGE, message);
    return;
  }

  if (!is_text) {
    send_error (conn, LETSCHAT_PROTOCOL_ERROR_BAD_REQUEST,
        "Binary frames are not part of the protocol: send JSON text.");
    return;
  }

  /* An empty frame's data may be NULL (found by the fuzzer) */
  if (text == NULL)
    text = "";
  msg = letschat_message_parse_with (self->parser, text, size,
      LETSCHAT_PROTOCOL_FROM_CLIENT, &error);
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

/* NULL when a connection from @ip may be taken, else why not, in a
 * sentence for the party. */
static gchar *
connection_refusal (LetsChatRoomServer * self, const gchar * ip)
{
  guint n_from_ip = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_ip, ip));

  if (g_hash_table_size (self->connections) >= self->max_connections)
    return g_strdup_printf ("The server is at its maximum of %u "
        "connections; try again later.", self->max_connections);
  if (n_from_ip >= self->max_per_ip)
    return g_strdup_printf ("Too many connections from your address (at "
        "most %u); close some and try again.", self->max_per_ip);
  return NULL;
}

/* A connection from @ip, counted in per_ip until connection_free(); the
 * caller attaches its socket (or, for the fuzzer, its send_func). */
static Connection *
connection_new (LetsChatRoomServer * self, const gchar * ip,
    const gchar * remote)
{
  Connection *conn = g_new0 (Connection, 1);
  guint n_from_ip = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_ip, ip));

  conn->server = self;
  conn->id = random_hex (16);
  conn->tokens = self->rate_burst;
  conn->last_refill_us = g_get_monotonic_time ();
  conn->connected_us = conn->last_refill_us;
  conn->last_heard_us = conn->last_refill_us;
  conn->ping_slot = g_random_int ();
  conn->ip = g_strdup (ip);
  conn->remote = g_strdup (remote);
  g_hash_table_insert (self->per_ip, g_strdup (ip),
      GUINT_TO_POINTER (n_from_ip + 1));
  g_hash_table_add (self->connections, conn);
  return conn;
}

static void
on_message (LetsChatWebSocket * ws, gboolean is_text, const gchar * data,
    gsize size, gpointer user_data)
{
  connection_receive (user_data, is_text, data, size);
}

static void
connection_free (Connection * conn)
{
  if (conn->ws) {
    letschat_websocket_set_callbacks (conn->ws, NULL, NULL);
    letschat_websocket_unref (conn->ws);
  }
  g_free (conn->id);
  g_free (conn->name);
  g_free (conn->remote);
  if (conn->ip) {
    guint n = GPOINTER_TO_UINT (g_hash_table_lookup (conn->server->per_ip,
            conn->ip));

    if (n <= 1)
      g_hash_table_remove (conn->server->per_ip, conn->ip);
    else
      g_hash_table_insert (conn->server->per_ip, g_strdup (conn->ip),
          GUINT_TO_POINTER (n - 1));
    g_free (conn->ip);
  }
  g_free (conn);
}

static void
on_closed (LetsChatWebSocket * ws, gpointer user_data)
{
  Connection *conn = user_data;
  const gchar *why = letschat_websocket_get_drop_reason (ws);

  connection_leave_room (conn, "closed");
  g_info ("disconnect id=%s addr=%s code=%u%s%s", conn->id, conn->remote,
      letschat_websocket_get_close_code (ws), why ? ": " : "", why ? why : "");
  /* frees conn */
  g_hash_table_remove (conn->server->connections, conn);
}

static const LetsChatWebSocketCallbacks connection_callbacks = {
  on_message, on_pong, on_closed
};

static void
on_refused_closed (LetsChatWebSocket * ws, gpointer user_data)
{
  LetsChatRoomServer *self = user_data;

  /* unrefs ws */
  g_hash_table_remove (self->refused, ws);
}

static const LetsChatWebSocketCallbacks refused_callbacks = {
  NULL, NULL, on_refused_closed
};

/* Over a limit: the party is told why in an `error` (its client shows it)
 * and the socket is closed (1008: libsoup 3.2 clients take 1013 "try again
 * later" for a protocol error). */
static void
refuse_connection (LetsChatRoomServer * self, LetsChatWebSocket * ws,
    const gchar * ip, const gchar * message)
{
  g_autofree gchar *text = letschat_protocol_build_error
      (LETSCHAT_ERROR_RATE_LIMITED, message);

  g_info ("refused connection addr=%s code=%s: %s", ip,
      LETSCHAT_ERROR_RATE_LIMITED, message);
  /* held until the close handshake is over */
  g_hash_table_add (self->refused, ws);
  letschat_websocket_start (ws, &refused_callbacks, self);
  letschat_websocket_send_text (ws, text, -1);
  letschat_websocket_close (ws, CLOSE_POLICY_VIOLATION, "over a limit");
}

/* Which socket a connection handed to libsoup is on: kept on its remote
 * address, the object soup_server_message_get_remote_address() returns. */
static GQuark
socket_quark (void)
{
  return g_quark_from_static_string ("letschat-room-server-socket");
}

/* The handshake's answer (101) has gone out: from here on the socket is
 * ours, not libsoup's. */
static void
on_upgraded (SoupServerMessage * message, gpointer user_data)
{
  LetsChatRoomServer *self = user_data;
  Connection *conn;
  GSocketAddress *addr = soup_server_message_get_remote_address (message);
  GSocket *socket = addr ? g_object_get_qdata (G_OBJECT (addr),
      socket_quark ()) : NULL;
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *ip = NULL;
  g_autofree gchar *remote = NULL;
  g_autofree gchar *refusal = NULL;
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

  refusal = connection_refusal (self, ip);
  if (refusal) {
    refuse_connection (self, ws, ip, refusal);
    return;
  }

  if (G_IS_INET_SOCKET_ADDRESS (addr))
    remote = g_strdup_printf ("%s:%u", ip,
        g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr)));
  conn = connection_new (self, ip, remote ? remote : "?");
  conn->ws = ws;

  g_info ("connect id=%s addr=%s", conn->id, conn->remote);
  /* Pings keep NATs open and find dead peers (check_liveness); pings
   * from the peer are answered by the WebSocket layer. */
  letschat_websocket_start (ws, &connection_callbacks, conn);
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
 * gets the same page: it reads the room from the address. */
static const gchar *
web_resource_for_path (const gchar * path, const gchar ** content_type)
{
  *content_type = "text/html; charset=utf-8";
  if (g_str_equal (path, "/"))
    return "index.html";
  if (g_str_has_prefix (path, "/r/")
      && letschat_protocol_room_name_is_valid (path + 3))
    return "index.html";
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
  g_autofree gchar *resource_path = NULL;
  g_autoptr (GBytes) body = NULL;

  name = web_resource_for_path (path, &content_type);
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
  soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers
      (message), "Cache-Control", "no-cache");
  soup_server_message_set_response (message, content_type,
      SOUP_MEMORY_COPY, g_bytes_get_data (body, NULL), g_bytes_get_size (body));
}

/* "host[:port]" with the scheme's default port filled in, lower case,
 * or NULL. */
static gchar *
host_port_key (const gchar * scheme, const gchar * host_port)
{
  g_autofree gchar *url = g_strdup_printf ("%s://%s/", scheme, host_port);
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  gint port;
  g_autofree gchar *host = NULL;

  if (uri == NULL || g_uri_get_host (uri) == NULL)
    return NULL;
  port = g_uri_get_port (uri);
  if (port <= 0)
    port = g_str_equal (scheme, "https") ? 443 : 80;
  host = g_ascii_strdown (g_uri_get_host (uri), -1);
  return g_strdup_printf ("%s:%d", host, port);
}

/* Browsers send Origin with every WebSocket handshake, and a page from any
 * site can open one: without this check any web page a user visits could
 * use their browser against the server. Clients that are not browsers
 * send no Origin; they are not what the check is for. */
static gboolean
origin_is_allowed (LetsChatRoomServer * self, SoupServerMessage * message)
{
  SoupMessageHeaders *headers =
      soup_server_message_get_request_headers (message);
  const gchar *origin = soup_message_headers_get_one (headers, "Origin");
  const gchar *host = soup_message_headers_get_one (headers, "Host");
  const gchar *own_scheme = self->tls_certificate ? "https" : "http";
  g_autoptr (GUri) uri = NULL;
  g_autofree gchar *origin_key = NULL, *own_key = NULL;
  gchar **allowed;

  if (origin == NULL)
    return TRUE;
  for (allowed = self->allowed_origins; allowed && *allowed; allowed++) {
    if (g_str_equal (*allowed, "*")
        || g_ascii_strcasecmp (*allowed, origin) == 0)
      return TRUE;
  }

  /* The server's own page: same scheme, host and port as the request. */
  uri = g_uri_parse (origin, G_URI_FLAGS_NONE, NULL);
  if (uri == NULL || host == NULL
      || g_strcmp0 (g_uri_get_scheme (uri), own_scheme) != 0)
    return FALSE;
  origin_key = host_port_key (own_scheme, origin + strlen (own_scheme) + 3);
  own_key = host_port_key (own_scheme, host);
  return origin_key && own_key && g_str_equal (origin_key, own_key);
}

static void
on_early_ws (SoupServer * soup, SoupServerMessage * message,
    const char *path, GHashTable * query, gpointer user_data)
{
  LetsChatRoomServer *self = user_data;
  static const gchar body[] = "This page's origin may not use this letschat "
      "server (see --allowed-origin).\n";

  if (origin_is_allowed (self, message))
    return;
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
      (GDestroyNotify) connection_free, NULL);
  self->rooms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) room_free);
  self->refused = g_hash_table_new_full (NULL, NULL,
      (GDestroyNotify) letschat_websocket_unref, NULL);
  self->parser = json_parser_new ();
  self->generator = json_generator_new ();
  self->relay_text = g_string_sized_new (2048);
  self->room_secrets = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, g_free);
  self->ice_servers = json_array_new ();
  self->max_message_size = LETSCHAT_DEFAULT_MAX_MESSAGE_SIZE;
  self->rate_limit = DEFAULT_RATE_LIMIT;
  self->rate_burst = DEFAULT_RATE_BURST;
  self->ping_interval = LETSCHAT_DEFAULT_PING_INTERVAL;
  self->ping_timeout = LETSCHAT_DEFAULT_PING_TIMEOUT;
  self->join_timeout = LETSCHAT_DEFAULT_JOIN_TIMEOUT;
  self->max_connections = LETSCHAT_DEFAULT_MAX_CONNECTIONS;
  self->max_rooms = LETSCHAT_DEFAULT_MAX_ROOMS;
  self->max_per_ip = LETSCHAT_DEFAULT_MAX_PER_IP;
  self->per_ip = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

static void
letschat_room_server_dispose (GObject * object)
{
  LetsChatRoomServer *self = LETSCHAT_ROOM_SERVER (object);

  letschat_room_server_shutdown (self);
  /* Connections whose close handshake is still running are dropped
   * here: the sockets go away with their LetsChatWebSocket, all before
   * the loop that watches them. */
  g_hash_table_remove_all (self->connections);
  g_hash_table_remove_all (self->refused);
  g_hash_table_remove_all (self->rooms);
  self->waiting_stranger = NULL;
  g_clear_object (&self->service);
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
  json_array_unref (self->ice_servers);
  g_clear_object (&self->tls_certificate);
  g_strfreev (self->allowed_origins);

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
    case PROP_MAX_PER_IP:
      self->max_per_ip = g_value_get_uint (value);
      break;
    case PROP_ALLOWED_ORIGINS:
      g_strfreev (self->allowed_origins);
      self->allowed_origins = g_value_dup_boxed (value);
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
    case PROP_MAX_PER_IP:
      g_value_set_uint (value, self->max_per_ip);
      break;
    case PROP_ALLOWED_ORIGINS:
      g_value_set_boxed (value, self->allowed_origins);
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

/* Connections are accepted here and handed to libsoup with
 * soup_server_accept_iostream() rather than by soup_server_listen*():
 * libsoup 3.2's own listener keeps a reference to every socket it accepts,
 * so that each connection, page or WebSocket, lost 344 bytes for good
 * (valgrind; docs/performance.md). TLS is set up here too, as libsoup's
 * listener would. */
static gboolean
on_incoming (GSocketService * service, GSocketConnection * connection,
    GObject * source_object, gpointer user_data)
{
  LetsChatRoomServer *self = user_data;
  GSocket *socket = g_socket_connection_get_socket (connection);
  g_autoptr (GSocketAddress) local = NULL;
  g_autoptr (GSocketAddress) remote = NULL;
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GError) error = NULL;

  local = g_socket_connection_get_local_address (connection, NULL);
  remote = g_socket_connection_get_remote_address (connection, NULL);
  if (local == NULL || remote == NULL)
    return TRUE;                /* gone already */
  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);

  if (self->tls_certificate) {
    stream = (GIOStream *) g_tls_server_connection_new (G_IO_STREAM
        (connection), self->tls_certificate, &error);
    if (stream == NULL) {
      g_warning ("Could not set up TLS for a connection: %s", error->message);
      return TRUE;
    }
    g_object_set (stream, "require-close-notify", FALSE, NULL);
  } else {
    stream = g_object_ref (G_IO_STREAM (connection));
  }

  g_object_set_qdata_full (G_OBJECT (remote), socket_quark (),
      g_object_ref (socket), g_object_unref);
  soup_server_accept_iostream (self->soup, stream, local, remote, NULL);
  return TRUE;
}

gboolean
letschat_room_server_listen (LetsChatRoomServer * self, const gchar * host,
    guint16 port, GError ** error)
{
  g_autoptr (GInetAddress) address = NULL;
  g_autoptr (GSocketAddress) socket_address = NULL;
  g_autoptr (GSocketAddress) bound_address = NULL;
  g_autoptr (GError) listen_error = NULL;
  g_autofree gchar *ip = NULL;

  g_return_val_if_fail (LETSCHAT_IS_ROOM_SERVER (self), FALSE);
  g_return_val_if_fail (self->soup == NULL, FALSE);

  if (!resolve_host (host, &address, error))
    return FALSE;

  self->socket_loop = letschat_socket_loop_new (NULL, error);
  if (self->socket_loop == NULL)
    return FALSE;
  self->soup = soup_server_new ("server-header", "letschat ",
      "tls-certificate", self->tls_certificate, NULL);
  soup_server_add_handler (self->soup, "/", on_http, self, NULL);
  /* Origin NULL here: on_early_ws() checks it, with the server's own
   * page and allowed-origins. */
  soup_server_add_early_handler (self->soup, "/ws", on_early_ws, self, NULL);
  soup_server_add_handler (self->soup, "/ws", on_ws_request, self, NULL);

  socket_address = g_inet_socket_address_new (address, port);
  self->service = g_socket_service_new ();
  g_socket_listener_set_backlog (G_SOCKET_LISTENER (self->service),
      LISTEN_BACKLOG);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service),
          socket_address, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
          &bound_address, &listen_error)) {
    ip = g_inet_address_to_string (address);
    g_set_error (error, listen_error->domain, listen_error->code,
        "Could not listen on %s:%u: %s", ip, port, listen_error->message);
    g_clear_object (&self->service);
    g_clear_object (&self->soup);
    g_clear_pointer (&self->socket_loop, letschat_socket_loop_free);
    return FALSE;
  }
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);

  self->port =
      g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound_address));
  if (self->ping_interval > 0 || self->ping_timeout > 0
      || self->join_timeout > 0) {
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

  if (self->service) {
    g_socket_service_stop (self->service);
    g_socket_listener_close (G_SOCKET_LISTENER (self->service));
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

/* Connections without sockets, for the fuzzer (see
 * letschat-room-server-private.h). */

gpointer
letschat_room_server_open_virtual (LetsChatRoomServer * self,
    const gchar * ip, LetsChatRoomServerSendFunc send_func, gpointer data)
{
  g_autofree gchar *refusal = NULL;
  Connection *conn;

  g_return_val_if_fail (LETSCHAT_IS_ROOM_SERVER (self), NULL);

  refusal = connection_refusal (self, ip);
  if (refusal)
    return NULL;
  conn = connection_new (self, ip, ip);
  conn->send_func = send_func;
  conn->send_data = data;
  return conn;
}

void
letschat_room_server_virtual_receive (gpointer conn, gboolean is_text,
    const gchar * data, gsize size)
{
  if (connection_is_open (conn))
    connection_receive (conn, is_text, data, size);
}

gboolean
letschat_room_server_virtual_is_open (gpointer conn)
{
  return connection_is_open (conn);
}

void
letschat_room_server_close_virtual (gpointer data)
{
  Connection *conn = data;

  connection_leave_room (conn, "closed");
  /* frees conn */
  g_hash_table_remove (conn->server->connections, conn);
}

/* What must hold after any sequence of messages. */
gboolean
letschat_room_server_check_invariants (LetsChatRoomServer * self, gchar ** why)
{
  GHashTableIter iter;
  gpointer key, value;
  guint per_ip_total = 0;

#define FAIL(...) G_STMT_START { *why = g_strdup_printf (__VA_ARGS__); \
    return FALSE; } G_STMT_END

  g_hash_table_iter_init (&iter, self->rooms);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    Room *room = value;
    guint i;

    if (!g_str_equal (key, room->name))
      FAIL ("room %s is filed under %s", room->name, (gchar *) key);
    if (room_n_parties (room) == 0)
      FAIL ("room %s is empty but alive", room->name);
    if (room->parties[0] && room->parties[0] == room->parties[1])
      FAIL ("room %s holds one party twice", room->name);
    if (!room->stranger && !letschat_protocol_room_name_is_valid (room->name))
      FAIL ("room name %s is not valid", room->name);
    for (i = 0; i < 2; i++) {
      Connection *c = room->parties[i];

      if (c == NULL)
        continue;
      if (!g_hash_table_contains (self->connections, c))
        FAIL ("room %s holds a freed connection", room->name);
      if (c->room != room)
        FAIL ("room %s holds %s, which is in another room", room->name, c->id);
    }
  }
  if (g_hash_table_size (self->rooms) > self->max_rooms)
    FAIL ("%u rooms, over max-rooms %u", g_hash_table_size (self->rooms),
        self->max_rooms);
  if (self->waiting_stranger && (!self->waiting_stranger->stranger
          || room_n_parties (self->waiting_stranger) != 1
          || g_hash_table_lookup (self->rooms,
              self->waiting_stranger->name) != self->waiting_stranger))
    FAIL ("the waiting stranger room is not a live stranger room of one");

  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, &key, NULL)) {
    Connection *c = key;

    if (c->room && c->room->parties[0] != c && c->room->parties[1] != c)
      FAIL ("%s thinks it is in room %s, which does not hold it", c->id,
          c->room->name);
    if (c->name && g_utf8_strlen (c->name, -1) > LETSCHAT_DISPLAY_NAME_MAX)
      FAIL ("%s has a display name over the limit", c->id);
  }
  g_hash_table_iter_init (&iter, self->per_ip);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    per_ip_total += GPOINTER_TO_UINT (value);
  if (per_ip_total != g_hash_table_size (self->connections))
    FAIL ("per-IP counts add up to %u for %u connections", per_ip_total,
        g_hash_table_size (self->connections));
#undef FAIL
  return TRUE;
}
