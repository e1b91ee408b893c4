/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The room protocol's state: one Connection per party, one Room per room
 * name, and every rule of docs/protocol.md that changes them:
 *
 *   whole message --rate limit, size--> letschat-protocol (validated)
 *        |
 *        +--join---> Room { parties[0], parties[1] }  secret, room-full,
 *        |                                            strangers paired
 *        +--signal--(add "from")--> the other party
 *        +--leave, closed, timeout--> peer-left to the other party
 *
 * A Connection comes from a WebSocket whose handshake is over
 * (letschat_rooms_open_socket(), from letschat-room-server.c) or, for the
 * fuzzer, from a function that takes its replies
 * (letschat_room_server_open_virtual()); both go through the same code.
 * Here too: the limits on connections and rooms, the token bucket of each
 * connection, and the once-a-second liveness check (pings, join and ping
 * timeouts).
 *
 * Nothing a client sends may crash the server or reach another room: every
 * message is size-checked, rate-limited and fully validated by
 * letschat-protocol before it touches any state, and every refusal is an
 * `error` message on a socket that stays open (docs/protocol.md).
 *
 * This file must not parse or build a message itself (letschat-protocol.c
 * does), nor deal with HTTP, TLS, the handshake or a socket's bytes
 * (letschat-room-server.c, letschat-websocket.c): it sees whole messages
 * and answers through the WebSocket layer. */

#define G_LOG_DOMAIN "letschat-server"

#include "letschat-rooms.h"
#include "letschat-protocol.h"
#include "letschat-json-strict.h"

#include <string.h>
#include <sys/random.h>

#define CLOSE_POLICY_VIOLATION LETSCHAT_WEBSOCKET_CLOSE_POLICY_VIOLATION

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

/* Every log line about a connection: a few a second per address and kind
 * (letschat-log-limiter.c). */
#define log_event(self, key, kind, ...) \
    letschat_log_limiter_log ((self)->log_limiter, key, kind, __VA_ARGS__)

gboolean
letschat_rooms_connection_is_open (Connection * conn)
{
  if (conn->ws == NULL)
    return conn->virtual_close_code == 0;
  return letschat_websocket_get_state (conn->ws) == LETSCHAT_WEBSOCKET_OPEN;
}

