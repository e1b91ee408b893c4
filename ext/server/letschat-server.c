/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* letschat-server: the room server (ext/signalling/letschat-room-server.c)
 * as a program. It prints one line once it listens, then one log line per
 * event, and exits 0 after SIGINT/SIGTERM once every socket said goodbye. */

#include "config.h"

#include "letschat-ice-uri.h"
#include "letschat-metrics.h"
#include "letschat-protocol.h"
#include "letschat-room-server.h"
#include "letschat-address-limits.h"
#include "letschat-turn-credentials.h"
#include "letschat-server-config.h"
#include "letschat-server-log.h"

#include <glib-unix.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#define LOG_DOMAIN LETSCHAT_SERVER_LOG_DOMAIN

/* How long shutdown waits for the close handshakes (1001) to finish. */
#define SHUTDOWN_GRACE_MS 2000

typedef struct
{
  GMainLoop *loop;
  LetsChatRoomServer *server;
  gint64 shutdown_deadline;
  gboolean shutting_down;
} App;

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
    /* refused now rather than as calls failing behind NATs later */
    if (!letschat_ice_uri_check (*uri, error)
        || !letschat_room_server_add_ice_server_uri (server, *uri, error)) {
      g_prefix_error (error, "--ice-server: ");
      return FALSE;
    }
  }
  return TRUE;
}

/* --turn-secret FILE with --turn-uri: the secret is read from a file so
 * that it never shows in `ps` nor in a shell's history. */
