/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The limits that keep a room server on a public address standing: each
 * one is hit on purpose over real sockets, and the test checks that the
 * party over it is told why (or closed) while the server goes on serving
 * everybody else. */

#include "letschat-room-server.h"
#include "letschat-protocol.h"
#include "test-util.h"

#include <string.h>

typedef struct
{
  LetsChatRoomServer *server;
  SoupSession *session;
  gchar *url;
} Fixture;

static void
fixture_setup (Fixture * f, gconstpointer data)
{
  f->server = letschat_room_server_new ();
  f->session = soup_session_new ();
}

/* Properties are set by each test, then the server listens. */
static void
fixture_listen (Fixture * f)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (letschat_room_server_listen (f->server, "127.0.0.1", 0,
          &error));
  g_assert_no_error (error);
  f->url = g_strdup_printf ("ws://127.0.0.1:%u/ws",
      letschat_room_server_get_port (f->server));
}

static void
fixture_teardown (Fixture * f, gconstpointer data)
{
  WAIT_UNTIL (letschat_room_server_get_n_connections (f->server) == 0);
  g_assert_cmpuint (letschat_room_server_get_n_rooms (f->server), ==, 0);
  letschat_room_server_shutdown (f->server);
  g_object_unref (f->server);
  g_object_unref (f->session);
  g_free (f->url);
}

/* Told once, a client that keeps flooding for another whole burst is
 * closed (1008), and its seat is given back. */
static void
test_rate_limit_closes (Fixture * f, gconstpointer data)
{
  RawPeer *p;
  guint i;

  g_object_set (f->server, "rate-limit", 1.0, "rate-burst", 5, NULL);
  fixture_listen (f);
  p = raw_peer_connect (f->session, f->url);
  raw_peer_join (p, "flood", NULL);

  for (i = 0; i < 5 + 5; i++)
    raw_peer_send (p, "{\"type\":\"signal\",\"data\":{\"ice\":null}}");
  raw_peer_expect_error (p, LETSCHAT_ERROR_RATE_LIMITED);
  WAIT_UNTIL (p->closed);
  g_assert_cmpuint (p->close_code, ==, 1008);
  WAIT_UNTIL (letschat_room_server_get_n_rooms (f->server) == 0);
  raw_peer_free (p);
}

/* A socket that does not join in time is closed; one that joined stays. */
static void
test_join_timeout (Fixture * f, gconstpointer data)
{
  RawPeer *idle, *joined;

  g_object_set (f->server, "join-timeout", 1, NULL);
  fixture_listen (f);
  idle = raw_peer_connect (f->session, f->url);
  joined = raw_peer_connect (f->session, f->url);
  raw_peer_join (joined, "busy", NULL);

  WAIT_UNTIL (idle->closed);
  g_assert_cmpuint (idle->close_code, ==, 1008);
  /* well past the timeout, the party in a room is still there */
  test_iterate_for (1500);
  g_assert_false (joined->closed);
  g_assert_cmpuint (letschat_room_server_get_n_rooms (f->server), ==, 1);

  raw_peer_free (idle);
  raw_peer_free (joined);
}

/* Over max-connections: an error saying so, close 1008, and the server
 * serves again once a slot is free. */
static void
test_max_connections (Fixture * f, gconstpointer data)
{
  RawPeer *a, *b, *c;
  JsonObject *error;

  g_object_set (f->server, "max-connections", 2, NULL);
  fixture_listen (f);
  a = raw_peer_connect (f->session, f->url);
  b = raw_peer_connect (f->session, f->url);
  c = raw_peer_connect (f->session, f->url);

  error = raw_peer_expect (c, "error");
  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==,
      LETSCHAT_ERROR_RATE_LIMITED);
  g_assert_nonnull (strstr (json_object_get_string_member (error, "message"),
          "maximum of 2 connections"));
  WAIT_UNTIL (c->closed);
  g_assert_cmpuint (c->close_code, ==, 1008);
  raw_peer_free (c);

  raw_peer_free (a);
  WAIT_UNTIL (letschat_room_server_get_n_connections (f->server) == 1);
  c = raw_peer_connect (f->session, f->url);
  raw_peer_join (c, "again", NULL);

  raw_peer_free (b);
  raw_peer_free (c);
}

