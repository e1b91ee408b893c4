/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The room server in this process on 127.0.0.1, port 0, with real
 * WebSockets: every rule and every error code of docs/protocol.md, and
 * hostile input that must neither crash the server nor reach other rooms.
 * Happy paths go through LetsChatClient; hostile frames through RawPeer. */

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
  g_autoptr (GError) error = NULL;

  f->server = letschat_room_server_new ();
  g_assert_true (letschat_room_server_listen (f->server, "127.0.0.1", 0,
          &error));
  g_assert_no_error (error);
  g_assert_cmpuint (letschat_room_server_get_port (f->server), >, 0);
  f->url = g_strdup_printf ("ws://127.0.0.1:%u/ws",
      letschat_room_server_get_port (f->server));
  f->session = soup_session_new ();
}

static void
fixture_teardown (Fixture * f, gconstpointer data)
{
  /* every test frees its parties: nothing may be left behind */
  WAIT_UNTIL (letschat_room_server_get_n_connections (f->server) == 0);
  g_assert_cmpuint (letschat_room_server_get_n_rooms (f->server), ==, 0);
  letschat_room_server_shutdown (f->server);
  g_object_unref (f->server);
  g_object_unref (f->session);
  g_free (f->url);
}

static JsonNode *
parse (const gchar * json)
{
  g_autoptr (GError) error = NULL;
  JsonNode *node = json_from_string (json, &error);

  g_assert_no_error (error);
  return node;
}

/* Both parties of a named room, joined, in order. */
static void
join_pair (Fixture * f, const gchar * room, ClientPeer ** a, ClientPeer ** b)
{
  *a = client_peer_connect (f->url);
  client_peer_join (*a, room, NULL, "Alice");
  *b = client_peer_connect (f->url);
  client_peer_join (*b, room, NULL, "Bob");
  WAIT_UNTIL ((*a)->n_joined == 1);
}

static void
on_http_done (GObject * source, GAsyncResult * result, gpointer user_data)
{
  GBytes **body = user_data;
  g_autoptr (GError) error = NULL;

  *body = soup_session_send_and_read_finish (SOUP_SESSION (source), result,
      &error);
  g_assert_no_error (error);
}

/* GET @path from the server; the server runs on this thread, so the
 * request must be asynchronous. */
static GBytes *
http_get (Fixture * f, const gchar * path, guint * status,
    const gchar ** content_type)
{
  g_autofree gchar *url = g_strdup_printf ("http://127.0.0.1:%u%s",
      letschat_room_server_get_port (f->server), path);
  g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);
  GBytes *body = NULL;

  soup_session_send_and_read_async (f->session, msg, G_PRIORITY_DEFAULT,
      NULL, on_http_done, &body);
  WAIT_UNTIL (body != NULL);
  *status = soup_message_get_status (msg);
  if (content_type)
    *content_type = g_intern_string (soup_message_headers_get_content_type
        (soup_message_get_response_headers (msg), NULL));
  return body;
}

static void
test_http_index (Fixture * f, gconstpointer data)
{
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GBytes) body404 = NULL;
  g_autofree gchar *text = NULL;
  const gchar *content_type = NULL;
  guint status;

  body = http_get (f, "/", &status, &content_type);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (content_type, ==, "text/html");
  text = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  /* The browser client, built into the server. */
  g_assert_nonnull (strstr (text, "<script src=\"/app.js\">"));

  /* A room's own address opens the same page; the page reads the room. */
  g_clear_pointer (&body, g_bytes_unref);
  body = http_get (f, "/r/kitchen", &status, &content_type);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (content_type, ==, "text/html");

  g_clear_pointer (&body, g_bytes_unref);
  body = http_get (f, "/app.js", &status, &content_type);
  g_assert_cmpuint (status, ==, 200);
  g_assert_cmpstr (content_type, ==, "text/javascript");
  g_assert_cmpuint (g_bytes_get_size (body), >, 1000);

  body404 = http_get (f, "/nope", &status, NULL);
  g_assert_cmpuint (status, ==, 404);
  g_clear_pointer (&body404, g_bytes_unref);
  /* Not a valid room name (docs/protocol.md): 404, with the page, which
   * says why (tests/browser checks what it shows). */
  body404 = http_get (f, "/r/no%20room", &status, &content_type);
  g_assert_cmpuint (status, ==, 404);
  g_assert_cmpstr (content_type, ==, "text/html");
  g_free (text);
  text = g_strndup (g_bytes_get_data (body404, NULL),
      g_bytes_get_size (body404));
  g_assert_nonnull (strstr (text, "<script src=\"/app.js\">"));
}

