/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* TLS end to end on 127.0.0.1: the room server with a self-signed
 * certificate (tests/server/certs, valid until 2126), LetsChatClient and
 * the elements trusting it with a CA file, and the clear errors a user
 * gets when the certificate is not trusted, made for another host, or
 * expired. */

#include "letschat-room-server.h"
#include "letschat-protocol.h"
#include "test-util.h"

#include <gst/gst.h>
#include <glib/gstdio.h>
#include <string.h>

#define CERT CERTS_DIR "/localhost.pem"
#define KEY CERTS_DIR "/localhost.key"
#define OTHER_CERT CERTS_DIR "/other-host.pem"
#define OTHER_KEY CERTS_DIR "/other-host.key"
#define EXPIRED_CERT CERTS_DIR "/expired.pem"
#define EXPIRED_KEY CERTS_DIR "/expired.key"

typedef struct
{
  LetsChatRoomServer *server;
  gchar *url;                   /* wss:// */
  guint port;
} Fixture;

static void
start_server (Fixture * f, const gchar * cert, const gchar * key)
{
  g_autoptr (GError) error = NULL;

  f->server = letschat_room_server_new ();
  g_assert_true (letschat_room_server_set_tls_files (f->server, cert, key,
          &error));
  g_assert_no_error (error);
  g_assert_true (letschat_room_server_listen (f->server, "127.0.0.1", 0,
          &error));
  g_assert_no_error (error);
  f->port = letschat_room_server_get_port (f->server);
  f->url = g_strdup_printf ("wss://127.0.0.1:%u/ws", f->port);
}

static void
fixture_setup (Fixture * f, gconstpointer data)
{
  start_server (f, CERT, KEY);
}

static void
fixture_setup_other_host (Fixture * f, gconstpointer data)
{
  start_server (f, OTHER_CERT, OTHER_KEY);
}

static void
fixture_setup_expired (Fixture * f, gconstpointer data)
{
  start_server (f, EXPIRED_CERT, EXPIRED_KEY);
}

static void
fixture_teardown (Fixture * f, gconstpointer data)
{
  WAIT_UNTIL (letschat_room_server_get_n_connections (f->server) == 0);
  letschat_room_server_shutdown (f->server);
  g_object_unref (f->server);
  g_free (f->url);
}

static ClientPeer *
connect_with_ca (Fixture * f, const gchar * ca_file)
{
  ClientPeer *peer = client_peer_new ();
  g_autoptr (GError) error = NULL;

  if (ca_file) {
    g_assert_true (letschat_client_set_tls_ca_file (peer->client, ca_file,
            &error));
    g_assert_no_error (error);
  }
  client_peer_connect_async (peer, f->url, 0);
  WAIT_UNTIL (peer->connected || peer->connect_error);
  return peer;
}

/* Two parties over wss:// trusting the self-signed certificate: the whole
 * exchange (join, welcome, peer-joined, signal relay) works as on ws://. */
static void
test_wss_with_ca_file (Fixture * f, gconstpointer data)
{
  ClientPeer *a = connect_with_ca (f, CERT);
  ClientPeer *b = connect_with_ca (f, CERT);
  g_autoptr (JsonNode) sdp = json_from_string ("{\"sdp\":{\"type\":\"offer\","
      "\"sdp\":\"v=0\\r\\n\"}}", NULL);

  g_assert_no_error (a->connect_error);
  g_assert_no_error (b->connect_error);
  client_peer_join (a, "secure", NULL, "Alice");
  client_peer_join (b, "secure", NULL, "Bob");
  WAIT_UNTIL (a->n_joined == 1);
  g_assert_cmpstr (a->joined_name, ==, "Bob");

  letschat_client_send_signal (a->client, sdp);
  WAIT_UNTIL (b->signals->len == 1);
  g_assert_cmpstr (b->signal_from, ==, a->id);

  client_peer_free (a);
  client_peer_free (b);
}

/* tls-ca-file=cert.pem on a command line is relative to the directory
 * the program runs in. */
