/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Rooms across several letschat-server nodes through one Redis
 * (`letschat-server --redis redis://HOST:PORT[/DB]`). Every node is equal;
 * the two parties of a room may be on two nodes:
 *
 *   node 1 (A)                       Redis                      node 2 (B)
 *   join ----EVAL join script--> lc:room:<name>  (seats, salted secret)
 *        <---ok, peer B on node 2--
 *   PUBLISH lc:to:<node 2> "J room B A ..." ----------SUBSCRIBE--> B gets
 *   signal -> PUBLISH lc:to:<node 2> "S room B <text>" ----------> peer-joined,
 *                                                                  signal
 *
 * What Redis holds, all of it with a TTL:
 *   lc:node:<key>    "1", PX 10 s, refreshed every 2 s: the node is alive.
 *                    <key> is --node-id plus a random incarnation, so that
 *                    a node restarted under the same name does not inherit
 *                    the seats of its previous life.
 *   lc:room:<name>   hash: s:<id> -> node key of a seated party, n:<id> ->
 *                    its display name ("" none, "=" name), salt and hash
 *                    (HMAC-SHA256 of the secret under a random per-room
 *                    salt; never the secret). PX 60 s, refreshed by every
 *                    node holding a party in it. A seat whose node key is
 *                    gone counts as free: a dead node's seats are free
 *                    within LETSCHAT_CLUSTER_NODE_TTL_S.
 *   lc:strangers     list of waiting strangers (room, id, node key,
 *                    address), PX 60 s refreshed likewise.
 *
 * Atomicity comes from Lua scripts (letschat-cluster-seats.c): the join
 * script counts live seats, checks the secret, then seats the party, all
 * in one step, so two parties joining one room on two nodes at once never
 * make three; the strangers script hands out each waiting stranger once.
 * They go by EVAL with their text (a kilobyte per join, which is rare next
 * to signals) rather than EVALSHA, which would need a NOSCRIPT retry after
 * every Redis restart.
 *
 * What the nodes tell each other (lc:to:<node>, one line per field; the
 * last field may hold newlines), all about one party of the receiving
 * node, and handled in letschat-cluster-rooms.c:
 *   S room to-id text             a message for it, written as it goes
 *   J room to-id id node name     a party of this node joined its room
 *   L room to-id id               that party left
 *   D room id                     it came back elsewhere: drop it here
 * Every 2 s a node also checks that the nodes of its parties' peers are
 * alive; the peers of a dead one leave (peer-left).
 *
 * Relay: one channel per node (lc:to:<key>), not per room. A node then
 * subscribes once, at start, instead of once per room join (a SUBSCRIBE
 * per join would cost a round trip before the welcome, and a message
 * published before it lands would be lost). Order per room holds because
 * every message from one party goes out on its node's one command
 * connection to one channel, and Redis delivers a channel's messages in
 * the order they were published.
 *
 * Without Redis (lost, or not reached yet) a node refuses new joins with
 * `unavailable`, keeps relaying between its own parties, and reconnects
 * with backoff (250 ms doubling up to 5 s); it then takes its parties'
 * seats again. */

#define G_LOG_DOMAIN "letschat-server"

#include "letschat-cluster-private.h"
#include "letschat-protocol.h"

#include <hiredis/adapters/glib.h>
#include <string.h>

/* A Redis that answers nothing for this long (hung, or behind a network
 * that drops packets rather than refusing them) counts as lost. */
#define SILENCE_S 5
/* Leaves kept for Redis while it is away, at most */
#define MAX_UNCONFIRMED 100000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
/* Heartbeats between two refreshes of the room keys' TTL (20 s < 60 s). */
#define ROOM_REFRESH_EVERY 10

static void cluster_connect (LetsChatCluster * self);

gboolean
letschat_cluster_is_up (LetsChatCluster * self)
{
  return self->cmd_ready && self->sub_ready;
}

