/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include "letschat-room-server.h"

G_BEGIN_DECLS
/* What an operator watches: the room server's counters, rendered at
 * /metrics (Prometheus text exposition format 0.0.4) and summed up at
 * /healthz (one line of JSON). Both are answered only to the addresses
 * allowed by letschat_room_server_add_metrics_allow() (loopback until one
 * is added): the counts tell an outsider how busy the server is.
 *
 * The counters are plain fields that the rooms and the server code bump
 * with one-line calls, all on the server's main context. Gauges
 * (connections, rooms) are not kept here: they are read from the server's
 * own tables when a page is rendered, so they can never drift. */
    typedef struct
{
  gint64 started_us;            /* monotonic, for uptime */
  gint64 started_unix;          /* wall clock, process_start_time_seconds */

  guint64 connections_accepted; /* WebSockets that became a Connection */
  guint64 connections_refused;  /* over max-connections or max-per-ip */
  guint64 joins;
  guint64 leaves;
  guint64 messages_relayed;     /* signals passed to the other party */
  guint64 bytes_relayed;        /* their size as sent, in bytes */
  guint64 rate_limited_messages;        /* dropped by the token bucket */
  guint64 rate_limit_closes;    /* closed for ignoring rate-limited */
  guint64 ping_timeouts;
  guint64 join_timeouts;
  guint64 origins_refused;      /* handshakes refused (403) for Origin */
  gint tls_handshakes_failed;   /* atomic: counted when a stream dies */
  gint redis_up;                /* --redis: 1 reached, 0 not; -1 none */
  guint64 redis_dropped;        /* relays lost while Redis was away */

  GHashTable *refusals;         /* wire error code -> guint64* */
  GPtrArray *allowed;           /* GInetAddressMask*, who may read */
  gboolean allowed_by_default;  /* still the loopback default */
} LetsChatMetrics;

/* Reference-counted (g_atomic_rc_box), so that a TLS stream that outlives
 * the server can still be counted. */
LetsChatMetrics *letschat_metrics_new (void);
LetsChatMetrics *letschat_metrics_ref (LetsChatMetrics * metrics);
void letschat_metrics_unref (LetsChatMetrics * metrics);

/* An `error` sent to a party, by its wire code ("room-full"). */
void letschat_metrics_count_refusal (LetsChatMetrics * metrics,
    const gchar * code);

/* Counts @tls_stream as a failed TLS handshake if it goes away without
 * ever completing one (a client that distrusts the certificate, plain
 * http:// to the https:// port, a scanner). */
void letschat_metrics_watch_tls (LetsChatMetrics * metrics,
    GIOStream * tls_stream);

/* The /metrics page. */
gchar *letschat_metrics_render (LetsChatMetrics * metrics,
    guint n_connections, guint n_rooms,
    const LetsChatTransportCounters * transport);

/* The /healthz line: {"status":"ok","connections":..,"rooms":..,
 * "uptime_seconds":..}, without a newline. */
gchar *letschat_metrics_render_health (LetsChatMetrics * metrics,
    guint n_connections, guint n_rooms);

/* TRUE when @address may read /metrics and /healthz. */
gboolean letschat_metrics_allows (LetsChatMetrics * metrics,
    GInetAddress * address);

/* Serves /metrics and /healthz on @soup for @server. */
void letschat_metrics_add_handlers (LetsChatRoomServer * server,
    SoupServer * soup);

/* Allows the addresses in @cidr ("10.0.0.0/8", "192.0.2.7", "::1/128")
 * to read /metrics and /healthz. The first call replaces the default
 * (loopback: 127.0.0.0/8 and ::1). The error says what a CIDR looks like. */
gboolean letschat_room_server_add_metrics_allow (LetsChatRoomServer * self,
    const gchar * cidr, GError ** error);

G_END_DECLS
