/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Why the room server does not give each socket a GSource of its own:
 * GLib's main loop walks every source and hands every descriptor to
 * poll() on each iteration, so with thousands of idle parties each message
 * costs time in proportion to the parties, not to the work (measured in
 * docs/performance.md: ~80 % of the server's CPU at 5,800 sockets). Here
 * the sockets are registered once in an epoll set, and the context sees a
 * single descriptor, the epoll set's own:
 *
 *   GMainContext --poll--> epoll fd (one GSource)
 *                             |  epoll_wait(): only the ready sockets
 *                             v
 *                  watch->func (events, user_data)  for each of them
 *
 * Level-triggered, so a callback that leaves data unread (or a batch cut
 * short at MAX_EVENTS) is simply reported again on the next iteration. */

#include "letschat-socket-loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <gio/gio.h>

#define MAX_EVENTS 256
/* Larger than any frame header plus a typical signal: one read takes in
 * most messages whole. */
#define READ_BUFFER_SIZE (64 * 1024)

typedef struct
{
  GSource source;
  LetsChatSocketLoop *loop;
} EpollSource;

struct _LetsChatSocketLoop
{
  gint epfd;
  GMainContext *context;
  GSource *source;

  /* The batch being dispatched: a watch removed during it is cleared
   * from the events still to come. */
  struct epoll_event events[MAX_EVENTS];
  gint n_events, next_event;

  guint8 read_buffer[READ_BUFFER_SIZE];
};

static gboolean
epoll_source_dispatch (GSource * source, GSourceFunc callback,
    gpointer user_data)
{
  LetsChatSocketLoop *loop = ((EpollSource *) source)->loop;
  gint n;

  do {
    n = epoll_wait (loop->epfd, loop->events, MAX_EVENTS, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    g_critical ("epoll_wait: %s", g_strerror (errno));
    return G_SOURCE_CONTINUE;
  }

  loop->n_events = n;
  for (loop->next_event = 0; loop->next_event < loop->n_events;) {
    struct epoll_event *event = &loop->events[loop->next_event++];
    LetsChatSocketWatch *watch = event->data.ptr;

    if (watch)
      watch->func (event->events, watch->user_data);
  }
  loop->n_events = 0;
  return G_SOURCE_CONTINUE;
}

static GSourceFuncs epoll_source_funcs = {
  /* no prepare or check: GLib dispatches a source whose descriptor polled
   * ready */
  NULL, NULL, epoll_source_dispatch, NULL, NULL, NULL
};

LetsChatSocketLoop *
letschat_socket_loop_new (GMainContext * context, GError ** error)
{
  LetsChatSocketLoop *loop;
  gint epfd = epoll_create1 (EPOLL_CLOEXEC);

  if (epfd < 0) {
    gint saved = errno;

    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
        "Could not create an epoll set: %s", g_strerror (saved));
    return NULL;
  }

  loop = g_new0 (LetsChatSocketLoop, 1);
  loop->epfd = epfd;
  loop->context = context ? g_main_context_ref (context) :
      g_main_context_ref_thread_default ();
  loop->source = g_source_new (&epoll_source_funcs, sizeof (EpollSource));
  ((EpollSource *) loop->source)->loop = loop;
  g_source_set_static_name (loop->source, "letschat sockets");
  g_source_add_unix_fd (loop->source, epfd, G_IO_IN);
  g_source_attach (loop->source, loop->context);
  return loop;
}

void
letschat_socket_loop_free (LetsChatSocketLoop * loop)
{
  if (loop == NULL)
    return;
  g_source_destroy (loop->source);
  g_source_unref (loop->source);
  g_main_context_unref (loop->context);
  close (loop->epfd);
  g_free (loop);
}

GMainContext *
letschat_socket_loop_get_context (LetsChatSocketLoop * loop)
{
  return loop->context;
}

guint8 *
letschat_socket_loop_get_read_buffer (LetsChatSocketLoop * loop, gsize * size)
{
  *size = sizeof (loop->read_buffer);
  return loop->read_buffer;
}

static guint32
watch_events (LetsChatSocketWatch * watch)
{
  return EPOLLIN | EPOLLRDHUP | (watch->want_write ? EPOLLOUT : 0);
}

gboolean
letschat_socket_loop_add (LetsChatSocketLoop * loop,
    LetsChatSocketWatch * watch, gint fd, LetsChatSocketReadyFunc func,
    gpointer user_data, GError ** error)
{
  struct epoll_event event = { 0, };

  watch->fd = fd;
  watch->want_write = FALSE;
  watch->func = func;
  watch->user_data = user_data;
  event.events = watch_events (watch);
  event.data.ptr = watch;
  if (epoll_ctl (loop->epfd, EPOLL_CTL_ADD, fd, &event) < 0) {
    gint saved = errno;

    g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
        "Could not watch socket %d: %s", fd, g_strerror (saved));
    watch->fd = -1;
    return FALSE;
  }
  return TRUE;
}

void
letschat_socket_loop_set_want_write (LetsChatSocketLoop * loop,
    LetsChatSocketWatch * watch, gboolean want_write)
{
  struct epoll_event event = { 0, };

  if (watch->fd < 0 || watch->want_write == want_write)
    return;
  watch->want_write = want_write;
  event.events = watch_events (watch);
  event.data.ptr = watch;
  if (epoll_ctl (loop->epfd, EPOLL_CTL_MOD, watch->fd, &event) < 0)
    g_warning ("Could not change what socket %d is watched for: %s",
        watch->fd, g_strerror (errno));
}

void
letschat_socket_loop_remove (LetsChatSocketLoop * loop,
    LetsChatSocketWatch * watch)
{
  gint i;

  if (watch->fd < 0)
    return;
  /* May fail harmlessly if the descriptor was closed already (the kernel
   * then dropped it from the set itself). */
  epoll_ctl (loop->epfd, EPOLL_CTL_DEL, watch->fd, NULL);
  watch->fd = -1;
  for (i = loop->next_event; i < loop->n_events; i++)
    if (loop->events[i].data.ptr == watch)
      loop->events[i].data.ptr = NULL;
}