static void
set_up (LetsChatCluster * self)
{
  gboolean up = letschat_cluster_is_up (self);

  self->server->metrics->redis_up = up;
  if (up == self->was_up)
    return;
  self->was_up = up;
  if (self->closing)
    return;
  if (up) {
    self->up_since_us = g_get_monotonic_time ();
    self->recheck_peer_seats = TRUE;
    self->told_unreachable = FALSE;
    g_info ("redis up: %s:%u, node %s", self->host, self->port, self->node_key);
  } else {
    g_message ("redis lost: %s:%u; new joins are refused until it is back",
        self->host, self->port);
  }
}

gboolean
letschat_cluster_command (LetsChatCluster * self, redisCallbackFn * fn,
    gpointer data, ...)
{
  const gchar *argv[16];
  gsize argvlen[16];
  gint argc = 0;
  const gchar *arg;
  va_list ap;

  if (!self->cmd_ready)
    return FALSE;
  va_start (ap, data);
  while ((arg = va_arg (ap, const gchar *)) != NULL && argc < 16)
  {
    argv[argc] = arg;
    argvlen[argc++] = strlen (arg);
  }
  va_end (ap);
  return redisAsyncCommandArgv (self->cmd, fn, data, argc, argv,
      argvlen) == REDIS_OK;
}

void
letschat_cluster_publish (LetsChatCluster * self, const gchar * node,
    const gchar * payload)
{
  g_autofree gchar *channel = g_strconcat (CHANNEL_PREFIX, node, NULL);

  if (!letschat_cluster_command (self, NULL, NULL, "PUBLISH", channel, payload,
          NULL))
    self->server->metrics->redis_dropped++;
}

static void
on_confirmed (redisAsyncContext * ac, void *r, void *privdata)
{
  LetsChatCluster *self = ac->data;
  redisReply *reply = r;

  if (reply && !self->closing && reply->type != REDIS_REPLY_ERROR)
    g_hash_table_remove (self->unconfirmed, privdata);
}

static void
send_unconfirmed (LetsChatCluster * self, gpointer serial, GStrv argv)
{
  gsize lens[16];
  guint argc = g_strv_length (argv), i;

  if (!self->cmd_ready || argc > G_N_ELEMENTS (lens))
    return;
  for (i = 0; i < argc; i++)
    lens[i] = strlen (argv[i]);
  redisAsyncCommandArgv (self->cmd, on_confirmed, serial, argc,
      (const gchar **) argv, lens);
}

