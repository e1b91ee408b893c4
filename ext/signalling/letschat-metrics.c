/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The room server's counters and the two pages that show them:
 *
 *   letschat-rooms.c, letschat-room-server.c
 *        |  metrics->joins++ ... (one line where it happens)
 *        v
 *   LetsChatMetrics --GET /metrics--> Prometheus text (counters, gauges,
 *        |                            process RSS and open descriptors)
 *        +---------GET /healthz--> {"status":"ok",...}
 *
 * Only addresses in the allow list (loopback by default, --metrics-allow)
 * get an answer; others get 403, so that a public server does not tell
 * the world how busy it is. See docs/operations.md. */

#define G_LOG_DOMAIN "letschat-server"

#include "letschat-metrics.h"
#include "letschat-protocol.h"
#include "letschat-rooms.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void
metrics_clear (LetsChatMetrics * metrics)
{
  g_hash_table_unref (metrics->refusals);
  g_ptr_array_unref (metrics->allowed);
}

static void
allow_default (LetsChatMetrics * metrics)
{
  g_ptr_array_add (metrics->allowed,
      g_inet_address_mask_new_from_string ("127.0.0.0/8", NULL));
  g_ptr_array_add (metrics->allowed,
      g_inet_address_mask_new_from_string ("::1/128", NULL));
  metrics->allowed_by_default = TRUE;
}

LetsChatMetrics *
letschat_metrics_new (void)
{
  LetsChatMetrics *metrics = g_atomic_rc_box_new0 (LetsChatMetrics);
  LetsChatProtocolError code;

  metrics->started_us = g_get_monotonic_time ();
  metrics->started_unix = g_get_real_time () / G_USEC_PER_SEC;
  metrics->refusals = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, g_free);
  /* Every code the protocol knows shows up, at 0 until it happens: a
   * series that appears only later is hard to alert on. */
  for (code = LETSCHAT_PROTOCOL_ERROR_BAD_REQUEST;
      code <= LETSCHAT_PROTOCOL_ERROR_UNAVAILABLE; code++)
    g_hash_table_insert (metrics->refusals,
        g_strdup (letschat_protocol_error_to_code (code)), g_new0 (guint64, 1));
  metrics->allowed = g_ptr_array_new_with_free_func (g_object_unref);
  allow_default (metrics);
  metrics->redis_up = -1;
  return metrics;
}

LetsChatMetrics *
letschat_metrics_ref (LetsChatMetrics * metrics)
{
  return g_atomic_rc_box_acquire (metrics);
}

void
letschat_metrics_unref (LetsChatMetrics * metrics)
{
  g_atomic_rc_box_release_full (metrics, (GDestroyNotify) metrics_clear);
}

void
letschat_metrics_count_refusal (LetsChatMetrics * metrics, const gchar * code)
{
  guint64 *count = g_hash_table_lookup (metrics->refusals, code);

  if (count == NULL) {
    count = g_new0 (guint64, 1);
    g_hash_table_insert (metrics->refusals, g_strdup (code), count);
  }
  (*count)++;
}

/* A TLS stream is watched from accept to finalization: glib-networking
 * notifies protocol-version once a handshake completes, so a stream that
 * dies without that notification never got through one. */
typedef struct
{
  LetsChatMetrics *metrics;
  gboolean handshake_done;
} TlsWatch;

static void
on_tls_protocol_version (GObject * stream, GParamSpec * pspec,
    gpointer user_data)
{
  TlsWatch *watch = user_data;

  if (g_tls_connection_get_protocol_version (G_TLS_CONNECTION (stream))
      != G_TLS_PROTOCOL_VERSION_UNKNOWN)
    watch->handshake_done = TRUE;
}

static void
on_tls_stream_gone (gpointer user_data, GObject * where_the_object_was)
{
  TlsWatch *watch = user_data;

  if (!watch->handshake_done)
    g_atomic_int_inc (&watch->metrics->tls_handshakes_failed);
  letschat_metrics_unref (watch->metrics);
  g_free (watch);
}

