/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The strangers' queue (a `join` without a room, docs/protocol.md) and its
 * rules of fairness:
 *
 *   join (no room) --> pick: the first waiting party, in order of arrival,
 *        |                   that is still connected and answering,
 *        |                   that this party did not just part from,
 *        |                   preferring another IP address to its own
 *        +-- found: enter its room (it gets peer-joined)
 *        +-- none:  a fresh room "stranger-<hex>", waiting at the queue's end
 *
 * A waiting party that leaves, or whose socket dies, leaves the queue at
 * once (its room goes with it); one whose socket is closing, or that has
 * not answered a ping for a while, is passed over and never handed out.
 * Two parties from the same address (one person's two tabs, or a bot's
 * two pipelines) are paired only when nobody else waits. Two strangers who
 * just parted are not paired again for STRANGER_REPAIR_DELAY_S, unless one
 * of them has been with somebody else since: "Next" means somebody else.
 *
 * It decides who meets whom and nothing more: letschat-rooms.c makes the
 * rooms, sends the messages and logs. */

#define G_LOG_DOMAIN "letschat-server"

#include "letschat-rooms.h"


void
letschat_strangers_wait (LetsChatRoomServer * self, Room * room)
{
  g_assert (room->queue_link == NULL);
  g_queue_push_tail (&self->stranger_queue, room);
  room->queue_link = self->stranger_queue.tail;
}

static void
strangers_unqueue (LetsChatRoomServer * self, Room * room)
{
  if (room->queue_link == NULL)
    return;
  g_queue_delete_link (&self->stranger_queue, room->queue_link);
  room->queue_link = NULL;
}

static gboolean
strangers_just_parted (Connection * a, Connection * b, gint64 now)
{
  gint64 since = now - STRANGER_REPAIR_DELAY_S * G_USEC_PER_SEC;

  return (a->parted_from && g_str_equal (a->parted_from, b->id)
      && a->parted_us > since) || (b->parted_from
      && g_str_equal (b->parted_from, a->id) && b->parted_us > since);
}

/* A party that stopped answering pings may be gone (its machine asleep,
 * its network down) well before ping-timeout drops it: nobody is handed
 * a party that may not be there. */
static gboolean
strangers_answering (LetsChatRoomServer * self, Connection * conn, gint64 now)
{
  if (self->ping_interval == 0 || conn->ws == NULL)
    return TRUE;
  return conn->last_heard_us >
      now - (gint64) (self->ping_interval + 2) * G_USEC_PER_SEC;
}

Room *
letschat_strangers_pick (LetsChatRoomServer * self, Connection * conn)
{
  gint64 now = g_get_monotonic_time ();
  Room *same_ip = NULL;
  GList *l;

  for (l = self->stranger_queue.head; l; l = l->next) {
    Room *room = l->data;
    Connection *waiting = room->parties[0] ? room->parties[0] :
        room->parties[1];

    if (waiting == NULL || waiting == conn
        || !letschat_rooms_connection_is_open (waiting)
        || !strangers_answering (self, waiting, now)
        || strangers_just_parted (conn, waiting, now))
      continue;
    if (g_strcmp0 (waiting->ip, conn->ip) == 0) {
      if (same_ip == NULL)
        same_ip = room;
      continue;
    }
    same_ip = room;
    break;
  }
  if (same_ip)
    strangers_unqueue (self, same_ip);
  return same_ip;
}

void
letschat_strangers_entered (LetsChatRoomServer * self, Room * room)
{
  /* A waiting room that gets its second party (from the queue, or a named
   * join of its name) waits no more. */
  if (room->parties[0] && room->parties[1]) {
    strangers_unqueue (self, room);
    if (room->stranger) {
      g_clear_pointer (&room->parties[0]->parted_from, g_free);
      g_clear_pointer (&room->parties[1]->parted_from, g_free);
    }
  }
}

void
letschat_strangers_left (LetsChatRoomServer * self, Room * room,
    Connection * conn, Connection * other)
{
  strangers_unqueue (self, room);
  if (room->stranger && other) {
    gint64 now = g_get_monotonic_time ();

    g_free (conn->parted_from);
    conn->parted_from = g_strdup (other->id);
    conn->parted_us = now;
    g_free (other->parted_from);
    other->parted_from = g_strdup (conn->id);
    other->parted_us = now;
  }
}

gboolean
letschat_strangers_check (LetsChatRoomServer * self, gchar ** why)
{
  GList *l;

  for (l = self->stranger_queue.head; l; l = l->next) {
    Room *room = l->data;

    if (room->queue_link != l || !room->stranger
        || (room->parties[0] != NULL) + (room->parties[1] != NULL) != 1
        || g_hash_table_lookup (self->rooms, room->name) != room) {
      *why = g_strdup_printf ("the waiting stranger room %s is not a live "
          "stranger room of one", room->name);
      return FALSE;
    }
  }
  return TRUE;
}