void
letschat_cluster_command_surely (LetsChatCluster * self, ...)
{
  GPtrArray *args = g_ptr_array_new ();
  gpointer serial;
  const gchar *arg;
  va_list ap;

  va_start (ap, self);
  while ((arg = va_arg (ap, const gchar *)) != NULL)
      g_ptr_array_add (args, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (args, NULL);
  if (g_hash_table_size (self->unconfirmed) >= MAX_UNCONFIRMED) {
    /* Redis away for long: later leaves are lost (their rooms' keys
     * expire in ROOM_TTL_MS once nobody refreshes them) */
    g_strfreev ((GStrv) g_ptr_array_free (args, FALSE));
    self->server->metrics->redis_dropped++;
    return;
  }
  if (++self->unconfirmed_serial == 0)  /* 0 is no key */
    self->unconfirmed_serial++;
  serial = GUINT_TO_POINTER (self->unconfirmed_serial);
  g_hash_table_insert (self->unconfirmed, serial,
      g_ptr_array_free (args, FALSE));
  send_unconfirmed (self, serial, g_hash_table_lookup (self->unconfirmed,
          serial));
}

void
letschat_cluster_replay (LetsChatCluster * self)
{
  GHashTableIter iter;
  gpointer serial, argv;

  g_hash_table_iter_init (&iter, self->unconfirmed);
  while (g_hash_table_iter_next (&iter, &serial, &argv))
    send_unconfirmed (self, serial, argv);
}

/* --- the node's liveness and its keys' TTLs --- */

static void
refresh_room (gpointer key, gpointer value, gpointer user_data)
{
  LetsChatCluster *self = user_data;
  g_autofree gchar *room_key = g_strconcat (ROOM_PREFIX, key, NULL);
  g_autofree gchar *ttl = g_strdup_printf ("%d", ROOM_TTL_MS);

  letschat_cluster_command (self, NULL, NULL, "PEXPIRE", room_key, ttl, NULL);
}

static void
on_node_checked (redisAsyncContext * ac, void *r, void *privdata)
{
  LetsChatCluster *self = ac->data;
  g_autofree gchar *node = privdata;
  redisReply *reply = r;

  if (reply && !self->closing && reply->type == REDIS_REPLY_INTEGER
      && reply->integer == 0)
    letschat_rooms_cluster_node_gone (self->server, node);
}

/* A party of another node whose seat is gone from Redis left while Redis
 * was away from us: its node's leave was executed, but the peer-left it
 * published reached our channel before we subscribed again. */
static void
on_peer_seat_checked (redisAsyncContext * ac, void *r, void *privdata)
{
  LetsChatCluster *self = ac->data;
  gchar **room_target_peer = privdata;
  redisReply *reply = r;

  if (reply && !self->closing && reply->type == REDIS_REPLY_INTEGER
      && reply->integer == 0)
    letschat_rooms_cluster_remote_left (self->server, room_target_peer[0],
        room_target_peer[1], room_target_peer[2]);
  g_strfreev (room_target_peer);
}

static void
recheck_peer_seats (LetsChatCluster * self)
{
  GHashTableIter iter;
  Room *room;

  g_hash_table_iter_init (&iter, self->server->rooms);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & room)) {
    Connection *ours = NULL, *theirs = NULL;
    g_autofree gchar *key = NULL;
    g_autofree gchar *field = NULL;
    gchar **data;
    guint i;

    for (i = 0; i < 2; i++)
      if (room->parties[i] && room->parties[i]->node)
        theirs = room->parties[i];
      else if (room->parties[i])
        ours = room->parties[i];
    if (ours == NULL || theirs == NULL)
      continue;
    key = g_strconcat (ROOM_PREFIX, room->name, NULL);
    field = g_strconcat ("s:", theirs->id, NULL);
    data = g_new0 (gchar *, 4);
    data[0] = g_strdup (room->name);
    data[1] = g_strdup (ours->id);
    data[2] = g_strdup (theirs->id);
    if (!letschat_cluster_command (self, on_peer_seat_checked, data,
            "HEXISTS", key, field, NULL))
      g_strfreev (data);
  }
}

/* The nodes of the parties paired with ours: one that died (its liveness
 * key expired) leaves them, and our parties get peer-left, as when a
 * party's socket dies on one server. */
static void
check_peer_nodes (LetsChatCluster * self)
{
  g_autoptr (GHashTable) nodes = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTableIter iter;
  Room *room;
  const gchar *node;
  guint i;

  /* Redis just came back, perhaps restarted empty: the other nodes may
   * not have written their liveness keys again yet (they reconnect with
   * their own backoff), which must not pass for their death. */
  if (g_get_monotonic_time () - self->up_since_us <
      LETSCHAT_CLUSTER_NODE_TTL_S * G_USEC_PER_SEC)
    return;
  if (self->recheck_peer_seats) {
    self->recheck_peer_seats = FALSE;
    recheck_peer_seats (self);
  }

  g_hash_table_iter_init (&iter, self->server->rooms);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & room))
    for (i = 0; i < 2; i++)
      if (room->parties[i] && room->parties[i]->node)
        g_hash_table_add (nodes, room->parties[i]->node);
  g_hash_table_iter_init (&iter, nodes);
  while (g_hash_table_iter_next (&iter, (gpointer *) & node, NULL)) {
    g_autofree gchar *key = g_strconcat (NODE_PREFIX, node, NULL);
    gchar *data = g_strdup (node);

    if (!letschat_cluster_command (self, on_node_checked, data, "EXISTS",
            key, NULL))
      g_free (data);
  }
}

static void schedule_reconnect (LetsChatCluster * self);