static void
test_join_welcome (Fixture * f, gconstpointer data)
{
  ClientPeer *a, *b;

  a = client_peer_connect (f->url);
  client_peer_join (a, "kitchen", NULL, "Alice");
  g_assert_cmpstr (a->room, ==, "kitchen");
  g_assert_cmpuint (strlen (a->id), ==, 32);
  /* first in: no peers, so Alice waits for Bob's offer */
  g_assert_null (a->welcome_peer_id);
  g_assert_null (a->welcome_peer_name);
  g_assert_cmpuint (json_array_get_length (json_node_get_array
          (a->ice_servers)), ==, 0);
  g_assert_cmpuint (letschat_room_server_get_n_rooms (f->server), ==, 1);

  b = client_peer_connect (f->url);
  client_peer_join (b, "kitchen", NULL, "Bob");
  g_assert_cmpstr (b->room, ==, "kitchen");
  g_assert_cmpstr (b->welcome_peer_id, ==, a->id);
  g_assert_cmpstr (b->welcome_peer_name, ==, "Alice");
  g_assert_cmpstr (b->id, !=, a->id);

  WAIT_UNTIL (a->n_joined == 1);
  g_assert_cmpstr (a->joined_id, ==, b->id);
  g_assert_cmpstr (a->joined_name, ==, "Bob");
  g_assert_cmpuint (letschat_room_server_get_n_rooms (f->server), ==, 1);
  g_assert_cmpuint (letschat_room_server_get_n_connections (f->server), ==, 2);

  client_peer_free (a);
  client_peer_free (b);
}

static void
test_join_without_name (Fixture * f, gconstpointer data)
{
  RawPeer *a = raw_peer_connect (f->session, f->url);
  RawPeer *b = raw_peer_connect (f->session, f->url);
  JsonObject *welcome, *peer;

  raw_peer_join (a, "noname", NULL);
  raw_peer_send (b, "{\"type\":\"join\",\"room\":\"noname\",\"version\":1}");
  welcome = raw_peer_expect (b, "welcome");
  peer = json_array_get_object_element (json_object_get_array_member (welcome,
          "peers"), 0);
  g_assert_true (json_object_has_member (peer, "id"));
  g_assert_true (json_object_get_null_member (peer, "name"));
  raw_peer_expect (a, "peer-joined");

  raw_peer_free (a);
  raw_peer_free (b);
}

static void
test_signal_relay (Fixture * f, gconstpointer data)
{
  ClientPeer *a, *b;
  g_autoptr (JsonNode) offer = letschat_protocol_sdp_data_new ("offer",
      "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n");
  g_autoptr (JsonNode) answer = letschat_protocol_sdp_data_new ("answer",
      "v=0\r\n");
  g_autoptr (JsonNode) ice = letschat_protocol_ice_data_new
      ("candidate:1 1 UDP 2122252543 192.0.2.1 40000 typ host", 0, "0");
  g_autoptr (JsonNode) ice_end = letschat_protocol_ice_data_new (NULL, 0, NULL);

  join_pair (f, "relay", &a, &b);

  /* the second joiner offers */
  letschat_client_send_signal (b->client, offer);
  WAIT_UNTIL (a->signals->len == 1);
  g_assert_cmpstr (a->signal_from, ==, b->id);
  g_assert_true (json_node_equal (g_ptr_array_index (a->signals, 0), offer));

  letschat_client_send_signal (a->client, answer);
  letschat_client_send_signal (a->client, ice);
  letschat_client_send_signal (a->client, ice_end);
  WAIT_UNTIL (b->signals->len == 3);
  g_assert_cmpstr (b->signal_from, ==, a->id);
  g_assert_true (json_node_equal (g_ptr_array_index (b->signals, 0), answer));
  g_assert_true (json_node_equal (g_ptr_array_index (b->signals, 1), ice));
  g_assert_true (json_node_equal (g_ptr_array_index (b->signals, 2), ice_end));

  client_peer_free (a);
  client_peer_free (b);
}

/* What the server relays is what was sent: unusual but valid content
 * (escapes, non-ASCII, extra ICE members browsers add) comes back equal. */
static void
test_relay_unchanged (Fixture * f, gconstpointer data)
{
  RawPeer *a = raw_peer_connect (f->session, f->url);
  RawPeer *b = raw_peer_connect (f->session, f->url);
  const gchar *data_json =
      "{\"ice\": {\"candidate\": \"c\\u00e9\\n\\\"q\\\"\", "
      "\"sdpMLineIndex\": 3, \"sdpMid\": null, \"usernameFragment\": \"uf\"}}";
  g_autofree gchar *text =
      g_strdup_printf ("{\"type\": \"signal\", " "\"data\": %s}", data_json);
  g_autoptr (JsonNode) sent = parse (data_json);
  JsonObject *welcome, *relayed;

  welcome = raw_peer_join (a, "same", NULL);
  raw_peer_join (b, "same", NULL);
  raw_peer_expect (a, "peer-joined");

  raw_peer_send (b, text);
  relayed = raw_peer_expect (a, "signal");
  g_assert_true (json_node_equal (json_object_get_member (relayed, "data"),
          sent));
  g_assert_cmpstr (json_object_get_string_member (relayed, "from"), !=,
      json_object_get_string_member (welcome, "id"));
  /* nothing comes back to the sender */
  raw_peer_expect_nothing (b, 100);

  raw_peer_free (a);
  raw_peer_free (b);
}