static void
test_max_per_ip (Fixture * f, gconstpointer data)
{
  RawPeer *p[3];
  JsonObject *error;
  guint i;

  g_object_set (f->server, "max-per-ip", 2, NULL);
  fixture_listen (f);
  for (i = 0; i < 3; i++)
    p[i] = raw_peer_connect (f->session, f->url);

  error = raw_peer_expect (p[2], "error");
  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==,
      LETSCHAT_ERROR_RATE_LIMITED);
  g_assert_nonnull (strstr (json_object_get_string_member (error, "message"),
          "from your address"));
  WAIT_UNTIL (p[2]->closed);
  g_assert_cmpuint (p[2]->close_code, ==, 1008);
  raw_peer_join (p[0], "fine", NULL);

  for (i = 0; i < 3; i++)
    raw_peer_free (p[i]);
}

/* A join that would open one room too many is refused; joining a room
 * that exists still works, and so does a new one once a room is gone. */
static void
test_max_rooms (Fixture * f, gconstpointer data)
{
  RawPeer *a, *b, *c;
  JsonObject *error;

  g_object_set (f->server, "max-rooms", 1, NULL);
  fixture_listen (f);
  a = raw_peer_connect (f->session, f->url);
  b = raw_peer_connect (f->session, f->url);
  c = raw_peer_connect (f->session, f->url);
  raw_peer_join (a, "one", NULL);

  raw_peer_send (c, "{\"type\":\"join\",\"room\":\"two\"}");
  error = raw_peer_expect (c, "error");
  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==,
      LETSCHAT_ERROR_RATE_LIMITED);
  g_assert_nonnull (strstr (json_object_get_string_member (error, "message"),
          "maximum of 1 rooms"));
  /* strangers open rooms too */
  raw_peer_send (c, "{\"type\":\"join\"}");
  raw_peer_expect_error (c, LETSCHAT_ERROR_RATE_LIMITED);

  raw_peer_join (b, "one", NULL);
  raw_peer_free (a);
  raw_peer_free (b);
  WAIT_UNTIL (letschat_room_server_get_n_rooms (f->server) == 0);
  raw_peer_join (c, "two", NULL);
  raw_peer_free (c);
}

/* An empty text frame (found by the fuzzer, whose case is in
 * tests/fuzz/crashes/empty-frame) is a bad request, not a crash. */
static void
test_empty_frame (Fixture * f, gconstpointer data)
{
  RawPeer *p;

  fixture_listen (f);
  p = raw_peer_connect (f->session, f->url);
  raw_peer_send (p, "");
  raw_peer_expect_error (p, LETSCHAT_ERROR_BAD_REQUEST);
  raw_peer_join (p, "after", NULL);
  raw_peer_free (p);
}

/* Opens a WebSocket as a browser on @origin would; returns the HTTP
 * status of the handshake (101: accepted). */
static guint
handshake_from (Fixture * f, const gchar * origin)
{
  return websocket_handshake_status (f->session, f->url, origin);
}

/* By default the server's own page and clients sending no Origin may
 * connect, pages of other sites may not (403). */