static void
on_heartbeat_reply (redisAsyncContext * ac, void *r, void *privdata)
{
  LetsChatCluster *self = ac->data;
  redisReply *reply = r;

  if (reply && reply->type != REDIS_REPLY_ERROR)
    self->last_answer_us = g_get_monotonic_time ();
}

static gboolean
on_heartbeat (gpointer user_data)
{
  LetsChatCluster *self = user_data;
  g_autofree gchar *key = g_strconcat (NODE_PREFIX, self->node_key, NULL);
  g_autofree gchar *ttl =
      g_strdup_printf ("%d", LETSCHAT_CLUSTER_NODE_TTL_S * 1000);

  if (self->cmd_ready && g_get_monotonic_time () - self->last_answer_us >
      SILENCE_S * G_USEC_PER_SEC) {
    g_message ("redis not answering for %d s: %s:%u; new joins are refused "
        "until it does", SILENCE_S, self->host, self->port);
    schedule_reconnect (self);
    return G_SOURCE_CONTINUE;
  }
  letschat_cluster_command (self, on_heartbeat_reply, NULL, "SET", key, "1",
      "PX", ttl, NULL);
  check_peer_nodes (self);
  if (++self->heartbeats % ROOM_REFRESH_EVERY == 0) {
    g_autofree gchar *list_ttl = g_strdup_printf ("%d", ROOM_TTL_MS);

    g_hash_table_foreach (self->server->rooms, refresh_room, self);
    letschat_cluster_command (self, NULL, NULL, "PEXPIRE", STRANGERS_KEY,
        list_ttl, NULL);
  }
  return G_SOURCE_CONTINUE;
}

/* --- connecting, losing Redis, reconnecting --- */

/* ev.cleanup of a context: hiredis calls it once, when it frees the
 * context (lost, refused, or freed by us), before any callback of ours
 * about it. The GSource (perhaps dispatching now) must not touch the
 * context again, and goes. */
static void
source_cleanup (gpointer data)
{
  RedisSource *source = data;

  redis_source_cleanup (data);
  source->poll_fd.revents = 0;
  source->ac = NULL;
  g_source_destroy (data);
  g_source_unref (data);
}

static void
drop_context (LetsChatCluster * self, const redisAsyncContext * ac)
{
  if (ac == self->cmd) {
    self->cmd = NULL;
    self->cmd_ready = FALSE;
  } else if (ac == self->sub) {
    self->sub = NULL;
    self->sub_ready = FALSE;
  }
}

/* Our pointer to @ac goes before hiredis frees it: a context freed
 * before it connected gets no disconnect callback, so on_disconnect()
 * would never clear the pointer, and the next loss of Redis freed it
 * again (SIGSEGV in free, under redisAsyncHandleWrite -> on_connect). In
 * one of @ac's own reply callbacks hiredis defers the free to after it
 * (its own path); callbacks with NULL replies and on_disconnect() may run
 * before this returns. */
static void
context_free (LetsChatCluster * self, redisAsyncContext * ac)
{
  if (ac == NULL)
    return;
  drop_context (self, ac);
  redisAsyncFree (ac);
}

