/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS
/* Rooms across several letschat-server nodes through one Redis
 * (`--redis`): see letschat-cluster.c. Only letschat-rooms.c and
 * letschat-room-server.c use it; without --redis there is none and the
 * rooms live in the process alone. */
typedef struct _LetsChatCluster LetsChatCluster;

/* Seconds a node's liveness key lives without a refresh: the seats of a
 * node that died are free at most this long after its last refresh. */
#define LETSCHAT_CLUSTER_NODE_TTL_S 10
/* Seconds between two refreshes of it. */
#define LETSCHAT_CLUSTER_HEARTBEAT_S 2

G_END_DECLS
