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
 * Atomicity comes from Lua scripts (EVAL): the join script counts live
 * seats, checks the secret, then seats the party, all in one step, so two
 * parties joining one room on two nodes at once never make three; the
 * strangers script hands out each waiting stranger once (LREM of the one
 * chosen).
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

#include "letschat-rooms.h"
#include "letschat-cluster.h"
#include "letschat-protocol.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/glib.h>
#include <string.h>

#define ROOM_TTL_MS 60000
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 5000
/* Heartbeats between two refreshes of the room keys' TTL (20 s < 60 s). */
#define ROOM_REFRESH_EVERY 10

/* KEYS[1] room key. ARGV: 1 party id, 2 node key, 3 name marker, 4 salt,
 * 5 salted hash ("" without a secret), 6 TTL ms, 7 node key prefix,
 * 8 "peer": only into a room with a live party (a stranger picked from
 * the queue), 9 "reclaim": a party seated before, its secret not checked.
 * Returns {"ok", peer id, peer node, peer name marker, old node of this
 * id or ""}, {"retry", salt}, {"unauthorized"}, {"full"} or {"gone"}. */
static const gchar join_script[] =
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "local salt, hash, old, seats, dead = nil, nil, '', {}, {}\n"
    "for i = 1, #h, 2 do\n"
    "  local f, v = h[i], h[i + 1]\n"
    "  if f == 'salt' then salt = v elseif f == 'hash' then hash = v\n"
    "  elseif string.sub(f, 1, 2) == 's:' then\n"
    "    local id = string.sub(f, 3)\n"
    "    if redis.call('EXISTS', ARGV[7] .. v) == 0 then\n"
    "      dead[#dead + 1] = id\n"
    "    elseif id == ARGV[1] then old = v\n"
    "    else seats[#seats + 1] = {id, v} end\n"
    "  end\n"
    "end\n"
    "for _, id in ipairs(dead) do\n"
    "  redis.call('HDEL', KEYS[1], 's:' .. id, 'n:' .. id)\n"
    "end\n"
    "if #seats == 0 and old == '' then\n"
    "  if ARGV[8] == 'peer' then return {'gone'} end\n"
    "  redis.call('HDEL', KEYS[1], 'salt', 'hash')\n"
    "  if ARGV[5] ~= '' then\n"
    "    redis.call('HSET', KEYS[1], 'salt', ARGV[4], 'hash', ARGV[5])\n"
    "  end\n"
    "else\n"
    "  if hash and ARGV[9] ~= 'reclaim' then\n"
    "    if ARGV[5] == '' then return {'unauthorized'} end\n"
    "    if ARGV[4] ~= salt then return {'retry', salt} end\n"
    "    if ARGV[5] ~= hash then return {'unauthorized'} end\n"
    "  end\n"
    "  if #seats >= 2 then return {'full'} end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 's:' .. ARGV[1], ARGV[2],\n"
    "  'n:' .. ARGV[1], ARGV[3])\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[6])\n"
    "local p = seats[1]\n"
    "if p then\n"
    "  return {'ok', p[1], p[2], redis.call('HGET', KEYS[1], 'n:' .. p[1])"
    " or '', old}\n" "end\n" "return {'ok', '', '', '', old}\n";

/* KEYS[1] room key, KEYS[2] strangers list. ARGV: 1 party id, 2 node key,
 * 3 its strangers entry or "". The seat goes only if it is still this
 * node's (the party may have taken it over on another node since); the
 * room goes with its last seat. */
static const gchar leave_script[] =
    "if ARGV[3] ~= '' then redis.call('LREM', KEYS[2], 0, ARGV[3]) end\n"
    "if redis.call('HGET', KEYS[1], 's:' .. ARGV[1]) ~= ARGV[2] then\n"
    "  return 0\n"
    "end\n"
    "redis.call('HDEL', KEYS[1], 's:' .. ARGV[1], 'n:' .. ARGV[1])\n"
    "for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do\n"
    "  if string.sub(f, 1, 2) == 's:' then return 1 end\n"
    "end\n" "redis.call('DEL', KEYS[1])\n" "return 1\n";

