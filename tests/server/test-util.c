/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Test parties for the server tests: RawPeer speaks raw WebSocket frames
 * (to send what a well-behaved client never would), ClientPeer wraps the
 * real LetsChatClient (so the happy paths test the client too). */

#include "test-util.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

gboolean
test_wait_tick (gpointer unused)
{
  /* only here to wake up g_main_context_iteration() */
  return G_SOURCE_CONTINUE;
}

void
test_iterate_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;
  guint tick = g_timeout_add (5, test_wait_tick, NULL);

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
}

/* RawPeer */

static void
raw_on_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer user_data)
{
  RawPeer *peer = user_data;
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  gsize size;
  const gchar *data = g_bytes_get_data (bytes, &size);

  g_assert_cmpint (type, ==, SOUP_WEBSOCKET_DATA_TEXT);
  if (!json_parser_load_from_data (parser, data, size, &error))
    g_error ("The server sent something that is not JSON: %s", error->message);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
  g_queue_push_tail (&peer->messages,
      json_node_ref (json_parser_get_root (parser)));
}

static void
raw_on_closed (SoupWebsocketConnection * ws, gpointer user_data)
{
  RawPeer *peer = user_data;

  peer->closed = TRUE;
  peer->close_code = soup_websocket_connection_get_close_code (ws);
}

static void
raw_on_connected (GObject * source, GAsyncResult * result, gpointer user_data)
{
  SoupWebsocketConnection **ws = user_data;
  g_autoptr (GError) error = NULL;

  *ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result,
      &error);
  g_assert_no_error (error);
}

RawPeer *
raw_peer_connect (SoupSession * session, const gchar * url)
{
  RawPeer *peer = g_new0 (RawPeer, 1);
  g_autoptr (SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, url);

  g_queue_init (&peer->messages);
  peer->seen = g_ptr_array_new_with_free_func (
      (GDestroyNotify) json_node_unref);
  soup_session_websocket_connect_async (session, msg, NULL, NULL,
      G_PRIORITY_DEFAULT, NULL, raw_on_connected, &peer->ws);
  WAIT_UNTIL (peer->ws != NULL);

  /* The hostile tests send frames far over the server's limit; our side
   * must not be the one that refuses them. */
  soup_websocket_connection_set_max_incoming_payload_size (peer->ws,
      16 * 1024 * 1024);
  g_signal_connect (peer->ws, "message", G_CALLBACK (raw_on_message), peer);
  g_signal_connect (peer->ws, "closed", G_CALLBACK (raw_on_closed), peer);
  return peer;
}

void
raw_peer_send (RawPeer * peer, const gchar * text)
{
  soup_websocket_connection_send_text (peer->ws, text);
}

JsonObject *
raw_peer_expect (RawPeer * peer, const gchar * type)
{
  JsonNode *node;
  JsonObject *object;

  WAIT_UNTIL (!g_queue_is_empty (&peer->messages) || peer->closed);
  g_assert_false (g_queue_is_empty (&peer->messages));

  node = g_queue_pop_head (&peer->messages);
  object = json_node_get_object (node);
  if (g_strcmp0 (json_object_get_string_member (object, "type"), type) != 0) {
    g_autofree gchar *text = json_to_string (node, FALSE);
    g_error ("Expected a \"%s\" message, got %s", type, text);
  }

  /* keep it alive until the peer goes */
  g_ptr_array_add (peer->seen, node);
  return object;
}

void
raw_peer_expect_error (RawPeer * peer, const gchar * code)
{
  JsonObject *error = raw_peer_expect (peer, "error");
  const gchar *message;

  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, code);
  message = json_object_get_string_member (error, "message");
  g_assert_nonnull (message);
  g_assert_cmpuint (strlen (message), >, 0);
  /* the socket stays open after every error */
  g_assert_false (peer->closed);
}

void
raw_peer_expect_nothing (RawPeer * peer, guint ms)
{
  test_iterate_for (ms);
  if (!g_queue_is_empty (&peer->messages)) {
    g_autofree gchar *text =
        json_to_string (g_queue_peek_head (&peer->messages), FALSE);
    g_error ("Expected no message, got %s", text);
  }
}

JsonObject *
raw_peer_join (RawPeer * peer, const gchar * room, const gchar * secret)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree gchar *text = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, "join");
  if (room) {
    json_builder_set_member_name (builder, "room");
    json_builder_add_string_value (builder, room);
  }
  if (secret) {
    json_builder_set_member_name (builder, "secret");
    json_builder_add_string_value (builder, secret);
  }
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  text = json_to_string (root, FALSE);

  raw_peer_send (peer, text);
  return raw_peer_expect (peer, "welcome");
}