static void
test_wss_relative_ca_file (Fixture * f, gconstpointer data)
{
  g_autofree gchar *cwd = g_get_current_dir ();
  ClientPeer *a;

  g_assert_cmpint (g_chdir (CERTS_DIR), ==, 0);
  a = connect_with_ca (f, "localhost.pem");
  g_assert_cmpint (g_chdir (cwd), ==, 0);
  g_assert_no_error (a->connect_error);
  client_peer_join (a, "relative", NULL, NULL);
  client_peer_free (a);
}

/* Without the CA file the system store does not know the certificate: the
 * error says so and what to do. */
static void
test_wss_unknown_ca (Fixture * f, gconstpointer data)
{
  ClientPeer *a = connect_with_ca (f, NULL);

  g_assert_error (a->connect_error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_assert_nonnull (strstr (a->connect_error->message,
          "not signed by a trusted certificate authority"));
  g_assert_nonnull (strstr (a->connect_error->message, "tls-ca-file"));
  g_assert_false (a->connected);
  client_peer_free (a);
}

/* A trusted certificate made for another host name is refused too. */
static void
test_wss_wrong_host (Fixture * f, gconstpointer data)
{
  ClientPeer *a = connect_with_ca (f, OTHER_CERT);

  g_assert_error (a->connect_error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_assert_nonnull (strstr (a->connect_error->message,
          "not valid for this host name"));
  client_peer_free (a);
}

/* A trusted certificate that expired in 2001 is refused, and said so. */
static void
test_wss_expired (Fixture * f, gconstpointer data)
{
  ClientPeer *a = connect_with_ca (f, EXPIRED_CERT);

  g_assert_error (a->connect_error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE);
  g_assert_nonnull (strstr (a->connect_error->message, "it has expired"));
  client_peer_free (a);
}

/* insecure-tls (tests only) accepts the unknown certificate, and says so. */
static void
test_wss_insecure (Fixture * f, gconstpointer data)
{
  ClientPeer *a = client_peer_new ();

  letschat_client_set_insecure_tls (a->client, TRUE);
  g_test_expect_message ("letschat-client", G_LOG_LEVEL_WARNING,
      "*Accepting the invalid TLS certificate*");
  client_peer_connect_async (a, f->url, 0);
  WAIT_UNTIL (a->connected || a->connect_error);
  g_test_assert_expected_messages ();
  g_assert_no_error (a->connect_error);
  client_peer_join (a, "lax", NULL, NULL);
  client_peer_free (a);
}

static void
on_http_done (GObject * source, GAsyncResult * result, gpointer user_data)
{
  GError **error = g_object_get_data (source, "error");
  GBytes **body = user_data;

  *body = soup_session_send_and_read_finish (SOUP_SESSION (source), result,
      error);
  if (*body == NULL)
    *body = g_bytes_new (NULL, 0);
}

/* The page is served over https:// on the same port as wss://. */
static void
test_https_page (Fixture * f, gconstpointer data)
{
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autoptr (GTlsDatabase) db = g_tls_file_database_new (CERT, NULL);
  g_autofree gchar *url = g_strdup_printf ("https://127.0.0.1:%u/", f->port);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  g_autoptr (GBytes) body = NULL;
  GError *error = NULL;

  soup_session_set_tls_database (session, db);
  g_object_set_data (G_OBJECT (session), "error", &error);
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL,
      on_http_done, &body);
  WAIT_UNTIL (body != NULL);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  g_assert_true (g_str_has_prefix (soup_message_headers_get_content_type
          (soup_message_get_response_headers (msg), NULL), "text/html"));
  g_assert_cmpuint (g_bytes_get_size (body), >, 0);
}

static void
test_bad_files (void)
{
  g_autoptr (LetsChatRoomServer) server = letschat_room_server_new ();
  g_autoptr (LetsChatClient) client = letschat_client_new ();
  g_autoptr (GError) error = NULL;

  g_assert_false (letschat_room_server_set_tls_files (server,
          CERTS_DIR "/missing.pem", KEY, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "missing.pem"));
  g_clear_error (&error);

  /* a file that holds no key */
  g_assert_false (letschat_room_server_set_tls_files (server, CERT, CERT,
          &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "localhost.pem"));
  g_clear_error (&error);

  g_assert_false (letschat_client_set_tls_ca_file (client,
          CERTS_DIR "/missing.pem", &error));
  g_assert_nonnull (strstr (error->message, "missing.pem"));
}

/* The room server on a thread of its own, in a main context of its own,
 * as letschatsink serve=true runs it. */
typedef struct
{
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  GMutex lock;
  GCond cond;
  guint port;                   /* 0 until it listens */
} ServerThread;

static gpointer
server_thread_run (gpointer data)
{
  ServerThread *t = data;
  g_autoptr (LetsChatRoomServer) server = NULL;
  g_autoptr (GError) error = NULL;

  g_main_context_push_thread_default (t->context);
  server = letschat_room_server_new ();
  g_assert_true (letschat_room_server_set_tls_files (server, CERT, KEY,
          &error));
  g_assert_true (letschat_room_server_listen (server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);

  g_mutex_lock (&t->lock);
  t->port = letschat_room_server_get_port (server);
  g_cond_signal (&t->cond);
  g_mutex_unlock (&t->lock);

  g_main_loop_run (t->loop);
  letschat_room_server_shutdown (server);
  while (g_main_context_iteration (t->context, FALSE));
  g_clear_object (&server);
  g_main_context_pop_thread_default (t->context);
  return NULL;
}

static gboolean
tick (gpointer user_data)
{
  return G_SOURCE_CONTINUE;     /* wakes the loop to check the condition */
}

/* WAIT_UNTIL_MS in @context rather than in the default one. */
#define WAIT_IN_CONTEXT(context, cond, timeout_ms) G_STMT_START {       \
    GSource *_tick = g_timeout_source_new (5);                          \
    gint64 _deadline = g_get_monotonic_time () +                        \
        (gint64) (timeout_ms) * G_TIME_SPAN_MILLISECOND;                 \
    g_source_set_callback (_tick, tick, NULL, NULL);                    \
    g_source_attach (_tick, (context));                                 \
    while (!(cond) && g_get_monotonic_time () < _deadline)              \
      g_main_context_iteration ((context), TRUE);                       \
    g_source_destroy (_tick);                                           \
    g_source_unref (_tick);                                             \
    if (!(cond))                                                        \
      g_error ("%s:%d: timed out after %d ms waiting for: %s",          \
          __FILE__, __LINE__, (timeout_ms), #cond);                     \
  } G_STMT_END

/* The server's TLS handshakes, and the WebSockets they lead to, are its
 * own thread's work: nobody runs the process's default main context here
 * (an application with a GStreamer pipeline need not). The TLS guard
 * used to wait for the ClientHello in that default context: the handshake
 * never started there, and where some other thread did run it (the
 * tests, gst-launch), the WebSocket reached the rooms on that thread, while
 * the server's thread already read it: a join sent at once was dropped
 * (/tls/elements-wss-call, 1 run in 15). */
static void
test_server_in_own_thread (void)
{
  ServerThread t = { 0, };
  GMainContext *client_context = g_main_context_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = NULL;
  ClientPeer *peer;

  g_mutex_init (&t.lock);
  g_cond_init (&t.cond);
  t.context = g_main_context_new ();
  t.loop = g_main_loop_new (t.context, FALSE);
  t.thread = g_thread_new ("room-server", server_thread_run, &t);
  g_mutex_lock (&t.lock);
  while (t.port == 0)
    g_cond_wait (&t.cond, &t.lock);
  g_mutex_unlock (&t.lock);
  url = g_strdup_printf ("wss://127.0.0.1:%u/ws", t.port);

  /* The client too runs in a context of its own, on this thread. */
  g_main_context_push_thread_default (client_context);
  peer = client_peer_new ();
  g_assert_true (letschat_client_set_tls_ca_file (peer->client, CERT, &error));
  g_assert_no_error (error);
  client_peer_connect_async (peer, url, 0);
  WAIT_IN_CONTEXT (client_context, peer->connected || peer->connect_error,
      30000);
  g_assert_no_error (peer->connect_error);

  letschat_client_join (peer->client, "own-thread", NULL, "Alice");
  WAIT_IN_CONTEXT (client_context, peer->n_welcome == 1
      || peer->n_errors > 0, 30000);
  g_assert_cmpuint (peer->n_errors, ==, 0);
  g_assert_cmpstr (peer->room, ==, "own-thread");

  letschat_client_close (peer->client);
  WAIT_IN_CONTEXT (client_context, peer->closed, 30000);
  client_peer_free (peer);
  g_main_context_pop_thread_default (client_context);
  g_main_context_unref (client_context);

  g_main_loop_quit (t.loop);
  g_thread_join (t.thread);
  g_main_loop_unref (t.loop);
  g_main_context_unref (t.context);
  g_mutex_clear (&t.lock);
  g_cond_clear (&t.cond);
}

/* ------------------------------------------------------------------ */
/* The elements                                                        */

typedef struct
{
  GstElement *pipeline;
  GHashTable *seen;             /* letschat/... message names */
  gchar *error;                 /* first error: message and debug */
  GString *warnings;            /* every warning's message */
} Party;

static Party *
party_new (const gchar * desc)
{
  Party *p = g_new0 (Party, 1);
  g_autoptr (GError) error = NULL;

  p->pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  p->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gst_element_set_state (p->pipeline, GST_STATE_PLAYING);
  p->warnings = g_string_new (NULL);
  return p;
}

static void
party_poll (Party * p)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (p->pipeline);
  GstMessage *m;

  while ((m = gst_bus_pop (bus))) {
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT) {
      const GstStructure *s = gst_message_get_structure (m);

      if (s && g_str_has_prefix (gst_structure_get_name (s), "letschat/"))
        g_hash_table_add (p->seen, g_strdup (gst_structure_get_name (s)));
    } else if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_WARNING) {
      g_autoptr (GError) err = NULL;

      gst_message_parse_warning (m, &err, NULL);
      g_string_append_printf (p->warnings, "%s\n", err->message);
    } else if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR && !p->error) {
      g_autoptr (GError) err = NULL;
      g_autofree gchar *debug = NULL;

      gst_message_parse_error (m, &err, &debug);
      p->error = g_strdup_printf ("%s (%s)", err->message, debug);
    }
    gst_message_unref (m);
  }
}

