/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * server-url listing several room servers (the nodes of a cluster), with
 * real letschat-server processes and no Redis: two independent servers S1
 * and S2, each party given "S1,S2". When S1 is killed (SIGKILL) in the
 * middle of a call, both parties move to S2 and rejoin as themselves, and
 * the call goes on: frames keep being decoded on both sides, no error.
 * A party that starts while S1 is down joins through S2; a list with a bad
 * URL in it gets an error naming that URL. A node that refuses joins with
 * `unavailable` (as a node of a Redis cluster that lost Redis does) is
 * passed over, at start and mid-call. Each party is a two-way pipeline:
 *
 *   videotestsrc ! letschatsink room=R server-url=S1,S2
 *   letschatsrc room=R server-url=S1,S2 ! fakesink name=video (counted)
 */
#include <gst/gst.h>
#include <gio/gio.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <string.h>

#include "test-party.h"
#include "test-server.h"

#define WAIT_S 40

static TestParty *
party_new (const gchar * name, const gchar * room, const gchar * urls)
{
  g_autofree gchar *desc = g_strdup_printf ("videotestsrc is-live=true "
      "pattern=ball ! video/x-raw,width=160,height=120,framerate=15/1 ! "
      "letschatsink name=s room=%s server-url=\"%s\" display-name=%s "
      "letschatsrc room=%s server-url=\"%s\" ! video/x-raw ! "
      "fakesink name=video", room, urls, name, room, urls);

  return test_party_new (name, desc);
}

static TestParty *all[4];

/* Polls every party (and the servers' logs) until @cond holds. */
#define WAIT_FOR(cond) TEST_PARTY_WAIT_FOR (all, WAIT_S, cond)

static void
parties_set (TestParty * a, TestParty * b)
{
  memset (all, 0, sizeof (all));
  all[0] = a;
  all[1] = b;
}

/* A URL nothing listens on. */
static gchar *
dead_url (void)
{
  return g_strdup_printf ("ws://127.0.0.1:%u/ws", test_server_free_port ());
}

/* S1 is killed mid-call: both parties go to S2 as themselves, and the
 * call, peer to peer, never stops. */
static void
test_node_killed (void)
{
  TestServer *s1 = test_server_start (0, NULL);
  TestServer *s2 = test_server_start (0, NULL);
  g_autofree gchar *urls = g_strdup_printf ("%s,%s", s1->url, s2->url);
  g_autofree gchar *s2_url = g_strdup (s2->url);
  g_autofree gchar *a_id = NULL, *b_id = NULL;
  TestParty *a = party_new ("a", "failover", urls);
  TestParty *b = party_new ("b", "failover", urls);
  gint a_at_kill, b_at_kill;
  gint64 killed_at;

  parties_set (a, b);
  WAIT_FOR (test_party_frames (a) >= 30 && test_party_frames (b) >= 30);
  g_assert_cmpstr (a->server_url, ==, s1->url);
  g_assert_cmpstr (b->server_url, ==, s1->url);
  a_id = g_strdup (a->id);
  b_id = g_strdup (b->id);

  test_server_kill (s1);
  killed_at = g_get_monotonic_time ();
  a_at_kill = test_party_frames (a);
  b_at_kill = test_party_frames (b);
  WAIT_FOR (a->n_reconnected >= 1 && b->n_reconnected >= 1);
  g_test_message ("both parties back in the room through S2 %.2f s after "
      "the kill; frames meanwhile: a %d, b %d",
      (g_get_monotonic_time () - killed_at) / 1e6,
      test_party_frames (a) - a_at_kill, test_party_frames (b) - b_at_kill);
  g_assert_cmpuint (a->n_lost, ==, 1);
  g_assert_cmpuint (b->n_lost, ==, 1);
  g_assert_cmpstr (a->server_url, ==, s2_url);
  g_assert_cmpstr (b->server_url, ==, s2_url);
  /* The same parties: each came back with its id. */
  g_assert_cmpstr (a->id, ==, a_id);
  g_assert_cmpstr (b->id, ==, b_id);

  /* The call goes on: frames after the move, on both sides. */
  a_at_kill = test_party_frames (a);
  b_at_kill = test_party_frames (b);
  WAIT_FOR (test_party_frames (a) >= a_at_kill + 45
      && test_party_frames (b) >= b_at_kill + 45);
  /* Nobody left, and the peer connection was not replaced: the protocol's
   * "Coming back" kept the call as it was. */
  g_assert_cmpuint (a->n_peer_left, ==, 0);
  g_assert_cmpuint (b->n_peer_left, ==, 0);
  g_assert_cmpstr (a->resets->str, ==, "");
  g_assert_cmpstr (b->resets->str, ==, "");
  g_assert_cmpuint (a->n_joined, ==, 1);
  g_assert_cmpuint (b->n_joined, ==, 1);
  /* S2 holds the room: its log names both joins. */
  WAIT_FOR (g_strstr_len (s2->log->str, -1, "room=failover") != NULL);

  test_party_free (a);
  test_party_free (b);
  parties_set (NULL, NULL);
  test_server_stop (s2);
}

