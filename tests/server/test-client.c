/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* LetsChatClient on its own: errors people will read when the server is
 * not there, does not answer, or goes away; and the protocol module's
 * parser and builders, which client and server share. */

#include "letschat-client.h"
#include "letschat-protocol.h"
#include "letschat-room-server.h"
#include "test-util.h"

#include <string.h>

static void
test_connect_refused (void)
{
  g_autoptr (GSocketListener) listener = g_socket_listener_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = NULL;
  ClientPeer *peer;
  guint16 port;

  /* a port that was free a moment ago and has nobody listening now */
  port = g_socket_listener_add_any_inet_port (listener, NULL, &error);
  g_assert_no_error (error);
  g_socket_listener_close (listener);
  url = g_strdup_printf ("ws://127.0.0.1:%u/ws", port);

  peer = client_peer_new ();
  client_peer_connect_async (peer, url, 5000);
  WAIT_UNTIL (peer->connected || peer->connect_error);
  g_assert_false (peer->connected);
  g_assert_error (peer->connect_error, G_IO_ERROR,
      G_IO_ERROR_CONNECTION_REFUSED);
  g_test_message ("%s", peer->connect_error->message);
  g_assert_nonnull (strstr (peer->connect_error->message, url));
  g_assert_false (letschat_client_is_connected (peer->client));

  client_peer_free (peer);
}

static gboolean
on_incoming (GSocketService * service, GSocketConnection * connection,
    GObject * source, gpointer user_data)
{
  GPtrArray *silent = user_data;

  /* accept the TCP connection and never say a word */
  g_ptr_array_add (silent, g_object_ref (connection));
  return TRUE;
}

static void
test_connect_timeout (void)
{
  g_autoptr (GSocketService) service = g_socket_service_new ();
  g_autoptr (GPtrArray) silent =
      g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = NULL;
  ClientPeer *peer;
  guint16 port;
  gint64 start;

  port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (service),
      NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), silent);
  g_socket_service_start (service);
  url = g_strdup_printf ("ws://127.0.0.1:%u/ws", port);

  peer = client_peer_new ();
  start = g_get_monotonic_time ();
  client_peer_connect_async (peer, url, 300);
  WAIT_UNTIL (peer->connected || peer->connect_error);
  g_assert_error (peer->connect_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_test_message ("%s", peer->connect_error->message);
  g_assert_nonnull (strstr (peer->connect_error->message, url));
  g_assert_nonnull (strstr (peer->connect_error->message, "300 ms"));
  g_assert_cmpint (g_get_monotonic_time () - start, >=,
      250 * G_TIME_SPAN_MILLISECOND);
  g_assert_cmpuint (silent->len, ==, 1);

  client_peer_free (peer);
  g_socket_service_stop (service);
}

static void
test_connect_cancelled (void)
{
  g_autoptr (GSocketService) service = g_socket_service_new ();
  g_autoptr (GPtrArray) silent =
      g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = NULL;
  ClientPeer *peer;
  guint16 port;

  port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (service),
      NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), silent);
  url = g_strdup_printf ("ws://127.0.0.1:%u/ws", port);

  peer = client_peer_new ();
  letschat_client_connect_async (peer->client, url, 0, cancellable,
      (GAsyncReadyCallback) NULL, NULL);
  g_cancellable_cancel (cancellable);
  /* no callback: just wait until the attempt is over and can go again */
  test_iterate_for (100);
  client_peer_connect_async (peer, "ws://127.0.0.1:1/nothing-here", 2000);
  WAIT_UNTIL (peer->connect_error != NULL);
  g_assert_nonnull (strstr (peer->connect_error->message,
          "ws://127.0.0.1:1/nothing-here"));

  client_peer_free (peer);
}

static void
test_invalid_url (void)
{
  ClientPeer *peer = client_peer_new ();

  client_peer_connect_async (peer, "http://example.invalid/", 100);
  WAIT_UNTIL (peer->connect_error != NULL);
  g_assert_error (peer->connect_error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (peer->connect_error->message,
          "http://example.invalid/"));

  client_peer_free (peer);
}

static void
test_close_and_errors (void)
{
  g_autoptr (LetsChatRoomServer) server = letschat_room_server_new ();
  g_autoptr (GError) error = NULL;
  g_autofree gchar *url = NULL;
  ClientPeer *peer;

  g_assert_true (letschat_room_server_listen (server, "localhost", 0, &error));
  url = g_strdup_printf ("ws://127.0.0.1:%u/ws",
      letschat_room_server_get_port (server));

  peer = client_peer_connect (url);
  /* server errors come as "server-error" */
  letschat_client_leave (peer->client);
  WAIT_UNTIL (peer->n_errors == 1);
  g_assert_cmpstr (peer->error_code, ==, LETSCHAT_ERROR_NOT_JOINED);
  g_assert_nonnull (peer->error_message);

  /* close: "closed" without an error, and a second close is harmless */
  letschat_client_close (peer->client);
  letschat_client_close (peer->client);
  WAIT_UNTIL (peer->closed);
  g_assert_no_error (peer->closed_error);
  g_assert_false (letschat_client_is_connected (peer->client));
  /* sending now is dropped quietly */
  letschat_client_join (peer->client, "late", NULL, NULL);
  WAIT_UNTIL (letschat_room_server_get_n_connections (server) == 0);
  g_assert_cmpuint (letschat_room_server_get_n_rooms (server), ==, 0);

  client_peer_free (peer);
}