static gboolean
set_up_turn (LetsChatRoomServer * server, const gchar * secret_file,
    gchar ** uris, gint ttl, GError ** error)
{
  g_autofree gchar *secret = NULL;
  gchar **uri;

  if (secret_file == NULL && uris == NULL)
    return TRUE;
  if (secret_file == NULL || uris == NULL) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--turn-secret and --turn-uri go together: the secret makes the "
        "credentials for the TURN servers the URIs name");
    return FALSE;
  }
  if (ttl < 1) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
        "--turn-ttl must be at least 1 second, not %d", ttl);
    return FALSE;
  }
  secret = letschat_turn_credentials_load_secret (secret_file, error);
  if (secret == NULL)
    return FALSE;
  letschat_room_server_set_turn_secret (server, secret, ttl);
  memset (secret, 0, strlen (secret));
  for (uri = uris; *uri; uri++) {
    if (!letschat_room_server_add_turn_uri (server, *uri, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
add_metrics_allow (LetsChatRoomServer * server, gchar ** cidrs, GError ** error)
{
  gchar **cidr;

  for (cidr = cidrs; cidr && *cidr; cidr++) {
    if (!letschat_room_server_add_metrics_allow (server, *cidr, error)) {
      g_prefix_error (error, "--metrics-allow: ");
      return FALSE;
    }
  }
  return TRUE;
}

/* Where parties connect, and the page people open. A server on every
 * interface is reached by this machine's address, which it does not know:
 * the page line says so. */
static void
print_listening (const gchar * host, gboolean tls, guint port)
{
  gboolean any = g_strcmp0 (host, "0.0.0.0") == 0
      || g_strcmp0 (host, "::") == 0;
  /* an IPv6 literal needs brackets in a URL */
  gboolean v6 = strchr (host, ':') != NULL;
  g_autofree gchar *ws_url = g_strdup_printf ("%s://%s%s%s:%u/ws",
      tls ? "wss" : "ws", v6 ? "[" : "", host, v6 ? "]" : "", port);
  g_autofree gchar *page_url = NULL;

  if (any)
    page_url = g_strdup_printf ("%s://localhost:%u/", tls ? "https" : "http",
        port);
  else
    page_url = g_strdup_printf ("%s://%s%s%s:%u/", tls ? "https" : "http",
        v6 ? "[" : "", host, v6 ? "]" : "", port);
  letschat_server_log_listening (ws_url, page_url, any ?
      "from other machines, this machine's address instead of localhost" :
      NULL);
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
  g_autofree gchar *turn_secret_file = NULL;
  g_auto (GStrv) turn_uris = NULL;
  gint turn_ttl = LETSCHAT_DEFAULT_TURN_TTL;
  g_auto (GStrv) metrics_allow = NULL;
  g_auto (GStrv) public_origins = NULL;
  g_autofree gchar *redis_url = NULL;
  g_autofree gchar *node_id = NULL;
  g_autofree gchar *tls_cert = NULL;
  g_autofree gchar *tls_key = NULL;
  gint join_timeout = LETSCHAT_DEFAULT_JOIN_TIMEOUT;
  gint max_connections = LETSCHAT_DEFAULT_MAX_CONNECTIONS;
  gint max_rooms = LETSCHAT_DEFAULT_MAX_ROOMS;
  gint max_per_ip = LETSCHAT_DEFAULT_MAX_PER_IP;
  gint max_rooms_per_ip = LETSCHAT_DEFAULT_MAX_ROOMS_PER_IP;
  gdouble connection_rate_per_ip = LETSCHAT_CONNECTIONS_PER_S;
  gint connection_burst_per_ip = LETSCHAT_CONNECTIONS_BURST;
  g_autofree gchar *log_format_name = NULL;
  LetsChatServerLogFormat log_format = LETSCHAT_SERVER_LOG_TEXT;
  g_autofree gchar *config_file = NULL;
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
    {"turn-secret", 0, 0, G_OPTION_ARG_FILENAME, &turn_secret_file,
        "File holding the secret shared with the TURN server (coturn's "
          "static-auth-secret): every party then gets short-lived "
          "credentials for each --turn-uri in welcome", "FILE"},
    {"turn-uri", 0, 0, G_OPTION_ARG_STRING_ARRAY, &turn_uris,
        "TURN server for --turn-secret's credentials, browser style: "
          "turn:HOST:3478, turn:HOST:3478?transport=tcp, "
          "turns:HOST:5349?transport=tcp (repeatable)", "URI"},
    {"turn-ttl", 0, 0, G_OPTION_ARG_INT, &turn_ttl,
        "Seconds the TURN credentials stay valid (default 86400; a call "
          "that outlives them loses its relay)", "S"},
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
    {"max-rooms-per-ip", 0, 0, G_OPTION_ARG_INT, &max_rooms_per_ip,
        "Rooms opened by one IP address (an IPv6 /64) live at once "
          "(default 10)", "N"},
    {"connection-rate-per-ip", 0, 0, G_OPTION_ARG_DOUBLE,
          &connection_rate_per_ip,
        "New WebSocket connections a second from one IP address (an IPv6 "
          "/64) on average (default 10)", "N"},
    {"connection-burst-per-ip", 0, 0, G_OPTION_ARG_INT,
          &connection_burst_per_ip,
        "New WebSocket connections one IP address (an IPv6 /64) may open "
          "at once (default 64)", "N"},
    {"allowed-origin", 0, 0, G_OPTION_ARG_STRING_ARRAY, &allowed_origins,
        "Web origin (e.g. https://example.org) whose pages may connect, "
          "besides this server's own page and clients sending no Origin; "
          "\"*\" for any (repeatable)", "ORIGIN"},
    {"metrics-allow", 0, 0, G_OPTION_ARG_STRING_ARRAY, &metrics_allow,
          "Address or network allowed to read /metrics and /healthz "
          "(repeatable; default 127.0.0.0/8 and ::1 only, others get 403)",
        "CIDR"},
    {"log-format", 0, 0, G_OPTION_ARG_STRING, &log_format_name,
        "How log lines are written to standard output: text (a UTC "
          "time, then the event) or json (one JSON object per line) "
          "(default text)", "text|json"},
    {"config", 0, 0, G_OPTION_ARG_FILENAME, &config_file,
        "Read options from FILE first: a [server] group with one key per "
          "long option (port=8443, lists separated by ';'); options given "
          "here override it", "FILE"},
    {"public-origin", 0, 0, G_OPTION_ARG_STRING_ARRAY, &public_origins,
        "Origin of this server's page as browsers reach it (e.g. "
          "https://chat.example.org; repeatable). Without it, only the page "
          "reached by IP address or as localhost may connect", "ORIGIN"},
    {"handshake-timeout", 0, 0, G_OPTION_ARG_INT, &handshake_timeout,
        "Seconds a connection may take for its TLS handshake and request, "
          "for each response, and idle before a next request; then it is "
          "closed (default 5, 0: never)", "S"},
    {"redis", 0, 0, G_OPTION_ARG_STRING, &redis_url,
          "Keep the rooms in this Redis, shared with other letschat-server "
          "nodes: the two parties of a room may then be on two nodes. "
          "Without Redis the node refuses joins (unavailable) until it is "
          "back; a dead node's seats are free within 10 s. A password: "
          "redis://:PASSWORD@HOST:PORT (put it in a --config file)",
        "redis://HOST:PORT[/DB]"},
    {"node-id", 0, 0, G_OPTION_ARG_STRING, &node_id,
        "This node's name in Redis and its log (with --redis; default the "
          "host name)", "NAME"},
    {"version", 0, 0, G_OPTION_ARG_NONE, &version,
        "Print the version and exit", NULL},
    {NULL}
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (LetsChatRoomServer) server = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  App app = { 0 };
  static const gchar *const not_in_config[] = { "config", "version", NULL };
  const gchar *config_path;
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
      "Note that options are visible to other local users (ps): put real "
      "room\nsecrets in a --config file, or let the first party of a room "
      "set them.\n\n"
      "/healthz and /metrics (Prometheus) answer --metrics-allow "
      "addresses only\n(loopback by default). See man letschat-server and "
      "docs/operations.md.\n\n"
      "Examples:\n"
      "  letschat-server --host 0.0.0.0 --port 8443\n"
      "  letschat-server --room-secret family=s3cret "
      "--ice-server stun:stun.l.google.com:19302\n"
      "  letschat-server --ice-server turn://user:pass@turn.example.org:3478\n"
      "  letschat-server --turn-secret /etc/letschat/turn-secret "
      "--turn-uri turn:turn.example.org:3478 \\\n"
      "      --turn-uri turns:turn.example.org:5349?transport=tcp "
      "--turn-ttl 3600\n"
      "  letschat-server --config /etc/letschat/server.conf\n");
  g_option_context_add_main_entries (context, entries, NULL);

  /* The file first: the command line, parsed next, overrides it. */
  config_path = letschat_server_config_find_in_args (argc, argv);
  if (config_path && !letschat_server_config_load (config_path, entries,
          not_in_config, &error)) {
    g_printerr ("letschat-server: %s\n", error->message);
    return 1;
  }
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

  if (log_format_name && !letschat_server_log_format_from_string
      (log_format_name, &log_format)) {
    g_printerr ("letschat-server: --log-format is text or json, not "
        "\"%s\"\n", log_format_name);
    return 1;
  }
  letschat_server_log_setup (log_format);

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
      || max_per_ip < 1 || max_rooms_per_ip < 1
      || connection_burst_per_ip < 1 || connection_rate_per_ip < 0.001) {
    g_printerr ("letschat-server: --join-timeout must be at least 0, "
        "--max-connections, --max-rooms, --max-per-ip, --max-rooms-per-ip "
        "and --connection-burst-per-ip at least 1, and "
        "--connection-rate-per-ip at least 0.001\n");
    return 1;
  }
  g_object_set (server, "join-timeout", (guint) join_timeout,
      "max-connections", (guint) max_connections, "max-rooms",
      (guint) max_rooms, "max-per-ip", (guint) max_per_ip,
      "allowed-origins", allowed_origins, "max-rooms-per-ip",
      (guint) max_rooms_per_ip, "connection-rate-per-ip",
      connection_rate_per_ip, "connection-burst-per-ip",
      (guint) connection_burst_per_ip, "public-origins", public_origins, NULL);
  if (node_id && redis_url == NULL) {
    g_printerr ("letschat-server: --node-id goes with --redis\n");
    return 1;
  }
  g_object_set (server, "redis-url", redis_url, "node-id", node_id, NULL);

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
      || !add_ice_servers (server, ice_servers, &error)
      || !set_up_turn (server, turn_secret_file, turn_uris, turn_ttl, &error)
      || !add_metrics_allow (server, metrics_allow, &error)) {
    g_printerr ("letschat-server: %s\n", error->message);
    return 1;
  }

  if (!letschat_room_server_listen (server, host, port, &error)) {
    g_printerr ("letschat-server: %s\n", error->message);
    return 1;
  }

  print_listening (host, tls_cert != NULL,
      letschat_room_server_get_port (server));
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