/* S1 is down when the parties start: they join through S2. */
static void
test_first_node_down_at_start (void)
{
  TestServer *s2 = test_server_start (0, NULL);
  g_autofree gchar *down = dead_url ();
  g_autofree gchar *urls = g_strdup_printf ("%s, %s", down, s2->url);
  TestParty *a = party_new ("a", "second", urls);
  TestParty *b = party_new ("b", "second", urls);

  parties_set (a, b);
  WAIT_FOR (test_party_frames (a) >= 30 && test_party_frames (b) >= 30);
  g_assert_cmpstr (a->server_url, ==, s2->url);
  g_assert_cmpstr (b->server_url, ==, s2->url);
  g_assert_cmpuint (a->n_lost, ==, 0);

  test_party_free (a);
  test_party_free (b);
  parties_set (NULL, NULL);
  test_server_stop (s2);
}

/* A node that takes WebSockets but refuses every join with `unavailable`,
 * what a node of a Redis cluster answers while it has lost Redis
 * (docs/protocol.md). A real WebSocket server on a loopback port, on the
 * test's main context (WAIT_FOR runs it); it counts the joins refused. */
typedef struct
{
  SoupServer *soup;
  GPtrArray *sockets;
  gint joins_refused;
  gchar *url;
} UnavailableNode;

static void
on_unavailable_message (SoupWebsocketConnection * ws, gint type,
    GBytes * message, UnavailableNode * node)
{
  if (!g_strstr_len (g_bytes_get_data (message, NULL),
          g_bytes_get_size (message), "\"join\""))
    return;
  node->joins_refused++;
  soup_websocket_connection_send_text (ws, "{\"type\":\"error\","
      "\"code\":\"unavailable\",\"message\":\"This node cannot reach "
      "the cluster's store: try another node.\"}");
}

static void
on_unavailable_ws (SoupServer * soup, SoupServerMessage * msg,
    const char *path, SoupWebsocketConnection * ws, gpointer data)
{
  UnavailableNode *node = data;

  g_ptr_array_add (node->sockets, g_object_ref (ws));
  g_signal_connect (ws, "message", G_CALLBACK (on_unavailable_message), node);
}

