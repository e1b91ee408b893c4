/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/*
 * serve=true: the room server (ext/signalling) inside the pipeline's
 * process, on a thread of its own, shared by every party of the process
 * that serves the same address. It knows nothing of calls or elements.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstletschatserve.h"
#include "letschat-room-server.h"

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_serve_debug);
#define GST_CAT_DEFAULT gst_lets_chat_serve_debug

struct _GstLetsChatServeHandle
{
  gchar *key;                   /* "host:port" */
  gint refcount;                /* under serve_lock */
  gchar *host;
  guint16 port;
  gchar *tls_cert_file;         /* NULL: ws:// */
  gchar *tls_key_file;
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  LetsChatRoomServer *server;   /* lives on the server thread */

  /* start-up handshake */
  GMutex lock;
  GCond cond;
  gboolean ready;
  GError *error;
};

static GMutex serve_lock;
static GHashTable *servers;     /* key -> handle */

/* The server's own log lines ("joined", "left", ...) go to GStreamer's
 * debug log rather than to stderr of the user's program. */
static void
log_to_gst_debug (const gchar * domain, GLogLevelFlags level,
    const gchar * message, gpointer user_data)
{
  GST_INFO ("%s", message);
}

static gpointer
serve_thread (gpointer data)
{
  GstLetsChatServeHandle *h = data;
  GError *error = NULL;

  g_main_context_push_thread_default (h->context);
  h->server = letschat_room_server_new ();
  if (h->tls_cert_file == NULL || letschat_room_server_set_tls_files
      (h->server, h->tls_cert_file, h->tls_key_file, &error))
    letschat_room_server_listen (h->server, h->host, h->port, &error);

  g_mutex_lock (&h->lock);
  h->error = error;
  h->ready = TRUE;
  g_cond_signal (&h->cond);
  g_mutex_unlock (&h->lock);

  if (!error)
    g_main_loop_run (h->loop);
  letschat_room_server_shutdown (h->server);
  /* Let the closing handshakes go out before the context dies. */
  while (g_main_context_iteration (h->context, FALSE));
  g_clear_object (&h->server);
  g_main_context_pop_thread_default (h->context);
  return NULL;
}

static void
handle_free (GstLetsChatServeHandle * h)
{
  if (h->thread) {
    g_main_loop_quit (h->loop);
    g_thread_join (h->thread);
  }
  g_main_loop_unref (h->loop);
  g_main_context_unref (h->context);
  g_clear_error (&h->error);
  g_mutex_clear (&h->lock);
  g_cond_clear (&h->cond);
  g_free (h->key);
  g_free (h->host);
  g_free (h->tls_cert_file);
  g_free (h->tls_key_file);
  g_free (h);
}

GstLetsChatServeHandle *
gst_lets_chat_serve_acquire (const gchar * server_url,
    const gchar * tls_cert_file, const gchar * tls_key_file, GError ** error)
{
  GstLetsChatServeHandle *h;
  g_autoptr (GUri) uri = NULL;
  gchar *key;
  gint port;

  if (!gst_lets_chat_serve_debug)
    GST_DEBUG_CATEGORY_INIT (gst_lets_chat_serve_debug, "letschatserve", 0,
        "letschat room server hosted in the pipeline (serve=true)");

  uri = g_uri_parse (server_url, G_URI_FLAGS_NONE, error);
  if (!uri)
    return NULL;
  if (g_strcmp0 (g_uri_get_scheme (uri), "wss") == 0) {
    if (tls_cert_file == NULL || tls_key_file == NULL) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "serve=true with a wss:// server-url needs the certificate to "
          "serve: set tls-cert-file and tls-key-file (PEM)");
      return NULL;
    }
  } else if (g_strcmp0 (g_uri_get_scheme (uri), "ws") == 0) {
    /* ws:// serves without TLS whatever tls-cert-file says */
    tls_cert_file = tls_key_file = NULL;
  } else {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
        "serve=true hosts a ws:// or wss:// server; '%s' is neither",
        server_url);
    return NULL;
  }
  port = g_uri_get_port (uri);
  if (port <= 0)
    port = LETSCHAT_DEFAULT_PORT;
  key = g_strdup_printf ("%s:%d", g_uri_get_host (uri), port);

  g_mutex_lock (&serve_lock);
  if (!servers)
    servers = g_hash_table_new (g_str_hash, g_str_equal);
  h = g_hash_table_lookup (servers, key);
  if (h) {
    h->refcount++;
    g_free (key);
    g_mutex_unlock (&serve_lock);
    return h;
  }

  h = g_new0 (GstLetsChatServeHandle, 1);
  h->key = key;
  h->refcount = 1;
  h->host = g_strdup (g_uri_get_host (uri));
  h->port = port;
  h->tls_cert_file = g_strdup (tls_cert_file);
  h->tls_key_file = g_strdup (tls_key_file);
  g_mutex_init (&h->lock);
  g_cond_init (&h->cond);
  h->context = g_main_context_new ();
  h->loop = g_main_loop_new (h->context, FALSE);
  g_log_set_handler ("letschat-server", G_LOG_LEVEL_MASK, log_to_gst_debug,
      NULL);
  h->thread = g_thread_new ("letschat-serve", serve_thread, h);

  g_mutex_lock (&h->lock);
  while (!h->ready)
    g_cond_wait (&h->cond, &h->lock);
  g_mutex_unlock (&h->lock);

  if (h->error) {
    g_propagate_prefixed_error (error, g_steal_pointer (&h->error),
        "Could not host the room server at %s: ", h->key);
    g_mutex_unlock (&serve_lock);
    handle_free (h);
    return NULL;
  }
  GST_INFO ("room server hosted in this process at %s://%s/ws",
      h->tls_cert_file ? "wss" : "ws", h->key);
  g_hash_table_insert (servers, h->key, h);
  g_mutex_unlock (&serve_lock);
  return h;
}

void
gst_lets_chat_serve_release (GstLetsChatServeHandle * h)
{
  g_mutex_lock (&serve_lock);
  if (--h->refcount > 0) {
    g_mutex_unlock (&serve_lock);
    return;
  }
  g_hash_table_remove (servers, h->key);
  g_mutex_unlock (&serve_lock);
  handle_free (h);
}