void
raw_peer_free (RawPeer * peer)
{
  if (soup_websocket_connection_get_state (peer->ws) ==
      SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (peer->ws, SOUP_WEBSOCKET_CLOSE_NORMAL,
        NULL);
  WAIT_UNTIL (peer->closed);
  g_signal_handlers_disconnect_by_data (peer->ws, peer);
  g_object_unref (peer->ws);
  g_queue_clear_full (&peer->messages, (GDestroyNotify) json_node_unref);
  g_ptr_array_unref (peer->seen);
  g_free (peer);
}

/* ClientPeer */

static void
replace (gchar ** field, const gchar * value)
{
  g_free (*field);
  *field = g_strdup (value);
}

static void
on_welcome (LetsChatClient * client, const gchar * id, const gchar * room,
    const gchar * peer_id, const gchar * peer_name, JsonNode * ice_servers,
    ClientPeer * peer)
{
  replace (&peer->id, id);
  replace (&peer->room, room);
  replace (&peer->welcome_peer_id, peer_id);
  replace (&peer->welcome_peer_name, peer_name);
  g_assert_nonnull (ice_servers);
  g_assert_true (JSON_NODE_HOLDS_ARRAY (ice_servers));
  g_clear_pointer (&peer->ice_servers, json_node_unref);
  peer->ice_servers = json_node_copy (ice_servers);
  peer->n_welcome++;
}

static void
on_peer_joined (LetsChatClient * client, const gchar * id,
    const gchar * name, ClientPeer * peer)
{
  replace (&peer->joined_id, id);
  replace (&peer->joined_name, name);
  peer->n_joined++;
}

static void
on_peer_left (LetsChatClient * client, const gchar * id, ClientPeer * peer)
{
  replace (&peer->left_id, id);
  peer->n_left++;
}

static void
on_signal (LetsChatClient * client, const gchar * from, JsonNode * data,
    ClientPeer * peer)
{
  replace (&peer->signal_from, from);
  g_ptr_array_add (peer->signals, json_node_copy (data));
}

static void
on_server_error (LetsChatClient * client, const gchar * code,
    const gchar * message, ClientPeer * peer)
{
  replace (&peer->error_code, code);
  replace (&peer->error_message, message);
  peer->n_errors++;
}

static void
on_closed (LetsChatClient * client, const GError * error, ClientPeer * peer)
{
  peer->closed = TRUE;
  g_clear_error (&peer->closed_error);
  if (error)
    peer->closed_error = g_error_copy (error);
}

ClientPeer *
client_peer_new (void)
{
  ClientPeer *peer = g_new0 (ClientPeer, 1);

  peer->client = letschat_client_new ();
  peer->signals = g_ptr_array_new_with_free_func (
      (GDestroyNotify) json_node_unref);
  g_signal_connect (peer->client, "welcome", G_CALLBACK (on_welcome), peer);
  g_signal_connect (peer->client, "peer-joined",
      G_CALLBACK (on_peer_joined), peer);
  g_signal_connect (peer->client, "peer-left", G_CALLBACK (on_peer_left), peer);
  g_signal_connect (peer->client, "signal", G_CALLBACK (on_signal), peer);
  g_signal_connect (peer->client, "server-error",
      G_CALLBACK (on_server_error), peer);
  g_signal_connect (peer->client, "closed", G_CALLBACK (on_closed), peer);
  return peer;
}

static void
on_connected (GObject * source, GAsyncResult * result, gpointer user_data)
{
  ClientPeer *peer = user_data;

  peer->connected = letschat_client_connect_finish (LETSCHAT_CLIENT (source),
      result, &peer->connect_error);
}

void
client_peer_connect_async (ClientPeer * peer, const gchar * url,
    guint timeout_ms)
{
  letschat_client_connect_async (peer->client, url, timeout_ms, NULL,
      on_connected, peer);
}

ClientPeer *
client_peer_connect (const gchar * url)
{
  ClientPeer *peer = client_peer_new ();

  client_peer_connect_async (peer, url, 5000);
  WAIT_UNTIL (peer->connected || peer->connect_error);
  g_assert_no_error (peer->connect_error);
  g_assert_true (letschat_client_is_connected (peer->client));
  return peer;
}

void
client_peer_join (ClientPeer * peer, const gchar * room,
    const gchar * secret, const gchar * name)
{
  guint n = peer->n_welcome, n_errors = peer->n_errors;

  letschat_client_join (peer->client, room, secret, name);
  WAIT_UNTIL (peer->n_welcome > n || peer->n_errors > n_errors);
  if (peer->n_errors > n_errors)
    g_error ("join %s refused: %s (%s)", room, peer->error_code,
        peer->error_message);
}

void
client_peer_free (ClientPeer * peer)
{
  if (letschat_client_is_connected (peer->client)) {
    letschat_client_close (peer->client);
    WAIT_UNTIL (peer->closed);
    g_assert_no_error (peer->closed_error);
  }
  g_signal_handlers_disconnect_by_data (peer->client, peer);
  g_object_unref (peer->client);
  g_clear_error (&peer->connect_error);
  g_clear_error (&peer->closed_error);
  g_free (peer->id);
  g_free (peer->room);
  g_free (peer->welcome_peer_id);
  g_free (peer->welcome_peer_name);
  g_clear_pointer (&peer->ice_servers, json_node_unref);
  g_free (peer->joined_id);
  g_free (peer->joined_name);
  g_free (peer->left_id);
  g_ptr_array_unref (peer->signals);
  g_free (peer->signal_from);
  g_free (peer->error_code);
  g_free (peer->error_message);
  g_free (peer);
}

const gchar *
server_process_path (void)
{
  const gchar *path = g_getenv ("LETSCHAT_SERVER");

  if (path == NULL)
    g_error ("LETSCHAT_SERVER is not set: run through `meson test`");
  return path;
}

static void server_process_read_line (ServerProcess * s);

static void
server_process_on_line (GObject * source, GAsyncResult * result,
    gpointer user_data)
{
  ServerProcess *s = user_data;
  g_autofree gchar *line = NULL;

  line = g_data_input_stream_read_line_finish_utf8 (G_DATA_INPUT_STREAM
      (source), result, NULL, NULL);
  if (line == NULL) {
    s->eof = TRUE;
    return;
  }
  g_string_append_printf (s->output, "%s\n", line);
  server_process_read_line (s);
}

static void
server_process_read_line (ServerProcess * s)
{
  g_data_input_stream_read_line_async (s->out, G_PRIORITY_DEFAULT,
      s->cancellable, server_process_on_line, s);
}

static void
server_process_on_exited (GObject * source, GAsyncResult * result,
    gpointer user_data)
{
  ServerProcess *s = user_data;

  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  s->exited = TRUE;
}

/* The server goes when the test does, even when the test fails: it must
 * not hold the test's output open (meson would wait for it). */
static void
die_with_parent (gpointer unused)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

ServerProcess *
server_process_start (const gchar * const *args)
{
  ServerProcess *s = g_new0 (ServerProcess, 1);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GError) error = NULL;
  const gchar *scheme, *colon;

  g_ptr_array_add (argv, (gpointer) server_process_path ());
  g_ptr_array_add (argv, (gpointer) "--port=0");
  for (; args && *args; args++)
    g_ptr_array_add (argv, (gpointer) * args);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  s->process = g_subprocess_launcher_spawnv (launcher,
      (const gchar * const *) argv->pdata, &error);
  g_assert_no_error (error);
  s->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (s->process));
  s->output = g_string_new (NULL);
  s->cancellable = g_cancellable_new ();
  server_process_read_line (s);
  g_subprocess_wait_async (s->process, NULL, server_process_on_exited, s);

  WAIT_UNTIL (strchr (s->output->str, '\n') || s->exited);
  /* text: "letschat-server listening on ws://HOST:PORT/ws"; json: an
   * object with "url" */
  g_assert_true (g_str_has_prefix (s->output->str,
          "letschat-server listening on ")
      || g_str_has_prefix (s->output->str, "{\"time\":"));
  scheme = strstr (s->output->str, "ws://");
  if (scheme == NULL)
    scheme = strstr (s->output->str, "wss://");
  g_assert_nonnull (scheme);
  s->tls = scheme[2] == 's';
  colon = strchr (scheme + strlen ("wss://"), ':');
  g_assert_nonnull (colon);
  s->port = g_ascii_strtoull (colon + 1, NULL, 10);
  g_assert_cmpuint (s->port, >, 0);
  s->url = g_strdup_printf ("%s://127.0.0.1:%u/ws", s->tls ? "wss" : "ws",
      s->port);
  return s;
}