/* KEYS[1] strangers list. ARGV: 1 address, 2 id it just parted from,
 * 3 node key prefix, 4 own id. The first waiting stranger from another
 * address (else from the same one), on a live node, not the one just
 * parted from; taken out of the list, so handed out once. */
static const gchar pick_script[] =
    "local same = nil\n"
    "for _, it in ipairs(redis.call('LRANGE', KEYS[1], 0, 199)) do\n"
    "  local room, id, node, ip =\n"
    "    string.match(it, '^([^\\t]*)\\t([^\\t]*)\\t([^\\t]*)\\t(.*)$')\n"
    "  if not node or redis.call('EXISTS', ARGV[3] .. node) == 0 then\n"
    "    redis.call('LREM', KEYS[1], 0, it)\n"
    "  elseif id ~= ARGV[2] and id ~= ARGV[4] then\n"
    "    if ip ~= ARGV[1] then\n"
    "      redis.call('LREM', KEYS[1], 1, it)\n"
    "      return it\n"
    "    end\n"
    "    if not same then same = it end\n"
    "  end\n"
    "end\n"
    "if same then redis.call('LREM', KEYS[1], 1, same) end\n" "return same\n";

#define NODE_PREFIX "lc:node:"
#define ROOM_PREFIX "lc:room:"
#define CHANNEL_PREFIX "lc:to:"
#define STRANGERS_KEY "lc:strangers"

struct _LetsChatCluster
{
  LetsChatRoomServer *server;
  gchar *host;
  guint port;
  guint db;
  gchar *node_key;              /* node-id.incarnation */
  gchar *channel;
  redisAsyncContext *cmd;       /* commands and PUBLISH */
  redisAsyncContext *sub;       /* SUBSCRIBE only */
  GSource *cmd_source, *sub_source;
  gboolean cmd_ready, sub_ready;
  gboolean was_up;
  guint backoff_ms;
  GSource *reconnect;
  GSource *heartbeat;
  guint heartbeats;
  GHashTable *pending;          /* Connection* -> PendingJoin* */
  gboolean closing;
};

typedef struct
{
  LetsChatCluster *cluster;
  Connection *conn;             /* NULL once it went away */
  gchar *room;                  /* NULL: a stranger still to be placed */
  gchar *secret;                /* as given, zeroed when freed */
  gboolean configured;          /* --room-secret checked it already */
  gchar *name;
  gchar *previous_id;
  gchar *salt, *hash;
  gchar *entry;                 /* strangers: picked or to be queued */
  gboolean stranger;
  gboolean picked;              /* the room came from the strangers' queue */
  guint tries;
} PendingJoin;

static void cluster_connect (LetsChatCluster * self);
static void join_run (PendingJoin * pj);

static void
pending_free (PendingJoin * pj)
{
  if (pj->secret) {
    memset (pj->secret, 0, strlen (pj->secret));
    g_free (pj->secret);
  }
  g_free (pj->room);
  g_free (pj->name);
  g_free (pj->previous_id);
  g_free (pj->salt);
  g_free (pj->hash);
  g_free (pj->entry);
  g_free (pj);
}

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
  if (up)
    g_info ("redis up: %s:%u, node %s", self->host, self->port, self->node_key);
  else
    g_warning ("redis lost: %s:%u; new joins are refused until it is back",
        self->host, self->port);
}

/* A command whose arguments are the NULL-terminated strings after @data. */
static gboolean
command (LetsChatCluster * self, redisCallbackFn * fn, gpointer data, ...)
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

static void
publish (LetsChatCluster * self, const gchar * node, const gchar * payload)
{
  g_autofree gchar *channel = g_strconcat (CHANNEL_PREFIX, node, NULL);

  if (!command (self, NULL, NULL, "PUBLISH", channel, payload, NULL))
    self->server->metrics->redis_dropped++;
}

/* --- the node's liveness and its keys' TTLs --- */