static void
test_room_full (Fixture * f, gconstpointer data)
{
  ClientPeer *a, *b, *c;
  g_autoptr (JsonNode) offer = letschat_protocol_sdp_data_new ("offer", "x");

  join_pair (f, "busy", &a, &b);

  c = client_peer_connect (f->url);
  letschat_client_join (c->client, "busy", NULL, "Carol");
  WAIT_UNTIL (c->n_errors == 1);
  g_assert_cmpstr (c->error_code, ==, LETSCHAT_ERROR_ROOM_FULL);
  g_assert_cmpuint (c->n_welcome, ==, 0);
  g_assert_true (letschat_client_is_connected (c->client));

  /* the first two go on talking, and nobody told them about Carol */
  letschat_client_send_signal (b->client, offer);
  WAIT_UNTIL (a->signals->len == 1);
  g_assert_cmpuint (a->n_joined, ==, 1);

  /* Carol may still use her socket for another room */
  client_peer_join (c, "other", NULL, "Carol");
  g_assert_cmpstr (c->room, ==, "other");

  client_peer_free (a);
  client_peer_free (b);
  client_peer_free (c);
}

static void
test_not_joined (Fixture * f, gconstpointer data)
{
  RawPeer *p = raw_peer_connect (f->session, f->url);

  raw_peer_send (p, "{\"type\":\"signal\",\"data\":{\"ice\":null}}");
  raw_peer_expect_error (p, LETSCHAT_ERROR_NOT_JOINED);
  raw_peer_send (p, "{\"type\":\"leave\"}");
  raw_peer_expect_error (p, LETSCHAT_ERROR_NOT_JOINED);

  /* and after leaving, once more */
  raw_peer_join (p, "r", NULL);
  raw_peer_send (p, "{\"type\":\"leave\"}");
  raw_peer_send (p, "{\"type\":\"signal\",\"data\":{\"ice\":null}}");
  raw_peer_expect_error (p, LETSCHAT_ERROR_NOT_JOINED);

  raw_peer_free (p);
}

static void
test_already_joined (Fixture * f, gconstpointer data)
{
  ClientPeer *a = client_peer_connect (f->url);

  client_peer_join (a, "once", NULL, NULL);
  letschat_client_join (a->client, "once", NULL, NULL);
  WAIT_UNTIL (a->n_errors == 1);
  g_assert_cmpstr (a->error_code, ==, LETSCHAT_ERROR_ALREADY_JOINED);
  letschat_client_join (a->client, "elsewhere", NULL, NULL);
  WAIT_UNTIL (a->n_errors == 2);
  g_assert_cmpstr (a->error_code, ==, LETSCHAT_ERROR_ALREADY_JOINED);
  g_assert_cmpuint (a->n_welcome, ==, 1);
  g_assert_cmpuint (letschat_room_server_get_n_rooms (f->server), ==, 1);

  client_peer_free (a);
}

static void
test_leave_rejoin (Fixture * f, gconstpointer data)
{
  ClientPeer *a, *b;
  g_autofree gchar *old_b_id = NULL;

  join_pair (f, "lobby", &a, &b);
  old_b_id = g_strdup (b->id);

  letschat_client_leave (b->client);
  WAIT_UNTIL (a->n_left == 1);
  g_assert_cmpstr (a->left_id, ==, b->id);
  g_assert_true (letschat_client_is_connected (b->client));

  /* the same socket joins again: Alice sees a newcomer, who offers */
  client_peer_join (b, "lobby", NULL, "Bob");
  g_assert_cmpstr (b->welcome_peer_id, ==, a->id);
  WAIT_UNTIL (a->n_joined == 2);
  g_assert_cmpstr (a->joined_id, ==, b->id);

  /* both leave: the room is gone */
  letschat_client_leave (a->client);
  letschat_client_leave (b->client);
  WAIT_UNTIL (letschat_room_server_get_n_rooms (f->server) == 0);
  WAIT_UNTIL (b->n_left == 1);
  g_assert_cmpstr (b->left_id, ==, a->id);

  client_peer_free (a);
  client_peer_free (b);
}

static void
test_peer_left_on_close (Fixture * f, gconstpointer data)
{
  ClientPeer *a, *b;
  g_autofree gchar *b_id = NULL;

  join_pair (f, "bye", &a, &b);
  b_id = g_strdup (b->id);

  client_peer_free (b);
  WAIT_UNTIL (a->n_left == 1);
  g_assert_cmpstr (a->left_id, ==, b_id);
  g_assert_cmpuint (letschat_room_server_get_n_rooms (f->server), ==, 1);

  client_peer_free (a);
  WAIT_UNTIL (letschat_room_server_get_n_rooms (f->server) == 0);
}

/* A party that froze (its machine slept, its network vanished) keeps its
 * socket open but answers no ping: after ping-timeout the server closes
 * it and the other party hears peer-left. The frozen party is a client on
 * its own thread that, once joined, stops running its main context. */
typedef struct
{
  gchar *url;
  GMutex lock;
  GCond cond;
  gboolean joined;
  gboolean release;
} FrozenParty;

static void
frozen_connected (GObject * source, GAsyncResult * result, gpointer data)
{
  SoupWebsocketConnection **ws = data;

  *ws = soup_session_websocket_connect_finish (SOUP_SESSION (source),
      result, NULL);
}

static void
frozen_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer data)
{
  gboolean *welcomed = data;

  *welcomed = TRUE;
}

