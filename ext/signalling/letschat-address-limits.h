/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS
/* Wrong secrets a client may send before it has to wait; then the wait
 * doubles with every wrong one, from 1 s up to LETSCHAT_GUESS_MAX_DELAY_S. */
#define LETSCHAT_GUESS_FREE_FAILURES 5
#define LETSCHAT_GUESS_MAX_DELAY_S 600
/* A room that got this many wrong secrets (from all addresses together)
 * makes every address that has sent one wait as above. */
#define LETSCHAT_GUESS_ROOM_FREE_FAILURES 20
/* What one address may remember: an entry is forgotten this long after its
 * last event; the table holds at most LETSCHAT_ADDRESS_LIMITS_MAX_ENTRIES
 * (the oldest goes first). */
#define LETSCHAT_ADDRESS_LIMITS_FORGET_S 3600
#define LETSCHAT_ADDRESS_LIMITS_MAX_ENTRIES 20000
/* New WebSocket connections per address, by default: a bucket of this
 * many, refilled at LETSCHAT_CONNECTIONS_PER_S a second (the room server's
 * connection-burst-per-ip and connection-rate-per-ip). */
#define LETSCHAT_CONNECTIONS_BURST 64
#define LETSCHAT_CONNECTIONS_PER_S 10.0
typedef struct _LetsChatAddressLimits LetsChatAddressLimits;

/* The key that stands for one client in every per-address count of the
 * rooms layer: an IPv4 address as it is (also when IPv4-mapped), an IPv6
 * address as its /64 ("2001:db8:1:2::/64"), since one customer line or one
 * host usually has a whole /64 to pick from. Anything else unchanged. */
gchar *letschat_rooms_address_key (const gchar * ip);

LetsChatAddressLimits *letschat_address_limits_new (void);
void letschat_address_limits_free (LetsChatAddressLimits * limits);

/* Takes one token of @key's new-connection bucket (@burst tokens, refilled
 * at @rate a second); FALSE if it has none. */
gboolean letschat_address_limits_take_connection (LetsChatAddressLimits *
    limits, const gchar * key, gdouble rate, guint burst, gint64 now_us);

/* 0 if @key may try a secret for @room now; else the seconds it has to
 * wait (the join is then refused without looking at the secret). */
guint letschat_address_limits_join_wait (LetsChatAddressLimits * limits,
    const gchar * key, const gchar * room, gint64 now_us);
/* A wrong (or missing) secret from @key for @room. */
void letschat_address_limits_join_failed (LetsChatAddressLimits * limits,
    const gchar * key, const gchar * room, gint64 now_us);

/* Entries held, for tests and the fuzzer's invariants. */
guint letschat_address_limits_get_size (LetsChatAddressLimits * limits);

G_END_DECLS
