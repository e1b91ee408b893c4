/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The installed program, run as a subprocess ($LETSCHAT_SERVER): its
 * options, its output, a whole session through it, a clean SIGTERM, and a
 * readable failure when the port is taken. */

#include "letschat-protocol.h"
#include "letschat-turn-credentials.h"
#include "test-util.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>


static void
test_help (void)
{
  const gchar *argv[] = { server_process_path (), "--help", NULL };
  g_autoptr (GSubprocess) p = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *out = NULL;

  p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, NULL, NULL, &out, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_exited (p));
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 0);
  g_assert_nonnull (strstr (out, "Usage:"));
  g_assert_nonnull (strstr (out, "--port"));
  g_assert_nonnull (strstr (out, "--room-secret"));
  g_assert_nonnull (strstr (out, "--ice-server"));
}

static void
test_bad_options (void)
{
  const gchar *bad[][3] = {
    {"--room-secret", "nosecret", NULL},
    {"--room-secret", "bad room=x", NULL},
    {"--ice-server", "http://example.org", NULL},
    {"--port", "70000", NULL},
    {"--cluster-url", "ws://node1:8443/ws,http://node2:8443/ws", NULL},
    {"--no-such-option", NULL, NULL},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    const gchar *argv[] =
        { server_process_path (), "--port=0", bad[i][0], bad[i][1],
      NULL
    };
    g_autoptr (GSubprocess) p = NULL;
    g_autoptr (GError) error = NULL;
    g_autofree gchar *err = NULL;

    p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
        G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (p, NULL, NULL, NULL, &err, &error);
    g_assert_no_error (error);
    g_test_message ("%s %s -> %s", bad[i][0], bad[i][1], err);
    g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 1);
    g_assert_true (g_str_has_prefix (err, "letschat-server: "));
  }
}

static void
test_session (void)
{
  ServerProcess *s = server_process_start_va ("--room-secret", "vip=hunter2",
      "--ice-server", "stun:stun.example.org:3478", NULL);
  g_autofree gchar *url = g_strdup (s->url);
  g_autoptr (JsonNode) offer = letschat_protocol_sdp_data_new ("offer", "o");
  ClientPeer *a, *b;
  JsonObject *ice;

  a = client_peer_connect (url);
  b = client_peer_connect (url);

  letschat_client_join (a->client, "vip", "wrong", "A");
  WAIT_UNTIL (a->n_errors == 1);
  g_assert_cmpstr (a->error_code, ==, LETSCHAT_ERROR_UNAUTHORIZED);

  client_peer_join (a, "vip", "hunter2", "A");
  ice = json_array_get_object_element (json_node_get_array (a->ice_servers), 0);
  g_assert_cmpstr (json_object_get_string_member (ice, "urls"), ==,
      "stun:stun.example.org:3478");
  client_peer_join (b, "vip", "hunter2", "B");
  g_assert_cmpstr (b->welcome_peer_id, ==, a->id);

  letschat_client_send_signal (b->client, offer);
  WAIT_UNTIL (a->signals->len == 1);
  g_assert_cmpstr (a->signal_from, ==, b->id);

  /* one log line per join, with a timestamp, and never the secret */
  WAIT_UNTIL (strstr (s->output->str, b->id) != NULL);
  g_assert_nonnull (strstr (s->output->str, "join room=vip"));
  g_assert_nonnull (strstr (s->output->str, "code=unauthorized"));
  g_assert_null (strstr (s->output->str, "hunter2"));
  g_assert_null (strstr (s->output->str, "wrong"));
  g_assert_true (g_ascii_isdigit (strchr (s->output->str, '\n')[1]));

  /* SIGTERM: both parties are told "going away", the program exits 0 */
  g_subprocess_send_signal (s->process, SIGTERM);
  WAIT_UNTIL (a->closed && b->closed);
  g_assert_nonnull (a->closed_error);
  g_assert_nonnull (strstr (a->closed_error->message, "1001"));
  WAIT_UNTIL (s->exited);
  g_test_message ("%s", s->output->str);
  g_assert_nonnull (strstr (s->output->str, "shutting down"));

  client_peer_free (a);
  client_peer_free (b);
  server_process_stop (s);
}