static void
refresh_room (gpointer key, gpointer value, gpointer user_data)
{
  LetsChatCluster *self = user_data;
  g_autofree gchar *room_key = g_strconcat (ROOM_PREFIX, key, NULL);
  g_autofree gchar *ttl = g_strdup_printf ("%d", ROOM_TTL_MS);

  command (self, NULL, NULL, "PEXPIRE", room_key, ttl, NULL);
}

static gboolean
on_heartbeat (gpointer user_data)
{
  LetsChatCluster *self = user_data;
  g_autofree gchar *key = g_strconcat (NODE_PREFIX, self->node_key, NULL);
  g_autofree gchar *ttl =
      g_strdup_printf ("%d", LETSCHAT_CLUSTER_NODE_TTL_S * 1000);

  command (self, NULL, NULL, "SET", key, "1", "PX", ttl, NULL);
  if (++self->heartbeats % ROOM_REFRESH_EVERY == 0) {
    g_autofree gchar *list_ttl = g_strdup_printf ("%d", ROOM_TTL_MS);

    g_hash_table_foreach (self->server->rooms, refresh_room, self);
    command (self, NULL, NULL, "PEXPIRE", STRANGERS_KEY, list_ttl, NULL);
  }
  return G_SOURCE_CONTINUE;
}

/* --- connecting, losing Redis, reconnecting --- */

static void
drop_context (LetsChatCluster * self, const redisAsyncContext * ac)
{
  GSource **source;

  if (ac == self->cmd) {
    self->cmd = NULL;
    self->cmd_ready = FALSE;
    source = &self->cmd_source;
  } else if (ac == self->sub) {
    self->sub = NULL;
    self->sub_ready = FALSE;
    source = &self->sub_source;
  } else {
    return;
  }
  if (*source) {
    /* hiredis frees the context once this callback returns: the source
     * (dispatching now, perhaps) must not touch it again. */
    ((RedisSource *) * source)->poll_fd.revents = 0;
    ((RedisSource *) * source)->ac = NULL;
    g_source_destroy (*source);
    g_source_unref (*source);
    *source = NULL;
  }
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
  /* One context lost: the other one goes too, and both come back. */
  if (self->cmd)
    redisAsyncDisconnect (self->cmd);
  if (self->sub)
    redisAsyncDisconnect (self->sub);
  self->reconnect = g_timeout_source_new (self->backoff_ms);
  g_source_set_callback (self->reconnect, on_reconnect, self, NULL);
  g_source_attach (self->reconnect, g_main_context_get_thread_default ());
  self->backoff_ms = MIN (self->backoff_ms * 2, BACKOFF_MAX_MS);
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
    drop_context (self, ac);
    set_up (self);
    schedule_reconnect (self);
  }
}

static void on_subscribed (redisAsyncContext * ac, void *r, void *privdata);
static void reclaim_seats (LetsChatCluster * self);

static void
on_selected (redisAsyncContext * ac, void *r, void *privdata)
{
  LetsChatCluster *self = privdata;
  redisReply *reply = r;

  if (reply == NULL || self->closing || reply->type == REDIS_REPLY_ERROR) {
    if (reply && reply->type == REDIS_REPLY_ERROR)
      g_warning ("redis: SELECT %u: %s", self->db, reply->str);
    return;
  }
  if (ac == self->cmd) {
    self->cmd_ready = TRUE;
    on_heartbeat (self);
    if (self->sub_ready)
      reclaim_seats (self);
  } else {
    redisAsyncCommand (ac, on_subscribed, self, "SUBSCRIBE %s", self->channel);
  }
  set_up (self);
}

static redisAsyncContext *
context_new (LetsChatCluster * self, GSource ** source)
{
  redisAsyncContext *ac = redisAsyncConnect (self->host, self->port);
  g_autofree gchar *db = g_strdup_printf ("%u", self->db);

  if (ac == NULL)
    return NULL;
  if (ac->err) {
    redisAsyncFree (ac);
    return NULL;
  }
  ac->data = self;
  *source = redis_source_new (ac);
  g_source_attach (*source, g_main_context_get_thread_default ());
  redisAsyncSetConnectCallback (ac, on_connect);
  redisAsyncSetDisconnectCallback (ac, on_disconnect);
  /* queued until connected; its answer says the context works */
  redisAsyncCommand (ac, on_selected, self, "SELECT %s", db);
  return ac;
}

