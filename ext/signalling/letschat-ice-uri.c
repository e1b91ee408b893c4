/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The ICE server URIs an operator types (letschat-server --ice-server),
 * checked at start (RFC 7064 for stun:, RFC 7065 for turn:, plus the
 * turn://user:pass@host form of webrtcbin's turn-server). GUri parses;
 * here is only what makes a URI usable as an ICE server. */

#include "letschat-ice-uri.h"

#include <gio/gio.h>
#include <string.h>

static gboolean
fail (GError ** error, const gchar * format, ...)
G_GNUC_PRINTF (2, 3);

     static gboolean fail (GError ** error, const gchar * format, ...)
{
  va_list args;
  g_autofree gchar *what = NULL;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
      "%s. A correct one looks like " LETSCHAT_ICE_URI_EXAMPLES, what);
  return FALSE;
}

/* A DNS name a resolver could find: labels of letters, digits and '-'
 * (not at either end), at least two of them, the last not all digits (a
 * mistyped IPv4 address like 192.0.2 is no name). */
static gboolean
host_name_is_plausible (const gchar * host)
{
  g_auto (GStrv) labels = g_strsplit (host, ".", -1);
  guint n = g_strv_length (labels), i;
  const gchar *p;

  if (strlen (host) > 253 || n < 2)
    return FALSE;
  for (i = 0; i < n; i++) {
    gsize len = strlen (labels[i]);
    gboolean all_digits = TRUE;

    /* a trailing dot (fully qualified) leaves one empty last label */
    if (len == 0 && i == n - 1 && n > 2)
      continue;
    if (len == 0 || len > 63 || labels[i][0] == '-'
        || labels[i][len - 1] == '-')
      return FALSE;
    for (p = labels[i]; *p; p++) {
      if (!g_ascii_isalnum (*p) && *p != '-')
        return FALSE;
      if (!g_ascii_isdigit (*p))
        all_digits = FALSE;
    }
    if (all_digits && i == n - 1)
      return FALSE;
  }
  return TRUE;
}

/* @uri with its password (turn://user:PASS@host) replaced by "***", so
 * that an error message can show it. */
static gchar *
redact_password (const gchar * uri)
{
  const gchar *start = strstr (uri, "://");
  const gchar *at, *colon;

  if (start == NULL || (at = strchr (start + 3, '@')) == NULL)
    return g_strdup (uri);
  colon = memchr (start + 3, ':', at - (start + 3));
  if (colon == NULL)
    return g_strdup (uri);
  return g_strdup_printf ("%.*s***%s", (int) (colon + 1 - uri), uri, at);
}

gboolean
letschat_ice_uri_check (const gchar * full_uri, GError ** error)
{
  g_autofree gchar *uri = redact_password (full_uri);
  const gchar *colon = strchr (full_uri, ':');
  g_autofree gchar *scheme = NULL;
  g_autofree gchar *absolute = NULL;
  g_autoptr (GUri) parsed = NULL;
  g_autoptr (GError) parse_error = NULL;
  const gchar *host, *query, *rest;
  gboolean turn;

  scheme = colon ? g_ascii_strdown (full_uri, colon - full_uri) : NULL;
  if (scheme == NULL || (!g_str_equal (scheme, "stun")
          && !g_str_equal (scheme, "stuns") && !g_str_equal (scheme, "turn")
          && !g_str_equal (scheme, "turns")))
    return fail (error, "\"%s\" is not a STUN or TURN server: it must start "
        "with stun:, stuns:, turn: or turns:", uri);
  turn = g_str_has_prefix (scheme, "turn");

  /* Both forms through one parser: "stun:host" is "stun://host" */
  rest = colon + 1;
  absolute = g_str_has_prefix (rest, "//") ? g_strdup (full_uri) :
      g_strconcat (scheme, "://", rest, NULL);
  parsed = g_uri_parse (absolute, G_URI_FLAGS_HAS_PASSWORD |
      G_URI_FLAGS_NON_DNS, &parse_error);
  if (parsed == NULL)
    return fail (error, "\"%s\" is not a valid %s URI (a port must be a "
        "number from 1 to 65535, a host has no spaces)", uri, scheme);

  host = g_uri_get_host (parsed);
  if (host == NULL || host[0] == '\0')
    return fail (error, "\"%s\" names no host", uri);
  if (!g_hostname_is_ip_address (host)
      && g_ascii_strcasecmp (host, "localhost") != 0
      && !host_name_is_plausible (host))
    return fail (error, "In \"%s\", \"%s\" is neither an IP address nor a "
        "host name with a domain (parties resolve it themselves, so a name "
        "needs its domain, e.g. stun.example.org)", uri, host);
  if (g_uri_get_port (parsed) == 0)
    return fail (error, "In \"%s\", the port must be from 1 to 65535", uri);
  if (g_uri_get_path (parsed)[0] != '\0')
    return fail (error, "\"%s\" has a path (\"%s\"): an ICE server is only "
        "HOST:PORT", uri, g_uri_get_path (parsed));
  if (!turn && g_uri_get_user (parsed) != NULL)
    return fail (error, "\"%s\": a STUN server takes no user name or "
        "password (a TURN server does: turn://USER:PASS@HOST:PORT)", uri);
  query = g_uri_get_query (parsed);
  if (query && (!turn || (g_strcmp0 (query, "transport=udp") != 0
              && g_strcmp0 (query, "transport=tcp") != 0)))
    return fail (error, "In \"%s\", \"?%s\" is not understood: the only "
        "query is a TURN server's ?transport=udp or ?transport=tcp", uri,
        query);
  return TRUE;
}