static gpointer
frozen_party_thread (gpointer data)
{
  FrozenParty *fp = data;
  GMainContext *context = g_main_context_new ();
  SoupSession *session;
  SoupWebsocketConnection *ws = NULL;
  SoupMessage *msg;
  gboolean welcomed = FALSE;

  g_main_context_push_thread_default (context);
  session = soup_session_new ();
  msg = soup_message_new ("GET", fp->url);
  soup_session_websocket_connect_async (session, msg, NULL, NULL,
      G_PRIORITY_DEFAULT, NULL, frozen_connected, &ws);
  while (!ws)
    g_main_context_iteration (context, TRUE);
  g_signal_connect (ws, "message", G_CALLBACK (frozen_message), &welcomed);
  soup_websocket_connection_send_text (ws,
      "{\"type\":\"join\",\"room\":\"frozen\"}");
  while (!welcomed)
    g_main_context_iteration (context, TRUE);

  /* Frozen: nothing runs this context any more, so no pong goes out. */
  g_mutex_lock (&fp->lock);
  fp->joined = TRUE;
  g_cond_signal (&fp->cond);
  while (!fp->release)
    g_cond_wait (&fp->cond, &fp->lock);
  g_mutex_unlock (&fp->lock);

  g_object_unref (ws);
  g_object_unref (msg);
  g_object_unref (session);
  while (g_main_context_iteration (context, FALSE));
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);
  return NULL;
}

static void
test_ping_timeout (Fixture * f, gconstpointer data)
{
  FrozenParty fp = { f->url, };
  GThread *thread;
  ClientPeer *a;
  gint64 frozen_at;

  g_object_set (f->server, "ping-interval", 1, "ping-timeout", 2, NULL);
  a = client_peer_connect (f->url);
  client_peer_join (a, "frozen", NULL, "Alice");
  WAIT_UNTIL (a->id != NULL);

  g_mutex_init (&fp.lock);
  g_cond_init (&fp.cond);
  thread = g_thread_new ("frozen-party", frozen_party_thread, &fp);
  WAIT_UNTIL (a->n_joined == 1);
  g_mutex_lock (&fp.lock);
  while (!fp.joined)
    g_cond_wait (&fp.cond, &fp.lock);
  g_mutex_unlock (&fp.lock);
  frozen_at = g_get_monotonic_time ();

  /* Alice keeps answering pings and stays; the frozen party goes. */
  WAIT_UNTIL_MS (a->n_left == 1, 10000);
  g_test_message ("peer-left %.1f s after the party froze",
      (g_get_monotonic_time () - frozen_at) / 1e6);
  g_assert_false (a->closed);
  /* Its socket goes too, once the unanswered close handshake gives up. */
  WAIT_UNTIL_MS (letschat_room_server_get_n_connections (f->server) == 1,
      10000);

  g_mutex_lock (&fp.lock);
  fp.release = TRUE;
  g_cond_signal (&fp.cond);
  g_mutex_unlock (&fp.lock);
  g_thread_join (thread);
  g_mutex_clear (&fp.lock);
  g_cond_clear (&fp.cond);
  client_peer_free (a);
}

/* join may ask for the id of the party's earlier connection. */
static void
test_join_previous_id (Fixture * f, gconstpointer data)
{
  const gchar *wanted = "0123456789abcdef0123456789abcdef";
  RawPeer *a = raw_peer_connect (f->session, f->url);
  RawPeer *b = raw_peer_connect (f->session, f->url);
  JsonObject *welcome;

  raw_peer_send (a, "{\"type\":\"join\",\"room\":\"again\","
      "\"id\":\"0123456789abcdef0123456789abcdef\"}");
  welcome = raw_peer_expect (a, "welcome");
  g_assert_cmpstr (json_object_get_string_member (welcome, "id"), ==, wanted);

  /* Held by a connected party: not given twice. */
  raw_peer_send (b, "{\"type\":\"join\",\"room\":\"again\","
      "\"id\":\"0123456789abcdef0123456789abcdef\"}");
  welcome = raw_peer_expect (b, "welcome");
  g_assert_cmpstr (json_object_get_string_member (welcome, "id"), !=, wanted);
  raw_peer_free (b);

  b = raw_peer_connect (f->session, f->url);
  raw_peer_send (b, "{\"type\":\"join\",\"room\":\"other\","
      "\"id\":\"NOT-AN-ID\"}");
  raw_peer_expect_error (b, LETSCHAT_ERROR_BAD_REQUEST);
  raw_peer_free (b);
  raw_peer_free (a);
}

static void
test_secret_first_sets (Fixture * f, gconstpointer data)
{
  RawPeer *a = raw_peer_connect (f->session, f->url);
  RawPeer *b = raw_peer_connect (f->session, f->url);

  raw_peer_join (a, "private", "open sesame");

  raw_peer_send (b, "{\"type\":\"join\",\"room\":\"private\"}");
  raw_peer_expect_error (b, LETSCHAT_ERROR_UNAUTHORIZED);
  raw_peer_send (b, "{\"type\":\"join\",\"room\":\"private\","
      "\"secret\":\"open sesam\"}");
  raw_peer_expect_error (b, LETSCHAT_ERROR_UNAUTHORIZED);
  raw_peer_send (b, "{\"type\":\"join\",\"room\":\"private\","
      "\"secret\":\"open sesame!\"}");
  raw_peer_expect_error (b, LETSCHAT_ERROR_UNAUTHORIZED);
  /* nothing reached Alice */
  raw_peer_expect_nothing (a, 50);

  raw_peer_join (b, "private", "open sesame");
  raw_peer_expect (a, "peer-joined");

  /* everybody out: the room and its secret are gone */
  raw_peer_send (a, "{\"type\":\"leave\"}");
  raw_peer_expect (b, "peer-left");
  raw_peer_send (b, "{\"type\":\"leave\"}");
  WAIT_UNTIL (letschat_room_server_get_n_rooms (f->server) == 0);
  raw_peer_join (b, "private", NULL);

  raw_peer_free (a);
  raw_peer_free (b);
}