static void
test_protocol_builders_round_trip (void)
{
  g_autoptr (JsonNode) ice = letschat_protocol_ice_data_new ("candidate:x",
      1, NULL);
  g_autoptr (JsonNode) servers = json_from_string ("[{\"urls\":\"stun:s\"}]",
      NULL);
  g_autoptr (LetsChatMessage) join = NULL;
  g_autoptr (LetsChatMessage) signal = NULL;
  g_autoptr (LetsChatMessage) welcome = NULL;
  g_autoptr (LetsChatMessage) error = NULL;
  g_autoptr (GError) err = NULL;
  g_autofree gchar *t_join = letschat_protocol_build_join ("r", "s", "n");
  g_autofree gchar *t_signal = letschat_protocol_build_signal ("id1", ice);
  g_autofree gchar *t_welcome = letschat_protocol_build_welcome ("me", "r",
      "you", NULL, servers);
  g_autofree gchar *t_error =
      letschat_protocol_build_error (LETSCHAT_ERROR_ROOM_FULL, "full");

  join = letschat_message_parse (t_join, -1, LETSCHAT_PROTOCOL_FROM_CLIENT,
      &err);
  g_assert_no_error (err);
  g_assert_cmpint (join->type, ==, LETSCHAT_MESSAGE_JOIN);
  g_assert_cmpstr (join->room, ==, "r");
  g_assert_cmpstr (join->secret, ==, "s");
  g_assert_cmpstr (join->name, ==, "n");

  signal = letschat_message_parse (t_signal, -1,
      LETSCHAT_PROTOCOL_FROM_SERVER, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (signal->from, ==, "id1");
  g_assert_true (json_node_equal (signal->data, ice));

  welcome = letschat_message_parse (t_welcome, -1,
      LETSCHAT_PROTOCOL_FROM_SERVER, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (welcome->id, ==, "me");
  g_assert_cmpstr (welcome->peer_id, ==, "you");
  g_assert_null (welcome->peer_name);
  g_assert_true (json_node_equal (welcome->ice_servers, servers));

  error = letschat_message_parse (t_error, -1,
      LETSCHAT_PROTOCOL_FROM_SERVER, &err);
  g_assert_no_error (err);
  g_assert_cmpstr (error->code, ==, "room-full");
  g_assert_cmpstr (error->message, ==, "full");

  /* each side only accepts the other side's kinds */
  g_assert_null (letschat_message_parse (t_welcome, -1,
          LETSCHAT_PROTOCOL_FROM_CLIENT, &err));
  g_assert_error (err, LETSCHAT_PROTOCOL_ERROR,
      LETSCHAT_PROTOCOL_ERROR_BAD_REQUEST);
  g_clear_error (&err);
  g_assert_null (letschat_message_parse (t_join, -1,
          LETSCHAT_PROTOCOL_FROM_SERVER, &err));
  g_assert_error (err, LETSCHAT_PROTOCOL_ERROR,
      LETSCHAT_PROTOCOL_ERROR_BAD_REQUEST);
}

static void
test_protocol_room_names (void)
{
  g_assert_true (letschat_protocol_room_name_is_valid ("a"));
  g_assert_true (letschat_protocol_room_name_is_valid ("Az09_.-"));
  g_assert_true (letschat_protocol_room_name_is_valid
      ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
  g_assert_false (letschat_protocol_room_name_is_valid
      ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
  g_assert_false (letschat_protocol_room_name_is_valid (""));
  g_assert_false (letschat_protocol_room_name_is_valid (NULL));
  g_assert_false (letschat_protocol_room_name_is_valid ("a b"));
  g_assert_false (letschat_protocol_room_name_is_valid ("a/b"));
  g_assert_false (letschat_protocol_room_name_is_valid ("caf\xc3\xa9"));
  g_assert_cmpstr (letschat_protocol_error_to_code
      (LETSCHAT_PROTOCOL_ERROR_ALREADY_JOINED), ==, "already-joined");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/client/connect/refused", test_connect_refused);
  g_test_add_func ("/client/connect/timeout", test_connect_timeout);
  g_test_add_func ("/client/connect/cancelled", test_connect_cancelled);
  g_test_add_func ("/client/connect/invalid-url", test_invalid_url);
  g_test_add_func ("/client/close-and-errors", test_close_and_errors);
  g_test_add_func ("/protocol/round-trip", test_protocol_builders_round_trip);
  g_test_add_func ("/protocol/room-names", test_protocol_room_names);

  return g_test_run ();
}
