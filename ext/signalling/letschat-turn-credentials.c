/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* TURN REST credentials (see the header): made here, from GLib's HMAC,
 * and nowhere else. This file must not log: what it handles is the
 * secret, or keys made from it. */

#include "letschat-turn-credentials.h"

#include <stdlib.h>
#include <string.h>

gchar *
letschat_turn_credentials_username (gint64 now_unix, guint ttl,
    const gchar * party_id)
{
  g_return_val_if_fail (party_id != NULL, NULL);

  return g_strdup_printf ("%" G_GINT64_FORMAT ":%s", now_unix + ttl, party_id);
}

gchar *
letschat_turn_credentials_password (const gchar * secret,
    const gchar * username)
{
  g_autoptr (GHmac) hmac = NULL;
  guint8 digest[20];
  gsize len = sizeof (digest);
  gchar *password;

  g_return_val_if_fail (secret != NULL && username != NULL, NULL);

  hmac = g_hmac_new (G_CHECKSUM_SHA1, (const guchar *) secret, strlen (secret));
  g_hmac_update (hmac, (const guchar *) username, -1);
  g_hmac_get_digest (hmac, digest, &len);
  password = g_base64_encode (digest, len);
  memset (digest, 0, sizeof (digest));
  return password;
}

gint64
letschat_turn_credentials_expiry (const gchar * username)
{
  gchar *end = NULL;
  gint64 expiry;

  if (username == NULL || !g_ascii_isdigit (username[0]))
    return -1;
  expiry = g_ascii_strtoll (username, &end, 10);
  if (end == NULL || *end != ':')
    return -1;
  return expiry;
}

gchar *
letschat_turn_credentials_load_secret (const gchar * file, GError ** error)
{
  g_autofree gchar *contents = NULL;
  gsize length = 0;
  gchar *secret;

  g_return_val_if_fail (file != NULL, NULL);

  if (!g_file_get_contents (file, &contents, &length, error)) {
    g_prefix_error (error, "cannot read the TURN secret file: ");
    return NULL;
  }
  /* The first line: `echo secret > file` leaves a line end behind. */
  secret = g_strndup (contents, strcspn (contents, "\r\n"));
  memset (contents, 0, length);
  if (secret[0] == '\0') {
    g_free (secret);
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
        "the TURN secret file %s is empty: write the secret that the TURN "
        "server has as static-auth-secret on its first line", file);
    return NULL;
  }
  return secret;
}
