/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* What the cluster (letschat-cluster.c: Redis holds the seats) does to
 * this node's rooms. A room here holds this node's parties and, beside
 * one of them, the party of another node it is paired with: a Connection
 * without a socket whose messages go to that node (its send_func is
 * letschat_cluster_relay_text), so that letschat-rooms.c relays a signal
 * the same way to both kinds of party:
 *
 *   Room "kitchen" on node 1
 *     parties[0] = A  (a WebSocket here)
 *     parties[1] = B' (node = "node2.3fa9c2d1": PUBLISH lc:to:node2...)
 *
 * Redis decides who is seated; this file only mirrors its answers and
 * the other nodes' news (J: a party of theirs joined one of ours, L: it
 * left, S: a message for one of ours, D: one of ours rejoined elsewhere
 * and its connection here must go). */

#define G_LOG_DOMAIN "letschat-server"

#include "letschat-rooms.h"

static Connection *
local_party (Room * room, const gchar * id)
{
  guint i;

  for (i = 0; room && i < 2; i++)
    if (room->parties[i] && room->parties[i]->node == NULL
        && g_str_equal (room->parties[i]->id, id))
      return room->parties[i];
  return NULL;
}

/* Parties of other nodes in @room other than @keep_id (on @keep_node):
 * Redis has said they are not seated any more (their node died or
 * stopped before telling us). Our party is told peer-left, as when a
 * peer's socket dies on one server, unless the one coming is that same
 * party (@coming), back on another node: it just sees it join again. */
static void
drop_stale_remotes (Room * room, const gchar * keep_id,
    const gchar * keep_node, const gchar * coming)
{
  guint i;

  for (i = 0; i < 2; i++) {
    Connection *p = room->parties[i];

    if (p == NULL || p->node == NULL || (keep_id && g_str_equal (p->id, keep_id)
            && g_str_equal (p->node, keep_node)))
      continue;
    if (coming && g_str_equal (p->id, coming)) {
      room->parties[i] = NULL;
      p->room = NULL;
      letschat_rooms_connection_free (p);
    } else {
      /* frees p; the room stays, with our party in it */
      letschat_rooms_leave (p, "not seated any more");
    }
  }
}

static Connection *
remote_party_new (LetsChatRoomServer * self, Room * room, const gchar * id,
    const gchar * node, const gchar * name)
{
  Connection *p = g_new0 (Connection, 1);

  p->server = self;
  p->id = g_strdup (id);
  p->name = g_strdup (name);
  p->node = g_strdup (node);
  p->remote = g_strconcat ("node:", node, NULL);
  p->send_func = letschat_cluster_relay_text;
  p->send_data = p;
  p->room = room;
  p->ever_joined = TRUE;
  if (room->parties[0] == NULL)
    room->parties[0] = p;
  else
    room->parties[1] = p;
  return p;
}

static Room *
room_get (LetsChatRoomServer * self, const gchar * name, gboolean stranger)
{
  Room *room = g_hash_table_lookup (self->rooms, name);

  if (room == NULL) {
    room = g_new0 (Room, 1);
    room->name = g_strdup (name);
    room->stranger = stranger;
    g_hash_table_insert (self->rooms, room->name, room);
  }
  return room;
}

/* handle_join() with --redis: the checks this node makes alone, then
 * Redis's (letschat_cluster_join). */
void
letschat_cluster_rooms_join (Connection * conn, LetsChatMessage * msg)
{
  LetsChatRoomServer *self = conn->server;
  const gchar *configured = NULL;
  g_autofree gchar *previous_id = g_strdup (conn->id);

  if (msg->room == NULL) {
    if (letschat_rooms_no_room_left (conn, NULL))
      return;
  } else {
    configured = g_hash_table_lookup (self->room_secrets, msg->room);
    /* As without Redis: an address that sent too many wrong secrets waits
     * (counted on this node). */
    if (configured || (msg->secret && msg->secret[0])) {
      gint64 now = g_get_monotonic_time ();
      guint wait = letschat_address_limits_join_wait (self->address_limits,
          conn->ip, msg->room, now);

      if (wait > 0) {
        g_autofree gchar *message = g_strdup_printf ("Too many wrong "
            "secrets from your address: try again in %u s.", wait);

        letschat_rooms_refuse (conn, msg->room,
            LETSCHAT_PROTOCOL_ERROR_RATE_LIMITED, message);
        return;
      }
    }
    if (configured && (msg->secret == NULL
            || !g_str_equal (configured, msg->secret))) {
      letschat_rooms_cluster_refused (conn, msg->room,
          LETSCHAT_PROTOCOL_ERROR_UNAUTHORIZED, msg->secret ?
          "Wrong secret for this room." : "This room needs a secret.");
      return;
    }
    if (g_hash_table_lookup (self->rooms, msg->room) == NULL
        && letschat_rooms_no_room_left (conn, msg->room))
      return;
  }
  letschat_rooms_take_previous_id (conn, msg->id);
  letschat_cluster_join (self->cluster, conn, msg->room, msg->secret,
      configured != NULL, msg->name, previous_id);
}