/* --cluster-url, repeated or comma-separated: the page reads the nodes at
 * /cluster.json, and the pages of those nodes may connect here (after a
 * failover the page of a dead node talks to this one); others may not. */
static void
test_cluster_urls (void)
{
  ServerProcess *s = server_process_start_va ("--cluster-url",
      "ws://127.0.0.1:1/ws", "--cluster-url",
      "ws://node2.example.org:8443/ws, wss://node3.example.org/ws", NULL);
  g_autoptr (SoupSession) session = soup_session_new ();
  g_autofree gchar *json_url =
      g_strdup_printf ("http://127.0.0.1:%u/cluster.json", s->port);
  g_autoptr (SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, json_url);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonArray *servers;

  body = soup_session_send_and_read (session, msg, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (soup_message_get_status (msg), ==, 200);
  g_assert_cmpstr (soup_message_headers_get_content_type
      (soup_message_get_response_headers (msg), NULL), ==, "application/json");
  g_assert_true (json_parser_load_from_data (parser,
          g_bytes_get_data (body, NULL), g_bytes_get_size (body), NULL));
  servers = json_object_get_array_member (json_node_get_object
      (json_parser_get_root (parser)), "servers");
  g_assert_cmpuint (json_array_get_length (servers), ==, 3);
  g_assert_cmpstr (json_array_get_string_element (servers, 0), ==,
      "ws://127.0.0.1:1/ws");
  g_assert_cmpstr (json_array_get_string_element (servers, 1), ==,
      "ws://node2.example.org:8443/ws");
  g_assert_cmpstr (json_array_get_string_element (servers, 2), ==,
      "wss://node3.example.org/ws");

  g_assert_cmpuint (websocket_handshake_status (session, s->url,
          "http://node2.example.org:8443"), ==, 101);
  g_assert_cmpuint (websocket_handshake_status (session, s->url,
          "https://node3.example.org"), ==, 101);
  g_assert_cmpuint (websocket_handshake_status (session, s->url,
          "http://127.0.0.1:1"), ==, 101);
  g_assert_cmpuint (websocket_handshake_status (session, s->url,
          "http://node2.example.org:8444"), ==, 403);
  g_assert_cmpuint (websocket_handshake_status (session, s->url,
          "http://node3.example.org"), ==, 403);
  g_assert_cmpuint (websocket_handshake_status (session, s->url,
          "https://evil.example"), ==, 403);
  server_process_stop (s);
}

/* RFC 2202's second HMAC-SHA1 test case, in base64. */
static void
test_turn_credential_vector (void)
{
  g_autofree gchar *password = letschat_turn_credentials_password ("Jefe",
      "what do ya want for nothing?");
  g_autofree gchar *username = letschat_turn_credentials_username
      (1700000000, 3600, "abc");

  g_assert_cmpstr (password, ==, "7/zfauXrL6LSdBbV8YTfnCWafHk=");
  g_assert_cmpstr (username, ==, "1700003600:abc");
  g_assert_cmpint (letschat_turn_credentials_expiry (username), ==, 1700003600);
  g_assert_cmpint (letschat_turn_credentials_expiry ("user"), ==, -1);
}

/* --turn-secret FILE --turn-uri ...: each welcome carries every TURN URI
 * with "<expiry>:<party id>" and base64 (HMAC-SHA1 (secret, username)),
 * made afresh for each party; the secret shows nowhere. */
static void
test_turn_credentials (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("letschat-turn-XXXXXX", NULL);
  g_autofree gchar *file = g_build_filename (dir, "secret", NULL);
  g_autofree gchar *url = NULL;
  ServerProcess *s;
  ClientPeer *a, *b;
  ClientPeer *parties[2];
  guint i, j;

  g_assert_true (g_file_set_contents (file, "n0t-in-argv\n", -1, NULL));
  s = server_process_start_va ("--turn-secret", file, "--turn-uri",
      "turn:turn.example.org:3478", "--turn-uri",
      "turns:turn.example.org:5349?transport=tcp", "--turn-ttl", "600",
      "--ice-server", "stun:stun.example.org:3478", NULL);
  url = g_strdup (s->url);
  a = client_peer_connect (url);
  b = client_peer_connect (url);
  client_peer_join (a, "turn", NULL, "A");
  client_peer_join (b, "turn", NULL, "B");
  parties[0] = a;
  parties[1] = b;

  for (i = 0; i < 2; i++) {
    JsonArray *servers = json_node_get_array (parties[i]->ice_servers);
    g_autofree gchar *suffix = g_strdup_printf (":%s", parties[i]->id);
    gint64 now = g_get_real_time () / G_USEC_PER_SEC;

    g_assert_cmpuint (json_array_get_length (servers), ==, 3);
    g_assert_cmpstr (json_object_get_string_member
        (json_array_get_object_element (servers, 0), "urls"), ==,
        "stun:stun.example.org:3478");
    for (j = 1; j < 3; j++) {
      JsonObject *turn = json_array_get_object_element (servers, j);
      const gchar *username = json_object_get_string_member (turn,
          "username");
      g_autofree gchar *expected = letschat_turn_credentials_password
          ("n0t-in-argv", username);
      gint64 expiry = letschat_turn_credentials_expiry (username);

      g_test_message ("%s: %s %s", parties[i]->id,
          json_object_get_string_member (turn, "urls"), username);
      g_assert_cmpstr (json_object_get_string_member (turn, "urls"), ==,
          j == 1 ? "turn:turn.example.org:3478" :
          "turns:turn.example.org:5349?transport=tcp");
      g_assert_true (g_str_has_suffix (username, suffix));
      g_assert_cmpint (expiry, >=, now + 600 - 30);
      g_assert_cmpint (expiry, <=, now + 600 + 1);
      g_assert_cmpstr (json_object_get_string_member (turn, "credential"),
          ==, expected);
    }
  }
  g_assert_null (strstr (s->output->str, "n0t-in-argv"));

  client_peer_free (a);
  client_peer_free (b);
  server_process_stop (s);
  g_unlink (file);
  g_rmdir (dir);
}

/* TURN URIs on their way from welcome (and from turn-servers) to
 * webrtcbin keep their transport, and take the browsers' forms. */
static void
test_turn_uri_forms (void)
{
  g_autoptr (JsonNode) servers = json_from_string ("["
      "{\"urls\": \"turn:t.example.org:3478?transport=tcp\", "
      "\"username\": \"1700003600:abc\", \"credential\": \"a+b/c=\"},"
      "{\"urls\": [\"turns:t.example.org:5349?transport=tcp\", "
      "\"stun:s.example.org\"], \"username\": \"u\", \"credential\": \"p\"}]",
      NULL);
  g_auto (GStrv) uris = letschat_protocol_ice_servers_to_uris (servers);
  const gchar *good[][2] = {
    {"turn://u:p@t.example.org:3478", "turn://u:p@t.example.org:3478"},
    {"turn://u:p@t.example.org:3478?transport=tcp",
        "turn://u:p@t.example.org:3478?transport=tcp"},
    {"turns:u:p@t.example.org:5349?transport=tcp",
        "turns://u:p@t.example.org:5349?transport=tcp"},
  };
  const gchar *bad[] = {
    "nonsense", "turn://t.example.org:3478", "stun://s.example.org",
    "turn://u:p@t.example.org?transport=sctp",
    "turn://u:p@t.example.org?transport=tcp&x=1",
  };
  guint i;

  g_assert_cmpuint (g_strv_length (uris), ==, 3);
  g_assert_cmpstr (uris[0], ==,
      "turn://1700003600%3Aabc:a%2Bb%2Fc%3D@t.example.org:3478?transport=tcp");
  g_assert_cmpstr (uris[1], ==, "turns://u:p@t.example.org:5349?transport=tcp");
  g_assert_cmpstr (uris[2], ==, "stun://s.example.org");

  for (i = 0; i < G_N_ELEMENTS (good); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree gchar *uri =
        letschat_protocol_turn_uri_for_webrtcbin (good[i][0], &error);

    g_assert_no_error (error);
    g_assert_cmpstr (uri, ==, good[i][1]);
  }
  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_autoptr (GError) error = NULL;
    g_autofree gchar *uri =
        letschat_protocol_turn_uri_for_webrtcbin (bad[i], &error);

    g_assert_null (uri);
    g_test_message ("%s: %s", bad[i], error->message);
    g_assert_nonnull (strstr (error->message, "Invalid TURN server"));
  }
}

