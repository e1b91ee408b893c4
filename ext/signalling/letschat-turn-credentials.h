/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Short-lived TURN credentials, the "TURN REST API" scheme
 * (draft-uberti-behave-turn-rest) that coturn implements as
 * use-auth-secret / static-auth-secret: the room server and the TURN
 * server share a secret, and for each party the room server makes
 *
 *   username   = "<expiry, Unix time>:<party id>"
 *   credential = base64 (HMAC-SHA1 (secret, username))
 *
 * which the TURN server checks with the same secret, and refuses once the
 * expiry has passed. No TURN account per party, nothing to revoke. */
/* "<now + ttl>:<party_id>", @now_unix in seconds since the epoch. */
    gchar * letschat_turn_credentials_username (gint64 now_unix, guint ttl,
    const gchar * party_id);

/* base64 (HMAC-SHA1 (@secret, @username)). */
gchar *letschat_turn_credentials_password (const gchar * secret,
    const gchar * username);

/* The expiry a REST username carries, or -1 if @username is not one. */
gint64 letschat_turn_credentials_expiry (const gchar * username);

/* Reads the shared secret from @file: its first line, without the line
 * end. The error names the file and why it cannot be used (missing,
 * unreadable, empty); it never holds the secret. */
gchar *letschat_turn_credentials_load_secret (const gchar * file,
    GError ** error);

G_END_DECLS