static gboolean
on_reconnect (gpointer user_data)
{
  LetsChatCluster *self = user_data;

  g_clear_pointer (&self->reconnect, g_source_unref);
  cluster_connect (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_reconnect (LetsChatCluster * self)
{
  if (self->closing || self->reconnect)
    return;
  /* first: the disconnects below may call back here at once */
  self->reconnect = g_timeout_source_new (self->backoff_ms);
  g_source_set_callback (self->reconnect, on_reconnect, self, NULL);
  g_source_attach (self->reconnect, g_main_context_get_thread_default ());
  self->backoff_ms = MIN (self->backoff_ms * 2, BACKOFF_MAX_MS);
  /* One context lost: the other one goes too, and both come back. Freed,
   * not disconnected: a disconnect waits for the answers of a Redis that
   * may never answer (joins waiting for it are refused: unavailable). */
  context_free (self, self->cmd);
  context_free (self, self->sub);
  set_up (self);
}

static void
on_disconnect (const redisAsyncContext * ac, int status)
{
  LetsChatCluster *self = ac->data;

  drop_context (self, ac);
  set_up (self);
  schedule_reconnect (self);
}

static void
on_connect (const redisAsyncContext * ac, int status)
{
  LetsChatCluster *self = ac->data;

  if (status != REDIS_OK) {
    /* said once per outage, not at every try */
    if (!self->told_unreachable && !self->closing)
      g_message ("redis not reached: %s:%u: %s; new joins are refused "
          "until it answers", self->host, self->port, ac->errstr);
    self->told_unreachable = TRUE;
    drop_context (self, ac);
    set_up (self);
    schedule_reconnect (self);
  }
}

static void on_subscribed (redisAsyncContext * ac, void *r, void *privdata);

static void
on_selected (redisAsyncContext * ac, void *r, void *privdata)
{
  LetsChatCluster *self = privdata;
  redisReply *reply = r;

  if (reply == NULL || self->closing || reply->type == REDIS_REPLY_ERROR) {
    if (reply && reply->type == REDIS_REPLY_ERROR)
      g_message ("redis refused this node (SELECT %u): %s; check the "
          "password and database in --redis", self->db, reply->str);
    return;
  }
  if (ac == self->cmd) {
    self->cmd_ready = TRUE;
    self->last_answer_us = g_get_monotonic_time ();
    on_heartbeat (self);
    if (self->sub_ready)
      letschat_cluster_reclaim_seats (self);
  } else {
    redisAsyncCommand (ac, on_subscribed, self, "SUBSCRIBE %s", self->channel);
  }
  set_up (self);
}

static redisAsyncContext *
context_new (LetsChatCluster * self)
{
  redisAsyncContext *ac = redisAsyncConnect (self->host, self->port);
  GSource *source;
  g_autofree gchar *db = g_strdup_printf ("%u", self->db);

  if (ac == NULL)
    return NULL;
  if (ac->err) {
    redisAsyncFree (ac);
    return NULL;
  }
  ac->data = self;
  source = redis_source_new (ac);
  g_source_attach (source, g_main_context_get_thread_default ());
  ac->ev.cleanup = source_cleanup;
  redisAsyncSetConnectCallback (ac, on_connect);
  redisAsyncSetDisconnectCallback (ac, on_disconnect);
  /* queued until connected; the answer to SELECT says the context works
   * (with a wrong password, it is an error: NOAUTH) */
  if (self->password && self->user && self->user[0])
    redisAsyncCommand (ac, NULL, NULL, "AUTH %s %s", self->user,
        self->password);
  else if (self->password)
    redisAsyncCommand (ac, NULL, NULL, "AUTH %s", self->password);
  redisAsyncCommand (ac, on_selected, self, "SELECT %s", db);
  return ac;
}

static void
cluster_connect (LetsChatCluster * self)
{
  if (self->cmd == NULL)
    self->cmd = context_new (self);
  if (self->sub == NULL)
    self->sub = context_new (self);
  if (self->cmd == NULL || self->sub == NULL)
    schedule_reconnect (self);
}

/* --- messages from the other nodes --- */

static void
on_relay (LetsChatCluster * self, const gchar * payload, gsize len)
{
  g_auto (GStrv) parts = NULL;
  guint n;

  /* kind, room, target id, then the rest (text or fields): the rest is
   * last so that it may hold newlines (a display name, JSON text) */
  parts = g_strsplit (payload, "\n", 4);
  n = g_strv_length (parts);
  if (n < 3)
    return;
  switch (parts[0][0]) {
    case 'S':
      if (n == 4)
        letschat_rooms_cluster_deliver (self->server, parts[1], parts[2],
            parts[3]);
      break;
    case 'J':{
      g_auto (GStrv) fields = n == 4 ? g_strsplit (parts[3], "\n", 3) : NULL;

      if (fields && g_strv_length (fields) == 3)
        letschat_rooms_cluster_remote_joined (self->server, parts[1],
            parts[2], fields[0], fields[1],
            fields[2][0] == '=' ? fields[2] + 1 : NULL);
      break;
    }
    case 'L':
      if (n == 4)
        letschat_rooms_cluster_remote_left (self->server, parts[1], parts[2],
            parts[3]);
      break;
    case 'D':
      letschat_rooms_cluster_drop (self->server, parts[1], parts[2]);
      break;
    default:
      break;
  }
}

static void
on_subscribed (redisAsyncContext * ac, void *r, void *privdata)
{
  LetsChatCluster *self = privdata;
  redisReply *reply = r;

  if (reply == NULL || self->closing || reply->type != REDIS_REPLY_ARRAY
      || reply->elements < 3)
    return;
  if (g_str_equal (reply->element[0]->str, "subscribe")) {
    self->sub_ready = TRUE;
    if (self->cmd_ready)
      letschat_cluster_reclaim_seats (self);
    set_up (self);
    self->backoff_ms = BACKOFF_MIN_MS;
  } else if (g_str_equal (reply->element[0]->str, "message")
      && reply->element[2]->type == REDIS_REPLY_STRING) {
    on_relay (self, reply->element[2]->str, reply->element[2]->len);
  }
}

/* --- what letschat-rooms.c tells the other nodes --- */

void
letschat_cluster_relay_text (const gchar * text, gpointer remote)
{
  Connection *to = remote;
  LetsChatCluster *self = to->server->cluster;
  g_autofree gchar *payload = NULL;

  if (to->room == NULL)
    return;
  payload = g_strconcat ("S\n", to->room->name, "\n", to->id, "\n", text, NULL);
  letschat_cluster_publish (self, to->node, payload);
}

void
letschat_cluster_tell_joined (LetsChatCluster * self, Connection * remote,
    Connection * joiner)
{
  g_autofree gchar *payload = g_strconcat ("J\n", remote->room->name, "\n",
      remote->id, "\n", joiner->id, "\n", self->node_key, "\n",
      joiner->name ? "=" : "", joiner->name ? joiner->name : "", NULL);

  letschat_cluster_publish (self, remote->node, payload);
}

void
letschat_cluster_send_left (LetsChatCluster * self, const gchar * node,
    const gchar * room, const gchar * to_id, const gchar * leaver_id)
{
  g_autofree gchar *payload = g_strconcat ("L\n", room, "\n", to_id, "\n",
      leaver_id, NULL);
  g_autofree gchar *channel = g_strconcat (CHANNEL_PREFIX, node, NULL);

  /* the other node must hear of it, even after Redis was away */
  letschat_cluster_command_surely (self, "PUBLISH", channel, payload, NULL);
}

void
letschat_cluster_tell_left (LetsChatCluster * self, Room * room,
    Connection * remote, Connection * leaver)
{
  letschat_cluster_send_left (self, remote->node, room->name, remote->id,
      leaver->id);
}

/* --- life cycle --- */

static gboolean
parse_url (LetsChatCluster * self, const gchar * url, GError ** error)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_HAS_PASSWORD, NULL);
  const gchar *path;

  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "redis") != 0
      || g_uri_get_host (uri) == NULL || !g_uri_get_host (uri)[0]) {
    /* a password is not printed */
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "--redis wants redis://[[USER]:PASSWORD@]HOST:PORT[/DB], got \"%s\"",
        strchr (url, '@') ? "(not shown: it has a password)" : url);
    return FALSE;
  }
  /* Redis 6 ACL users (AUTH user password), or requirepass (AUTH password) */
  self->user = g_strdup (g_uri_get_user (uri));
  self->password = g_strdup (g_uri_get_password (uri));
  self->host = g_strdup (g_uri_get_host (uri));
  self->port = g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : 6379;
  path = g_uri_get_path (uri);
  if (path && path[0] == '/' && path[1]) {
    gchar *end;
    guint64 db = g_ascii_strtoull (path + 1, &end, 10);

    if (*end || db > 1000) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "--redis: the database after the / is a number, not \"%s\"",
          path + 1);
      return FALSE;
    }
    self->db = db;
  }
  return TRUE;
}

