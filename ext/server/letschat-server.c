/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* letschat-server: the room server (ext/signalling/letschat-room-server.c)
 * as a program. It prints one line once it listens, then one log line per
 * event, and exits 0 after SIGINT/SIGTERM once every socket said goodbye. */

#include "config.h"

#include "letschat-protocol.h"
#include "letschat-room-server.h"

#include <glib-unix.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#define LOG_DOMAIN "letschat-server"

/* How long shutdown waits for the close handshakes (1001) to finish. */
#define SHUTDOWN_GRACE_MS 2000

typedef struct
{
  GMainLoop *loop;
  LetsChatRoomServer *server;
  gint64 shutdown_deadline;
  gboolean shutting_down;
} App;

/* Our own log lines go to stdout, one per line with a UTC timestamp, so
 * that `letschat-server > log` is the whole story. Anything else (warnings
 * from libraries, debug output) keeps GLib's default treatment. */
static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField * fields, gsize n_fields,
    gpointer user_data)
{
  const gchar *domain = NULL, *message = NULL;
  gsize i;

  for (i = 0; i < n_fields; i++) {
    if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
      domain = fields[i].value;
    else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;
  }

  if (g_strcmp0 (domain, LOG_DOMAIN) == 0 && message != NULL
      && (level & (G_LOG_LEVEL_INFO | G_LOG_LEVEL_MESSAGE))) {
    g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
    g_autofree gchar *stamp = g_date_time_format (now, "%FT%T.%fZ");

    fprintf (stdout, "%s %s\n", stamp, message);
    fflush (stdout);
    return G_LOG_WRITER_HANDLED;
  }

  return g_log_writer_default (level, fields, n_fields, user_data);
}

static gboolean
wait_for_goodbyes (gpointer user_data)
{
  App *app = user_data;

  if (letschat_room_server_get_n_connections (app->server) > 0
      && g_get_monotonic_time () < app->shutdown_deadline)
    return G_SOURCE_CONTINUE;

  g_main_loop_quit (app->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_quit_signal (gpointer user_data)
{
  App *app = user_data;

  /* A second signal while waiting means "now". */
  if (app->shutting_down) {
    g_main_loop_quit (app->loop);
    return G_SOURCE_CONTINUE;
  }
  app->shutting_down = TRUE;

  g_log (LOG_DOMAIN, G_LOG_LEVEL_INFO, "shutting down (%u connections)",
      letschat_room_server_get_n_connections (app->server));
  letschat_room_server_shutdown (app->server);

  app->shutdown_deadline = g_get_monotonic_time () +
      SHUTDOWN_GRACE_MS * G_TIME_SPAN_MILLISECOND;
  g_timeout_add (20, wait_for_goodbyes, app);
  return G_SOURCE_CONTINUE;
}

static gboolean
add_room_secrets (LetsChatRoomServer * server, gchar ** specs, GError ** error)
{
  gchar **spec;

  for (spec = specs; spec && *spec; spec++) {
    const gchar *eq = strchr (*spec, '=');
    g_autofree gchar *room = NULL;

    if (eq == NULL || eq == *spec || eq[1] == '\0') {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--room-secret wants ROOM=SECRET, got \"%s\"", *spec);
      return FALSE;
    }
    room = g_strndup (*spec, eq - *spec);
    if (!letschat_protocol_room_name_is_valid (room)) {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
          "--room-secret: \"%s\" is not a valid room name (1 to %d "
          "characters among A-Z a-z 0-9 _ . -)", room, LETSCHAT_ROOM_NAME_MAX);
      return FALSE;
    }
    letschat_room_server_set_room_secret (server, room, eq + 1);
  }
  return TRUE;
}

static gboolean
add_ice_servers (LetsChatRoomServer * server, gchar ** uris, GError ** error)
{
  gchar **uri;

  for (uri = uris; uri && *uri; uri++) {
    if (!letschat_room_server_add_ice_server_uri (server, *uri, error))
      return FALSE;
  }
  return TRUE;
}

/* Each party holds a descriptor, and the usual soft limit (1,024) is far
 * below what the server is meant to hold; the hard limit is what the
 * administrator allows, so the soft one is raised to it. */
static void
raise_open_files_limit (void)
{
  struct rlimit limit;
  rlim_t was;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    return;
  was = limit.rlim_cur;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
      limit.rlim_cur = was;
  }
  g_log (LOG_DOMAIN, G_LOG_LEVEL_INFO, "open files limit: %llu (was %llu, "
      "hard limit %llu)", (unsigned long long) limit.rlim_cur,
      (unsigned long long) was, (unsigned long long) limit.rlim_max);
}