void
letschat_metrics_watch_tls (LetsChatMetrics * metrics, GIOStream * tls_stream)
{
  TlsWatch *watch = g_new0 (TlsWatch, 1);

  g_return_if_fail (G_IS_TLS_CONNECTION (tls_stream));

  watch->metrics = letschat_metrics_ref (metrics);
  g_signal_connect (tls_stream, "notify::protocol-version",
      G_CALLBACK (on_tls_protocol_version), watch);
  g_object_weak_ref (G_OBJECT (tls_stream), on_tls_stream_gone, watch);
}

/* The process's resident memory, from /proc/self/statm (in pages). */
static guint64
process_resident_bytes (void)
{
  g_autofree gchar *statm = NULL;
  guint64 size = 0, resident = 0;

  if (!g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL)
      || sscanf (statm, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &size,
          &resident) != 2)
    return 0;
  return resident * (guint64) sysconf (_SC_PAGESIZE);
}

static guint
process_open_fds (void)
{
  g_autoptr (GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  guint n = 0;

  if (dir == NULL)
    return 0;
  while (g_dir_read_name (dir))
    n++;
  /* not the one GDir holds to read the directory */
  return n > 0 ? n - 1 : 0;
}

static guint64
process_max_fds (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
    return 0;
  return limit.rlim_cur;
}

static void
add_metric (GString * out, const gchar * name, const gchar * type,
    const gchar * help, guint64 value)
{
  g_string_append_printf (out, "# HELP %s %s\n# TYPE %s %s\n%s %"
      G_GUINT64_FORMAT "\n", name, help, name, type, name, value);
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar **) a, *(const gchar **) b);
}