static void
send_text (Connection * conn, const gchar * text)
{
  if (conn->ws == NULL) {
    if (letschat_rooms_connection_is_open (conn))
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
  g_autofree gchar *escaped = letschat_protocol_quote_prefix (message, 160);

  letschat_metrics_count_refusal (conn->server->metrics, wire_code);
  log_event (conn->server, conn->ip, "refused",
      "refused id=%s addr=%s room=%s code=%s: %s", conn->id, conn->remote,
      room ? room : "-", wire_code, escaped);
  send_text (conn, text);
}

/* For letschat-cluster*.c */
gchar *
letschat_rooms_random_hex (gsize n_bytes)
{
  return random_hex (n_bytes);
}

void
letschat_rooms_send_text (Connection * conn, const gchar * text)
{
  send_text (conn, text);
}

void
letschat_rooms_refuse (Connection * conn, const gchar * room,
    LetsChatProtocolError code, const gchar * message)
{
  refuse (conn, room, code, message);
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

void
letschat_rooms_room_free (Room * room)
{
  guint i;

  /* parties on other nodes (letschat-cluster-rooms.c) are the room's */
  for (i = 0; i < 2; i++)
    if (room->parties[i] && room->parties[i]->node)
      letschat_rooms_connection_free (room->parties[i]);
  g_free (room->name);
  g_free (room->owner);
  g_free (room->salt);
  g_free (room->salted_secret);
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

  /* a party of another node is counted by its node */
  if (conn->node == NULL)
    self->metrics->leaves++;
  log_event (self, conn->ip, "leave",
      "leave room=%s id=%s addr=%s reason=%s", room->name, conn->id,
      conn->remote, reason);

  other = room_other_party (room, NULL);
  if (self->cluster && conn->node == NULL)
    letschat_cluster_left (self->cluster, room, conn);
  if (other && other->node) {
    letschat_cluster_tell_left (self->cluster, room, other, conn);
  } else if (other) {
    g_autofree gchar *text = letschat_protocol_build_peer_left (conn->id);
    send_text (other, text);
  }

  letschat_strangers_left (self, room, conn, other);

  /* a party of another node stays only beside one of ours */
  if (room_n_parties (room) == 0 || (other && other->node))
    g_hash_table_remove (self->rooms, room->name);
  if (conn->node)
    letschat_rooms_connection_free (conn);
}

void
letschat_rooms_leave (Connection * conn, const gchar * reason)
{
  connection_leave_room (conn, reason);
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
  self->metrics->joins++;
  if (room->owner == NULL)
    room->owner = g_strdup (conn->ip);
  letschat_strangers_entered (self, room);

  ice_servers = letschat_room_server_ice_servers_for (self, conn->id);
  welcome = letschat_protocol_build_welcome (conn->id, room->name,
      peer ? peer->id : NULL, peer ? peer->name : NULL, ice_servers);
  send_text (conn, welcome);

  if (peer && peer->node) {
    letschat_cluster_tell_joined (self->cluster, peer, conn);
  } else if (peer) {
    g_autofree gchar *joined =
        letschat_protocol_build_peer_joined (conn->id, conn->name);
    send_text (peer, joined);
  }

  escaped_name = letschat_protocol_quote_prefix (conn->name, 32);
  log_event (self, conn->ip, "join",
      "join room=%s id=%s addr=%s name=\"%s\" parties=%u%s", room->name,
      conn->id, conn->remote, escaped_name ? escaped_name : "",
      room_n_parties (room), room->stranger ? " stranger" : "");
}

void
letschat_rooms_enter (Connection * conn, Room * room, const gchar * name)
{
  connection_enter_room (conn, room, name);
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
  log_event (conn->server, conn->ip, "resume", "resume id=%s was=%s addr=%s",
      id, conn->id, conn->remote);
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

  letschat_log_limiter_flush (self->log_limiter, now);

  /* Closing only starts the close handshake ("closed" comes later), so
   * the table does not change under the iteration. */
  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, (gpointer *) & conn, NULL)) {
    if (conn->ws == NULL || !letschat_rooms_connection_is_open (conn))
      continue;
    /* A socket that never joins only holds a slot of max-connections and
     * max-per-ip: an attacker could fill them with idle sockets. */
    if (self->join_timeout > 0 && !conn->ever_joined
        && conn->connected_us < join_limit) {
      self->metrics->join_timeouts++;
      log_event (self, conn->ip, "timeout",
          "timeout id=%s addr=%s: no join within %u s", conn->id,
          conn->remote, self->join_timeout);
      letschat_websocket_close (conn->ws, CLOSE_POLICY_VIOLATION,
          "no join in time");
      continue;
    }
    if (self->ping_timeout > 0 && conn->last_heard_us < limit) {
      self->metrics->ping_timeouts++;
      log_event (self, conn->ip, "timeout",
          "timeout id=%s addr=%s: no answer for %u s", conn->id,
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

/* Called once the server listens; the timer runs until shutdown. */
void
letschat_rooms_start_liveness_check (LetsChatRoomServer * self)
{
  if (self->ping_interval > 0 || self->ping_timeout > 0
      || self->join_timeout > 0) {
    self->liveness_check = g_timeout_source_new_seconds (1);
    g_source_set_callback (self->liveness_check, check_liveness, self, NULL);
    g_source_attach (self->liveness_check,
        g_main_context_get_thread_default ());
  }
}

/* Rooms cost memory and log lines: a client looping over fresh room
 * names must hit a ceiling. The protocol has no code of its own for this;
 * rate-limited says "later", which is what the party should do. */
static gboolean
refuse_if_no_room_left (Connection * conn, const gchar * room)
{
  LetsChatRoomServer *self = conn->server;
  g_autofree gchar *message = NULL;
  GHashTableIter iter;
  Room *other;
  guint n_owned = 0;

  if (g_hash_table_size (self->rooms) >= self->max_rooms) {
    message = g_strdup_printf ("The server already holds its maximum of %u "
        "rooms; try again later.", self->max_rooms);
    refuse (conn, room, LETSCHAT_PROTOCOL_ERROR_RATE_LIMITED, message);
    return TRUE;
  }

  /* One address must not take every room of max-rooms. Counted rather
   * than kept: at most max-rooms, and only when a room is opened. */
  g_hash_table_iter_init (&iter, self->rooms);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & other))
    if (g_strcmp0 (other->owner, conn->ip) == 0)
      n_owned++;
  if (n_owned < self->max_rooms_per_ip)
    return FALSE;
  message = g_strdup_printf ("Your address already opened %u rooms, the "
      "most it may have at once; leave one and try again.",
      self->max_rooms_per_ip);
  refuse (conn, room, LETSCHAT_PROTOCOL_ERROR_RATE_LIMITED, message);
  return TRUE;
}

gboolean
letschat_rooms_no_room_left (Connection * conn, const gchar * room)
{
  return refuse_if_no_room_left (conn, room);
}

void
letschat_rooms_take_previous_id (Connection * conn, const gchar * id)
{
  connection_take_previous_id (conn, id);
}

static void
handle_join (Connection * conn, LetsChatMessage * msg)
{
  LetsChatRoomServer *self = conn->server;
  Room *room;
  const gchar *required;

  if (conn->room || (self->cluster
          && letschat_cluster_join_pending (self->cluster, conn))) {
    send_error (conn, LETSCHAT_PROTOCOL_ERROR_ALREADY_JOINED,
        "You are already in a room: send leave first.");
    return;
  }
  /* Rooms in Redis, shared with other nodes: letschat-cluster.c */
  if (self->cluster) {
    letschat_cluster_rooms_join (conn, msg);
    return;
  }

  if (msg->room == NULL) {
    /* Strangers (letschat-strangers.c): a waiting one's room, or a fresh
     * room to wait in. Secrets do not apply. */
    room = letschat_strangers_pick (self, conn);
    if (room == NULL) {
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
      letschat_strangers_wait (self, room);
    }
    connection_enter_room (conn, room, msg->name);
    return;
  }

  room = g_hash_table_lookup (self->rooms, msg->room);
  required = g_hash_table_lookup (self->room_secrets, msg->room);
  if (required == NULL && room != NULL)
    required = room->secret;

  /* The secret is checked before the room's size so that a stranger cannot
   * learn whether a protected room is busy. An address that sent too many
   * wrong secrets (over any number of connections) waits before it may
   * try another: its joins are refused without looking at the secret. */
  if (required != NULL) {
    gint64 now = g_get_monotonic_time ();
    guint wait = letschat_address_limits_join_wait (self->address_limits,
        conn->ip, msg->room, now);

    if (wait > 0) {
      g_autofree gchar *message = g_strdup_printf ("Too many wrong secrets "
          "from your address: try again in %u s.", wait);

      refuse (conn, msg->room, LETSCHAT_PROTOCOL_ERROR_RATE_LIMITED, message);
      return;
    }
    if (!secret_equal (required, msg->secret)) {
      letschat_address_limits_join_failed (self->address_limits, conn->ip,
          msg->room, now);
      refuse (conn, msg->room, LETSCHAT_PROTOCOL_ERROR_UNAUTHORIZED,
          msg->secret ? "Wrong secret for this room." :
          "This room needs a secret.");
      return;
    }
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

  /* The validated node is re-serialized, never the sender's bytes: the
   * peer gets the same value as strict UTF-8 JSON, plus "from". The check
   * costs one scan, and keeps a json-glib surprise of a later version from
   * reaching (and breaking) the other party's connection. */
  g_string_truncate (self->relay_text, 0);
  letschat_protocol_append_signal (self->relay_text, self->generator,
      conn->id, msg->data);
  if (!letschat_json_is_strict (self->relay_text->str, self->relay_text->len,
          LETSCHAT_PROTOCOL_MAX_NESTING + 1, NULL)) {
    send_error (conn, LETSCHAT_PROTOCOL_ERROR_BAD_REQUEST,
        "This signal's data could not be relayed as JSON.");
    return;
  }
  send_text (other, self->relay_text->str);
  self->metrics->messages_relayed++;
  self->metrics->bytes_relayed += self->relay_text->len;
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
    self->metrics->rate_limited_messages++;
    if (!conn->told_rate_limited) {
      g_autofree gchar *message =
          g_strdup_printf ("Too many messages: at most %g per second "
          "(bursts of %u). Messages are dropped until you slow down.",
          self->rate_limit, self->rate_burst);
      send_error (conn, LETSCHAT_PROTOCOL_ERROR_RATE_LIMITED, message);
      conn->told_rate_limited = TRUE;
      conn->dropped = 0;
    } else if (++conn->dropped >= self->rate_burst
        && letschat_rooms_connection_is_open (conn)) {
      /* Told once, it went on for another whole burst: not a client that
       * will slow down. Its seat is freed for the other party. */
      self->metrics->rate_limit_closes++;
      log_event (self, conn->ip, "closing",
          "closing id=%s addr=%s: rate limit ignored", conn->id, conn->remote);
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

/* A connection from @ip, counted in per_ip until
 * letschat_rooms_connection_free(); the caller attaches its socket (or,
 * for the fuzzer, its send_func). */
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

void
letschat_rooms_connection_free (Connection * conn)
{
  if (conn->server->cluster && conn->node == NULL)
    letschat_cluster_forget (conn->server->cluster, conn);
  if (conn->ws) {
    letschat_websocket_set_callbacks (conn->ws, NULL, NULL);
    letschat_websocket_unref (conn->ws);
  }
  g_free (conn->id);
  g_free (conn->name);
  g_free (conn->parted_from);
  g_free (conn->node);
  g_free (conn->stranger_entry);
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
  log_event (conn->server, conn->ip, "disconnect",
      "disconnect id=%s addr=%s code=%u%s%s", conn->id, conn->remote,
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

  self->metrics->connections_refused++;
  letschat_metrics_count_refusal (self->metrics, LETSCHAT_ERROR_RATE_LIMITED);
  log_event (self, ip, "refused-connection",
      "refused connection addr=%s code=%s: %s", ip,
      LETSCHAT_ERROR_RATE_LIMITED, message);
  /* held until the close handshake is over */
  g_hash_table_add (self->refused, ws);
  letschat_websocket_start (ws, &refused_callbacks, self);
  letschat_websocket_send_text (ws, text, -1);
  letschat_websocket_close (ws, CLOSE_POLICY_VIOLATION, "over a limit");
}

/* A WebSocket whose handshake is over: a Connection, unless the server is
 * at a limit. */
void
letschat_rooms_open_socket (LetsChatRoomServer * self, LetsChatWebSocket * ws,
    const gchar * ip, const gchar * remote)
{
  g_autofree gchar *refusal = NULL;
  g_autofree gchar *key = letschat_rooms_address_key (ip);
  Connection *conn;

  refusal = connection_refusal (self, key);
  /* A client that reconnects as fast as it can gets nothing new from each
   * connection but costs a handshake and log lines. */
  if (refusal == NULL && !letschat_address_limits_take_connection
      (self->address_limits, key, self->connection_rate_per_ip,
          self->connection_burst_per_ip, g_get_monotonic_time ()))
    refusal = g_strdup_printf ("Too many new connections from your address "
        "(at most %g a second, bursts of %u); wait and try again.",
        self->connection_rate_per_ip, self->connection_burst_per_ip);
  if (refusal) {
    refuse_connection (self, ws, key, refusal);
    return;
  }

  conn = connection_new (self, key, remote);
  conn->ws = ws;

  self->metrics->connections_accepted++;
  log_event (self, conn->ip, "connect", "connect id=%s addr=%s", conn->id,
      conn->remote);
  /* Pings keep NATs open and find dead peers (check_liveness); pings
   * from the peer are answered by the WebSocket layer. */
  letschat_websocket_start (ws, &connection_callbacks, conn);
}

/* Connections without sockets, for the fuzzer (see
 * letschat-room-server-private.h). */

gpointer
letschat_room_server_open_virtual (LetsChatRoomServer * self,
    const gchar * ip, LetsChatRoomServerSendFunc send_func, gpointer data)
{
  g_autofree gchar *refusal = NULL;
  g_autofree gchar *key = letschat_rooms_address_key (ip);
  Connection *conn;

  g_return_val_if_fail (LETSCHAT_IS_ROOM_SERVER (self), NULL);

  refusal = connection_refusal (self, key);
  if (refusal)
    return NULL;
  conn = connection_new (self, key, ip);
  conn->send_func = send_func;
  conn->send_data = data;
  return conn;
}

void
letschat_room_server_virtual_receive (gpointer conn, gboolean is_text,
    const gchar * data, gsize size)
{
  if (letschat_rooms_connection_is_open (conn))
    connection_receive (conn, is_text, data, size);
}

gboolean
letschat_room_server_virtual_is_open (gpointer conn)
{
  return letschat_rooms_connection_is_open (conn);
}

void
letschat_room_server_close_virtual (gpointer data)
{
  Connection *conn = data;

  connection_leave_room (conn, "closed");
  /* frees conn */
  g_hash_table_remove (conn->server->connections, conn);
}