static void
cluster_connect (LetsChatCluster * self)
{
  if (self->cmd == NULL)
    self->cmd = context_new (self, &self->cmd_source);
  if (self->sub == NULL)
    self->sub = context_new (self, &self->sub_source);
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
      reclaim_seats (self);
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
  publish (self, to->node, payload);
}

void
letschat_cluster_tell_joined (LetsChatCluster * self, Connection * remote,
    Connection * joiner)
{
  g_autofree gchar *payload = g_strconcat ("J\n", remote->room->name, "\n",
      remote->id, "\n", joiner->id, "\n", self->node_key, "\n",
      joiner->name ? "=" : "", joiner->name ? joiner->name : "", NULL);

  publish (self, remote->node, payload);
}

void
letschat_cluster_tell_left (LetsChatCluster * self, Room * room,
    Connection * remote, Connection * leaver)
{
  g_autofree gchar *payload = g_strconcat ("L\n", room->name, "\n",
      remote->id, "\n", leaver->id, NULL);

  publish (self, remote->node, payload);
}

/* @conn (of this node) left @room: its seat (still ours) goes. */
void
letschat_cluster_left (LetsChatCluster * self, Room * room, Connection * conn)
{
  g_autofree gchar *key = g_strconcat (ROOM_PREFIX, room->name, NULL);
  g_autofree gchar *entry = g_steal_pointer (&conn->stranger_entry);

  command (self, NULL, NULL, "EVAL", leave_script, "2", key, STRANGERS_KEY,
      conn->id, self->node_key, entry ? entry : "", NULL);
}

/* --- joins --- */

static void
join_refuse (PendingJoin * pj, LetsChatProtocolError code,
    const gchar * message)
{
  Connection *conn = pj->conn;

  if (pj->previous_id && !g_str_equal (pj->previous_id, conn->id)) {
    g_free (conn->id);
    conn->id = g_strdup (pj->previous_id);
  }
  letschat_rooms_cluster_refused (conn, pj->room, code, message);
}

static void
join_finish (PendingJoin * pj)
{
  if (pj->conn)
    g_hash_table_steal (pj->cluster->pending, pj->conn);
  pending_free (pj);
}

static void
salt_and_hash (PendingJoin * pj, const gchar * salt)
{
  g_free (pj->salt);
  g_free (pj->hash);
  if (salt == NULL) {
    guint8 bytes[16];
    guint i;
    GString *hex = g_string_new (NULL);

    for (i = 0; i < sizeof (bytes); i++)
      bytes[i] = g_random_int_range (0, 256);
    for (i = 0; i < sizeof (bytes); i++)
      g_string_append_printf (hex, "%02x", bytes[i]);
    pj->salt = g_string_free (hex, FALSE);
  } else {
    pj->salt = g_strdup (salt);
  }
  pj->hash = g_compute_hmac_for_string (G_CHECKSUM_SHA256,
      (const guchar *) pj->salt, strlen (pj->salt), pj->secret, -1);
}

static void
release_seat (LetsChatCluster * self, const gchar * room, const gchar * id)
{
  g_autofree gchar *key = g_strconcat (ROOM_PREFIX, room, NULL);

  command (self, NULL, NULL, "EVAL", leave_script, "2", key, STRANGERS_KEY,
      id, self->node_key, "", NULL);
}

