/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* What libsoup is handed, and what it may do with a request, before the
 * page or the WebSocket handshake sees it:
 *
 *   accepted connection --TLS (letschat-tls-guard.c)-->
 *   SoupServer: request-started --got-headers--> check_request_head()
 *        | a body (Content-Length > 0, chunked)  -> 413, connection closed
 *        |                                          without reading it
 *        | a method other than GET or HEAD       -> 405
 *        | several ranges                        -> Range dropped (200)
 *        v
 *   early handlers and handlers (letschat-room-server.c)
 *
 * The page and the WebSocket handshake need no body, and libsoup reads a
 * request's whole body into memory before any handler runs (issue #17: a
 * 300 MB body took RSS to 319 MB, and it stayed), so a body is refused as
 * soon as its headers say it comes. A status set in an early handler does
 * not stop libsoup from reading it: the connection is taken from libsoup
 * instead, answered and closed here.
 *
 * libsoup answers `Range: bytes=0-,0-,...` with one part per range (a
 * 25 KB request made a 20 MB answer); the page is small, so a request with
 * more than one range gets the whole page.
 *
 * Each step of a connection that is not a WebSocket has the accept guard's
 * deadline (--handshake-timeout): from accept to the request's head (TLS
 * handshake included), from the head to the response's end, and from there
 * to the next request's head. */

#define G_LOG_DOMAIN "letschat-server"

#include "letschat-http-guard.h"
#include "letschat-accept-guard.h"
#include "letschat-rooms.h"

#include <string.h>

static const gchar too_large[] =
    "HTTP/1.1 413 Content Too Large\r\n"
    "Connection: close\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Length: 61\r\n"
    "\r\n" "This server takes no request bodies: send GET without a body.\n";

GQuark
letschat_http_guard_socket_quark (void)
{
  return g_quark_from_static_string ("letschat-room-server-socket");
}

GSocket *
letschat_http_guard_socket_of (SoupServerMessage * message)
{
  GSocketAddress *addr = soup_server_message_get_remote_address (message);

  return addr ? g_object_get_qdata (G_OBJECT (addr),
      letschat_http_guard_socket_quark ()) : NULL;
}

static void
on_refusal_written (GObject * source, GAsyncResult * result, gpointer user_data)
{
  GIOStream *stream = user_data;

  g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL,
      NULL);
  /* Closing with the body unread resets the connection: shutting down
   * our side first lets the client read the answer. */
  g_io_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  g_object_unref (stream);
}

/* Takes the connection from libsoup, which would otherwise read the body,
 * and answers 413 on it. */
static void
refuse_body (LetsChatRoomServer * self, SoupServerMessage * message)
{
  GIOStream *stream;
  GSocket *socket = letschat_http_guard_socket_of (message);

  stream = soup_server_message_steal_connection (message);
  if (stream == NULL)
    return;
  if (socket)
    letschat_accept_guard_rearm (socket);
  g_output_stream_write_all_async (g_io_stream_get_output_stream (stream),
      too_large, strlen (too_large), G_PRIORITY_DEFAULT, NULL,
      on_refusal_written, stream);
}

static gboolean
has_body (SoupMessageHeaders * headers)
{
  switch (soup_message_headers_get_encoding (headers)) {
    case SOUP_ENCODING_NONE:
      return FALSE;
    case SOUP_ENCODING_CONTENT_LENGTH:
      return soup_message_headers_get_content_length (headers) > 0;
    default:
      return TRUE;              /* chunked, or up to the end of the stream */
  }
}

static void
check_request_head (SoupServerMessage * message, gpointer user_data)
{
  LetsChatRoomServer *self = user_data;
  SoupMessageHeaders *headers =
      soup_server_message_get_request_headers (message);
  const gchar *method = soup_server_message_get_method (message);
  const gchar *range;
  GSocket *socket = letschat_http_guard_socket_of (message);
  LetsChatTransportCounters *counters =
      letschat_accept_guard_get_counters (self->acceptor);

  /* the response now has its own deadline */
  if (socket)
    letschat_accept_guard_rearm (socket);

  if (has_body (headers)) {
    counters->bodies_refused++;
    refuse_body (self, message);
    return;
  }
  if (soup_server_message_get_status (message) != 0)
    return;                     /* refused already (bad request, origin) */
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    counters->methods_refused++;
    soup_message_headers_replace (soup_server_message_get_response_headers
        (message), "Allow", "GET, HEAD");
    soup_server_message_set_status (message, SOUP_STATUS_METHOD_NOT_ALLOWED,
        NULL);
    return;
  }
  range = soup_message_headers_get_one (headers, "Range");
  if (range && strchr (range, ','))
    soup_message_headers_remove (headers, "Range");
}

static void
on_request_started (SoupServer * soup, SoupServerMessage * message,
    gpointer user_data)
{
  /* after libsoup's own got-headers handler, which runs the early
   * handlers: connected before this signal is emitted */
  g_signal_connect_object (message, "got-headers",
      G_CALLBACK (check_request_head), user_data, 0);
}

/* The response went out (or the request failed): the connection waits for
 * its next request, within the deadline. */
static void
on_request_done (SoupServer * soup, SoupServerMessage * message,
    gpointer user_data)
{
  GSocket *socket = letschat_http_guard_socket_of (message);

  if (socket)
    letschat_accept_guard_rearm (socket);
}

void
letschat_http_guard_attach (LetsChatRoomServer * self)
{
  g_signal_connect (self->soup, "request-started",
      G_CALLBACK (on_request_started), self);
  g_signal_connect (self->soup, "request-finished",
      G_CALLBACK (on_request_done), self);
  g_signal_connect (self->soup, "request-aborted",
      G_CALLBACK (on_request_done), self);
}
