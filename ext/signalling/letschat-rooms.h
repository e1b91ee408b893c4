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
 *                           fuzzer's virtual connections
 *   letschat-rooms-check.c  the fuzzer's invariants
 *   letschat-strangers.c    the strangers' queue (without --redis)
 *   letschat-cluster*.c     with --redis: the rooms' seats in Redis
 *                           (-seats), the connection to it and the relay
 *                           between nodes, and what both do to this
 *                           node's rooms (-rooms)
 */
#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "letschat-metrics.h"
#include "letschat-room-server.h"
#include "letschat-accept-guard.h"
#include "letschat-room-server-private.h"
#include "letschat-socket-loop.h"
#include "letschat-websocket.h"
#include "letschat-address-limits.h"
#include "letschat-log-limiter.h"
#include "letschat-cluster.h"
#include "letschat-protocol.h"

G_BEGIN_DECLS typedef struct _Room Room;

typedef struct
{
  LetsChatRoomServer *server;
  LetsChatWebSocket *ws;
  gchar *id;
  gchar *name;
  gchar *remote;                /* address, for log lines */
  gchar *ip;                    /* address key (letschat_rooms_address_key):
                                 * per_ip, address_limits, Room owner */
  Room *room;
  gboolean ever_joined;
  gint64 connected_us;

  /* token bucket */
  gdouble tokens;
  gint64 last_refill_us;
  gboolean told_rate_limited;
  guint dropped;                /* messages dropped since told */

  gint64 last_heard_us;         /* last message or pong from the client */
  gchar *parted_from;           /* the stranger it last parted from */
  gint64 parted_us;
  guint ping_slot;              /* pinged when the second count hits it */

  /* A connection without a socket (ws NULL), for the fuzzer: replies go
   * to send_func, and closing only marks it closed. */
  LetsChatRoomServerSendFunc send_func;
  gpointer send_data;
  gushort virtual_close_code;   /* 0 while open */

  /* With --redis (letschat-cluster.c) */
  gchar *node;                  /* a party of another node: its node key
                                 * (its messages go there); NULL: ours */
  gchar *stranger_entry;        /* ours, waiting in Redis's strangers' queue */
} Connection;

