/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/* The room server's state, shared by the two files that run it and by
 * nothing else (the fuzzer's view is letschat-room-server-private.h):
 *
 *   letschat-room-server.c  the GObject (properties, life cycle), the page,
 *                           the origin check, TLS, listening, the
 *                           WebSocket handshake, the public API
 *   letschat-rooms.c        Connection and Room: what a party's messages
 *                           do, limits, rate limiting, liveness; the
 *                           fuzzer's virtual connections and invariants
 */
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "letschat-room-server.h"
#include "letschat-accept-guard.h"
#include "letschat-room-server-private.h"
#include "letschat-socket-loop.h"
#include "letschat-websocket.h"

G_BEGIN_DECLS typedef struct _Room Room;

typedef struct
{
  LetsChatRoomServer *server;
  LetsChatWebSocket *ws;
  gchar *id;
  gchar *name;
  gchar *remote;                /* address, for log lines */
  gchar *ip;                    /* key into per_ip */
  Room *room;
  gboolean ever_joined;
  gint64 connected_us;

  /* token bucket */
  gdouble tokens;
  gint64 last_refill_us;
  gboolean told_rate_limited;
  guint dropped;                /* messages dropped since told */

  gint64 last_heard_us;         /* last message or pong from the client */
  guint ping_slot;              /* pinged when the second count hits it */

  /* A connection without a socket (ws NULL), for the fuzzer: replies go
   * to send_func, and closing only marks it closed. */
  LetsChatRoomServerSendFunc send_func;
  gpointer send_data;
  gushort virtual_close_code;   /* 0 while open */
} Connection;

struct _Room
{
  gchar *name;
  gchar *secret;                /* NULL: anybody may enter */
  Connection *parties[2];
  gboolean stranger;
};

struct _LetsChatRoomServer
{
  GObject parent;

  SoupServer *soup;
  LetsChatAcceptGuard *acceptor;        /* accepts, for soup */
  struct _LetsChatTlsGuard *tls_guard;  /* with a certificate only */
  LetsChatSocketLoop *socket_loop;
  GHashTable *connections;      /* Connection* set, owns */
  GHashTable *refused;          /* LetsChatWebSocket* told why, closing */

  /* Kept for every message rather than made for each */
  JsonParser *parser;
  JsonGenerator *generator;
  GString *relay_text;
  GHashTable *rooms;            /* name -> Room*, owns */
  GHashTable *room_secrets;     /* name -> secret set at start-up */
  JsonArray *ice_servers;
  Room *waiting_stranger;       /* a stranger room with one party, or NULL */

  guint16 port;
  guint max_message_size;
  gdouble rate_limit;
  guint rate_burst;
  guint ping_interval;          /* s */
  guint ping_timeout;           /* s, 0: never */
  GSource *liveness_check;
  guint64 liveness_ticks;

  GTlsCertificate *tls_certificate;
  guint join_timeout;           /* s, 0: never */
  guint max_connections;
  guint max_rooms;
  guint max_per_ip;
  GStrv allowed_origins;
  GHashTable *per_ip;           /* ip -> count of open connections */

  /* letschat-accept-guard.c, letschat-http-guard.c */
  guint handshake_timeout;      /* s, 0: never */
  GStrv public_origins;
  LetsChatTransportCounters transport_counters_at_stop;
};

/* letschat-rooms.c, for letschat-room-server.c */

/* GDestroyNotify of the server's connections and rooms tables. */
void letschat_rooms_connection_free (Connection * conn);
void letschat_rooms_room_free (Room * room);

/* A WebSocket whose handshake is over, from @ip (@remote: address and
 * port, for log lines): it becomes a Connection, or, over max-connections
 * or max-per-ip, is told why and closed. */
void letschat_rooms_open_socket (LetsChatRoomServer * self,
    LetsChatWebSocket * ws, const gchar * ip, const gchar * remote);

/* Once listening: pings and the join and ping timeouts, every second,
 * in self->liveness_check (none when all three are 0). */
void letschat_rooms_start_liveness_check (LetsChatRoomServer * self);

G_END_DECLS