LetsChatCluster *
letschat_cluster_new (LetsChatRoomServer * server, const gchar * url,
    const gchar * node_id, GError ** error)
{
  LetsChatCluster *self = g_new0 (LetsChatCluster, 1);
  g_autofree gchar *incarnation = letschat_rooms_random_hex (4);

  if (node_id && !letschat_protocol_room_name_is_valid (node_id)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "--node-id: \"%s\" is not a node name (1 to 64 letters, digits, "
        "'.', '_' or '-')", node_id);
    g_free (self);
    return NULL;
  }
  if (!parse_url (self, url, error)) {
    g_free (self);
    return NULL;
  }
  self->server = server;
  self->node_key = g_strconcat (node_id && node_id[0] ? node_id :
      g_get_host_name (), ".", incarnation, NULL);
  self->channel = g_strconcat (CHANNEL_PREFIX, self->node_key, NULL);
  self->pending = g_hash_table_new_full (NULL, NULL, NULL,
      (GDestroyNotify) letschat_cluster_pending_free);
  self->unconfirmed = g_hash_table_new_full (NULL, NULL, NULL,
      (GDestroyNotify) g_strfreev);
  self->backoff_ms = BACKOFF_MIN_MS;
  server->metrics->redis_up = 0;

  self->heartbeat = g_timeout_source_new_seconds (LETSCHAT_CLUSTER_HEARTBEAT_S);
  g_source_set_callback (self->heartbeat, on_heartbeat, self, NULL);
  g_source_attach (self->heartbeat, g_main_context_get_thread_default ());
  cluster_connect (self);
  return self;
}

