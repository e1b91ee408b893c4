/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* What must hold in the room server's state whatever its clients sent:
 * checked by the fuzzer (tests/fuzz/) after every message. It only reads
 * the tables letschat-rooms.c keeps. */

#define G_LOG_DOMAIN "letschat-server"

#include "letschat-rooms.h"

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
    if (room->parties[0] == NULL && room->parties[1] == NULL)
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
  if (!letschat_strangers_check (self, why))
    return FALSE;

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
  if (letschat_address_limits_get_size (self->address_limits) >
      LETSCHAT_ADDRESS_LIMITS_MAX_ENTRIES)
    FAIL ("the per-address table is over its bound");
  g_hash_table_iter_init (&iter, self->rooms);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    Room *room = value;
    GHashTableIter others;
    Room *other;
    guint n_owned = 0;

    g_hash_table_iter_init (&others, self->rooms);
    while (g_hash_table_iter_next (&others, NULL, (gpointer *) & other))
      n_owned += g_strcmp0 (other->owner, room->owner) == 0;
    if (room->owner && n_owned > self->max_rooms_per_ip)
      FAIL ("%s opened %u rooms, over max-rooms-per-ip", room->owner, n_owned);
  }
#undef FAIL
  return TRUE;
}