gchar *
letschat_metrics_render (LetsChatMetrics * metrics, guint n_connections,
    guint n_rooms, const LetsChatTransportCounters * transport)
{
  GString *out = g_string_sized_new (4096);
  g_autofree const gchar **codes = NULL;
  guint n_codes, i;

#define COUNTER(name, help, value) \
  add_metric (out, "letschat_" name, "counter", help, value)
#define GAUGE(name, help, value) \
  add_metric (out, "letschat_" name, "gauge", help, value)

  GAUGE ("connections", "WebSocket connections open now.", n_connections);
  GAUGE ("rooms", "Rooms live now (with at least one party).", n_rooms);
  GAUGE ("uptime_seconds", "Seconds since the server started.",
      (g_get_monotonic_time () - metrics->started_us) / G_USEC_PER_SEC);
  if (metrics->redis_up >= 0) {
    GAUGE ("redis_up", "1 when this node reaches Redis (--redis), else 0: "
        "it then refuses joins with unavailable.", metrics->redis_up);
    COUNTER ("redis_dropped_total", "Messages for parties of other nodes "
        "dropped because Redis was not reachable.", metrics->redis_dropped);
  }
  COUNTER ("connections_accepted_total",
      "WebSocket connections accepted since start.",
      metrics->connections_accepted);
  COUNTER ("connections_refused_total",
      "WebSocket connections refused over max-connections or max-per-ip.",
      metrics->connections_refused);
  COUNTER ("joins_total", "Parties that entered a room.", metrics->joins);
  COUNTER ("leaves_total", "Parties that left a room (leave, closed, "
      "timeout, rate limit).", metrics->leaves);
  COUNTER ("messages_relayed_total", "Signals relayed to the other party.",
      metrics->messages_relayed);
  COUNTER ("relayed_bytes_total", "Bytes of the signals relayed.",
      metrics->bytes_relayed);
  COUNTER ("rate_limited_messages_total",
      "Messages dropped by a connection's rate limit.",
      metrics->rate_limited_messages);
  COUNTER ("rate_limit_closes_total",
      "Connections closed for going on after rate-limited.",
      metrics->rate_limit_closes);
  COUNTER ("ping_timeouts_total",
      "Parties closed for not answering pings within ping-timeout.",
      metrics->ping_timeouts);
  COUNTER ("join_timeouts_total",
      "Connections closed for not joining within join-timeout.",
      metrics->join_timeouts);
  COUNTER ("origins_refused_total",
      "WebSocket handshakes refused (403) for their Origin.",
      metrics->origins_refused);
  COUNTER ("tls_handshakes_failed_total",
      "Connections that closed without completing a TLS handshake.",
      (guint64) g_atomic_int_get (&metrics->tls_handshakes_failed));

  /* Before a WebSocket exists (letschat-accept-guard.c, issue #17) */
  COUNTER ("tcp_accepted_total", "TCP connections accepted (page, "
      "handshakes and WebSockets).", transport->accepted);
  COUNTER ("tcp_refused_per_ip_total", "TCP connections closed at accept: "
      "over max-per-ip (plus the page's allowance) for their address.",
      transport->refused_per_ip);
  COUNTER ("tcp_refused_over_max_total", "TCP connections closed at accept: "
      "over max-connections (plus the page's allowance).",
      transport->refused_total);
  COUNTER ("accept_out_of_fds_total", "Times accept() found no file "
      "descriptor left (EMFILE/ENFILE).", transport->out_of_fds);
  COUNTER ("handshake_timeouts_total", "Connections closed for no TLS "
      "handshake, request or response within handshake-timeout.",
      transport->handshake_timeouts);
  COUNTER ("request_bodies_refused_total", "HTTP requests refused (413) "
      "for carrying a body.", transport->bodies_refused);
  COUNTER ("request_methods_refused_total", "HTTP requests refused (405) "
      "for a method other than GET or HEAD.", transport->methods_refused);
  COUNTER ("tls_handshakes_waited_total", "TLS handshakes refused over "
      "the number one address may run at once.",
      transport->tls_handshakes_waited);

  g_string_append (out, "# HELP letschat_refusals_total Errors sent to "
      "parties, by their code (docs/protocol.md).\n"
      "# TYPE letschat_refusals_total counter\n");
  codes = (const gchar **) g_hash_table_get_keys_as_array (metrics->refusals,
      &n_codes);
  qsort (codes, n_codes, sizeof (gchar *), compare_strings);
  for (i = 0; i < n_codes; i++)
    g_string_append_printf (out, "letschat_refusals_total{code=\"%s\"} %"
        G_GUINT64_FORMAT "\n", codes[i],
        *(guint64 *) g_hash_table_lookup (metrics->refusals, codes[i]));

  /* The names every Prometheus client library uses for its process. */
  add_metric (out, "process_resident_memory_bytes", "gauge",
      "Resident memory size in bytes.", process_resident_bytes ());
  add_metric (out, "process_open_fds", "gauge",
      "Number of open file descriptors.", process_open_fds ());
  add_metric (out, "process_max_fds", "gauge",
      "Maximum number of open file descriptors (0: unlimited).",
      process_max_fds ());
  add_metric (out, "process_start_time_seconds", "gauge",
      "Start time of the process since the Unix epoch in seconds.",
      metrics->started_unix);
#undef COUNTER
#undef GAUGE
  return g_string_free (out, FALSE);
}

gchar *
letschat_metrics_render_health (LetsChatMetrics * metrics,
    guint n_connections, guint n_rooms)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "status");
  json_builder_add_string_value (builder, metrics->redis_up == 0 ?
      "unavailable" : "ok");
  if (metrics->redis_up >= 0) {
    json_builder_set_member_name (builder, "redis");
    json_builder_add_string_value (builder, metrics->redis_up ? "up" : "down");
  }
  json_builder_set_member_name (builder, "connections");
  json_builder_add_int_value (builder, n_connections);
  json_builder_set_member_name (builder, "rooms");
  json_builder_add_int_value (builder, n_rooms);
  json_builder_set_member_name (builder, "uptime_seconds");
  json_builder_add_int_value (builder,
      (g_get_monotonic_time () - metrics->started_us) / G_USEC_PER_SEC);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  return json_to_string (root, FALSE);
}

gboolean
letschat_metrics_allows (LetsChatMetrics * metrics, GInetAddress * address)
{
  g_autoptr (GInetAddress) v4 = NULL;
  guint i;

  /* A server listening on "::" sees IPv4 clients as ::ffff:a.b.c.d: they
   * are matched as the IPv4 addresses they are. */
  if (g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6) {
    const guint8 *bytes = g_inet_address_to_bytes (address);
    static const guint8 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
      0xff
    };

    if (memcmp (bytes, mapped, sizeof (mapped)) == 0) {
      v4 = g_inet_address_new_from_bytes (bytes + 12, G_SOCKET_FAMILY_IPV4);
      address = v4;
    }
  }

  for (i = 0; i < metrics->allowed->len; i++)
    if (g_inet_address_mask_matches (metrics->allowed->pdata[i], address))
      return TRUE;
  return FALSE;
}