static void
on_join_reply (redisAsyncContext * ac, void *r, void *privdata)
{
  PendingJoin *pj = privdata;
  LetsChatCluster *self = pj->cluster;
  redisReply *reply = r;
  const gchar *status;

  if (self->closing) {
    pending_free (pj);
    return;
  }
  if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) {
    if (reply && reply->type == REDIS_REPLY_ERROR)
      g_warning ("redis: join script: %s", reply->str);
    if (pj->conn)
      join_refuse (pj, LETSCHAT_PROTOCOL_ERROR_UNAVAILABLE,
          "The server lost its room store; try again in a few seconds.");
    join_finish (pj);
    return;
  }
  status = reply->element[0]->str;
  if (pj->conn == NULL) {
    /* gone while Redis answered: the seat it got goes too */
    if (g_str_equal (status, "ok"))
      release_seat (self, pj->room, pj->previous_id);
    join_finish (pj);
    return;
  }
  if (g_str_equal (status, "retry") && reply->elements == 2 && pj->tries++ < 3) {
    /* the room appeared (with its salt) since we asked for the salt */
    salt_and_hash (pj, reply->element[1]->str);
    join_run (pj);
    return;
  }
  if (pj->stranger && (g_str_equal (status, "gone")
          || g_str_equal (status, "full")) && pj->tries++ < 5) {
    /* the stranger picked left meanwhile, or was taken: pick again */
    g_clear_pointer (&pj->room, g_free);
    g_clear_pointer (&pj->entry, g_free);
    join_run (pj);
    return;
  }
  if (g_str_equal (status, "unauthorized")) {
    join_refuse (pj, LETSCHAT_PROTOCOL_ERROR_UNAUTHORIZED,
        pj->secret ? "Wrong secret for this room." :
        "This room needs a secret.");
  } else if (!g_str_equal (status, "ok") || reply->elements < 5) {
    join_refuse (pj, LETSCHAT_PROTOCOL_ERROR_ROOM_FULL,
        "This room already has two parties.");
  } else {
    const gchar *peer_id = reply->element[1]->str;
    const gchar *peer_node = reply->element[2]->str;
    const gchar *peer_name = reply->element[3]->str;
    const gchar *old_node = reply->element[4]->str;
    Connection *conn = pj->conn;

    /* The party came back here with its id while its old node may still
     * hold its old connection: that one goes (its seat is ours now). */
    if (old_node[0] && !g_str_equal (old_node, self->node_key)) {
      g_autofree gchar *payload = g_strconcat ("D\n", pj->room, "\n",
          conn->id, NULL);

      publish (self, old_node, payload);
    }
    if (pj->stranger && !pj->picked) {
      /* a fresh stranger room: it waits in the queue */
      g_free (conn->stranger_entry);
      conn->stranger_entry = g_strdup (pj->entry);
      command (self, NULL, NULL, "RPUSH", STRANGERS_KEY, pj->entry, NULL);
    }
    g_hash_table_steal (self->pending, conn);
    pj->conn = NULL;
    letschat_rooms_cluster_entered (conn, pj->room, pj->stranger,
        peer_id[0] ? peer_id : NULL, peer_node,
        peer_name[0] == '=' ? peer_name + 1 : NULL, pj->name);
  }
  join_finish (pj);
}

static void
on_pick_reply (redisAsyncContext * ac, void *r, void *privdata)
{
  PendingJoin *pj = privdata;
  redisReply *reply = r;

  if (pj->cluster->closing) {
    pending_free (pj);
    return;
  }
  if (reply == NULL || pj->conn == NULL || reply->type == REDIS_REPLY_ERROR) {
    if (reply && reply->type == REDIS_REPLY_ERROR)
      g_warning ("redis: strangers script: %s", reply->str);
    if (pj->conn)
      join_refuse (pj, LETSCHAT_PROTOCOL_ERROR_UNAVAILABLE,
          "The server lost its room store; try again in a few seconds.");
    join_finish (pj);
    return;
  }
  if (reply->type == REDIS_REPLY_STRING) {
    g_auto (GStrv) fields = g_strsplit (reply->str, "\t", 2);

    pj->room = g_strdup (fields[0]);
    pj->picked = TRUE;
  } else {
    /* nobody waits: a fresh room, and this party waits in it */
    GString *name = g_string_new ("stranger-");
    guint i;

    for (i = 0; i < 8; i++)
      g_string_append_printf (name, "%02x", g_random_int_range (0, 256));
    pj->room = g_string_free (name, FALSE);
    pj->picked = FALSE;
    pj->entry = g_strdup_printf ("%s\t%s\t%s\t%s", pj->room, pj->conn->id,
        pj->cluster->node_key, pj->conn->ip);
  }
  join_run (pj);
}