void
letschat_rooms_cluster_refused (Connection * conn, const gchar * room,
    LetsChatProtocolError code, const gchar * message)
{
  LetsChatRoomServer *self = conn->server;

  if (code == LETSCHAT_PROTOCOL_ERROR_UNAUTHORIZED && room)
    letschat_address_limits_join_failed (self->address_limits, conn->ip,
        room, g_get_monotonic_time ());
  letschat_rooms_refuse (conn, room, code, message);
}

/* Redis seated @conn in @room beside @peer_id (of @peer_node), or alone. */
void
letschat_rooms_cluster_entered (Connection * conn, const gchar * name,
    gboolean stranger, const gchar * peer_id, const gchar * peer_node,
    const gchar * peer_name, const gchar * display_name, const gchar * salt,
    const gchar * salted_secret)
{
  LetsChatRoomServer *self = conn->server;
  const gchar *here = letschat_cluster_get_node_key (self->cluster);
  gboolean peer_here = peer_id && g_str_equal (peer_node, here);
  Room *room = room_get (self, name, stranger);

  g_free (room->salt);
  g_free (room->salted_secret);
  room->salt = salt && salt[0] ? g_strdup (salt) : NULL;
  room->salted_secret = salted_secret && salted_secret[0] ?
      g_strdup (salted_secret) : NULL;

  drop_stale_remotes (room, peer_here ? NULL : peer_id, peer_node, conn->id);
  if (peer_id && !peer_here && !(room->parties[0]
          && g_str_equal (room->parties[0]->id, peer_id))
      && !(room->parties[1] && g_str_equal (room->parties[1]->id, peer_id)))
    remote_party_new (self, room, peer_id, peer_node, peer_name);
  if (room->parties[0] && room->parties[1]) {
    /* A party of ours Redis no longer counts (it lost its seat while
     * Redis was away): it cannot make a third. */
    letschat_rooms_cluster_refused (conn, name,
        LETSCHAT_PROTOCOL_ERROR_ROOM_FULL,
        "This room already has two parties.");
    letschat_cluster_left (self->cluster, room, conn);
    return;
  }
  letschat_rooms_enter (conn, room, display_name);
  /* paired: a stranger waits no more (nor again, once its partner left) */
  if (room->parties[0] && room->parties[1])
    for (guint i = 0; i < 2; i++)
      if (room->parties[i]->node == NULL)
        g_clear_pointer (&room->parties[i]->stranger_entry, g_free);
}

/* This node stops: its parties leave their rooms now, so that the
 * peers on other nodes are told (peer-left) and the seats go, while
 * Redis can still be told; their sockets are being closed. */
void
letschat_cluster_rooms_shutdown (LetsChatRoomServer * self)
{
  GHashTableIter iter;
  Connection *conn;

  g_hash_table_iter_init (&iter, self->connections);
  while (g_hash_table_iter_next (&iter, (gpointer *) & conn, NULL))
    if (conn->room)
      letschat_rooms_leave (conn, "shutdown");
}

/* @node died: the parties of it paired with ours leave. */
void
letschat_rooms_cluster_node_gone (LetsChatRoomServer * self, const gchar * node)
{
  g_autoptr (GPtrArray) gone = g_ptr_array_new ();
  GHashTableIter iter;
  Room *room;
  guint i;

  g_hash_table_iter_init (&iter, self->rooms);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & room))
    for (i = 0; i < 2; i++)
      if (room->parties[i] && g_strcmp0 (room->parties[i]->node, node) == 0)
        g_ptr_array_add (gone, room->parties[i]);
  /* leaving changes the table: after the walk */
  for (i = 0; i < gone->len; i++)
    letschat_rooms_leave (g_ptr_array_index (gone, i), "its node is gone");
}

