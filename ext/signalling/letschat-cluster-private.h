/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/* Shared by the two files of the cluster: letschat-cluster.c (the
 * connection to Redis, the node's liveness, the relay between nodes) and
 * letschat-cluster-seats.c (the seats: joins, leaves, strangers). */

#include "letschat-rooms.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>

G_BEGIN_DECLS
#define ROOM_TTL_MS 60000
#define NODE_PREFIX "lc:node:"
#define ROOM_PREFIX "lc:room:"
#define CHANNEL_PREFIX "lc:to:"
#define STRANGERS_KEY "lc:strangers"
    struct _LetsChatCluster
{
  LetsChatRoomServer *server;
  gchar *host;
  gchar *user, *password;       /* NULL: none */
  guint port;
  guint db;
  gchar *node_key;              /* node-id.incarnation */
  gchar *channel;
  redisAsyncContext *cmd;       /* commands and PUBLISH */
  redisAsyncContext *sub;       /* SUBSCRIBE only */
  gboolean cmd_ready, sub_ready;
  gboolean was_up;
  gboolean told_unreachable;
  gint64 up_since_us;           /* monotonic, when Redis was last reached */
  /* Redis came back: once the other nodes have had time to take their
   * seats again, our rooms' parties of other nodes are looked up once */
  gboolean recheck_peer_seats;
  gint64 last_answer_us;        /* monotonic, its last answer */
  /* Leaves (seats given back, peer-left to other nodes) not yet answered
   * by Redis: sent again once it is back, or a seat would stay taken by a
   * party gone while Redis was away. serial -> GStrv of the command */
  GHashTable *unconfirmed;
  guint unconfirmed_serial;
  guint backoff_ms;
  GSource *reconnect;
  GSource *heartbeat;
  guint heartbeats;
  GHashTable *pending;          /* Connection* -> PendingJoin* */
  gboolean closing;
};

/* A command whose arguments are the NULL-terminated strings after @data;
 * FALSE when Redis is not reachable (nothing was sent). */
gboolean
letschat_cluster_command (LetsChatCluster * self,
    redisCallbackFn * fn, gpointer data, ...)
    G_GNUC_NULL_TERMINATED;
/* Like letschat_cluster_command(), for a command that must reach Redis
 * (idempotent: it may be sent twice): kept until Redis answers it, sent
 * again by letschat_cluster_replay() after Redis was lost. */
     void letschat_cluster_command_surely (LetsChatCluster * self, ...)
  G_GNUC_NULL_TERMINATED;
     void letschat_cluster_replay (LetsChatCluster * self);
/* @payload to the node of key @node (its channel). */
     void letschat_cluster_publish (LetsChatCluster * self, const gchar * node,
    const gchar * payload);

/* letschat-cluster-seats.c, for letschat-cluster.c */
     typedef struct _PendingJoin PendingJoin;
     void letschat_cluster_pending_free (PendingJoin * pj);
/* Redis is back: this node's parties take their seats again. */
     void letschat_cluster_reclaim_seats (LetsChatCluster * self);

G_END_DECLS
