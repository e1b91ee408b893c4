/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Keeps the room server's log from filling a disk: of the events of one
 * kind from one address (connections, refusals, closes...), the first
 * LETSCHAT_LOG_LIMITER_BURST get a line each (what honest clients do is
 * logged in full), then one line a second is written, and the rest are
 * counted and summed up in the next
 * line or in a summary line a second later. A client that reconnected and
 * flooded 8,000 times wrote 422 MB of log before; now an address costs at
 * most a line a second per kind of event.
 *
 * This file must not know connections or rooms: letschat-rooms.c writes
 * its lines through letschat_log_limiter_log(). */

#define G_LOG_DOMAIN "letschat-server"

#include "letschat-log-limiter.h"

/* the shared key once the table is full */
#define OVERFLOW_KEY "(other addresses)"
/* a pair without events for this long is forgotten */
#define FORGET_US (10 * G_USEC_PER_SEC)

typedef struct
{
  gchar *key;
  gchar *kind;
  gint64 last_line_us;          /* when a line was last written */
  gdouble tokens;               /* lines that may be written at once */
  gint64 refill_us;
  guint n_held;                 /* events since then, not written */
} Entry;

struct _LetsChatLogLimiter
{
  GHashTable *entries;          /* "kind key" -> Entry */
};

static void
entry_free (Entry * entry)
{
  g_free (entry->key);
  g_free (entry->kind);
  g_free (entry);
}

LetsChatLogLimiter *
letschat_log_limiter_new (void)
{
  LetsChatLogLimiter *limiter = g_new0 (LetsChatLogLimiter, 1);

  limiter->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) entry_free);
  return limiter;
}

void
letschat_log_limiter_free (LetsChatLogLimiter * limiter)
{
  if (limiter == NULL)
    return;
  g_hash_table_unref (limiter->entries);
  g_free (limiter);
}

gboolean
letschat_log_limiter_allow (LetsChatLogLimiter * limiter, const gchar * key,
    const gchar * kind, gint64 now_us, guint * n_held)
{
  g_autofree gchar *id = g_strconcat (kind, " ", key, NULL);
  Entry *entry = g_hash_table_lookup (limiter->entries, id);

  *n_held = 0;
  if (entry == NULL && g_hash_table_size (limiter->entries) >=
      LETSCHAT_LOG_LIMITER_MAX_ENTRIES) {
    g_free (id);
    key = OVERFLOW_KEY;
    id = g_strconcat (kind, " ", key, NULL);
    entry = g_hash_table_lookup (limiter->entries, id);
  }
  if (entry == NULL) {
    entry = g_new0 (Entry, 1);
    entry->key = g_strdup (key);
    entry->kind = g_strdup (kind);
    entry->last_line_us = now_us;
    entry->tokens = LETSCHAT_LOG_LIMITER_BURST - 1;
    entry->refill_us = now_us;
    g_hash_table_insert (limiter->entries, g_steal_pointer (&id), entry);
    return TRUE;
  }
  entry->tokens = MIN (entry->tokens + (gdouble) (now_us -
          entry->refill_us) / G_USEC_PER_SEC,
      (gdouble) LETSCHAT_LOG_LIMITER_BURST);
  entry->refill_us = now_us;
  if (entry->tokens < 1.0) {
    entry->n_held++;
    return FALSE;
  }
  entry->tokens -= 1.0;
  *n_held = entry->n_held;
  entry->n_held = 0;
  entry->last_line_us = now_us;
  return TRUE;
}

void
letschat_log_limiter_log (LetsChatLogLimiter * limiter, const gchar * key,
    const gchar * kind, const gchar * format, ...)
{
  g_autofree gchar *line = NULL;
  guint n_held;
  va_list args;

  if (key == NULL)
    key = "-";
  if (!letschat_log_limiter_allow (limiter, key, kind,
          g_get_monotonic_time (), &n_held))
    return;
  va_start (args, format);
  line = g_strdup_vprintf (format, args);
  va_end (args);
  if (n_held > 0)
    g_info ("%s (and %u more %s from %s not logged)", line, n_held, kind, key);
  else
    g_info ("%s", line);
}

void
letschat_log_limiter_flush (LetsChatLogLimiter * limiter, gint64 now_us)
{
  GHashTableIter iter;
  Entry *entry;

  g_hash_table_iter_init (&iter, limiter->entries);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) & entry)) {
    if (entry->n_held > 0 && now_us - entry->last_line_us >= G_USEC_PER_SEC) {
      g_info ("%u more %s from %s not logged", entry->n_held, entry->kind,
          entry->key);
      entry->n_held = 0;
      entry->tokens = 0;
      entry->refill_us = now_us;
      entry->last_line_us = now_us;
    } else if (entry->n_held == 0 && now_us - entry->refill_us > FORGET_US) {
      g_hash_table_iter_remove (&iter);
    }
  }
}
