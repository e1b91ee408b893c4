/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* What the room server remembers about a client address beyond its open
 * connections, so that closing a socket and opening another changes
 * nothing: the wrong secrets it sent (and how long it must wait before it
 * may try another) and how fast it opens connections. Rooms that got many
 * wrong secrets are remembered the same way.
 *
 * Without it, the rate limit of a connection was the only limit on
 * guessing, and a fresh connection got a fresh one: 72,000 guesses a second
 * from one address. Now an address has LETSCHAT_GUESS_FREE_FAILURES wrong
 * secrets, then waits 1 s, 2 s, 4 s... up to LETSCHAT_GUESS_MAX_DELAY_S
 * between guesses, counted per /64 for IPv6 (docs/security.md).
 *
 * The table is bounded (an attacker with a /32 of IPv6 has many /64s):
 * entries are forgotten LETSCHAT_ADDRESS_LIMITS_FORGET_S after their last
 * event, and when it is full the oldest entry goes.
 *
 * This file must not know rooms or connections: letschat-rooms.c asks it
 * and tells it, by key. */

#include "letschat-address-limits.h"
#include "letschat-accept-guard.h"

#include <gio/gio.h>
#include <string.h>

typedef struct
{
  guint failures;               /* wrong secrets, never reset by a success */
  gint64 wait_until_us;         /* no secret looked at before this */
  gdouble connection_tokens;
  gint64 refill_us;
  gint64 last_event_us;
} Entry;

struct _LetsChatAddressLimits
{
  GHashTable *entries;          /* key (address key, or "room/NAME") -> Entry */
};

gchar *
letschat_rooms_address_key (const gchar * ip)
{
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (ip);

  /* one rule for every layer: the accept guard counts by the same key */
  return address ? letschat_client_key_for_address (address) : g_strdup (ip);
}

LetsChatAddressLimits *
letschat_address_limits_new (void)
{
  LetsChatAddressLimits *limits = g_new0 (LetsChatAddressLimits, 1);

  limits->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_free);
  return limits;
}

void
letschat_address_limits_free (LetsChatAddressLimits * limits)
{
  if (limits == NULL)
    return;
  g_hash_table_unref (limits->entries);
  g_free (limits);
}

guint
letschat_address_limits_get_size (LetsChatAddressLimits * limits)
{
  return g_hash_table_size (limits->entries);
}

static gboolean
entry_is_forgotten (Entry * entry, gint64 now_us)
{
  return entry->wait_until_us <= now_us && entry->last_event_us
      + (gint64) LETSCHAT_ADDRESS_LIMITS_FORGET_S *G_USEC_PER_SEC < now_us;
}

/* Makes room for one more entry: what is forgotten goes, and if that is
 * not enough, the entry whose last event is oldest. A scan of the table,
 * but only when it is full, and it then frees many entries at once. */
static void
make_room (LetsChatAddressLimits * limits, gint64 now_us)
{
  GHashTableIter iter;
  Entry *entry, *oldest = NULL;
  gpointer key, oldest_key = NULL;

  g_hash_table_iter_init (&iter, limits->entries);
  while (g_hash_table_iter_next (&iter, &key, (gpointer *) & entry)) {
    if (entry_is_forgotten (entry, now_us)) {
      g_hash_table_iter_remove (&iter);
      continue;
    }
    if (oldest == NULL || entry->last_event_us < oldest->last_event_us) {
      oldest = entry;
      oldest_key = key;
    }
  }
  if (g_hash_table_size (limits->entries) >=
      LETSCHAT_ADDRESS_LIMITS_MAX_ENTRIES && oldest_key)
    g_hash_table_remove (limits->entries, oldest_key);
}

/* @create: make one if there is none (else NULL) */
static Entry *
lookup (LetsChatAddressLimits * limits, const gchar * key, gboolean create,
    gint64 now_us)
{
  Entry *entry = g_hash_table_lookup (limits->entries, key);

  if (entry && entry_is_forgotten (entry, now_us)) {
    g_hash_table_remove (limits->entries, key);
    entry = NULL;
  }
  if (entry || !create)
    return entry;

  if (g_hash_table_size (limits->entries) >=
      LETSCHAT_ADDRESS_LIMITS_MAX_ENTRIES)
    make_room (limits, now_us);
  entry = g_new0 (Entry, 1);
  entry->connection_tokens = LETSCHAT_CONNECTIONS_BURST;
  entry->refill_us = now_us;
  entry->last_event_us = now_us;
  g_hash_table_insert (limits->entries, g_strdup (key), entry);
  return entry;
}

gboolean
letschat_address_limits_take_connection (LetsChatAddressLimits * limits,
    const gchar * key, gdouble rate, guint burst, gint64 now_us)
{
  Entry *entry = lookup (limits, key, FALSE, now_us);

  if (entry == NULL) {
    entry = lookup (limits, key, TRUE, now_us);
    entry->connection_tokens = burst;
  }
  entry->connection_tokens += (now_us - entry->refill_us) * rate
      / G_USEC_PER_SEC;
  entry->connection_tokens = MIN (entry->connection_tokens, (gdouble) burst);
  entry->refill_us = now_us;
  entry->last_event_us = now_us;
  if (entry->connection_tokens < 1.0)
    return FALSE;
  entry->connection_tokens -= 1.0;
  return TRUE;
}

static gchar *
room_key (const gchar * room)
{
  return g_strconcat ("room/", room ? room : "", NULL);
}

static guint
seconds_left (Entry * entry, gint64 now_us)
{
  if (entry == NULL || entry->wait_until_us <= now_us)
    return 0;
  return (guint) ((entry->wait_until_us - now_us + G_USEC_PER_SEC - 1)
      / G_USEC_PER_SEC);
}

guint
letschat_address_limits_join_wait (LetsChatAddressLimits * limits,
    const gchar * key, const gchar * room, gint64 now_us)
{
  g_autofree gchar *rkey = room_key (room);
  Entry *entry = lookup (limits, key, FALSE, now_us);
  Entry *room_entry;

  if (entry == NULL || entry->failures == 0)
    return 0;
  /* A room under attack from many addresses makes only those that sent a
   * wrong secret wait: its own parties, who know the secret, never do. */
  room_entry = lookup (limits, rkey, FALSE, now_us);
  return MAX (seconds_left (entry, now_us), seconds_left (room_entry, now_us));
}

/* After @free failures: 1 s, then twice as long for each one more. */
static void
start_wait (Entry * entry, guint free, gint64 now_us)
{
  guint over, delay_s;

  entry->failures++;
  entry->last_event_us = now_us;
  if (entry->failures <= free)
    return;
  over = MIN (entry->failures - free - 1, 16);
  delay_s = MIN (1u << over, LETSCHAT_GUESS_MAX_DELAY_S);
  entry->wait_until_us = now_us + (gint64) delay_s *G_USEC_PER_SEC;
}

void
letschat_address_limits_join_failed (LetsChatAddressLimits * limits,
    const gchar * key, const gchar * room, gint64 now_us)
{
  g_autofree gchar *rkey = room_key (room);

  start_wait (lookup (limits, key, TRUE, now_us),
      LETSCHAT_GUESS_FREE_FAILURES, now_us);
  start_wait (lookup (limits, rkey, TRUE, now_us),
      LETSCHAT_GUESS_ROOM_FREE_FAILURES, now_us);
}