static void
party_free (Party * p)
{
  gst_element_set_state (p->pipeline, GST_STATE_NULL);
  gst_object_unref (p->pipeline);
  g_hash_table_unref (p->seen);
  g_free (p->error);
  g_string_free (p->warnings, TRUE);
  g_free (p);
}

static gboolean
parties_see (Party * a, Party * b, const gchar * name)
{
  party_poll (a);
  party_poll (b);
  g_assert_null (a->error);
  g_assert_null (b->error);
  return g_hash_table_contains (a->seen, name) &&
      g_hash_table_contains (b->seen, name);
}

static gboolean
party_sees (Party * p, const gchar * name)
{
  party_poll (p);
  g_assert_null (p->error);
  return g_hash_table_contains (p->seen, name);
}

static guint
free_port (void)
{
  g_autoptr (GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4,
      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback
      (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) any = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (s, any, TRUE, NULL));
  bound = g_socket_get_local_address (s, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

/* A real call over wss://: the sender hosts the server (serve=true with
 * the certificate), the receiver trusts it with tls-ca-file. */
static void
test_elements_wss_call (void)
{
  guint port = free_port ();
  g_autofree gchar *tx_desc = g_strdup_printf ("videotestsrc is-live=true ! "
      "video/x-raw,width=160,height=120,framerate=15/1 ! letschatsink "
      "room=tls server-url=wss://127.0.0.1:%u/ws serve=true "
      "tls-cert-file=" CERT " tls-key-file=" KEY " tls-ca-file=" CERT, port);
  g_autofree gchar *rx_desc = g_strdup_printf ("letschatsrc name=r room=tls "
      "server-url=wss://127.0.0.1:%u/ws tls-ca-file=" CERT " r. ! "
      "video/x-raw ! fakesink", port);
  Party *tx = party_new (tx_desc);
  Party *rx = party_new (rx_desc);

  WAIT_UNTIL_MS (parties_see (tx, rx, "letschat/peer-joined"), 30000);
  WAIT_UNTIL_MS (party_sees (rx, "letschat/first-frame"), 60000);
  party_free (rx);
  party_free (tx);
}

/* Without tls-ca-file: an error naming the certificate problem. */
static void
test_elements_untrusted (Fixture * f, gconstpointer data)
{
  g_autofree gchar *desc = g_strdup_printf ("letschatsrc name=r room=x "
      "server-url=%s reconnect=false r. ! fakesink", f->url);
  Party *rx = party_new (desc);

  WAIT_UNTIL_MS ((party_poll (rx), rx->error != NULL), 20000);
  g_assert_nonnull (strstr (rx->error, "not signed by a trusted certificate "
          "authority"));
  g_assert_nonnull (strstr (rx->error, "Set tls-ca-file"));
  party_free (rx);
}

/* The room's errors and warnings reach the bus even when they come as the
 * party starts (the room connects once the session listens to it). */
static void
test_elements_unreadable_ca_file (Fixture * f, gconstpointer data)
{
  g_autofree gchar *desc = g_strdup_printf ("letschatsrc name=r room=x "
      "server-url=%s tls-ca-file=/nonexistent/ca.pem r. ! fakesink", f->url);
  Party *rx = party_new (desc);

  WAIT_UNTIL_MS ((party_poll (rx), rx->error != NULL), 20000);
  g_test_message ("error: %s", rx->error);
  g_assert_nonnull (strstr (rx->error, "/nonexistent/ca.pem"));
  party_free (rx);
}

static void
test_elements_insecure_warns (Fixture * f, gconstpointer data)
{
  g_autofree gchar *desc = g_strdup_printf ("letschatsrc name=r room=x "
      "server-url=%s insecure-tls=true r. ! fakesink", f->url);
  Party *rx;

  /* The client says so in the log too (on the party's thread). */
  g_test_expect_message ("letschat-client", G_LOG_LEVEL_WARNING,
      "*Accepting the invalid TLS certificate*");
  rx = party_new (desc);

  WAIT_UNTIL_MS ((party_poll (rx), strstr (rx->warnings->str,
              "insecure-tls is on") != NULL), 20000);
  WAIT_UNTIL_MS ((party_poll (rx), party_sees (rx, "letschat/joined")), 20000);
  g_test_assert_expected_messages ();
  g_assert_null (rx->error);
  party_free (rx);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/tls/wss-with-ca-file", Fixture, NULL, fixture_setup,
      test_wss_with_ca_file, fixture_teardown);
  g_test_add ("/tls/wss-relative-ca-file", Fixture, NULL, fixture_setup,
      test_wss_relative_ca_file, fixture_teardown);
  g_test_add ("/tls/wss-unknown-ca", Fixture, NULL, fixture_setup,
      test_wss_unknown_ca, fixture_teardown);
  g_test_add ("/tls/wss-wrong-host", Fixture, NULL,
      fixture_setup_other_host, test_wss_wrong_host, fixture_teardown);
  g_test_add ("/tls/wss-expired", Fixture, NULL, fixture_setup_expired,
      test_wss_expired, fixture_teardown);
  g_test_add ("/tls/wss-insecure", Fixture, NULL, fixture_setup,
      test_wss_insecure, fixture_teardown);
  g_test_add ("/tls/https-page", Fixture, NULL, fixture_setup,
      test_https_page, fixture_teardown);
  g_test_add_func ("/tls/bad-files", test_bad_files);
  g_test_add_func ("/tls/server-in-own-thread", test_server_in_own_thread);
  g_test_add_func ("/tls/elements-wss-call", test_elements_wss_call);
  g_test_add ("/tls/elements-untrusted", Fixture, NULL, fixture_setup,
      test_elements_untrusted, fixture_teardown);
  g_test_add ("/tls/elements-unreadable-ca-file", Fixture, NULL,
      fixture_setup, test_elements_unreadable_ca_file, fixture_teardown);
  g_test_add ("/tls/elements-insecure-warns", Fixture, NULL, fixture_setup,
      test_elements_insecure_warns, fixture_teardown);
  return g_test_run ();
}