static void
join_run (PendingJoin * pj)
{
  LetsChatCluster *self = pj->cluster;
  Connection *conn = pj->conn;
  g_autofree gchar *key = NULL;
  g_autofree gchar *ttl = g_strdup_printf ("%d", ROOM_TTL_MS);
  g_autofree gchar *name = pj->name ? g_strconcat ("=", pj->name, NULL) :
      g_strdup ("");
  gboolean sent;

  if (pj->stranger && pj->room == NULL) {
    sent = command (self, on_pick_reply, pj, "EVAL", pick_script, "1",
        STRANGERS_KEY, conn->ip, conn->parted_from ? conn->parted_from : "",
        NODE_PREFIX, conn->id, NULL);
  } else {
    key = g_strconcat (ROOM_PREFIX, pj->room, NULL);
    sent = command (self, on_join_reply, pj, "EVAL", join_script, "1", key,
        conn->id, self->node_key, name, pj->salt ? pj->salt : "",
        pj->hash ? pj->hash : "", ttl, NODE_PREFIX,
        pj->picked ? "peer" : "", "", NULL);
  }
  if (!sent) {
    join_refuse (pj, LETSCHAT_PROTOCOL_ERROR_UNAVAILABLE,
        "The server cannot reach its room store; try again in a few "
        "seconds.");
    join_finish (pj);
  }
}

static void
on_salt_reply (redisAsyncContext * ac, void *r, void *privdata)
{
  PendingJoin *pj = privdata;
  redisReply *reply = r;

  if (pj->cluster->closing) {
    pending_free (pj);
    return;
  }
  if (reply == NULL || pj->conn == NULL || reply->type == REDIS_REPLY_ERROR) {
    if (pj->conn)
      join_refuse (pj, LETSCHAT_PROTOCOL_ERROR_UNAVAILABLE,
          "The server lost its room store; try again in a few seconds.");
    join_finish (pj);
    return;
  }
  salt_and_hash (pj, reply->type == REDIS_REPLY_STRING ? reply->str : NULL);
  join_run (pj);
}

gboolean
letschat_cluster_join_pending (LetsChatCluster * self, Connection * conn)
{
  return g_hash_table_contains (self->pending, conn);
}

/* @conn asks to join @room (NULL: a stranger) with @secret (NULL: none;
 * ignored when @configured: --room-secret, checked by the caller), under
 * the id it has now (its previous one is restored if refused). Answered
 * later by letschat_rooms_cluster_entered() or _refused(). */
void
letschat_cluster_join (LetsChatCluster * self, Connection * conn,
    const gchar * room, const gchar * secret, gboolean configured,
    const gchar * name, const gchar * previous_id)
{
  PendingJoin *pj = g_new0 (PendingJoin, 1);
  g_autofree gchar *key = NULL;

  pj->cluster = self;
  pj->conn = conn;
  pj->room = g_strdup (room);
  pj->stranger = room == NULL;
  pj->configured = configured;
  pj->secret = !configured && secret && secret[0] ? g_strdup (secret) : NULL;
  pj->name = g_strdup (name);
  pj->previous_id = g_strdup (previous_id);
  g_hash_table_insert (self->pending, conn, pj);

  if (!letschat_cluster_is_up (self)) {
    join_refuse (pj, LETSCHAT_PROTOCOL_ERROR_UNAVAILABLE,
        "The server cannot reach its room store (Redis); try again in a "
        "few seconds, or another server.");
    join_finish (pj);
    return;
  }
  if (pj->secret == NULL) {
    join_run (pj);
    return;
  }
  /* The secret is compared salted: first the room's salt, if it has one */
  key = g_strconcat (ROOM_PREFIX, room, NULL);
  if (!command (self, on_salt_reply, pj, "HGET", key, "salt", NULL)) {
    join_refuse (pj, LETSCHAT_PROTOCOL_ERROR_UNAVAILABLE,
        "The server cannot reach its room store; try again in a few "
        "seconds.");
    join_finish (pj);
  }
}

