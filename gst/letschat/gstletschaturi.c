/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * letschat:// URIs (see the header): parsing and building only, with
 * GLib's GUri. The elements' GstURIHandler (gstletschatbin.c) applies what
 * comes out to their properties; nothing here touches an element.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstletschaturi.h"
#include "letschat-protocol.h"

const gchar *const gst_lets_chat_uri_protocols[] = {
  "letschat", "letschats", NULL
};

#define URI_FORM "letschat://HOST:PORT/ROOM (letschats:// for a wss:// " \
  "server), with ?secret=SECRET&name=NAME if needed, e.g. " \
  "letschat://127.0.0.1:8443/demo"

static gboolean
uri_error (GError ** error, const gchar * uri, const gchar * what)
{
  g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
      "Invalid letschat URI '%s': %s. Use " URI_FORM, uri, what);
  return FALSE;
}

gboolean
gst_lets_chat_uri_parse (const gchar * uri, gchar ** server_url,
    gchar ** room, gchar ** secret, gchar ** display_name, GError ** error)
{
  GUri *parsed;
  GHashTable *params = NULL;
  GHashTableIter iter;
  gpointer key;
  GError *parse_error = NULL;
  const gchar *scheme, *host, *path, *query;
  gboolean ok = FALSE;
  gint port;

  *server_url = *room = *secret = *display_name = NULL;
  /* The query stays encoded: g_uri_parse_params() decodes each value, so
   * that a secret may hold '&' or '='. */
  parsed = g_uri_parse (uri, G_URI_FLAGS_ENCODED_QUERY, &parse_error);
  if (!parsed) {
    uri_error (error, uri, parse_error->message);
    g_error_free (parse_error);
    return FALSE;
  }
  scheme = g_uri_get_scheme (parsed);
  host = g_uri_get_host (parsed);
  path = g_uri_get_path (parsed);
  query = g_uri_get_query (parsed);
  port = g_uri_get_port (parsed);

  if (g_ascii_strcasecmp (scheme, "letschat") &&
      g_ascii_strcasecmp (scheme, "letschats")) {
    uri_error (error, uri, "the scheme must be letschat or letschats");
    goto out;
  }
  if (!host || !*host) {
    uri_error (error, uri, "it names no room server host");
    goto out;
  }
  if (!path || path[0] != '/' || !path[1]) {
    uri_error (error, uri, "it names no room (the path is the room)");
    goto out;
  }
  if (!letschat_protocol_room_name_is_valid (path + 1)) {
    gchar *what = g_strdup_printf ("'%s' is not a room name (1 to %d "
        "letters, digits, '_', '.' or '-')", path + 1, LETSCHAT_ROOM_NAME_MAX);
    uri_error (error, uri, what);
    g_free (what);
    goto out;
  }
  if (query) {
    params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE,
        &parse_error);
    if (!params) {
      uri_error (error, uri, parse_error->message);
      g_error_free (parse_error);
      goto out;
    }
    g_hash_table_iter_init (&iter, params);
    while (g_hash_table_iter_next (&iter, &key, NULL)) {
      if (!g_str_equal (key, "secret") && !g_str_equal (key, "name")) {
        gchar *what = g_strdup_printf ("unknown parameter '%s' (a letschat "
            "URI takes secret and name)", (gchar *) key);
        uri_error (error, uri, what);
        g_free (what);
        goto out;
      }
    }
    *secret = g_strdup (g_hash_table_lookup (params, "secret"));
    *display_name = g_strdup (g_hash_table_lookup (params, "name"));
  }

  *server_url = g_uri_join (G_URI_FLAGS_NONE,
      g_ascii_strcasecmp (scheme, "letschats") ? "ws" : "wss", NULL, host,
      port > 0 ? port : GST_LETS_CHAT_URI_DEFAULT_PORT, "/ws", NULL, NULL);
  *room = g_strdup (path + 1);
  ok = TRUE;
out:
  if (!ok) {
    g_clear_pointer (secret, g_free);
    g_clear_pointer (display_name, g_free);
  }
  g_clear_pointer (&params, g_hash_table_unref);
  g_uri_unref (parsed);
  return ok;
}

gchar *
gst_lets_chat_uri_build (const GstLetsChatSettings * settings)
{
  GUri *server;
  GString *query = g_string_new (NULL);
  gchar *path, *uri = NULL;
  gboolean tls;

  if (!settings->room || !settings->server_url)
    return NULL;
  /* A letschat:// URI names one server: a list of nodes has none. */
  if (strchr (settings->server_url, ','))
    return NULL;
  server = g_uri_parse (settings->server_url, G_URI_FLAGS_NONE, NULL);
  if (!server)
    return NULL;
  tls = !g_ascii_strcasecmp (g_uri_get_scheme (server), "wss");
  if ((tls || !g_ascii_strcasecmp (g_uri_get_scheme (server), "ws")) &&
      g_str_equal (g_uri_get_path (server), "/ws")) {
    if (settings->secret) {
      gchar *s = g_uri_escape_string (settings->secret, NULL, FALSE);
      g_string_append_printf (query, "secret=%s", s);
      g_free (s);
    }
    if (settings->display_name) {
      gchar *s = g_uri_escape_string (settings->display_name, NULL, FALSE);
      g_string_append_printf (query, "%sname=%s", query->len ? "&" : "", s);
      g_free (s);
    }
    path = g_strconcat ("/", settings->room, NULL);
    uri = g_uri_join (G_URI_FLAGS_ENCODED_QUERY,
        tls ? "letschats" : "letschat", NULL, g_uri_get_host (server),
        g_uri_get_port (server), path, query->len ? query->str : NULL, NULL);
    g_free (path);
  }
  g_string_free (query, TRUE);
  g_uri_unref (server);
  return uri;
}