static void
test_origin_default (Fixture * f, gconstpointer data)
{
  g_autofree gchar *own = NULL;

  fixture_listen (f);
  own = g_strdup_printf ("http://127.0.0.1:%u",
      letschat_room_server_get_port (f->server));

  g_assert_cmpuint (handshake_from (f, NULL), ==, 101);
  g_assert_cmpuint (handshake_from (f, own), ==, 101);
  g_assert_cmpuint (handshake_from (f, "https://evil.example"), ==, 403);
  /* same host, other port: another origin */
  g_assert_cmpuint (handshake_from (f, "http://127.0.0.1:1"), ==, 403);
  /* the page over https while the server speaks http: not its page */
  g_clear_pointer (&own, g_free);
  own = g_strdup_printf ("https://127.0.0.1:%u",
      letschat_room_server_get_port (f->server));
  g_assert_cmpuint (handshake_from (f, own), ==, 403);
  g_assert_cmpuint (handshake_from (f, "null"), ==, 403);
}

static void
test_origin_allowed (Fixture * f, gconstpointer data)
{
  const gchar *origins[] = { "https://friends.example", NULL };

  g_object_set (f->server, "allowed-origins", origins, NULL);
  fixture_listen (f);
  g_assert_cmpuint (handshake_from (f, "https://friends.example"), ==, 101);
  g_assert_cmpuint (handshake_from (f, "https://evil.example"), ==, 403);
  g_assert_cmpuint (handshake_from (f, NULL), ==, 101);
}

/* The options of letschat-server reach the server: a bad value is refused
 * with a message, and --max-connections holds. */
static void
test_program_options (void)
{
  const gchar *server = g_getenv ("LETSCHAT_SERVER");
  g_autofree gchar *out = NULL, *err = NULL;
  gint status;
  const gchar *bad[] = { server, "--max-rooms", "0", NULL };
  const gchar *half_tls[] = { server, "--tls-cert", "x.pem", NULL };
  const gchar *help[] = { server, "--help", NULL };

  g_assert_nonnull (server);
  g_assert_true (g_spawn_sync (NULL, (gchar **) bad, NULL, 0, NULL, NULL,
          &out, &err, &status, NULL));
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (err, "--max-rooms"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_true (g_spawn_sync (NULL, (gchar **) half_tls, NULL, 0, NULL,
          NULL, &out, &err, &status, NULL));
  g_assert_false (g_spawn_check_wait_status (status, NULL));
  g_assert_nonnull (strstr (err, "--tls-key"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  g_assert_true (g_spawn_sync (NULL, (gchar **) help, NULL, 0, NULL, NULL,
          &out, &err, &status, NULL));
  g_assert_nonnull (strstr (out, "--allowed-origin"));
  g_assert_nonnull (strstr (out, "--max-per-ip"));
  g_assert_nonnull (strstr (out, "--join-timeout"));
}

/* The key connections are counted under from accept: an IPv4 address, or
 * an IPv6 /64 (one host usually has a whole /64 to pick from). */
static void
test_client_key (void)
{
  const gchar *cases[][2] = {
    {"192.0.2.7", "192.0.2.7"},
    {"::ffff:192.0.2.7", "192.0.2.7"},
    {"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
    {"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
    {"2001:db8:1:3::1", "2001:db8:1:3::/64"},
    {"::1", "::/64"},
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (GInetAddress) address =
        g_inet_address_new_from_string (cases[i][0]);
    g_autofree gchar *key = letschat_client_key_for_address (address);

    g_assert_cmpstr (key, ==, cases[i][1]);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, \
    func, fixture_teardown)
  ADD ("/limits/rate-limit-closes", test_rate_limit_closes);
  ADD ("/limits/join-timeout", test_join_timeout);
  ADD ("/limits/max-connections", test_max_connections);
  ADD ("/limits/max-per-ip", test_max_per_ip);
  ADD ("/limits/max-rooms", test_max_rooms);
  ADD ("/limits/empty-frame", test_empty_frame);
  ADD ("/limits/origin-default", test_origin_default);
  ADD ("/limits/origin-allowed", test_origin_allowed);
#undef ADD
  g_test_add_func ("/limits/program-options", test_program_options);
  g_test_add_func ("/limits/client-key", test_client_key);
  return g_test_run ();
}
