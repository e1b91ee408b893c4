/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* What an operator sees of the letschat-server program ($LETSCHAT_SERVER),
 * run as a subprocess: /metrics counts what honest parties did through
 * it (joins, relayed signals and their bytes, leaves, refusals by code,
 * rate limits, a ping timeout, a failed TLS handshake), /healthz, and
 * that neither is answered to an address outside --metrics-allow. */

#include "letschat-protocol.h"
#include "test-util.h"

#include <signal.h>
#include <string.h>
#include <glib/gstdio.h>
#include <unistd.h>

static gchar *
server_url (ServerProcess * s, const gchar * path)
{
  return g_strdup_printf ("%s://127.0.0.1:%u%s", s->tls ? "https" : "http",
      s->port, path);
}


/* GET @path from the server from @local_ip (NULL: any); the status in
 * @status, the body returned. Asynchronous underneath, so that the test's
 * own parties (same main context) keep being served meanwhile. */
typedef struct
{
  GBytes *body;
  GError *error;
} Fetch;

static void
on_fetched (GObject * source, GAsyncResult * result, gpointer user_data)
{
  Fetch *fetch = user_data;

  fetch->body = soup_session_send_and_read_finish (SOUP_SESSION (source),
      result, &fetch->error);
}

static gchar *
http_get (ServerProcess * s, const gchar * path, const gchar * local_ip,
    guint * status, gchar ** content_type)
{
  g_autoptr (SoupSession) session = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GSocketAddress) local = NULL;
  g_autofree gchar *url = server_url (s, path);
  Fetch fetch = { 0 };
  gchar *text;

  if (local_ip)
    local = g_inet_socket_address_new_from_string (local_ip, 0);
  session = soup_session_new_with_options ("local-address", local, NULL);
  msg = soup_message_new (SOUP_METHOD_GET, url);
  soup_session_send_and_read_async (session, msg, G_PRIORITY_DEFAULT, NULL,
      on_fetched, &fetch);
  WAIT_UNTIL (fetch.body || fetch.error);
  g_assert_no_error (fetch.error);
  *status = soup_message_get_status (msg);
  if (content_type)
    *content_type = g_strdup (soup_message_headers_get_content_type
        (soup_message_get_response_headers (msg), NULL));
  text = g_strndup (g_bytes_get_data (fetch.body, NULL),
      g_bytes_get_size (fetch.body));
  g_bytes_unref (fetch.body);
  return text;
}

/* The value of the sample @series (name with its labels, as printed) in a
 * Prometheus text page; fails the test if the page has no such series. */
static guint64
sample (const gchar * page, const gchar * series)
{
  g_auto (GStrv) lines = g_strsplit (page, "\n", -1);
  gsize len = strlen (series);
  gchar **line;

  for (line = lines; *line; line++)
    if (strncmp (*line, series, len) == 0 && (*line)[len] == ' ')
      return g_ascii_strtoull (*line + len + 1, NULL, 10);
  g_error ("no sample %s in /metrics:\n%s", series, page);
  return 0;
}

static gchar *
metrics_page (ServerProcess * s, const gchar * local_ip)
{
  guint status = 0;
  g_autofree gchar *type = NULL;
  gchar *page = http_get (s, "/metrics", local_ip, &status, &type);

  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (type, ==, "text/plain");
  return page;
}

/* Waits until the page's @series is @value (the server counts a close or
 * a timeout on its own time). */
#define WAIT_FOR_SAMPLE(s, ip, series, value) G_STMT_START {           \
    gchar *_page = NULL;                                              \
    guint64 _got = G_MAXUINT64;                                       \
    gint64 _deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;  \
    while (g_get_monotonic_time () < _deadline) {                     \
      g_free (_page);                                                 \
      _page = metrics_page (s, ip);                                   \
      _got = sample (_page, series);                                  \
      if (_got == (value))                                            \
        break;                                                        \
      test_iterate_for (50);                                          \
    }                                                                 \
    if (_got != (value))                                              \
      g_error ("%s is %" G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT   \
          ":\n%s", series, _got, (guint64) (value), _page);            \
    g_free (_page);                                                   \
  } G_STMT_END

