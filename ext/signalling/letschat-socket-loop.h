/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS
/* Readiness of many sockets for one GMainContext, at a cost that follows
 * the sockets that are ready rather than the sockets that are open (see
 * letschat-socket-loop.c). */
typedef struct _LetsChatSocketLoop LetsChatSocketLoop;

/* @events: EPOLLIN, EPOLLOUT, EPOLLHUP, EPOLLERR, EPOLLRDHUP bits */
typedef void (*LetsChatSocketReadyFunc) (guint32 events, gpointer user_data);

/* Embedded in whatever owns the socket, so that watching one costs no
 * allocation. */
typedef struct
{
  gint fd;
  gboolean want_write;
  LetsChatSocketReadyFunc func;
  gpointer user_data;
} LetsChatSocketWatch;

LetsChatSocketLoop *letschat_socket_loop_new (GMainContext * context,
    GError ** error);
void letschat_socket_loop_free (LetsChatSocketLoop * loop);

/* The context whose thread the callbacks run on. */
GMainContext *letschat_socket_loop_get_context (LetsChatSocketLoop * loop);

/* A buffer for reads, shared by all the loop's sockets: a socket keeps
 * memory of its own only for a frame that arrived in pieces. Valid during a
 * callback. */
guint8 *letschat_socket_loop_get_read_buffer (LetsChatSocketLoop * loop,
    gsize * size);

gboolean letschat_socket_loop_add (LetsChatSocketLoop * loop,
    LetsChatSocketWatch * watch, gint fd, LetsChatSocketReadyFunc func,
    gpointer user_data, GError ** error);
/* Also reported: EPOLLOUT while @want_write. */
void letschat_socket_loop_set_want_write (LetsChatSocketLoop * loop,
    LetsChatSocketWatch * watch, gboolean want_write);
/* Safe from inside any callback: no event for @watch is reported after
 * this returns, even one already collected. */
void letschat_socket_loop_remove (LetsChatSocketLoop * loop,
    LetsChatSocketWatch * watch);

G_END_DECLS