const gchar *
letschat_cluster_get_node_key (LetsChatCluster * self)
{
  return self->node_key;
}

/* This node's liveness key goes at once, so that its seats are free for
 * the other nodes now rather than in LETSCHAT_CLUSTER_NODE_TTL_S: on a
 * connection of its own, waiting at most 200 ms, as the loop that runs
 * the others is ending. */
static void
say_goodbye (LetsChatCluster * self)
{
  struct timeval timeout = { 0, 200000 };
  redisContext *c;
  redisReply *reply;

  if (!letschat_cluster_is_up (self))
    return;
  c = redisConnectWithTimeout (self->host, self->port, timeout);
  if (c && !c->err && redisSetTimeout (c, timeout) == REDIS_OK) {
    if (self->password) {
      reply = self->user && self->user[0] ?
          redisCommand (c, "AUTH %s %s", self->user, self->password) :
          redisCommand (c, "AUTH %s", self->password);
      if (reply)
        freeReplyObject (reply);
    }
    reply = redisCommand (c, "SELECT %u", self->db);
    if (reply)
      freeReplyObject (reply);
    reply = redisCommand (c, "DEL %s%s", NODE_PREFIX, self->node_key);
    if (reply)
      freeReplyObject (reply);
  }
  if (c)
    redisFree (c);
}

void
letschat_cluster_free (LetsChatCluster * self)
{
  /* what is still queued (the last parties' leaves) goes if it can */
  if (self->cmd)
    redisAsyncHandleWrite (self->cmd);
  say_goodbye (self);
  self->closing = TRUE;
  g_source_destroy (self->heartbeat);
  g_source_unref (self->heartbeat);
  if (self->reconnect) {
    g_source_destroy (self->reconnect);
    g_source_unref (self->reconnect);
  }
  /* The pending joins are freed by their callbacks (NULL replies) */
  g_hash_table_steal_all (self->pending);
  g_hash_table_unref (self->pending);
  context_free (self, self->cmd);
  context_free (self, self->sub);
  g_hash_table_unref (self->unconfirmed);
  g_free (self->host);
  g_free (self->user);
  if (self->password) {
    memset (self->password, 0, strlen (self->password));
    g_free (self->password);
  }
  g_free (self->node_key);
  g_free (self->channel);
  g_free (self);
}
