/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* GET /cluster.json and the origins of the nodes' pages (see the header). */

#define G_LOG_DOMAIN "letschat-server"

#include "letschat-cluster-page.h"

#include <json-glib/json-glib.h>
#include <string.h>

static GUri *
parse_node_url (const gchar * url)
{
  GUri *uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);

  if (uri && (g_strcmp0 (g_uri_get_scheme (uri), "ws") == 0
          || g_strcmp0 (g_uri_get_scheme (uri), "wss") == 0)
      && g_uri_get_host (uri) && *g_uri_get_host (uri))
    return uri;
  g_clear_pointer (&uri, g_uri_unref);
  return NULL;
}

const gchar *
letschat_cluster_page_find_bad_url (const gchar * const *urls)
{
  for (; urls && *urls; urls++) {
    g_autoptr (GUri) uri = parse_node_url (*urls);

    if (!uri)
      return *urls;
  }
  return NULL;
}

/* "http://host:port" for ws://host:port/..., with default ports filled in,
 * lower case. */
static gchar *
page_origin_key (GUri * uri, gboolean websocket)
{
  const gchar *scheme = g_uri_get_scheme (uri);
  gboolean tls = websocket ? g_ascii_strcasecmp (scheme, "wss") == 0 :
      g_ascii_strcasecmp (scheme, "https") == 0;
  gint port = g_uri_get_port (uri);
  g_autofree gchar *host = g_ascii_strdown (g_uri_get_host (uri), -1);

  if (port <= 0)
    port = tls ? 443 : 80;
  return g_strdup_printf ("%s://%s:%d", tls ? "https" : "http", host, port);
}

gboolean
letschat_cluster_page_origin_is_node (const gchar * const *urls,
    const gchar * origin)
{
  g_autoptr (GUri) origin_uri = g_uri_parse (origin, G_URI_FLAGS_NONE, NULL);
  g_autofree gchar *key = NULL;

  if (!urls || !origin_uri || !g_uri_get_host (origin_uri))
    return FALSE;
  key = page_origin_key (origin_uri, FALSE);
  for (; *urls; urls++) {
    g_autoptr (GUri) uri = parse_node_url (*urls);
    g_autofree gchar *node_key = uri ? page_origin_key (uri, TRUE) : NULL;

    if (node_key && g_str_equal (node_key, key))
      return TRUE;
  }
  return FALSE;
}

static void
on_cluster_json (SoupServer * soup, SoupServerMessage * message,
    const char *path, GHashTable * query, gpointer user_data)
{
  GStrv *urls = user_data;
  const gchar *method = soup_server_message_get_method (message);
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  gchar **url;
  gchar *body;

  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    soup_server_message_set_status (message, SOUP_STATUS_METHOD_NOT_ALLOWED,
        NULL);
    return;
  }
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "servers");
  json_builder_begin_array (builder);
  for (url = *urls; url && *url; url++)
    json_builder_add_string_value (builder, *url);
  json_builder_end_array (builder);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  body = json_generator_to_data (generator, NULL);
  soup_server_message_set_status (message, SOUP_STATUS_OK, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers
      (message), "Cache-Control", "no-cache");
  soup_server_message_set_response (message, "application/json",
      SOUP_MEMORY_TAKE, body, strlen (body));
}

void
letschat_cluster_page_add_handler (SoupServer * soup, GStrv * urls)
{
  soup_server_add_handler (soup, "/cluster.json", on_cluster_json, urls, NULL);
}