static void
on_message_bytes (SoupWebsocketConnection * ws, gint type, GBytes * message,
    gpointer user_data)
{
  guint64 *bytes = user_data;

  *bytes += g_bytes_get_size (message);
}

/* A WebSocket client that does the handshake by hand, then never reads
 * again: it answers no ping, as a machine that vanished. */
static GSocketConnection *
silent_party (ServerProcess * s)
{
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *request = g_strdup_printf ("GET /ws HTTP/1.1\r\n"
      "Host: 127.0.0.1:%u\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n", s->port);
  GSocketConnection *conn;
  gchar answer[13] = { 0 };
  gsize n;

  conn = g_socket_client_connect_to_host (client, "127.0.0.1", s->port, NULL,
      &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM
          (conn)), request, strlen (request), NULL, NULL, &error);
  g_assert_no_error (error);
  g_input_stream_read_all (g_io_stream_get_input_stream (G_IO_STREAM (conn)),
      answer, sizeof (answer) - 1, &n, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (answer, ==, "HTTP/1.1 101");
  return conn;
}

/* Two honest parties hold a "call" (join, signals both ways, leave), a
 * third is refused (room-full) and a fourth floods; a silent one times out.
 * /metrics then counts exactly that. Only 127.0.0.2 may read it. */
static void
test_metrics_count_a_call (void)
{
  const gchar *args[] = { "--metrics-allow", "127.0.0.2/32",
    "--rate-limit", "0.1", "--rate-burst", "10", "--ping-interval", "1",
    "--ping-timeout", "2", NULL
  };
  ServerProcess *s = server_process_start (args);
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree gchar *ws_url = g_strdup_printf ("ws://127.0.0.1:%u/ws",
      s->port);
  g_autofree gchar *page = NULL;
  g_autofree gchar *forbidden = NULL;
  g_autoptr (GSocketConnection) silent = NULL;
  const gchar *signals[] = {
    "{\"type\":\"signal\",\"data\":{\"sdp\":{\"type\":\"offer\","
        "\"sdp\":\"v=0\\r\\no=- 4611 2 IN IP4 127.0.0.1\\r\\n\"}}}",
    "{\"type\":\"signal\",\"data\":{\"ice\":{\"candidate\":\"candidate:1 1 "
        "UDP 2122252543 192.0.2.7 50123 typ host\",\"sdpMLineIndex\":0,"
        "\"sdpMid\":\"video0\"}}}",
    "{\"type\":\"signal\",\"data\":{\"sdp\":{\"type\":\"answer\","
        "\"sdp\":\"v=0\\r\\no=- 7342 2 IN IP4 127.0.0.1\\r\\n\"}}}",
  };
  RawPeer *a, *b, *c, *flood;
  guint64 a_bytes = 0, b_bytes = 0, a_base = 0, b_base = 0;
  guint status = 0, i, not_joined;

  /* 127.0.0.1 is loopback, but not in this server's list */
  forbidden = http_get (s, "/metrics", NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 403);
  g_assert_nonnull (strstr (forbidden, "--metrics-allow"));
  g_free (forbidden);
  forbidden = http_get (s, "/healthz", NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 403);

  a = raw_peer_connect (session, ws_url);
  b = raw_peer_connect (session, ws_url);
  g_signal_connect (a->ws, "message", G_CALLBACK (on_message_bytes), &a_bytes);
  g_signal_connect (b->ws, "message", G_CALLBACK (on_message_bytes), &b_bytes);
  raw_peer_join (a, "ops", NULL);
  raw_peer_join (b, "ops", NULL);
  raw_peer_expect (a, "peer-joined");

  /* what each receives from here on is relayed signals only */
  a_base = a_bytes;
  b_base = b_bytes;
  raw_peer_send (b, signals[0]);
  raw_peer_expect (a, "signal");
  raw_peer_send (b, signals[1]);
  raw_peer_expect (a, "signal");
  raw_peer_send (a, signals[2]);
  raw_peer_expect (b, "signal");

  c = raw_peer_connect (session, ws_url);
  raw_peer_send (c, "{\"type\":\"join\",\"room\":\"ops\"}");
  raw_peer_expect_error (c, "room-full");

  page = metrics_page (s, "127.0.0.2");
  g_assert_cmpuint (sample (page, "letschat_connections"), ==, 3);
  g_assert_cmpuint (sample (page, "letschat_rooms"), ==, 1);
  g_assert_cmpuint (sample (page, "letschat_joins_total"), ==, 2);
  g_assert_cmpuint (sample (page, "letschat_messages_relayed_total"), ==, 3);
  g_assert_cmpuint (sample (page, "letschat_relayed_bytes_total"), ==,
      (a_bytes - a_base) + (b_bytes - b_base));
  g_assert_cmpuint (sample (page,
          "letschat_refusals_total{code=\"room-full\"}"), ==, 1);
  g_assert_cmpuint (sample (page, "letschat_leaves_total"), ==, 0);
  g_assert_cmpuint (sample (page, "process_resident_memory_bytes"), >,
      1024 * 1024);
  g_assert_cmpuint (sample (page, "process_open_fds"), >=, 3 + 3);
  g_clear_pointer (&page, g_free);

  /* b leaves, a hangs up (its socket closes), c goes */
  raw_peer_send (b, "{\"type\":\"leave\"}");
  raw_peer_expect (a, "peer-left");
  raw_peer_free (a);
  raw_peer_free (b);
  raw_peer_free (c);
  WAIT_FOR_SAMPLE (s, "127.0.0.2", "letschat_connections", 0);
  page = metrics_page (s, "127.0.0.2");
  g_assert_cmpuint (sample (page, "letschat_leaves_total"), ==, 2);
  g_assert_cmpuint (sample (page, "letschat_rooms"), ==, 0);
  g_assert_cmpuint (sample (page, "letschat_connections_accepted_total"), ==,
      3);
  /* the three WebSockets and the /metrics requests, counted from accept */
  g_assert_cmpuint (sample (page, "letschat_tcp_accepted_total"), >=, 3 + 2);
  g_assert_cmpuint (sample (page, "letschat_tcp_refused_per_ip_total"), ==, 0);
  g_assert_cmpuint (sample (page, "letschat_request_bodies_refused_total"), ==,
      0);
  g_clear_pointer (&page, g_free);

  /* 15 messages against a bucket of 10: each one is either answered
   * (not-joined) or dropped, and the first drop is told rate-limited. */
  flood = raw_peer_connect (session, ws_url);
  for (i = 0; i < 15; i++)
    raw_peer_send (flood, "{\"type\":\"leave\"}");
  raw_peer_expect_error (flood, "not-joined");
  page = metrics_page (s, "127.0.0.2");
  while (sample (page, "letschat_rate_limited_messages_total")
      + sample (page, "letschat_refusals_total{code=\"not-joined\"}") < 15) {
    test_iterate_for (50);
    g_free (page);
    page = metrics_page (s, "127.0.0.2");
  }
  not_joined = sample (page, "letschat_refusals_total{code=\"not-joined\"}");
  g_assert_cmpuint (not_joined, >=, 10);
  g_assert_cmpuint (sample (page, "letschat_rate_limited_messages_total"), ==,
      15 - not_joined);
  g_assert_cmpuint (sample (page,
          "letschat_refusals_total{code=\"rate-limited\"}"), ==,
      not_joined < 15 ? 1 : 0);
  g_clear_pointer (&page, g_free);
  raw_peer_free (flood);

  /* a party that answers no ping is closed after --ping-timeout */
  silent = silent_party (s);
  WAIT_FOR_SAMPLE (s, "127.0.0.2", "letschat_ping_timeouts_total", 1);

  /* a page of another site may not open a WebSocket here */
  {
    g_autoptr (SoupSession) http = soup_session_new ();
    g_autoptr (SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, ws_url);
    SoupMessageHeaders *headers = soup_message_get_request_headers (msg);
    Fetch fetch = { 0 };

    soup_message_headers_replace (headers, "Origin", "https://evil.example");
    soup_websocket_client_prepare_handshake (msg, "https://evil.example",
        NULL, NULL);
    soup_session_send_and_read_async (http, msg, G_PRIORITY_DEFAULT, NULL,
        on_fetched, &fetch);
    WAIT_UNTIL (fetch.body || fetch.error);
    g_assert_no_error (fetch.error);
    g_bytes_unref (fetch.body);
    g_assert_cmpuint (soup_message_get_status (msg), ==, 403);
    page = metrics_page (s, "127.0.0.2");
    g_assert_cmpuint (sample (page, "letschat_origins_refused_total"), ==, 1);
    g_clear_pointer (&page, g_free);
  }

  server_process_stop (s);
}