static void
test_secret_full_room_unauthorized_first (Fixture * f, gconstpointer data)
{
  RawPeer *a = raw_peer_connect (f->session, f->url);
  RawPeer *b = raw_peer_connect (f->session, f->url);
  RawPeer *c = raw_peer_connect (f->session, f->url);

  raw_peer_join (a, "vault", "k");
  raw_peer_join (b, "vault", "k");
  /* without the secret one does not even learn that the room is full */
  raw_peer_send (c, "{\"type\":\"join\",\"room\":\"vault\"}");
  raw_peer_expect_error (c, LETSCHAT_ERROR_UNAUTHORIZED);
  raw_peer_send (c, "{\"type\":\"join\",\"room\":\"vault\",\"secret\":\"k\"}");
  raw_peer_expect_error (c, LETSCHAT_ERROR_ROOM_FULL);

  raw_peer_free (a);
  raw_peer_free (b);
  raw_peer_free (c);
}

static void
test_startup_secret (Fixture * f, gconstpointer data)
{
  RawPeer *a, *b;

  letschat_room_server_set_room_secret (f->server, "family", "pw");
  a = raw_peer_connect (f->session, f->url);
  b = raw_peer_connect (f->session, f->url);

  raw_peer_send (a, "{\"type\":\"join\",\"room\":\"family\"}");
  raw_peer_expect_error (a, LETSCHAT_ERROR_UNAUTHORIZED);
  /* the first party cannot choose another secret for a configured room */
  raw_peer_send (a, "{\"type\":\"join\",\"room\":\"family\","
      "\"secret\":\"mine\"}");
  raw_peer_expect_error (a, LETSCHAT_ERROR_UNAUTHORIZED);
  raw_peer_join (a, "family", "pw");
  raw_peer_join (b, "family", "pw");
  raw_peer_expect (a, "peer-joined");

  /* the configured secret outlives the room */
  raw_peer_send (a, "{\"type\":\"leave\"}");
  raw_peer_expect (b, "peer-left");
  raw_peer_send (b, "{\"type\":\"leave\"}");
  WAIT_UNTIL (letschat_room_server_get_n_rooms (f->server) == 0);
  raw_peer_send (a, "{\"type\":\"join\",\"room\":\"family\"}");
  raw_peer_expect_error (a, LETSCHAT_ERROR_UNAUTHORIZED);

  /* other rooms are not affected */
  raw_peer_join (b, "friends", NULL);

  raw_peer_free (a);
  raw_peer_free (b);
}

static void
test_strangers (Fixture * f, gconstpointer data)
{
  ClientPeer *a, *b, *c;

  a = client_peer_connect (f->url);
  client_peer_join (a, NULL, NULL, "A");
  g_assert_true (g_str_has_prefix (a->room, "stranger-"));
  g_assert_true (letschat_protocol_room_name_is_valid (a->room));
  g_assert_null (a->welcome_peer_id);

  /* "room": "" means the same */
  b = client_peer_connect (f->url);
  client_peer_join (b, "", NULL, "B");
  g_assert_cmpstr (b->room, ==, a->room);
  g_assert_cmpstr (b->welcome_peer_id, ==, a->id);
  g_assert_cmpstr (b->welcome_peer_name, ==, "A");
  WAIT_UNTIL (a->n_joined == 1);
  g_assert_cmpstr (a->joined_id, ==, b->id);

  /* the pair is complete: the next stranger waits in a new room */
  c = client_peer_connect (f->url);
  client_peer_join (c, NULL, NULL, "C");
  g_assert_true (g_str_has_prefix (c->room, "stranger-"));
  g_assert_cmpstr (c->room, !=, a->room);
  g_assert_null (c->welcome_peer_id);
  g_assert_cmpuint (letschat_room_server_get_n_rooms (f->server), ==, 2);

  client_peer_free (a);
  client_peer_free (b);
  client_peer_free (c);
}

static void
test_stranger_gives_up (Fixture * f, gconstpointer data)
{
  ClientPeer *a, *b;

  /* a waiting stranger who leaves takes the waiting room along */
  a = client_peer_connect (f->url);
  client_peer_join (a, NULL, NULL, NULL);
  letschat_client_leave (a->client);
  WAIT_UNTIL (letschat_room_server_get_n_rooms (f->server) == 0);

  b = client_peer_connect (f->url);
  client_peer_join (b, NULL, NULL, NULL);
  g_assert_null (b->welcome_peer_id);
  g_assert_cmpstr (b->room, !=, a->room);

  client_peer_free (a);
  client_peer_free (b);
}

/* Messages that are not the protocol: each one is refused with bad-request
 * and the socket stays usable. */
