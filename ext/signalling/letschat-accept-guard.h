/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS
/* What the accept guard refused or cut, since the server started (for
 * metrics). */
    typedef struct
{
  guint64 accepted;             /* TCP connections taken in */
  guint64 refused_per_ip;       /* over max-per-ip + the page allowance */
  guint64 refused_total;        /* over max-connections + the allowance */
  guint64 out_of_fds;           /* accept() failed with EMFILE/ENFILE */
  guint64 handshake_timeouts;   /* closed: no TLS, request or response in time */
  guint64 bodies_refused;       /* 413: a request with a body */
  guint64 methods_refused;      /* 405: not GET or HEAD */
  guint64 tls_handshakes_waited;        /* waited: their key had all its slots */
} LetsChatTransportCounters;

typedef struct _LetsChatAcceptGuard LetsChatAcceptGuard;

/* A connection that passed the caps, for the server to serve. */
typedef void (*LetsChatAcceptFunc) (GSocketConnection * connection,
    gpointer user_data);

/* The key under which a client is counted: its IPv4 address, or the /64
 * of its IPv6 address (one host usually owns a whole /64). IPv4-mapped
 * IPv6 addresses count as IPv4. */
gchar *letschat_client_key_for_address (GInetAddress * address);

/* Accepts on @listening (bound, listening) in the thread-default context,
 * applying the caps and deadlines below, and hands each connection to
 * @func. */
LetsChatAcceptGuard *letschat_accept_guard_new (GSocket * listening,
    LetsChatAcceptFunc func, gpointer user_data);
/* Stops accepting and closes the listening socket; connections already
 * handed out live on. Frees the guard once they are gone too. */
void letschat_accept_guard_free (LetsChatAcceptGuard * guard);

/* TCP connections open at once: @max_total in all, @max_per_key per
 * client key. */
void letschat_accept_guard_set_limits (LetsChatAcceptGuard * guard,
    guint max_total, guint max_per_key);
/* Seconds a connection may take for its TLS handshake and each request
 * and response, or stay idle between requests (0: forever). */
void letschat_accept_guard_set_deadline (LetsChatAcceptGuard * guard,
    guint seconds);

/* The connection on @socket starts a new step (a request was read, a
 * response written): it has the deadline again. */
void letschat_accept_guard_rearm (GSocket * socket);
/* The connection on @socket is a WebSocket now: no deadline here any more
 * (the rooms have their own: join and ping timeouts). */
void letschat_accept_guard_upgraded (GSocket * socket);

/* The client key @socket is counted under (NULL: not one of ours). */
const gchar *letschat_accept_guard_key_of (GSocket * socket);

LetsChatTransportCounters *letschat_accept_guard_get_counters
    (LetsChatAcceptGuard * guard);
guint letschat_accept_guard_get_n_open (LetsChatAcceptGuard * guard);

G_END_DECLS