/* /healthz: one line of JSON, from the default allow list (loopback). */
static void
test_healthz (void)
{
  ServerProcess *s = server_process_start (NULL);
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree gchar *ws_url = g_strdup_printf ("ws://127.0.0.1:%u/ws",
      s->port);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *body = NULL;
  g_autofree gchar *type = NULL;
  JsonObject *health;
  RawPeer *a;
  guint status = 0;
  g_autofree gchar *page_line = NULL;

  /* the start lines say where the page is */
  page_line = g_strdup_printf (" page url=http://127.0.0.1:%u/\n", s->port);
  WAIT_UNTIL (strstr (s->output->str, page_line) != NULL);

  a = raw_peer_connect (session, ws_url);
  raw_peer_join (a, "lonely", NULL);

  body = http_get (s, "/healthz", NULL, &status, &type);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (type, ==, "application/json");
  /* one line */
  g_assert_true (g_str_has_suffix (body, "}\n"));
  g_assert_true (strchr (body, '\n') == body + strlen (body) - 1);
  json_parser_load_from_data (parser, body, -1, &error);
  g_assert_no_error (error);
  health = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (health, "status"), ==, "ok");
  g_assert_cmpint (json_object_get_int_member (health, "connections"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (health, "rooms"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (health, "uptime_seconds"), >=,
      0);

  raw_peer_free (a);
  server_process_stop (s);
}

/* A client that refuses the certificate (and one speaking plain HTTP to
 * the TLS port) count as failed TLS handshakes; a good one does not. */
static void
test_tls_handshakes_failed (void)
{
  const gchar *args[] = { "--tls-cert", CERTS_DIR "/localhost.pem",
    "--tls-key", CERTS_DIR "/localhost.key", NULL
  };
  ServerProcess *s = server_process_start (args);
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GSocketConnection) plain = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GTlsDatabase) db = NULL;
  static const gchar http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

  plain = g_socket_client_connect_to_host (client, "127.0.0.1", s->port,
      NULL, &error);
  g_assert_no_error (error);
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM
          (plain)), http, strlen (http), NULL, NULL, &error);
  g_assert_no_error (error);
  /* (a TLS server takes "GET /" for the header of a long record, and
   * would wait for the rest: the client hangs up, as one would) */
  g_io_stream_close (G_IO_STREAM (plain), NULL, NULL);

  /* our own page, over TLS that trusts the certificate: no failure */
  db = g_tls_file_database_new (CERTS_DIR "/localhost.pem", &error);
  g_assert_no_error (error);
  {
    g_autoptr (SoupSession) session = soup_session_new_with_options
        ("tls-database", db, NULL);
    g_autoptr (SoupMessage) msg = NULL;
    g_autofree gchar *url = server_url (s, "/");
    g_autoptr (GBytes) body = NULL;

    msg = soup_message_new (SOUP_METHOD_GET, url);
    body = soup_session_send_and_read (session, msg, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  }

  {
    g_autoptr (SoupSession) session = soup_session_new_with_options
        ("tls-database", db, NULL);
    guint status = 0;
    gchar *page;
    gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

    /* (not metrics_page(): trusting nothing, it would fail a handshake
     * itself) */
    while (TRUE) {
      g_autoptr (SoupMessage) msg = NULL;
      g_autofree gchar *url = server_url (s, "/metrics");
      g_autoptr (GBytes) body = NULL;

      msg = soup_message_new (SOUP_METHOD_GET, url);
      body = soup_session_send_and_read (session, msg, NULL, &error);
      g_assert_no_error (error);
      status = soup_message_get_status (msg);
      g_assert_cmpuint (status, ==, 200);
      page = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
      if (sample (page, "letschat_tls_handshakes_failed_total") == 1
          || g_get_monotonic_time () > deadline)
        break;
      g_free (page);
      test_iterate_for (50);
    }
    g_assert_cmpuint (sample (page, "letschat_tls_handshakes_failed_total"),
        ==, 1);
    g_free (page);
  }

  server_process_stop (s);
}