static UnavailableNode *
unavailable_node_start (void)
{
  UnavailableNode *node = g_new0 (UnavailableNode, 1);
  g_autoptr (GError) error = NULL;
  GSList *uris;

  node->sockets = g_ptr_array_new_with_free_func (g_object_unref);
  node->soup = soup_server_new (NULL, NULL);
  soup_server_add_websocket_handler (node->soup, "/ws", NULL, NULL,
      on_unavailable_ws, node, NULL);
  g_assert_true (soup_server_listen_local (node->soup, 0,
          SOUP_SERVER_LISTEN_IPV4_ONLY, &error));
  g_assert_no_error (error);
  uris = soup_server_get_uris (node->soup);
  node->url = g_strdup_printf ("ws://127.0.0.1:%d/ws",
      g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  return node;
}

static void
unavailable_node_free (UnavailableNode * node)
{
  soup_server_disconnect (node->soup);
  g_object_unref (node->soup);
  g_ptr_array_unref (node->sockets);
  g_free (node->url);
  g_free (node);
}

/* The list S1,U,S2 where U refuses joins: the parties start on S1; S1 is
 * killed; U refuses them; they rejoin through S2 and the call goes on. And
 * a party starting on U,S2 joins through S2. */
static void
test_node_unavailable (void)
{
  TestServer *s1 = test_server_start (0, NULL);
  TestServer *s2 = test_server_start (0, NULL);
  UnavailableNode *u = unavailable_node_start ();
  g_autofree gchar *urls = g_strdup_printf ("%s,%s,%s", s1->url, u->url,
      s2->url);
  g_autofree gchar *start_urls = g_strdup_printf ("%s,%s", u->url, s2->url);
  g_autofree gchar *s2_url = g_strdup (s2->url);
  TestParty *a = party_new ("a", "refusing", urls);
  TestParty *b = party_new ("b", "refusing", urls);
  TestParty *c, *d;
  gint a_frames, b_frames;

  parties_set (a, b);
  WAIT_FOR (test_party_frames (a) >= 30 && test_party_frames (b) >= 30);
  g_assert_cmpstr (a->server_url, ==, s1->url);
  test_server_kill (s1);
  WAIT_FOR (a->n_reconnected >= 1 && b->n_reconnected >= 1);
  g_assert_cmpint (u->joins_refused, ==, 2);
  g_assert_cmpstr (a->server_url, ==, s2_url);
  g_assert_cmpstr (b->server_url, ==, s2_url);
  a_frames = test_party_frames (a);
  b_frames = test_party_frames (b);
  WAIT_FOR (test_party_frames (a) >= a_frames + 45
      && test_party_frames (b) >= b_frames + 45);
  g_assert_cmpstr (a->resets->str, ==, "");
  g_assert_cmpstr (b->resets->str, ==, "");
  test_party_free (a);
  test_party_free (b);

  c = party_new ("c", "refused-at-start", start_urls);
  d = party_new ("d", "refused-at-start", start_urls);
  parties_set (c, d);
  WAIT_FOR (test_party_frames (c) >= 30 && test_party_frames (d) >= 30);
  g_assert_cmpint (u->joins_refused, ==, 4);
  g_assert_cmpstr (c->server_url, ==, s2_url);
  g_assert_cmpstr (d->server_url, ==, s2_url);
  test_party_free (c);
  test_party_free (d);
  parties_set (NULL, NULL);
  unavailable_node_free (u);
  test_server_stop (s2);
}

/* A redis-server on a free port, without persistence, for the nodes of a
 * cluster (letschat-server --redis). NULL, and the test skipped, where
 * redis-server is not installed. */
typedef struct
{
  GSubprocess *process;
  gchar *url;
} Redis;

static Redis *
redis_start (void)
{
  Redis *r;
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *port = NULL;
  gint64 deadline = g_get_monotonic_time () + WAIT_S * G_USEC_PER_SEC;

  if (!g_find_program_in_path ("redis-server")) {
    g_test_skip ("redis-server is not installed (Debian package "
        "redis-server): no cluster to fail over in");
    return NULL;
  }
  port = g_strdup_printf ("%u", test_server_free_port ());
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);
  g_subprocess_launcher_set_child_setup (launcher,
      test_server_die_with_parent, NULL, NULL);
  r = g_new0 (Redis, 1);
  r->process = g_subprocess_launcher_spawn (launcher, &error, "redis-server",
      "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
      "no", NULL);
  g_assert_no_error (error);
  r->url = g_strdup_printf ("redis://127.0.0.1:%s", port);
  while (TRUE) {
    g_autoptr (GSocketConnection) c =
        g_socket_client_connect_to_host (client, "127.0.0.1",
        atoi (port), NULL, NULL);

    if (c)
      break;
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_usleep (50 * 1000);
  }
  return r;
}

static void
redis_stop (Redis * r)
{
  g_subprocess_send_signal (r->process, SIGKILL);
  g_subprocess_wait (r->process, NULL, NULL);
  g_object_unref (r->process);
  g_free (r->url);
  g_free (r);
}

/* The cluster case: two nodes on one Redis, party A on node 1
 * (server-url "N1,N2"), party B on node 2 ("N2,N1"), one call across the
 * nodes. Node 1 is killed (SIGKILL) mid-call: A rejoins through node 2 as
 * itself, B sees nobody leave, and the media never stops, also after the
 * dead node's seats expire (10 s, docs/operations.md): the seat A took
 * over on node 2 is not one of them. */