ServerProcess *
server_process_start_va (const gchar * first_arg, ...)
{
  g_autoptr (GPtrArray) args = g_ptr_array_new ();
  const gchar *arg;
  va_list ap;

  va_start (ap, first_arg);
  for (arg = first_arg; arg; arg = va_arg (ap, const gchar *))
      g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  return server_process_start ((const gchar * const *) args->pdata);
}

void
server_process_stop (ServerProcess * s)
{
  if (!s->exited) {
    g_subprocess_send_signal (s->process, SIGTERM);
    WAIT_UNTIL (s->exited && s->eof);
  }
  g_assert_true (g_subprocess_get_if_exited (s->process));
  g_assert_cmpint (g_subprocess_get_exit_status (s->process), ==, 0);
  g_cancellable_cancel (s->cancellable);
  g_object_unref (s->cancellable);
  g_object_unref (s->out);
  g_object_unref (s->process);
  g_string_free (s->output, TRUE);
  g_free (s->url);
  g_free (s);
}

typedef struct
{
  SoupWebsocketConnection *ws;
  gboolean done;
} Handshake;

static void
on_handshake (GObject * source, GAsyncResult * result, gpointer user_data)
{
  Handshake *h = user_data;

  h->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source),
      result, NULL);
  h->done = TRUE;
}

guint
websocket_handshake_status (SoupSession * session, const gchar * url,
    const gchar * origin)
{
  g_autoptr (SoupMessage) msg = soup_message_new (SOUP_METHOD_GET, url);
  Handshake h = { 0 };

  soup_session_websocket_connect_async (session, msg, origin, NULL,
      G_PRIORITY_DEFAULT, NULL, on_handshake, &h);
  WAIT_UNTIL (h.done);
  if (h.ws) {
    soup_websocket_connection_close (h.ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    WAIT_UNTIL (soup_websocket_connection_get_state (h.ws) ==
        SOUP_WEBSOCKET_STATE_CLOSED);
    g_object_unref (h.ws);
  }
  return soup_message_get_status (msg);
}
