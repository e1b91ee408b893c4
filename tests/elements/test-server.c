/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-server.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

/* A server dies with the test: a failed assertion must not leave it
 * running (holding the test's stderr, which meson waits on). */
void
test_server_die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void read_line (TestServer * s);

static void
on_line (GObject * source, GAsyncResult * result, gpointer data)
{
  TestServer *s = data;
  g_autofree gchar *line = g_data_input_stream_read_line_finish_utf8
      (G_DATA_INPUT_STREAM (source), result, NULL, NULL);

  if (line == NULL) {
    s->eof = TRUE;
    return;
  }
  g_string_append_printf (s->log, "%s\n", line);
  read_line (s);
}

static void
read_line (TestServer * s)
{
  g_data_input_stream_read_line_async (s->out, G_PRIORITY_DEFAULT, NULL,
      on_line, s);
}

TestServer *
test_server_start (guint16 port, const gchar * const *extra)
{
  TestServer *s = g_new0 (TestServer, 1);
  g_autoptr (GSubprocessLauncher) launcher =
      g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  const gchar *path = g_getenv ("LETSCHAT_SERVER");
  const gchar *ws;

  g_assert_nonnull (path);
  g_ptr_array_add (argv, g_strdup (path));
  g_ptr_array_add (argv, g_strdup_printf ("--port=%u", port));
  for (; extra && *extra; extra++)
    g_ptr_array_add (argv, g_strdup (*extra));
  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_set_child_setup (launcher, test_server_die_with_parent,
      NULL, NULL);
  s->process =
      g_subprocess_launcher_spawnv (launcher,
      (const gchar * const *) argv->pdata, &error);
  g_assert_no_error (error);
  s->out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (s->process));
  s->log = g_string_new (NULL);
  read_line (s);
  /* the line that gives the URL (a node of a cluster may log first) */
  while (!(ws = strstr (s->log->str, "ws://")) || !strchr (ws, '\n')) {
    g_assert_false (s->eof);
    g_main_context_iteration (NULL, TRUE);
  }
  s->url = g_strndup (ws, strchr (ws, '\n') - ws);
  return s;
}

static void
test_server_end (TestServer * s, gint signal)
{
  g_subprocess_send_signal (s->process, signal);
  g_subprocess_wait (s->process, NULL, NULL);
  /* the last read must not outlive @s */
  while (!s->eof)
    g_main_context_iteration (NULL, TRUE);
  g_test_message ("server %s log:\n%s", s->url, s->log->str);
  g_object_unref (s->out);
  g_object_unref (s->process);
  g_string_free (s->log, TRUE);
  g_free (s->url);
  g_free (s);
}

void
test_server_stop (TestServer * s)
{
  test_server_end (s, SIGTERM);
}

void
test_server_kill (TestServer * s)
{
  test_server_end (s, SIGKILL);
}

guint16
test_server_free_port (void)
{
  g_autoptr (GSocket) socket = g_socket_new (G_SOCKET_FAMILY_IPV4,
      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo =
      g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (socket, address, TRUE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}