static const gchar *bad_requests[] = {
  "not json",
  "",
  "{\"type\":\"join\"",
  "[1, 2]",
  "42",
  "\"join\"",
  "null",
  "{}",
  "{\"room\":\"a\"}",
  "{\"type\":1}",
  "{\"type\":null}",
  "{\"type\":\"dance\"}",
  "{\"type\":\"JOIN\",\"room\":\"a\"}",
  "{\"type\":\"welcome\",\"id\":\"x\",\"room\":\"a\",\"peers\":[],"
      "\"ice_servers\":[]}",
  "{\"type\":\"error\",\"code\":\"room-full\",\"message\":\"x\"}",
  "{\"type\":\"join\",\"room\":5}",
  "{\"type\":\"join\",\"room\":[\"a\"]}",
  "{\"type\":\"join\",\"room\":\"two words\"}",
  "{\"type\":\"join\",\"room\":\"../etc\\/passwd\"}",
  "{\"type\":\"join\",\"room\":\"caf\\u00e9\"}",
  "{\"type\":\"join\",\"room\":"
      "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
  "{\"type\":\"join\",\"room\":\"a\",\"secret\":1}",
  "{\"type\":\"join\",\"room\":\"a\",\"name\":{}}",
  "{\"type\":\"join\",\"room\":\"a\",\"version\":2}",
  "{\"type\":\"join\",\"room\":\"a\",\"version\":\"1\"}",
  "{\"type\":\"join\",\"room\":\"a\",\"version\":1.0}",
  "{\"type\":\"signal\"}",
  "{\"type\":\"signal\",\"data\":\"hi\"}",
  "{\"type\":\"signal\",\"data\":null}",
  "{\"type\":\"signal\",\"data\":{}}",
  "{\"type\":\"signal\",\"data\":{\"hello\":1}}",
  "{\"type\":\"signal\",\"data\":{\"ice\":null,\"sdp\":{\"type\":\"offer\","
      "\"sdp\":\"x\"}}}",
  "{\"type\":\"signal\",\"data\":{\"ice\":null,\"extra\":1}}",
  "{\"type\":\"signal\",\"data\":{\"sdp\":\"v=0\"}}",
  "{\"type\":\"signal\",\"data\":{\"sdp\":{\"type\":\"pranswer\","
      "\"sdp\":\"x\"}}}",
  "{\"type\":\"signal\",\"data\":{\"sdp\":{\"type\":\"offer\"}}}",
  "{\"type\":\"signal\",\"data\":{\"sdp\":{\"type\":\"offer\",\"sdp\":7}}}",
  "{\"type\":\"signal\",\"data\":{\"ice\":\"candidate:1\"}}",
  "{\"type\":\"signal\",\"data\":{\"ice\":{\"sdpMLineIndex\":0}}}",
  "{\"type\":\"signal\",\"data\":{\"ice\":{\"candidate\":\"c\"}}}",
  "{\"type\":\"signal\",\"data\":{\"ice\":{\"candidate\":\"c\","
      "\"sdpMLineIndex\":-1}}}",
  "{\"type\":\"signal\",\"data\":{\"ice\":{\"candidate\":\"c\","
      "\"sdpMLineIndex\":0.5}}}",
  "{\"type\":\"signal\",\"data\":{\"ice\":{\"candidate\":\"c\","
      "\"sdpMLineIndex\":\"0\"}}}",
  "{\"type\":\"signal\",\"data\":{\"ice\":{\"candidate\":\"c\","
      "\"sdpMLineIndex\":0,\"sdpMid\":0}}}",
};

static void
test_bad_request (Fixture * f, gconstpointer data)
{
  RawPeer *p = raw_peer_connect (f->session, f->url);
  g_autoptr (GString) deep = g_string_new ("{\"type\":\"join\",\"x\":");
  g_autoptr (GString) long_name = g_string_new ("{\"type\":\"join\","
      "\"room\":\"a\",\"name\":\"");
  g_autoptr (GBytes) binary = g_bytes_new_static ("\x00\x01\x02", 3);
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad_requests); i++) {
    g_test_message ("bad request: %s", bad_requests[i]);
    raw_peer_send (p, bad_requests[i]);
    raw_peer_expect_error (p, LETSCHAT_ERROR_BAD_REQUEST);
  }

  /* 65 characters (130 bytes of UTF-8) is one too many */
  for (i = 0; i < 65; i++)
    g_string_append (long_name, "\xc3\xa9");
  g_string_append (long_name, "\"}");
  raw_peer_send (p, long_name->str);
  raw_peer_expect_error (p, LETSCHAT_ERROR_BAD_REQUEST);

  /* json-glib recurses: deep nesting is refused before parsing */
  for (i = 0; i < 20000; i++)
    g_string_append_c (deep, '[');
  raw_peer_send (p, deep->str);
  raw_peer_expect_error (p, LETSCHAT_ERROR_BAD_REQUEST);

  soup_websocket_connection_send_binary (p->ws, g_bytes_get_data (binary,
          NULL), g_bytes_get_size (binary));
  raw_peer_expect_error (p, LETSCHAT_ERROR_BAD_REQUEST);

  /* nothing happened to the server; the socket still works. Exactly 64
   * characters, and every allowed character in the room name, is fine. */
  g_string_truncate (long_name, 0);
  g_string_append (long_name, "{\"type\":\"join\",\"room\":\"Az09_.-\","
      "\"version\":1,\"extra\":true,\"name\":\"");
  for (i = 0; i < 64; i++)
    g_string_append (long_name, "\xc3\xa9");
  g_string_append (long_name, "\"}");
  raw_peer_send (p, long_name->str);
  raw_peer_expect (p, "welcome");
  g_assert_cmpuint (letschat_room_server_get_n_connections (f->server), ==, 1);

  raw_peer_free (p);
}