/* --log-format json: every line of standard output is one JSON object
 * with time, level, event and message, and the event's fields (escapes in
 * a display name undone). */
static void
test_log_json (void)
{
  const gchar *args[] = { "--log-format", "json", NULL };
  ServerProcess *s = server_process_start (args);
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree gchar *ws_url = g_strdup_printf ("ws://127.0.0.1:%u/ws",
      s->port);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_auto (GStrv) lines = NULL;
  RawPeer *a, *b, *c;
  gboolean seen_listening = FALSE, seen_join = FALSE, seen_refused = FALSE,
      seen_leave = FALSE, seen_stopped = FALSE, seen_page = FALSE;
  guint i, n_lines = 0;

  a = raw_peer_connect (session, ws_url);
  b = raw_peer_connect (session, ws_url);
  c = raw_peer_connect (session, ws_url);
  raw_peer_send (a, "{\"type\":\"join\",\"room\":\"logs\","
      "\"name\":\"Zoë \\\"the\\\" \\\\ one\"}");
  raw_peer_expect (a, "welcome");
  raw_peer_join (b, "logs", NULL);
  raw_peer_send (c, "{\"type\":\"join\",\"room\":\"logs\"}");
  raw_peer_expect_error (c, "room-full");
  raw_peer_send (b, "{\"type\":\"leave\"}");
  raw_peer_expect (a, "peer-joined");
  raw_peer_expect (a, "peer-left");
  raw_peer_free (a);
  raw_peer_free (b);
  raw_peer_free (c);

  g_subprocess_send_signal (s->process, SIGTERM);
  WAIT_UNTIL (s->exited && s->eof);

  lines = g_strsplit (s->output->str, "\n", -1);
  for (i = 0; lines[i]; i++) {
    g_autoptr (GError) error = NULL;
    JsonObject *line;
    const gchar *event;

    if (lines[i][0] == '\0' && lines[i + 1] == NULL)
      break;                    /* after the last newline */
    n_lines++;
    if (!json_parser_load_from_data (parser, lines[i], -1, &error))
      g_error ("line %u is not JSON (%s): %s", i + 1, error->message, lines[i]);
    g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
    line = json_node_get_object (json_parser_get_root (parser));
    g_assert_true (g_str_has_suffix (json_object_get_string_member (line,
                "time"), "Z"));
    g_assert_nonnull (json_object_get_string_member (line, "level"));
    g_assert_nonnull (json_object_get_string_member (line, "message"));
    event = json_object_get_string_member (line, "event");
    g_assert_nonnull (event);

    if (g_str_equal (event, "listening")) {
      g_assert_true (g_str_has_prefix (json_object_get_string_member (line,
                  "url"), "ws://127.0.0.1:"));
      seen_listening = TRUE;
    } else if (g_str_equal (event, "page")) {
      g_assert_true (g_str_has_prefix (json_object_get_string_member (line,
                  "url"), "http://127.0.0.1:"));
      seen_page = TRUE;
    } else if (g_str_equal (event, "join")
        && g_strcmp0 (json_object_get_string_member (line, "parties"),
            "1") == 0) {
      g_assert_cmpstr (json_object_get_string_member (line, "room"), ==,
          "logs");
      g_assert_cmpstr (json_object_get_string_member (line, "name"), ==,
          "Zoë \"the\" \\ one");
      g_assert_nonnull (json_object_get_string_member (line, "id"));
      g_assert_nonnull (json_object_get_string_member (line, "addr"));
      seen_join = TRUE;
    } else if (g_str_equal (event, "refused")) {
      g_assert_cmpstr (json_object_get_string_member (line, "code"), ==,
          "room-full");
      g_assert_cmpstr (json_object_get_string_member (line, "room"), ==,
          "logs");
      g_assert_cmpstr (json_object_get_string_member (line, "detail"), ==,
          "This room already has two parties.");
      g_assert_cmpstr (json_object_get_string_member (line, "level"), ==,
          "info");
      seen_refused = TRUE;
    } else if (g_str_equal (event, "leave")
        && g_strcmp0 (json_object_get_string_member (line, "reason"),
            "leave") == 0) {
      seen_leave = TRUE;
    } else if (g_str_equal (event, "stopped")) {
      seen_stopped = TRUE;
    }
  }
  g_assert_cmpuint (n_lines, >=, 10);
  g_assert_true (seen_listening);
  g_assert_true (seen_page);
  g_assert_true (seen_join);
  g_assert_true (seen_refused);
  g_assert_true (seen_leave);
  g_assert_true (seen_stopped);
  server_process_stop (s);
}

