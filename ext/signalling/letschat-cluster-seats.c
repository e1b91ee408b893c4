/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The seats of the rooms in Redis (see letschat-cluster.c for the keys):
 * a join, a leave, the strangers' queue and taking the seats again after
 * Redis came back, each one Lua script run by EVAL, which Redis runs
 * alone: what it reads cannot change before it writes.
 *
 *   join --(secret?)--HGET salt--> HMAC-SHA256(salt, secret)
 *        --EVAL join_script--> ok (peer, its node) | unauthorized | full
 *   stranger --EVAL pick_script--> a waiting one's room: join it
 *                              --> nobody: a fresh room, RPUSH ourselves
 *
 * A join waits for Redis: meanwhile the party's other messages are
 * answered as before a join (a second join: already-joined). */

#define G_LOG_DOMAIN "letschat-server"

#include "letschat-cluster-private.h"
#include "letschat-protocol.h"

#include <string.h>

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
    "  salt, hash = nil, nil\n"
    "  if ARGV[5] ~= '' then\n"
    "    redis.call('HSET', KEYS[1], 'salt', ARGV[4], 'hash', ARGV[5])\n"
    "    salt, hash = ARGV[4], ARGV[5]\n"
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
    "local p = seats[1] or {'', ''}\n"
    "return {'ok', p[1], p[2], redis.call('HGET', KEYS[1], 'n:' .. p[1])"
    " or '', old, salt or '', hash or ''}\n";

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

/* KEYS[1] strangers list, KEYS[2] the key of a fresh room for this
 * party. ARGV: 1 address, 2 id it just parted from, 3 node key prefix,
 * 4 own id, 5 own node key, 6 name marker, 7 TTL ms, 8 its entry in the
 * list. The first waiting stranger from another address (else from the
 * same one), on a live node, not the one just parted from, taken out of
 * the list (so handed out once): {"picked", entry}. Nobody: the party is
 * seated in the fresh room and queued, in the same step (else two
 * strangers arriving at once would each find nobody and both wait):
 * {"fresh"}. */
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
    "      return {'picked', it}\n"
    "    end\n"
    "    if not same then same = it end\n"
    "  end\n"
    "end\n"
    "if same then\n"
    "  redis.call('LREM', KEYS[1], 1, same)\n"
    "  return {'picked', same}\n"
    "end\n"
    "redis.call('HSET', KEYS[2], 's:' .. ARGV[4], ARGV[5],\n"
    "  'n:' .. ARGV[4], ARGV[6])\n"
    "redis.call('PEXPIRE', KEYS[2], ARGV[7])\n"
    "redis.call('RPUSH', KEYS[1], ARGV[8])\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[7])\n" "return {'fresh'}\n";

struct _PendingJoin
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
};

static void join_run (PendingJoin * pj);

void
letschat_cluster_pending_free (PendingJoin * pj)
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

/* @conn (of this node) left @room: its seat (still ours) goes. */
void
letschat_cluster_left (LetsChatCluster * self, Room * room, Connection * conn)
{
  g_autofree gchar *key = g_strconcat (ROOM_PREFIX, room->name, NULL);
  g_autofree gchar *entry = g_steal_pointer (&conn->stranger_entry);

  /* the seat must go, even after Redis was away */
  letschat_cluster_command_surely (self, "EVAL", leave_script, "2", key,
      STRANGERS_KEY, conn->id, self->node_key, entry ? entry : "", NULL);
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
  letschat_cluster_pending_free (pj);
}

static void
salt_and_hash (PendingJoin * pj, const gchar * salt)
{
  g_free (pj->salt);
  g_free (pj->hash);
  /* a fresh room: its own salt, so that one secret used in two rooms
   * does not show as one hash */
  pj->salt = salt ? g_strdup (salt) : letschat_rooms_random_hex (16);
  pj->hash = g_compute_hmac_for_string (G_CHECKSUM_SHA256,
      (const guchar *) pj->salt, strlen (pj->salt), pj->secret, -1);
}

/* The seat of @id in @room (and its place in the strangers' queue,
 * @entry, or NULL) go. */
static void
release_seat (LetsChatCluster * self, const gchar * room, const gchar * id,
    const gchar * entry)
{
  g_autofree gchar *key = g_strconcat (ROOM_PREFIX, room, NULL);

  letschat_cluster_command (self, NULL, NULL, "EVAL", leave_script, "2", key,
      STRANGERS_KEY, id, self->node_key, entry ? entry : "", NULL);
}

static void
on_join_reply (redisAsyncContext * ac, void *r, void *privdata)
{
  PendingJoin *pj = privdata;
  LetsChatCluster *self = pj->cluster;
  redisReply *reply = r;
  const gchar *status;

  if (self->closing) {
    letschat_cluster_pending_free (pj);
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
      release_seat (self, pj->room, pj->previous_id, NULL);
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
    pj->picked = FALSE;
    join_run (pj);
    return;
  }
  if (g_str_equal (status, "unauthorized")) {
    join_refuse (pj, LETSCHAT_PROTOCOL_ERROR_UNAUTHORIZED,
        pj->secret ? "Wrong secret for this room." :
        "This room needs a secret.");
  } else if (!g_str_equal (status, "ok") || reply->elements < 7) {
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

      letschat_cluster_publish (self, old_node, payload);
    }
    g_hash_table_steal (self->pending, conn);
    pj->conn = NULL;
    letschat_rooms_cluster_entered (conn, pj->room, pj->stranger,
        peer_id[0] ? peer_id : NULL, peer_node,
        peer_name[0] == '=' ? peer_name + 1 : NULL, pj->name,
        reply->element[5]->str, reply->element[6]->str);
  }
  join_finish (pj);
}