int
main (int argc, char **argv)
{
  g_autofree gchar *host = g_strdup ("127.0.0.1");
  gint port = LETSCHAT_DEFAULT_PORT;
  gint max_message_size = LETSCHAT_DEFAULT_MAX_MESSAGE_SIZE;
  gdouble rate_limit = 0;
  gint rate_burst = 0;
  gint ping_interval = LETSCHAT_DEFAULT_PING_INTERVAL;
  gint ping_timeout = LETSCHAT_DEFAULT_PING_TIMEOUT;
  g_auto (GStrv) room_secrets = NULL;
  g_auto (GStrv) ice_servers = NULL;
  g_auto (GStrv) allowed_origins = NULL;
  g_auto (GStrv) public_origins = NULL;
  g_autofree gchar *tls_cert = NULL;
  g_autofree gchar *tls_key = NULL;
  gint join_timeout = LETSCHAT_DEFAULT_JOIN_TIMEOUT;
  gint max_connections = LETSCHAT_DEFAULT_MAX_CONNECTIONS;
  gint max_rooms = LETSCHAT_DEFAULT_MAX_ROOMS;
  gint max_per_ip = LETSCHAT_DEFAULT_MAX_PER_IP;
  gint handshake_timeout = LETSCHAT_DEFAULT_HANDSHAKE_TIMEOUT;
  gboolean version = FALSE;
  GOptionEntry entries[] = {
    {"host", 'H', 0, G_OPTION_ARG_STRING, &host,
        "Address to listen on (default 127.0.0.1; 0.0.0.0 for every IPv4 "
          "interface)", "HOST"},
    {"port", 'p', 0, G_OPTION_ARG_INT, &port,
        "TCP port to listen on (default 8443; 0 picks a free one)", "PORT"},
    {"max-message-size", 0, 0, G_OPTION_ARG_INT, &max_message_size,
        "Largest message in bytes; bigger ones get a too-large error "
          "(default 65536)", "BYTES"},
    {"rate-limit", 0, 0, G_OPTION_ARG_DOUBLE, &rate_limit,
        "Messages per second per connection on average (default 50)", "N"},
    {"rate-burst", 0, 0, G_OPTION_ARG_INT, &rate_burst,
        "Messages a connection may send at once (default 200)", "N"},
    {"ping-interval", 0, 0, G_OPTION_ARG_INT, &ping_interval,
        "Seconds between pings to each party (default 10)", "S"},
    {"ping-timeout", 0, 0, G_OPTION_ARG_INT, &ping_timeout,
        "Seconds without an answer after which a party counts as gone "
          "and the other one is told peer-left (default 30, 0: never)", "S"},
    {"room-secret", 's', 0, G_OPTION_ARG_STRING_ARRAY, &room_secrets,
          "Only admit parties presenting SECRET into ROOM (repeatable)",
        "ROOM=SECRET"},
    {"ice-server", 'i', 0, G_OPTION_ARG_STRING_ARRAY, &ice_servers,
          "STUN/TURN server handed to every party in welcome (repeatable): "
          "stun:HOST:PORT, stun://HOST:PORT or turn://USER:PASS@HOST:PORT",
        "URI"},
    {"tls-cert", 0, 0, G_OPTION_ARG_FILENAME, &tls_cert,
        "PEM certificate (chain): serve https:// and wss:// instead of "
          "http:// and ws:// (needs --tls-key)", "FILE"},
    {"tls-key", 0, 0, G_OPTION_ARG_FILENAME, &tls_key,
        "PEM private key of --tls-cert", "FILE"},
    {"join-timeout", 0, 0, G_OPTION_ARG_INT, &join_timeout,
        "Seconds a connection may stay without joining a room (default 30, "
          "0: forever)", "S"},
    {"max-connections", 0, 0, G_OPTION_ARG_INT, &max_connections,
        "WebSocket connections open at once (default 1000); TCP "
          "connections get 64 more for the page", "N"},
    {"max-rooms", 0, 0, G_OPTION_ARG_INT, &max_rooms,
        "Rooms live at once (default 500)", "N"},
    {"max-per-ip", 0, 0, G_OPTION_ARG_INT, &max_per_ip,
        "WebSocket connections open at once from one IP address or IPv6 "
          "/64 (default 32); TCP connections get 8 more for the page", "N"},
    {"allowed-origin", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allowed_origins,
        "Web origin (e.g. https://example.org) whose pages may connect, "
          "besides this server's own page and clients sending no Origin; "
          "\"*\" for any (repeatable)", "ORIGIN"},
    {"public-origin", 0, 0, G_OPTION_ARG_STRING_ARRAY, &public_origins,
        "Origin of this server's page as browsers reach it (e.g. "
          "https://chat.example.org; repeatable). Without it, only the page "
          "reached by IP address or as localhost may connect", "ORIGIN"},
    {"handshake-timeout", 0, 0, G_OPTION_ARG_INT, &handshake_timeout,
        "Seconds a connection may take for its TLS handshake and request, "
          "for each response, and idle before a next request; then it is "
          "closed (default 5, 0: never)", "S"},
    {"version", 0, 0, G_OPTION_ARG_NONE, &version,
        "Print the version and exit", NULL},
    {NULL}
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (LetsChatRoomServer) server = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  App app = { 0 };
  guint sigint_id, sigterm_id;

  context = g_option_context_new ("- letschat room server");
  g_option_context_set_summary (context,
      "Pairs up parties of two-party WebRTC calls: each party opens a "
      "WebSocket\nto ws://HOST:PORT/ws, joins a room, and the server relays "
      "their offers,\nanswers and ICE candidates (see docs/protocol.md).");
  g_option_context_set_description (context,
      "Log lines (one per connection, join, leave and refused request) go "
      "to\nstandard output with a UTC timestamp; secrets are never "
      "logged.\n\n"
      "Note that options are visible to other local users (ps): keep real "
      "room\nsecrets for machines you trust, or let the first party of a "
      "room set them.\n\n"
      "Examples:\n"
      "  letschat-server --host 0.0.0.0 --port 8443\n"
      "  letschat-server --room-secret family=s3cret "
      "--ice-server stun:stun.l.google.com:19302\n"
      "  letschat-server --ice-server turn://user:pass@turn.example.org:3478\n");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("letschat-server: %s\nTry --help.\n", error->message);
    return 1;
  }

  if (version) {
    g_print ("letschat-server %s\n", PACKAGE_VERSION);
    return 0;
  }

  if (port < 0 || port > G_MAXUINT16) {
    g_printerr ("letschat-server: --port must be 0..65535, not %d\n", port);
    return 1;
  }
  if (max_message_size < 256) {
    g_printerr ("letschat-server: --max-message-size must be at least 256 "
        "bytes\n");
    return 1;
  }

  g_log_set_writer_func (log_writer, NULL, NULL);

  server = letschat_room_server_new ();
  g_object_set (server, "max-message-size", (guint) max_message_size, NULL);
  if (rate_limit > 0)
    g_object_set (server, "rate-limit", rate_limit, NULL);
  if (rate_burst > 0)
    g_object_set (server, "rate-burst", (guint) rate_burst, NULL);
  if (ping_interval < 1 || ping_timeout < 0) {
    g_printerr ("letschat-server: --ping-interval must be at least 1 and "
        "--ping-timeout at least 0\n");
    return 1;
  }
  g_object_set (server, "ping-interval", (guint) ping_interval,
      "ping-timeout", (guint) ping_timeout, NULL);
  if (handshake_timeout < 0 || handshake_timeout > 3600) {
    g_printerr ("letschat-server: --handshake-timeout must be 0..3600\n");
    return 1;
  }
  g_object_set (server, "handshake-timeout", (guint) handshake_timeout, NULL);
  if (join_timeout < 0 || max_connections < 1 || max_rooms < 1
      || max_per_ip < 1) {
    g_printerr ("letschat-server: --join-timeout must be at least 0, and "
        "--max-connections, --max-rooms and --max-per-ip at least 1\n");
    return 1;
  }
  g_object_set (server, "join-timeout", (guint) join_timeout,
      "max-connections", (guint) max_connections, "max-rooms",
      (guint) max_rooms, "max-per-ip", (guint) max_per_ip,
      "allowed-origins", allowed_origins, "public-origins", public_origins,
      NULL);

  if ((tls_cert == NULL) != (tls_key == NULL)) {
    g_printerr ("letschat-server: --tls-cert and --tls-key go together\n");
    return 1;
  }
  if (tls_cert && !letschat_room_server_set_tls_files (server, tls_cert,
          tls_key, &error)) {
    g_printerr ("letschat-server: %s\n", error->message);
    return 1;
  }

  if (!add_room_secrets (server, room_secrets, &error)
      || !add_ice_servers (server, ice_servers, &error)) {
    g_printerr ("letschat-server: %s\n", error->message);
    return 1;
  }

  if (!letschat_room_server_listen (server, host, port, &error)) {
    g_printerr ("letschat-server: %s\n", error->message);
    return 1;
  }

  /* An IPv6 literal needs brackets in a URL. */
  g_print ("letschat-server listening on %s://%s%s%s:%u/ws\n",
      tls_cert ? "wss" : "ws", strchr (host, ':') ? "[" : "", host,
      strchr (host, ':') ? "]" : "", letschat_room_server_get_port (server));
  fflush (stdout);
  /* after the line above, which scripts wait for first */
  raise_open_files_limit ();

  loop = g_main_loop_new (NULL, FALSE);
  app.loop = loop;
  app.server = server;
  sigint_id = g_unix_signal_add (SIGINT, on_quit_signal, &app);
  sigterm_id = g_unix_signal_add (SIGTERM, on_quit_signal, &app);

  g_main_loop_run (loop);

  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  g_log (LOG_DOMAIN, G_LOG_LEVEL_INFO, "stopped");
  return 0;
}