static void
test_too_large (Fixture * f, gconstpointer data)
{
  RawPeer *p;
  g_autofree gchar *padding = g_strnfill (2000, 'x');
  g_autofree gchar *big = g_strdup_printf ("{\"type\":\"join\",\"room\":\"a\","
      "\"pad\":\"%s\"}", padding);
  g_autofree gchar *huge_padding = g_strnfill (5000, 'x');
  g_autofree gchar *huge = g_strdup_printf ("{\"type\":\"leave\","
      "\"pad\":\"%s\"}", huge_padding);

  g_object_set (f->server, "max-message-size", 1024, NULL);
  p = raw_peer_connect (f->session, f->url);

  raw_peer_send (p, big);
  raw_peer_expect_error (p, LETSCHAT_ERROR_TOO_LARGE);
  /* refused means not joined */
  g_assert_cmpuint (letschat_room_server_get_n_rooms (f->server), ==, 0);
  raw_peer_join (p, "a", NULL);

  /* Over four times the limit, libsoup cuts the connection: it sends a
   * 1009 close frame and shuts the socket at once, so with our unread bytes
   * in flight the frame is often lost to a TCP reset (code 0). */
  raw_peer_send (p, huge);
  WAIT_UNTIL (p->closed);
  g_test_message ("close code %u", p->close_code);
  g_assert_true (p->close_code == SOUP_WEBSOCKET_CLOSE_TOO_BIG
      || p->close_code == 0);
  WAIT_UNTIL (letschat_room_server_get_n_rooms (f->server) == 0);

  raw_peer_free (p);
}

static void
test_rate_limited (Fixture * f, gconstpointer data)
{
  RawPeer *p;
  guint i;

  g_object_set (f->server, "rate-limit", 10.0, "rate-burst", 5, NULL);
  p = raw_peer_connect (f->session, f->url);

  /* a burst of 9: 5 are served (not-joined), the 6th is told off, the
   * rest are dropped without an answer (another whole burst of 5 would
   * close the socket: tests/server/test-limits.c) */
  for (i = 0; i < 9; i++)
    raw_peer_send (p, "{\"type\":\"leave\"}");
  for (i = 0; i < 5; i++)
    raw_peer_expect_error (p, LETSCHAT_ERROR_NOT_JOINED);
  raw_peer_expect_error (p, LETSCHAT_ERROR_RATE_LIMITED);
  raw_peer_expect_nothing (p, 50);

  /* tokens come back at 10 per second */
  test_iterate_for (250);
  raw_peer_join (p, "slow", NULL);

  raw_peer_free (p);
}

/* A hostile party throws everything it can; the call in another room
 * carries on as if nothing happened. */
static void
test_hostile_isolated (Fixture * f, gconstpointer data)
{
  ClientPeer *a, *b;
  RawPeer *h;
  g_autoptr (JsonNode) offer = letschat_protocol_sdp_data_new ("offer", "o");
  g_autoptr (JsonNode) answer = letschat_protocol_sdp_data_new ("answer", "a");
  g_autofree gchar *big = NULL;
  g_autofree gchar *padding = g_strnfill (70000, 'y');
  guint i;

  join_pair (f, "calm", &a, &b);
  h = raw_peer_connect (f->session, f->url);

  for (i = 0; i < G_N_ELEMENTS (bad_requests); i++)
    raw_peer_send (h, bad_requests[i]);
  big = g_strdup_printf ("{\"type\":\"join\",\"room\":\"calm\",\"p\":\"%s\"}",
      padding);
  raw_peer_send (h, big);
  raw_peer_send (h, "{\"type\":\"join\",\"room\":\"calm\"}");
  raw_peer_send (h, "{\"type\":\"signal\",\"data\":{\"ice\":null}}");
  for (i = 0; i < 300; i++)
    raw_peer_send (h, "{\"type\":\"signal\",\"data\":{\"ice\":null}}");

  letschat_client_send_signal (b->client, offer);
  letschat_client_send_signal (a->client, answer);
  WAIT_UNTIL (a->signals->len == 1 && b->signals->len == 1);
  g_assert_true (json_node_equal (g_ptr_array_index (a->signals, 0), offer));
  g_assert_true (json_node_equal (g_ptr_array_index (b->signals, 0), answer));
  test_iterate_for (100);
  g_assert_cmpuint (a->signals->len, ==, 1);
  g_assert_cmpuint (b->signals->len, ==, 1);
  g_assert_cmpuint (a->n_joined, ==, 1);
  g_assert_cmpuint (a->n_errors + b->n_errors, ==, 0);
  g_assert_cmpuint (letschat_room_server_get_n_rooms (f->server), ==, 1);
  g_assert_false (h->closed);

  raw_peer_free (h);
  client_peer_free (a);
  client_peer_free (b);
}