/* S: text for @target, written by its peer's node. */
void
letschat_rooms_cluster_deliver (LetsChatRoomServer * self,
    const gchar * room, const gchar * target, const gchar * text)
{
  Connection *to = local_party (g_hash_table_lookup (self->rooms, room),
      target);

  /* counted as relayed by the sender's node */
  if (to)
    letschat_rooms_send_text (to, text);
}

/* J: @from_id of @from_node joined @target's room. */
void
letschat_rooms_cluster_remote_joined (LetsChatRoomServer * self,
    const gchar * name, const gchar * target, const gchar * from_id,
    const gchar * from_node, const gchar * from_name)
{
  Room *room = g_hash_table_lookup (self->rooms, name);
  Connection *to = local_party (room, target);
  Connection *from;
  g_autofree gchar *text = NULL;

  if (to == NULL) {
    /* it left while Redis seated the other one beside it: the joiner's
     * node is told, or its party would wait for a peer that is gone */
    letschat_cluster_send_left (self->cluster, from_node, name, from_id,
        target);
    return;
  }
  /* Redis seated the two of them: any other party here is stale */
  drop_stale_remotes (room, NULL, NULL, from_id);
  if (room->parties[0] && room->parties[1])
    return;
  from = remote_party_new (self, room, from_id, from_node, from_name);
  text = letschat_protocol_build_peer_joined (from->id, from->name);
  letschat_rooms_send_text (to, text);
  if (to->stranger_entry) {
    /* it waited as a stranger: the one who took it out of the queue
     * came */
    g_clear_pointer (&to->stranger_entry, g_free);
    g_clear_pointer (&to->parted_from, g_free);
  }
  g_info ("join room=%s id=%s node=%s parties=2", name, from_id, from_node);
}

/* L: @from_id left @target's room. */
void
letschat_rooms_cluster_remote_left (LetsChatRoomServer * self,
    const gchar * name, const gchar * target, const gchar * from_id)
{
  Room *room = g_hash_table_lookup (self->rooms, name);
  guint i;

  if (local_party (room, target) == NULL)
    return;
  for (i = 0; i < 2; i++) {
    Connection *p = room->parties[i];

    if (p && p->node && g_str_equal (p->id, from_id)) {
      letschat_rooms_leave (p, "left on its node");
      return;
    }
  }
}

/* D: the party @id of @room came back on another node, which now holds
 * its seat: its connection here goes, without peer-left (the party did
 * not leave) and without touching the seat. */
static void
drop (LetsChatRoomServer * self, const gchar * name, const gchar * id,
    const gchar * why)
{
  Room *room = g_hash_table_lookup (self->rooms, name);
  Connection *conn = local_party (room, id);

  if (conn == NULL)
    return;
  room->parties[room->parties[0] == conn ? 0 : 1] = NULL;
  conn->room = NULL;
  if ((room->parties[0] == NULL || room->parties[0]->node)
      && (room->parties[1] == NULL || room->parties[1]->node))
    g_hash_table_remove (self->rooms, name);
  g_info ("closing room=%s id=%s addr=%s: %s", name, conn->id, conn->remote,
      why);
  if (conn->ws)
    letschat_websocket_close (conn->ws, LETSCHAT_WEBSOCKET_CLOSE_GOING_AWAY,
        why);
  else
    conn->virtual_close_code = LETSCHAT_WEBSOCKET_CLOSE_GOING_AWAY;
}

void
letschat_rooms_cluster_drop (LetsChatRoomServer * self, const gchar * name,
    const gchar * id)
{
  drop (self, name, id, "joined again on another node");
}

/* Back after losing Redis, @id could not take its seat in @room again
 * (the room filled up meanwhile): it is closed, and its client, coming
 * back, is told why. */
void
letschat_rooms_cluster_seat_lost (LetsChatRoomServer * self,
    const gchar * name, const gchar * id)
{
  Connection *conn = local_party (g_hash_table_lookup (self->rooms, name),
      id);

  if (conn == NULL)
    return;
  g_message ("seat lost room=%s id=%s addr=%s: taken while Redis was away",
      name, conn->id, conn->remote);
  drop (self, name, id, "its seat was taken while Redis was away");
}
