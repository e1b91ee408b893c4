/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * chat: text chat with the other party of a letschat room, from a
 * terminal. Each line typed is sent with the "send-chat" action signal;
 * what the other party types arrives as the bus message letschat/chat
 * (and the "chat-received" signal) and is printed.
 *
 *   build/examples/chat --room demo
 *   build/examples/chat --room demo --pipeline "videotestsrc is-live=true ! \
 *       letschatsink name=party room=demo"
 *
 * The party is the element named "party" in --pipeline (a letschatsink or
 * a letschatsrc; with both in one pipeline, either), by default a
 * letschatsrc that only listens (its media goes to fakesinks).
 */
#include <gst/gst.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>

typedef struct
{
  GMainLoop *loop;
  GstElement *party;
  gint status;
} App;

/* Chat text is UTF-8 and printed as it is: g_print() would turn what the
 * locale cannot show into '?' (under the C locale, anything not ASCII). */
static void
say (const gchar * format, ...)
{
  va_list args;

  va_start (args, format);
  vprintf (format, args);
  va_end (args);
  fflush (stdout);
}

static gboolean
on_stdin (GIOChannel * source, GIOCondition condition, gpointer data)
{
  App *app = data;
  gchar *line = NULL;
  gsize terminator;
  GIOStatus status;
  gboolean sent = FALSE;

  status = g_io_channel_read_line (source, &line, NULL, &terminator, NULL);
  if (status == G_IO_STATUS_EOF || status == G_IO_STATUS_ERROR) {
    g_main_loop_quit (app->loop);
    return G_SOURCE_REMOVE;
  }
  if (status == G_IO_STATUS_NORMAL && line) {
    line[terminator] = '\0';
    /* A refusal is posted as a warning, printed by on_bus_message. */
    g_signal_emit_by_name (app->party, "send-chat", line, &sent);
    if (sent)
      say ("sent: %s\n", line);
  }
  g_free (line);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_bus_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  App *app = data;
  const GstStructure *s;
  GError *error = NULL;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &error, NULL);
      g_printerr ("chat: %s\n", error->message);
      g_error_free (error);
      app->status = 1;
      g_main_loop_quit (app->loop);
      break;
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (msg, &error, NULL);
      g_printerr ("chat: warning: %s\n", error->message);
      g_error_free (error);
      break;
    case GST_MESSAGE_ELEMENT:
      s = gst_message_get_structure (msg);
      if (gst_structure_has_name (s, "letschat/joined"))
        say ("joined room %s\n", gst_structure_get_string (s, "room"));
      else if (gst_structure_has_name (s, "letschat/peer-joined"))
        say ("the other party joined (%s)\n",
            gst_structure_get_string (s, "peer-name"));
      else if (gst_structure_has_name (s, "letschat/peer-left"))
        say ("the other party left\n");
      else if (gst_structure_has_name (s, "letschat/chat"))
        say ("chat: %s: %s\n", gst_structure_get_string (s, "from-name"),
            gst_structure_get_string (s, "text"));
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_signal (gpointer data)
{
  g_main_loop_quit (((App *) data)->loop);
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  gchar *room = NULL, *server_url = NULL, *name = NULL, *desc = NULL;
  GOptionEntry entries[] = {
    {"room", 'r', 0, G_OPTION_ARG_STRING, &room,
        "Room to join (required unless --pipeline names it)", "NAME"},
    {"server-url", 'u', 0, G_OPTION_ARG_STRING, &server_url,
        "Room server (default ws://127.0.0.1:8443/ws)", "URL"},
    {"name", 'n', 0, G_OPTION_ARG_STRING, &name,
        "Display name the other party sees", "NAME"},
    {"pipeline", 'p', 0, G_OPTION_ARG_STRING, &desc,
        "The party, as a gst-launch-1.0 description with a letschatsink or "
          "letschatsrc named \"party\" (default: a letschatsrc that only "
          "listens)", "DESC"},
    {NULL}
  };
  GOptionContext *ctx;
  GError *error = NULL;
  GstElement *pipeline;
  GIOChannel *in;
  GstBus *bus;
  App app = { 0, };

  ctx = g_option_context_new ("- text chat with the other party of a room");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("chat: %s\n", error->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (!desc && !room) {
    g_printerr ("chat: --room is required (see --help)\n");
    return 2;
  }
  if (!desc)
    desc = g_strdup_printf ("letschatsrc name=party room=%s party. ! fakesink "
        "party. ! fakesink", room);

  pipeline = gst_parse_launch (desc, &error);
  if (!pipeline) {
    g_printerr ("chat: %s\n", error->message);
    return 2;
  }
  app.party = gst_bin_get_by_name (GST_BIN (pipeline), "party");
  if (!app.party || !g_signal_lookup ("send-chat", G_OBJECT_TYPE (app.party))) {
    g_printerr ("chat: the pipeline needs a letschatsink or letschatsrc "
        "named \"party\"\n");
    return 2;
  }
  if (server_url)
    g_object_set (app.party, "server-url", server_url, NULL);
  if (name)
    g_object_set (app.party, "display-name", name, NULL);

  app.loop = g_main_loop_new (NULL, FALSE);
  bus = gst_element_get_bus (pipeline);
  gst_bus_add_watch (bus, on_bus_message, &app);
  gst_object_unref (bus);
  in = g_io_channel_unix_new (fileno (stdin));
  g_io_add_watch (in, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, &app);
  g_unix_signal_add (SIGINT, on_signal, &app);
  g_unix_signal_add (SIGTERM, on_signal, &app);

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    GstMessage *msg;

    bus = gst_element_get_bus (pipeline);
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    if (msg) {
      on_bus_message (bus, msg, &app);
      gst_message_unref (msg);
    }
    gst_object_unref (bus);
    app.status = 1;
  } else {
    g_main_loop_run (app.loop);
  }

  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_io_channel_unref (in);
  gst_object_unref (app.party);
  gst_object_unref (pipeline);
  g_main_loop_unref (app.loop);
  g_free (room);
  g_free (server_url);
  g_free (name);
  g_free (desc);
  return app.status;
}