/* @conn is being freed: a join under way forgets it (and gives back the
 * seat it may get). */
void
letschat_cluster_forget (LetsChatCluster * self, Connection * conn)
{
  PendingJoin *pj = g_hash_table_lookup (self->pending, conn);

  if (pj == NULL)
    return;
  g_hash_table_steal (self->pending, conn);
  g_free (pj->previous_id);
  pj->previous_id = g_strdup (conn->id);
  pj->conn = NULL;
}

/* --- back after losing Redis --- */

static void
on_reclaim_reply (redisAsyncContext * ac, void *r, void *privdata)
{
  LetsChatCluster *self = ac->data;
  gchar **room_and_id = privdata;
  redisReply *reply = r;

  if (reply && !self->closing && reply->type == REDIS_REPLY_ARRAY
      && reply->elements >= 1 && !g_str_equal (reply->element[0]->str, "ok"))
    letschat_rooms_cluster_seat_lost (self->server, room_and_id[0],
        room_and_id[1]);
  g_strfreev (room_and_id);
}

/* Redis came back (it may have restarted empty, or this node's liveness
 * key may have expired meanwhile): every party of this node takes its
 * seat again. One that finds it taken (the room filled up meanwhile) is
 * closed, so that its client comes back and is told why. */
static void
reclaim_seats (LetsChatCluster * self)
{
  GHashTableIter iter;
  Connection *conn;
  g_autofree gchar *ttl = g_strdup_printf ("%d", ROOM_TTL_MS);

  g_hash_table_iter_init (&iter, self->server->connections);
  while (g_hash_table_iter_next (&iter, (gpointer *) & conn, NULL)) {
    g_autofree gchar *key = NULL;
    g_autofree gchar *name = NULL;
    gchar **room_and_id;

    if (conn->room == NULL)
      continue;
    key = g_strconcat (ROOM_PREFIX, conn->room->name, NULL);
    name = conn->name ? g_strconcat ("=", conn->name, NULL) : g_strdup ("");
    room_and_id = g_new0 (gchar *, 3);
    room_and_id[0] = g_strdup (conn->room->name);
    room_and_id[1] = g_strdup (conn->id);
    if (!command (self, on_reclaim_reply, room_and_id, "EVAL", join_script,
            "1", key, conn->id, self->node_key, name, "", "", ttl,
            NODE_PREFIX, "", "reclaim", NULL))
      g_strfreev (room_and_id);
    if (conn->stranger_entry && conn->room->parties[0]
        && !conn->room->parties[1])
      command (self, NULL, NULL, "RPUSH", STRANGERS_KEY,
          conn->stranger_entry, NULL);
  }
}

/* --- life cycle --- */

static gboolean
parse_url (LetsChatCluster * self, const gchar * url, GError ** error)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const gchar *path;

  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "redis") != 0
      || g_uri_get_host (uri) == NULL || !g_uri_get_host (uri)[0]) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "--redis wants redis://HOST:PORT[/DB], got \"%s\"", url);
    return FALSE;
  }
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

  if (!parse_url (self, url, error)) {
    g_free (self);
    return NULL;
  }
  self->server = server;
  self->node_key = g_strconcat (node_id && node_id[0] ? node_id :
      g_get_host_name (), ".", incarnation, NULL);
  self->channel = g_strconcat (CHANNEL_PREFIX, self->node_key, NULL);
  self->pending = g_hash_table_new_full (NULL, NULL, NULL,
      (GDestroyNotify) pending_free);
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

void
letschat_cluster_free (LetsChatCluster * self)
{
  g_autofree gchar *key = g_strconcat (NODE_PREFIX, self->node_key, NULL);

  /* Seats of this node are free at once for the others */
  command (self, NULL, NULL, "DEL", key, NULL);
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
  if (self->cmd)
    redisAsyncFree (self->cmd);
  if (self->sub)
    redisAsyncFree (self->sub);
  g_free (self->host);
  g_free (self->node_key);
  g_free (self->channel);
  g_free (self);
}