static void
on_operator_page (SoupServer * soup, SoupServerMessage * message,
    const char *path, GHashTable * query, gpointer user_data)
{
  LetsChatRoomServer *server = user_data;
  LetsChatMetrics *metrics = server->metrics;
  GSocketAddress *remote = soup_server_message_get_remote_address (message);
  const gchar *method = soup_server_message_get_method (message);
  guint n_connections = letschat_room_server_get_n_connections (server);
  guint n_rooms = letschat_room_server_get_n_rooms (server);
  gchar *body;

  if (!G_IS_INET_SOCKET_ADDRESS (remote)
      || !letschat_metrics_allows (metrics,
          g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)))) {
    static const gchar forbidden[] = "This address may not read the "
        "server's metrics (see --metrics-allow).\n";

    soup_server_message_set_status (message, SOUP_STATUS_FORBIDDEN, NULL);
    soup_server_message_set_response (message, "text/plain; charset=utf-8",
        SOUP_MEMORY_STATIC, forbidden, strlen (forbidden));
    return;
  }
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    soup_server_message_set_status (message, SOUP_STATUS_METHOD_NOT_ALLOWED,
        NULL);
    return;
  }
  if (!g_str_equal (path, "/metrics") && !g_str_equal (path, "/healthz")) {
    soup_server_message_set_status (message, SOUP_STATUS_NOT_FOUND, NULL);
    return;
  }

  /* A node without Redis takes no joins: a load balancer's health check
   * should send new parties elsewhere. */
  soup_server_message_set_status (message, g_str_equal (path, "/healthz")
      && metrics->redis_up == 0 ? SOUP_STATUS_SERVICE_UNAVAILABLE :
      SOUP_STATUS_OK, NULL);
  soup_message_headers_replace (soup_server_message_get_response_headers
      (message), "Cache-Control", "no-store");
  if (g_str_equal (path, "/metrics")) {
    LetsChatTransportCounters transport;

    letschat_room_server_get_transport_counters (server, &transport);
    body = letschat_metrics_render (metrics, n_connections, n_rooms,
        &transport);
    soup_server_message_set_response (message,
        "text/plain; version=0.0.4; charset=utf-8", SOUP_MEMORY_TAKE, body,
        strlen (body));
  } else {
    gchar *line = letschat_metrics_render_health (metrics, n_connections,
        n_rooms);

    body = g_strconcat (line, "\n", NULL);
    g_free (line);
    soup_server_message_set_response (message, "application/json",
        SOUP_MEMORY_TAKE, body, strlen (body));
  }
}

void
letschat_metrics_add_handlers (LetsChatRoomServer * server, SoupServer * soup)
{
  soup_server_add_handler (soup, "/metrics", on_operator_page, server, NULL);
  soup_server_add_handler (soup, "/healthz", on_operator_page, server, NULL);
}

gboolean
letschat_room_server_add_metrics_allow (LetsChatRoomServer * self,
    const gchar * cidr, GError ** error)
{
  LetsChatMetrics *metrics;
  GInetAddressMask *mask;
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (LETSCHAT_IS_ROOM_SERVER (self), FALSE);
  g_return_val_if_fail (cidr != NULL, FALSE);

  mask = g_inet_address_mask_new_from_string (cidr, &local_error);
  if (mask == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "\"%s\" is not an address or a network: give one like 127.0.0.1, "
        "10.0.0.0/8 or fd00::/8", cidr);
    return FALSE;
  }
  metrics = self->metrics;
  if (metrics->allowed_by_default) {
    g_ptr_array_set_size (metrics->allowed, 0);
    metrics->allowed_by_default = FALSE;
  }
  g_ptr_array_add (metrics->allowed, mask);
  return TRUE;
}