static gchar *
write_config (const gchar * text)
{
  g_autoptr (GError) error = NULL;
  gchar *path = NULL;
  gint fd = g_file_open_tmp ("letschat-server-XXXXXX.conf", &path, &error);

  g_assert_no_error (error);
  close (fd);
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
  return path;
}

/* --config FILE: every key is the long option of the same name (lists
 * separated by ';'), and the command line overrides the file. */
static void
test_config_file (void)
{
  g_autofree gchar *path = write_config ("# a comment\n[server]\n" "port=1\n"   /* overridden: --port=0 */
      "log-format=json\n"
      "max-rooms=1\n"
      "room-secret=vip=s3cret;other=x\n"
      "metrics-allow=127.0.0.2\n" "ping-interval=5\n");
  const gchar *args[] = { "--config", path, NULL };
  ServerProcess *s = server_process_start (args);
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree gchar *ws_url = g_strdup_printf ("ws://127.0.0.1:%u/ws",
      s->port);
  g_autofree gchar *body = NULL;
  RawPeer *a, *b;
  guint status = 0;

  /* log-format=json */
  g_assert_true (g_str_has_prefix (s->output->str, "{\"time\":"));
  /* room-secret, both of the list */
  a = raw_peer_connect (session, ws_url);
  raw_peer_send (a, "{\"type\":\"join\",\"room\":\"vip\"}");
  raw_peer_expect_error (a, "unauthorized");
  raw_peer_send (a, "{\"type\":\"join\",\"room\":\"other\"}");
  raw_peer_expect_error (a, "unauthorized");
  raw_peer_join (a, "vip", "s3cret");
  /* max-rooms=1 */
  b = raw_peer_connect (session, ws_url);
  raw_peer_send (b, "{\"type\":\"join\",\"room\":\"second\"}");
  raw_peer_expect_error (b, "rate-limited");
  /* metrics-allow */
  body = http_get (s, "/healthz", NULL, &status, NULL);
  g_assert_cmpuint (status, ==, 403);
  g_free (body);
  body = http_get (s, "/healthz", "127.0.0.2", &status, NULL);
  g_assert_cmpuint (status, ==, 200);

  raw_peer_free (a);
  raw_peer_free (b);
  server_process_stop (s);
  g_unlink (path);
}