static void
test_cluster_node_killed (void)
{
  Redis *redis = redis_start ();
  TestServer *n1, *n2;
  g_autofree gchar *a_urls = NULL, *b_urls = NULL, *n2_url = NULL;
  g_autofree gchar *a_id = NULL, *b_id = NULL;
  TestParty *a, *b;
  gint a_frames, b_frames;
  gint64 killed_at;

  if (!redis)
    return;
  {
    const gchar *n1_args[] = { "--redis", redis->url, "--node-id", "one",
      NULL
    };
    const gchar *n2_args[] = { "--redis", redis->url, "--node-id", "two",
      NULL
    };

    n1 = test_server_start (0, n1_args);
    n2 = test_server_start (0, n2_args);
  }
  a_urls = g_strdup_printf ("%s,%s", n1->url, n2->url);
  b_urls = g_strdup_printf ("%s,%s", n2->url, n1->url);
  n2_url = g_strdup (n2->url);
  a = party_new ("a", "across", a_urls);
  b = party_new ("b", "across", b_urls);
  parties_set (a, b);
  WAIT_FOR (test_party_frames (a) >= 30 && test_party_frames (b) >= 30);
  g_assert_cmpstr (a->server_url, ==, n1->url);
  g_assert_cmpstr (b->server_url, ==, n2->url);
  a_id = g_strdup (a->id);
  b_id = g_strdup (b->id);

  test_server_kill (n1);
  killed_at = g_get_monotonic_time ();
  WAIT_FOR (a->n_reconnected >= 1);
  g_test_message ("a back in the room through node 2 %.2f s after the kill",
      (g_get_monotonic_time () - killed_at) / 1e6);
  g_assert_cmpstr (a->server_url, ==, n2_url);
  g_assert_cmpstr (a->id, ==, a_id);
  g_assert_cmpuint (b->n_lost, ==, 0);

  /* The call goes on, past the time node 1's seats expire. */
  a_frames = test_party_frames (a);
  b_frames = test_party_frames (b);
  WAIT_FOR (test_party_frames (a) >= a_frames + 45
      && test_party_frames (b) >= b_frames + 45
      && g_get_monotonic_time () > killed_at + 13 * G_USEC_PER_SEC);
  a_frames = test_party_frames (a);
  b_frames = test_party_frames (b);
  WAIT_FOR (test_party_frames (a) >= a_frames + 15
      && test_party_frames (b) >= b_frames + 15);
  g_assert_cmpuint (a->n_peer_left, ==, 0);
  g_assert_cmpuint (b->n_peer_left, ==, 0);
  g_assert_cmpstr (a->resets->str, ==, "");
  g_assert_cmpstr (b->resets->str, ==, "");
  g_assert_cmpstr (b->id, ==, b_id);

  test_party_free (a);
  test_party_free (b);
  parties_set (NULL, NULL);
  test_server_stop (n2);
  redis_stop (redis);
}

/* Starts @desc and returns the text of its first error. */
static gchar *
error_of (const gchar * desc)
{
  g_autoptr (GError) error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  GstBus *bus;
  GstMessage *msg;
  GError *err = NULL;
  gchar *text;

  g_assert_no_error (error);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (bus, WAIT_S * GST_SECOND,
      GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  gst_message_parse_error (msg, &err, NULL);
  text = g_strdup (err->message);
  g_test_message ("%s", text);
  g_error_free (err);
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  return text;
}

#define assert_contains(text, part) G_STMT_START {                     \
    if (!strstr (text, part))                                           \
      g_error ("'%s' does not say '%s'", text, part);                   \
  } G_STMT_END

/* A list the party cannot use is refused with an error that names the URL
 * at fault; a list of which no node answers names them all. */
static void
test_errors (void)
{
  g_autofree gchar *down1 = dead_url ();
  g_autofree gchar *down2 = dead_url ();
  g_autofree gchar *desc = NULL;
  g_autofree gchar *text = NULL;
  g_autoptr (GError) error = NULL;
  GstElement *e;
  gchar *uri;

  text = error_of ("letschatsrc room=x server-url=\"ws://127.0.0.1:8443/ws,"
      "http://node2:8443/ws\" ! fakesink");
  assert_contains (text, "Invalid URL 'http://node2:8443/ws' in server-url "
      "(URL 2 of 2)");
  assert_contains (text, "ws:// or wss://");
  g_free (text);

  text = error_of ("letschatsrc room=x server-url=\"ws://127.0.0.1:8443/ws,,"
      "ws://node2:8443/ws\" ! fakesink");
  assert_contains (text, "URL 2 of 3 is empty");
  g_free (text);

  text = error_of ("videotestsrc ! letschatsink room=x serve=true "
      "server-url=\"ws://127.0.0.1:8443/ws,ws://127.0.0.1:8444/ws\"");
  assert_contains (text, "serve=true hosts one room server");
  assert_contains (text, "server-url lists 2");
  g_free (text);

  desc = g_strdup_printf ("letschatsrc room=x server-url=\"%s,%s\" ! "
      "fakesink", down1, down2);
  text = error_of (desc);
  assert_contains (text, "Could not connect to any of the 2 letschat room "
      "servers in server-url");
  assert_contains (text, down1);
  assert_contains (text, down2);

  /* A letschat:// URI names one server: a list has none to give. */
  e = gst_element_factory_make ("letschatsrc", NULL);
  g_object_set (e, "room", "x", "server-url", "ws://h1:8443/ws,ws://h2:8443/ws",
      NULL);
  uri = gst_uri_handler_get_uri (GST_URI_HANDLER (e));
  g_assert_null (uri);
  gst_object_unref (gst_object_ref_sink (e));
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/failover/node-killed", test_node_killed);
  g_test_add_func ("/failover/first-node-down-at-start",
      test_first_node_down_at_start);
  g_test_add_func ("/failover/node-unavailable", test_node_unavailable);
  g_test_add_func ("/failover/errors", test_errors);
  g_test_add_func ("/failover/cluster-node-killed", test_cluster_node_killed);
  return g_test_run ();
}