static void
on_pick_reply (redisAsyncContext * ac, void *r, void *privdata)
{
  PendingJoin *pj = privdata;
  LetsChatCluster *self = pj->cluster;
  redisReply *reply = r;
  gboolean picked, fresh;
  Connection *conn = pj->conn;

  if (self->closing) {
    letschat_cluster_pending_free (pj);
    return;
  }
  picked = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2
      && g_str_equal (reply->element[0]->str, "picked");
  fresh = reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1
      && g_str_equal (reply->element[0]->str, "fresh");
  if (conn == NULL) {
    /* gone meanwhile: the stranger it took waits first in line again, or
     * its own fresh room and place in line go */
    if (picked)
      letschat_cluster_command (self, NULL, NULL, "LPUSH", STRANGERS_KEY,
          reply->element[1]->str, NULL);
    else if (fresh)
      release_seat (self, pj->room, pj->previous_id, pj->entry);
    join_finish (pj);
    return;
  }
  if (picked) {
    g_auto (GStrv) fields = g_strsplit (reply->element[1]->str, "\t", 2);

    g_free (pj->room);
    pj->room = g_strdup (fields[0]);
    pj->picked = TRUE;
    join_run (pj);
    return;
  }
  if (!fresh) {
    if (reply && reply->type == REDIS_REPLY_ERROR)
      g_warning ("redis: strangers script: %s", reply->str);
    join_refuse (pj, LETSCHAT_PROTOCOL_ERROR_UNAVAILABLE,
        "The server lost its room store; try again in a few seconds.");
    join_finish (pj);
    return;
  }
  /* nobody waited: it waits, seated and queued by the script */
  g_free (conn->stranger_entry);
  conn->stranger_entry = g_steal_pointer (&pj->entry);
  g_hash_table_steal (self->pending, conn);
  pj->conn = NULL;
  letschat_rooms_cluster_entered (conn, pj->room, TRUE, NULL, NULL, NULL,
      pj->name, "", "");
  join_finish (pj);
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

  if (pj->stranger && !pj->picked) {
    g_autofree gchar *hex = letschat_rooms_random_hex (8);
    gboolean just_parted = conn->parted_from && conn->parted_us >
        g_get_monotonic_time () - STRANGER_REPAIR_DELAY_S * G_USEC_PER_SEC;

    g_free (pj->room);
    pj->room = g_strconcat ("stranger-", hex, NULL);
    g_free (pj->entry);
    pj->entry = g_strdup_printf ("%s\t%s\t%s\t%s", pj->room, conn->id,
        self->node_key, conn->ip);
    key = g_strconcat (ROOM_PREFIX, pj->room, NULL);
    sent = letschat_cluster_command (self, on_pick_reply, pj, "EVAL",
        pick_script, "2", STRANGERS_KEY, key, conn->ip,
        just_parted ? conn->parted_from : "", NODE_PREFIX, conn->id,
        self->node_key, name, ttl, pj->entry, NULL);
  } else {
    key = g_strconcat (ROOM_PREFIX, pj->room, NULL);
    sent =
        letschat_cluster_command (self, on_join_reply, pj, "EVAL", join_script,
        "1", key, conn->id, self->node_key, name, pj->salt ? pj->salt : "",
        pj->hash ? pj->hash : "", ttl, NODE_PREFIX, pj->picked ? "peer" : "",
        "", NULL);
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
    letschat_cluster_pending_free (pj);
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
  /* secrets do not apply to strangers */
  pj->secret = room && !configured && secret && secret[0] ?
      g_strdup (secret) : NULL;
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
  if (!letschat_cluster_command (self, on_salt_reply, pj, "HGET", key, "salt",
          NULL)) {
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
void
letschat_cluster_reclaim_seats (LetsChatCluster * self)
{
  GHashTableIter iter;
  Connection *conn;
  g_autofree gchar *ttl = g_strdup_printf ("%d", ROOM_TTL_MS);

  /* first what happened while Redis was away: leaves */
  letschat_cluster_replay (self);

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
    /* with the room's salted secret: Redis may have restarted empty */
    if (!letschat_cluster_command (self, on_reclaim_reply, room_and_id, "EVAL",
            join_script, "1", key, conn->id, self->node_key, name,
            conn->room->salt ? conn->room->salt : "",
            conn->room->salted_secret ? conn->room->salted_secret : "", ttl,
            NODE_PREFIX, "", "reclaim", NULL))
      g_strfreev (room_and_id);
    if (conn->stranger_entry && conn->room->parties[0]
        && !conn->room->parties[1])
      letschat_cluster_command (self, NULL, NULL, "RPUSH", STRANGERS_KEY,
          conn->stranger_entry, NULL);
  }
}