/* What is wrong with a TURN set-up is said before the server starts. */
static void
test_turn_bad_options (void)
{
  g_autofree gchar *dir = g_dir_make_tmp ("letschat-turn-XXXXXX", NULL);
  g_autofree gchar *empty = g_build_filename (dir, "empty", NULL);
  g_autofree gchar *good = g_build_filename (dir, "good", NULL);
  g_autofree gchar *missing = g_build_filename (dir, "missing", NULL);
  const gchar *bad[][5] = {
    {"--turn-uri", "turn:t.example.org", NULL},
    {"--turn-secret", good, NULL},
    {"--turn-secret", empty, "--turn-uri", "turn:t.example.org"},
    {"--turn-secret", missing, "--turn-uri", "turn:t.example.org"},
    {"--turn-secret", good, "--turn-uri", "turn://u:p@t.example.org"},
    {"--turn-secret", good, "--turn-uri", "stun:t.example.org"},
  };
  const gchar *says[] = {
    "go together", "go together", "is empty", "missing", "leave the user",
    "turn: or turns:",
  };
  guint i;

  g_assert_true (g_file_set_contents (empty, "\n", -1, NULL));
  g_assert_true (g_file_set_contents (good, "s3cret", -1, NULL));
  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    const gchar *argv[] =
        { server_process_path (), "--port=0", bad[i][0], bad[i][1],
      bad[i][2], bad[i][3], NULL
    };
    g_autoptr (GSubprocess) p = NULL;
    g_autoptr (GError) error = NULL;
    g_autofree gchar *err = NULL;

    p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
        G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
    g_assert_no_error (error);
    g_subprocess_communicate_utf8 (p, NULL, NULL, NULL, &err, &error);
    g_assert_no_error (error);
    g_test_message ("%s %s -> %s", bad[i][0], bad[i][1], err);
    g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 1);
    g_assert_true (g_str_has_prefix (err, "letschat-server: "));
    g_assert_nonnull (strstr (err, says[i]));
    g_assert_null (strstr (err, "s3cret"));
  }
  g_unlink (empty);
  g_unlink (good);
  g_rmdir (dir);
}