struct _Room
{
  gchar *name;
  gchar *secret;                /* NULL: anybody may enter */
  Connection *parties[2];
  gboolean stranger;
  gchar *owner;                 /* address key of its first party */
  GList *queue_link;            /* in the strangers' queue, or NULL */
  /* --redis: its secret as Redis keeps it, to put it back if Redis comes
   * back empty (letschat-cluster-seats.c); NULL: none */
  gchar *salt;
  gchar *salted_secret;
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
  /* TURN REST (letschat-turn-credentials.h): every welcome also lists
   * turn_urls with credentials made for that party, valid turn_ttl s. */
  gchar *turn_secret;
  GPtrArray *turn_urls;
  guint turn_ttl;
  GQueue stranger_queue;        /* of Room*, waiting strangers, oldest first */

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
  guint max_rooms_per_ip;
  gdouble connection_rate_per_ip;       /* new WebSockets a second */
  guint connection_burst_per_ip;
  LetsChatLogLimiter *log_limiter;      /* lines per address and kind */
  LetsChatAddressLimits *address_limits;        /* failed joins, connection rate */
  LetsChatMetrics *metrics;     /* counters for /metrics (owned) */
  LetsChatCluster *cluster;     /* --redis, or NULL: rooms of this process */
  gchar *redis_url;
  gchar *node_id;

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

/* letschat-rooms.c, for letschat-strangers.c */
gboolean letschat_rooms_connection_is_open (Connection * conn);

/* How long two strangers who parted are kept apart (s). */
#define STRANGER_REPAIR_DELAY_S 30

/* letschat-strangers.c, for letschat-rooms.c: the strangers' queue. */

/* The waiting room @conn (asking for a stranger) enters, taken out of the
 * queue; NULL: nobody suitable waits. */
Room *letschat_strangers_pick (LetsChatRoomServer * self, Connection * conn);
/* @room (a fresh stranger room of one) waits at the end of the queue. */
void letschat_strangers_wait (LetsChatRoomServer * self, Room * room);
/* A party entered @room: a full room leaves the queue. */
void letschat_strangers_entered (LetsChatRoomServer * self, Room * room);
/* @conn left @room, where @other (or NULL) stays. */
void letschat_strangers_left (LetsChatRoomServer * self, Room * room,
    Connection * conn, Connection * other);
/* For letschat_room_server_check_invariants(). */
gboolean letschat_strangers_check (LetsChatRoomServer * self, gchar ** why);

/* letschat-rooms.c, for letschat-cluster*.c */
gchar *letschat_rooms_random_hex (gsize n_bytes);
void letschat_rooms_send_text (Connection * conn, const gchar * text);
void letschat_rooms_refuse (Connection * conn, const gchar * room,
    LetsChatProtocolError code, const gchar * message);
/* @conn enters @room: welcome to it, peer-joined to the other party. */
void letschat_rooms_enter (Connection * conn, Room * room, const gchar * name);
/* @conn leaves its room: peer-left to the other party. A party of
 * another node is freed. */
void letschat_rooms_leave (Connection * conn, const gchar * reason);
/* TRUE (and @conn told why) when no room may be opened for it. */
gboolean letschat_rooms_no_room_left (Connection * conn, const gchar * room);
void letschat_rooms_take_previous_id (Connection * conn, const gchar * id);

/* letschat-cluster.c, for letschat-rooms.c and letschat-room-server.c */
LetsChatCluster *letschat_cluster_new (LetsChatRoomServer * server,
    const gchar * url, const gchar * node_id, GError ** error);
void letschat_cluster_free (LetsChatCluster * self);
gboolean letschat_cluster_is_up (LetsChatCluster * self);
const gchar *letschat_cluster_get_node_key (LetsChatCluster * self);
gboolean letschat_cluster_join_pending (LetsChatCluster * self,
    Connection * conn);
void letschat_cluster_join (LetsChatCluster * self, Connection * conn,
    const gchar * room, const gchar * secret, gboolean configured,
    const gchar * name, const gchar * previous_id);
void letschat_cluster_forget (LetsChatCluster * self, Connection * conn);
/* send_func of a party of another node: @text goes to it */
void letschat_cluster_relay_text (const gchar * text, gpointer remote);
void letschat_cluster_tell_joined (LetsChatCluster * self,
    Connection * remote, Connection * joiner);
void letschat_cluster_tell_left (LetsChatCluster * self, Room * room,
    Connection * remote, Connection * leaver);
void letschat_cluster_left (LetsChatCluster * self, Room * room,
    Connection * conn);
void letschat_cluster_send_left (LetsChatCluster * self, const gchar * node,
    const gchar * room, const gchar * to_id, const gchar * leaver_id);

/* letschat-cluster-rooms.c: what Redis and the other nodes' messages do
 * to this node's rooms */
void letschat_cluster_rooms_join (Connection * conn, LetsChatMessage * msg);
void letschat_rooms_cluster_refused (Connection * conn, const gchar * room,
    LetsChatProtocolError code, const gchar * message);
void letschat_rooms_cluster_entered (Connection * conn, const gchar * room,
    gboolean stranger, const gchar * peer_id, const gchar * peer_node,
    const gchar * peer_name, const gchar * name, const gchar * salt,
    const gchar * salted_secret);
void letschat_rooms_cluster_deliver (LetsChatRoomServer * self,
    const gchar * room, const gchar * target, const gchar * text);
void letschat_rooms_cluster_remote_joined (LetsChatRoomServer * self,
    const gchar * room, const gchar * target, const gchar * from_id,
    const gchar * from_node, const gchar * from_name);
void letschat_rooms_cluster_remote_left (LetsChatRoomServer * self,
    const gchar * room, const gchar * target, const gchar * from_id);
void letschat_rooms_cluster_drop (LetsChatRoomServer * self,
    const gchar * room, const gchar * id);
void letschat_rooms_cluster_seat_lost (LetsChatRoomServer * self,
    const gchar * room, const gchar * id);
void letschat_rooms_cluster_node_gone (LetsChatRoomServer * self,
    const gchar * node);
void letschat_cluster_rooms_shutdown (LetsChatRoomServer * self);

/* letschat-room-server.c, for letschat-rooms.c */

/* The ice_servers array of a welcome for party @party_id: the static
 * entries, then the TURN URLs with fresh credentials for that party. */
JsonNode *letschat_room_server_ice_servers_for (LetsChatRoomServer * self,
    const gchar * party_id);

G_END_DECLS