/* Runs the program with @args and returns its standard error; it must
 * exit 1 at once. */
static gchar *
run_failing (const gchar * const *args)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GSubprocess) p = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *out = NULL;
  gchar *err = NULL;

  g_ptr_array_add (argv, (gpointer) server_process_path ());
  for (; *args; args++)
    g_ptr_array_add (argv, (gpointer) * args);
  g_ptr_array_add (argv, NULL);
  p = g_subprocess_newv ((const gchar * const *) argv->pdata,
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_test_message ("%s", err);
  g_assert_true (g_subprocess_get_if_exited (p));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 1);
  g_assert_cmpstr (out, ==, "");
  return err;
}

/* A key that is no option, a value of the wrong type, a file that is not
 * there: a clear error naming the file and the key, and no server. */
static void
test_config_errors (void)
{
  struct
  {
    const gchar *text;
    const gchar *expected;
  } cases[] = {
    {"[server]\nmax-room=3\n", "unknown key \"max-room\" in [server]"},
    {"[server]\nport=eighty\n",
        "key \"port\" in [server] must be a whole number, not \"eighty\""},
    {"[server]\nrate-limit=fast\n", "key \"rate-limit\" in [server]"},
    {"[serve]\nport=1\n", "unknown group [serve]"},
    {"[server]\nversion=true\n", "unknown key \"version\""},
    {"[server]\nmetrics-allow=300.1.2.3\n", "300.1.2.3"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree gchar *path = write_config (cases[i].text);
    const gchar *args[] = { "--config", path, NULL };
    g_autofree gchar *err = run_failing (args);

    g_assert_nonnull (strstr (err, cases[i].expected));
    if (i < 5)
      g_assert_nonnull (strstr (err, path));
    g_unlink (path);
  }

  {
    const gchar *args[] = { "--config", "/nonexistent/letschat.conf", NULL };
    g_autofree gchar *err = run_failing (args);

    g_assert_nonnull (strstr (err, "/nonexistent/letschat.conf"));
  }
}

/* --ice-server: a URI no party could use is refused at start, saying what
 * is wrong and what a correct one looks like (and never printing a TURN
 * password); correct ones of every form reach the parties. */
static void
test_ice_server_errors (void)
{
  struct
  {
    const gchar *uri;
    const gchar *expected;
  } cases[] = {
    {"stun:bad", "\"bad\" is neither an IP address nor a host name with a "
          "domain"},
    {"turn://user:pa55word@bad:3478", "\"bad\" is neither"},
    {"stun:stun.example.org:99999", "a port must be a number from 1 to 65535"},
    {"stun:stun.example.org:abc", "a port must be a number"},
    {"stun:", "names no host"},
    {"http://stun.example.org", "must start with stun:, stuns:, turn: or "
          "turns:"},
    {"stun.example.org:3478", "must start with stun:"},
    {"stun:192.0.2", "\"192.0.2\" is neither"},
    {"stun:stun.example.org:3478/x", "has a path"},
    {"stun://user:pa55word@stun.example.org", "a STUN server takes no user "
          "name or password"},
    {"turn://user:pa55word@turn.example.org:3478?transport=sctp",
        "\"?transport=sctp\" is not understood"},
  };
  const gchar *good[] = { "--ice-server", "stun:stun.example.org:3478",
    "--ice-server", "stun:192.0.2.1", "--ice-server", "stun:[2001:db8::1]:3478",
    "--ice-server", "turn://user:pa55word@turn.example.org:3478?transport=tcp",
    "--ice-server", "turns:turn.example.org", NULL
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    const gchar *args[] = { "--port=0", "--ice-server", cases[i].uri, NULL };
    g_autofree gchar *err = run_failing (args);

    g_assert_true (g_str_has_prefix (err, "letschat-server: --ice-server: "));
    g_assert_nonnull (strstr (err, cases[i].expected));
    g_assert_nonnull (strstr (err, "A correct one looks like "
            "stun:stun.example.org:3478 or "
            "turn://user:pass@turn.example.org:3478"));
    g_assert_null (strstr (err, "pa55word"));
  }

  {
    ServerProcess *s = server_process_start (good);
    g_autoptr (SoupSession) session = soup_session_new ();
    g_autofree gchar *ws_url = g_strdup_printf ("ws://127.0.0.1:%u/ws",
        s->port);
    RawPeer *a = raw_peer_connect (session, ws_url);
    JsonObject *welcome = raw_peer_join (a, "ice", NULL);
    JsonArray *servers = json_object_get_array_member (welcome,
        "ice_servers");

    g_assert_cmpuint (json_array_get_length (servers), ==, 5);
    raw_peer_free (a);
    server_process_stop (s);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/operations/metrics-count-a-call",
      test_metrics_count_a_call);
  g_test_add_func ("/operations/healthz", test_healthz);
  g_test_add_func ("/operations/log-json", test_log_json);
  g_test_add_func ("/operations/config-file", test_config_file);
  g_test_add_func ("/operations/config-errors", test_config_errors);
  g_test_add_func ("/operations/ice-server-errors", test_ice_server_errors);
  g_test_add_func ("/operations/tls-handshakes-failed",
      test_tls_handshakes_failed);

  return g_test_run ();
}