static void
test_port_in_use (void)
{
  ServerProcess *s = server_process_start (NULL);
  g_autofree gchar *port = g_strdup_printf ("--port=%u", s->port);
  g_autofree gchar *where = g_strdup_printf ("127.0.0.1:%u", s->port);
  const gchar *argv[] = { server_process_path (), port, NULL };
  g_autoptr (GSubprocess) p = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree gchar *out = NULL;
  g_autofree gchar *err = NULL;

  p = g_subprocess_newv (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE |
      G_SUBPROCESS_FLAGS_STDERR_PIPE, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (p, NULL, NULL, &out, &err, &error);
  g_assert_no_error (error);
  g_test_message ("second server: %s", err);
  g_assert_cmpint (g_subprocess_get_exit_status (p), ==, 1);
  g_assert_nonnull (strstr (err, where));
  g_assert_nonnull (strstr (err, "in use"));
  g_assert_cmpstr (out, ==, "");

  /* the first one did not notice */
  g_assert_false (s->exited);
  server_process_stop (s);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/program/help", test_help);
  g_test_add_func ("/program/bad-options", test_bad_options);
  g_test_add_func ("/program/session-and-sigterm", test_session);
  g_test_add_func ("/program/port-in-use", test_port_in_use);
  g_test_add_func ("/program/cluster-urls", test_cluster_urls);
  g_test_add_func ("/program/turn-credential-vector",
      test_turn_credential_vector);
  g_test_add_func ("/program/turn-credentials", test_turn_credentials);
  g_test_add_func ("/program/turn-bad-options", test_turn_bad_options);
  g_test_add_func ("/program/turn-uri-forms", test_turn_uri_forms);

  return g_test_run ();
}