static void
test_ice_servers (Fixture * f, gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonNode) expected = parse ("["
      "{\"urls\":\"stun:stun.example.org:3478\"},"
      "{\"urls\":\"turn:turn.example.org:3478\",\"username\":\"user\","
      "\"credential\":\"p@ss\"},"
      "{\"urls\":\"turns:turn.example.org:5349?transport=tcp\","
      "\"username\":\"u\",\"credential\":\"c\"},"
      "{\"urls\":\"stun:stun2.example.org:19302\"}]");
  ClientPeer *a;

  letschat_room_server_add_ice_server (f->server,
      "stun:stun.example.org:3478", NULL, NULL);
  g_assert_true (letschat_room_server_add_ice_server_uri (f->server,
          "turn://user:p%40ss@turn.example.org:3478", &error));
  g_assert_no_error (error);
  letschat_room_server_add_ice_server (f->server,
      "turns:turn.example.org:5349?transport=tcp", "u", "c");
  g_assert_true (letschat_room_server_add_ice_server_uri (f->server,
          "stun://stun2.example.org:19302", &error));
  g_assert_false (letschat_room_server_add_ice_server_uri (f->server,
          "http://example.org", &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);

  a = client_peer_connect (f->url);
  client_peer_join (a, "ice", NULL, NULL);
  g_assert_true (json_node_equal (a->ice_servers, expected));

  client_peer_free (a);
}

static void
test_shutdown (Fixture * f, gconstpointer data)
{
  ClientPeer *a = client_peer_connect (f->url);
  RawPeer *r = raw_peer_connect (f->session, f->url);

  client_peer_join (a, "end", NULL, NULL);
  letschat_room_server_shutdown (f->server);

  WAIT_UNTIL (a->closed && r->closed);
  g_assert_cmpuint (r->close_code, ==, SOUP_WEBSOCKET_CLOSE_GOING_AWAY);
  g_assert_error (a->closed_error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED);
  g_assert_nonnull (strstr (a->closed_error->message, f->url));
  g_assert_false (letschat_client_is_connected (a->client));
  WAIT_UNTIL (letschat_room_server_get_n_connections (f->server) == 0);
  g_assert_cmpuint (letschat_room_server_get_n_rooms (f->server), ==, 0);

  client_peer_free (a);
  raw_peer_free (r);
}

/* A server freed while a room still holds both its parties (an element
 * hosting the server, serve=true, taken to NULL mid-call): the rooms go
 * with their parties, none is read after it was freed (meson sets
 * MALLOC_PERTURB_: reading a freed party crashed here). */
static void
test_dispose_mid_call (Fixture * f, gconstpointer data)
{
  LetsChatRoomServer *server = letschat_room_server_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = NULL;
  ClientPeer *a, *b;
  Fixture mine = { server, f->session, NULL };

  g_assert_true (letschat_room_server_listen (server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  url = g_strdup_printf ("ws://127.0.0.1:%u/ws",
      letschat_room_server_get_port (server));
  mine.url = url;
  join_pair (&mine, "mid-call", &a, &b);
  g_assert_cmpuint (letschat_room_server_get_n_rooms (server), ==, 1);

  g_object_unref (server);

  WAIT_UNTIL (a->closed && b->closed);
  client_peer_free (a);
  client_peer_free (b);
}

static void
test_listen_in_use (Fixture * f, gconstpointer data)
{
  g_autoptr (LetsChatRoomServer) second = letschat_room_server_new ();
  g_autoptr (GError) error = NULL;
  guint16 port = letschat_room_server_get_port (f->server);
  g_autofree gchar *where = g_strdup_printf ("127.0.0.1:%u", port);

  g_assert_false (letschat_room_server_listen (second, "127.0.0.1", port,
          &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_ADDRESS_IN_USE);
  g_assert_nonnull (strstr (error->message, where));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, \
    func, fixture_teardown)
  ADD ("/server/http-index", test_http_index);
  ADD ("/server/join/welcome", test_join_welcome);
  ADD ("/server/join/without-name", test_join_without_name);
  ADD ("/server/join/already-joined", test_already_joined);
  ADD ("/server/join/room-full", test_room_full);
  ADD ("/server/signal/relay", test_signal_relay);
  ADD ("/server/signal/relay-unchanged", test_relay_unchanged);
  ADD ("/server/signal/not-joined", test_not_joined);
  ADD ("/server/leave/rejoin", test_leave_rejoin);
  ADD ("/server/leave/peer-left-on-close", test_peer_left_on_close);
  ADD ("/server/leave/ping-timeout", test_ping_timeout);
  ADD ("/server/join/previous-id", test_join_previous_id);
  ADD ("/server/secret/first-party-sets", test_secret_first_sets);
  ADD ("/server/secret/checked-before-full",
      test_secret_full_room_unauthorized_first);
  ADD ("/server/secret/start-up", test_startup_secret);
  ADD ("/server/strangers/pairing", test_strangers);
  ADD ("/server/strangers/gives-up", test_stranger_gives_up);
  ADD ("/server/hostile/bad-request", test_bad_request);
  ADD ("/server/hostile/too-large", test_too_large);
  ADD ("/server/hostile/rate-limited", test_rate_limited);
  ADD ("/server/hostile/other-rooms-undisturbed", test_hostile_isolated);
  ADD ("/server/ice-servers", test_ice_servers);
  ADD ("/server/shutdown", test_shutdown);
  ADD ("/server/listen-in-use", test_listen_in_use);
  ADD ("/server/dispose-mid-call", test_dispose_mid_call);
#undef ADD

  return g_test_run ();
}
