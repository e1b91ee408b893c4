/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The server's side of a WebSocket (RFC 6455), after the handshake.
 *
 * libsoup still accepts the connection, parses the HTTP request and
 * answers the handshake (soup_websocket_server_process_handshake); the
 * room server then steals the connection and hands it here. Why not keep
 * SoupWebsocketConnection: each one puts a GSource (and a keepalive timer)
 * on the main context, and GLib walks every source on every iteration, so
 * with thousands of idle parties the server spent its core walking them
 * (docs/performance.md). Here a socket costs one epoll registration
 * (letschat-socket-loop.c), and memory only while a frame is in pieces or
 * the peer is slow to read:
 *
 *   socket --ready--> read into the loop's shared buffer
 *                        |  frames parsed in place (unmasked there)
 *                        v
 *                  callbacks->message (whole message)   ping -> pong
 *   send_text --> header + text written at once; only what the socket
 *                 would not take is kept (out), and written on EPOLLOUT
 *
 * Frames are checked as RFC 6455 asks of a server: client frames masked,
 * no reserved bits (no extension is negotiated), control frames whole and
 * at most 125 bytes, text valid UTF-8, messages within max_payload. A
 * violation closes the socket with the code the RFC names. */

#include "letschat-websocket.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define OPCODE_CONTINUATION 0x0
#define OPCODE_TEXT 0x1
#define OPCODE_BINARY 0x2
#define OPCODE_CLOSE 0x8
#define OPCODE_PING 0x9
#define OPCODE_PONG 0xa

#define MAX_CONTROL_PAYLOAD 125
/* How long a close handshake may take before the socket is dropped (a
 * dead peer never answers). */
#define CLOSE_TIMEOUT_S 5
/* A peer that does not read while we write to it is not kept in memory
 * without bound: past this much unsent data its socket is dropped. */
#define MAX_UNSENT (4 * 1024 * 1024)
/* Pongs per socket: a client's keep-alive pings come seconds apart. */
#define PONG_RATE 10
#define PONG_BURST 10
/* Pings over that rate a socket may send in its life before it is closed
 * (1008): no honest client comes near it, and a flood that is only left
 * unanswered still costs the loop a read and an unmasking per ping (issue
 * #17: 256 flooding sockets took a core and the honest relay's p99 to
 * seconds). */
#define PING_FLOOD_CLOSE 100

struct _LetsChatWebSocket
{
  gint ref_count;
  LetsChatSocketLoop *loop;
  LetsChatSocketWatch watch;
  gint fd;                      /* plain: our own descriptor */
  GIOStream *tls_stream;        /* TLS: read and written through this */
  /* The accepted socket, held until ours closes: the accept guard counts
   * the connection until then (letschat-accept-guard.c). */
  GSocket *accepted;
  guint64 max_payload;

  LetsChatWebSocketState state;
  gboolean close_sent;
  gboolean close_received;
  gboolean finish_when_sent;    /* close the socket once out is written */
  gushort close_code;           /* received */
  const gchar *why;             /* why we dropped it, static, or NULL */

  GByteArray *partial;          /* a frame that came in pieces */
  GByteArray *fragments;        /* a message sent in several frames */
  gboolean fragments_are_text;
  GByteArray *out;              /* what the socket would not take yet */
  gdouble pong_tokens;
  guint pings_over_rate;
  gint64 pong_tokens_us;        /* when pong_tokens was right; 0: full */

  GSource *close_timeout;
  GSource *finish_later;

  const LetsChatWebSocketCallbacks *callbacks;
  gpointer user_data;
};

typedef enum
{
  FRAME_DONE,
  FRAME_INCOMPLETE,
  FRAME_FAILED
} FrameResult;

static void finish (LetsChatWebSocket * ws);

static gboolean
take_pong_token (LetsChatWebSocket * ws)
{
  gint64 now = g_get_monotonic_time ();

  if (ws->pong_tokens_us == 0)
    ws->pong_tokens = PONG_BURST;
  else
    ws->pong_tokens = MIN (PONG_BURST, ws->pong_tokens +
        (gdouble) (now - ws->pong_tokens_us) * PONG_RATE / G_USEC_PER_SEC);
  ws->pong_tokens_us = now;
  if (ws->pong_tokens < 1)
    return FALSE;
  ws->pong_tokens -= 1;
  return TRUE;
}

/* The socket is closed and "closed" reported, once. */
static void
finish (LetsChatWebSocket * ws)
{
  if (ws->state == LETSCHAT_WEBSOCKET_CLOSED)
    return;
  ws->state = LETSCHAT_WEBSOCKET_CLOSED;
  letschat_socket_loop_remove (ws->loop, &ws->watch);
  if (ws->close_timeout) {
    g_source_destroy (ws->close_timeout);
    g_clear_pointer (&ws->close_timeout, g_source_unref);
  }
  if (ws->finish_later) {
    g_source_destroy (ws->finish_later);
    g_clear_pointer (&ws->finish_later, g_source_unref);
  }
  if (ws->fd >= 0) {
    /* shutdown() ends the connection itself, whoever else still holds a
     * descriptor of it. */
    shutdown (ws->fd, SHUT_RDWR);
    close (ws->fd);
    ws->fd = -1;
  }
  if (ws->tls_stream) {
    /* Asynchronous: a blocking close would wait for the TLS close_notify
     * to go out to a peer that may be gone. */
    g_io_stream_close_async (ws->tls_stream, G_PRIORITY_DEFAULT, NULL, NULL,
        NULL);
    g_clear_object (&ws->tls_stream);
  }
  g_clear_pointer (&ws->out, g_byte_array_unref);
  g_clear_object (&ws->accepted);
  if (!ws->close_received)
    ws->close_code = LETSCHAT_WEBSOCKET_CLOSE_ABNORMAL;

  if (ws->callbacks && ws->callbacks->closed)
    ws->callbacks->closed (ws, ws->user_data);
}

static gboolean
on_finish_later (gpointer user_data)
{
  LetsChatWebSocket *ws = letschat_websocket_ref (user_data);

  g_clear_pointer (&ws->finish_later, g_source_unref);
  finish (ws);
  letschat_websocket_unref (ws);
  return G_SOURCE_REMOVE;
}

/* From inside a send: the owner is in the middle of something (relaying
 * to this party, say), so "closed" comes on the next iteration instead. */
static void
finish_soon (LetsChatWebSocket * ws)
{
  if (ws->state == LETSCHAT_WEBSOCKET_CLOSED || ws->finish_later)
    return;
  ws->finish_later = g_idle_source_new ();
  g_source_set_static_name (ws->finish_later, "letschat websocket finish");
  g_source_set_callback (ws->finish_later, on_finish_later, ws, NULL);
  g_source_attach (ws->finish_later,
      letschat_socket_loop_get_context (ws->loop));
}

static gboolean
on_close_timeout (gpointer user_data)
{
  LetsChatWebSocket *ws = letschat_websocket_ref (user_data);

  g_clear_pointer (&ws->close_timeout, g_source_unref);
  if (ws->why == NULL)
    ws->why = "the close handshake did not finish in time";
  finish (ws);
  letschat_websocket_unref (ws);
  return G_SOURCE_REMOVE;
}

static void
start_close_timeout (LetsChatWebSocket * ws)
{
  if (ws->close_timeout)
    return;
  ws->close_timeout = g_timeout_source_new_seconds (CLOSE_TIMEOUT_S);
  g_source_set_static_name (ws->close_timeout, "letschat websocket close");
  g_source_set_callback (ws->close_timeout, on_close_timeout, ws, NULL);
  g_source_attach (ws->close_timeout,
      letschat_socket_loop_get_context (ws->loop));
}

/* Bytes written, 0 when the socket is full, -1 when it is broken. */
static gssize
write_vectors (LetsChatWebSocket * ws, struct iovec *iov, guint n_iov)
{
  if (ws->tls_stream) {
    GOutputStream *out = g_io_stream_get_output_stream (ws->tls_stream);
    GOutputVector vectors[2];
    gsize written = 0;
    guint i;

    for (i = 0; i < n_iov; i++) {
      vectors[i].buffer = iov[i].iov_base;
      vectors[i].size = iov[i].iov_len;
    }
    switch (g_pollable_output_stream_writev_nonblocking
        (G_POLLABLE_OUTPUT_STREAM (out), vectors, n_iov, &written, NULL,
            NULL)) {
      case G_POLLABLE_RETURN_OK:
        return written;
      case G_POLLABLE_RETURN_WOULD_BLOCK:
        return 0;
      default:
        return -1;
    }
  } else {
    struct msghdr msg = { 0, };
    gssize n;

    msg.msg_iov = iov;
    msg.msg_iovlen = n_iov;
    do {
      /* MSG_NOSIGNAL: a peer that went away is an error here, not a
       * SIGPIPE that kills the server. */
      n = sendmsg (ws->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
      return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    return n;
  }
}

static void
flush (LetsChatWebSocket * ws)
{
  struct iovec iov;
  gssize n;

  if (ws->out) {
    iov.iov_base = ws->out->data;
    iov.iov_len = ws->out->len;
    n = write_vectors (ws, &iov, 1);
    if (n < 0) {
      ws->why = "the connection broke while sending";
      finish (ws);
      return;
    }
    g_byte_array_remove_range (ws->out, 0, n);
    if (ws->out->len > 0)
      return;
    g_clear_pointer (&ws->out, g_byte_array_unref);
    letschat_socket_loop_set_want_write (ws->loop, &ws->watch, FALSE);
  }
  if (ws->finish_when_sent)
    finish (ws);
}

/* Server frames are not masked (RFC 6455, 5.1). */
static void
send_frame (LetsChatWebSocket * ws, guint8 opcode, const guint8 * payload,
    gsize length)
{
  guint8 header[10];
  struct iovec iov[2];
  gsize header_length = 2;
  gssize n = 0;
  gsize total;

  if (ws->state == LETSCHAT_WEBSOCKET_CLOSED || ws->close_sent)
    return;

  header[0] = 0x80 | opcode;
  if (length < 126) {
    header[1] = length;
  } else if (length <= G_MAXUINT16) {
    header[1] = 126;
    header[2] = length >> 8;
    header[3] = length & 0xff;
    header_length = 4;
  } else {
    guint64 big = length;
    gint i;

    header[1] = 127;
    for (i = 0; i < 8; i++)
      header[2 + i] = (big >> (56 - 8 * i)) & 0xff;
    header_length = 10;
  }
  total = header_length + length;

  if (ws->out == NULL) {
    iov[0].iov_base = header;
    iov[0].iov_len = header_length;
    iov[1].iov_base = (gpointer) payload;
    iov[1].iov_len = length;
    n = write_vectors (ws, iov, length ? 2 : 1);
    if (n < 0) {
      ws->why = "the connection broke while sending";
      finish_soon (ws);
      return;
    }
    if ((gsize) n == total)
      return;
    ws->out = g_byte_array_sized_new (total - n);
    letschat_socket_loop_set_want_write (ws->loop, &ws->watch, TRUE);
  }

  if ((gsize) n < header_length) {
    g_byte_array_append (ws->out, header + n, header_length - n);
    g_byte_array_append (ws->out, payload, length);
  } else {
    g_byte_array_append (ws->out, payload + (n - header_length), total - n);
  }
  if (ws->out->len > MAX_UNSENT) {
    ws->why = "over 4 MiB unsent: the party does not read";
    finish_soon (ws);
  }
}

static void
send_close (LetsChatWebSocket * ws, gushort code, const gchar * reason)
{
  guint8 payload[MAX_CONTROL_PAYLOAD];
  gsize length = 0;

  if (code != 0 && code != LETSCHAT_WEBSOCKET_CLOSE_NO_STATUS) {
    payload[0] = code >> 8;
    payload[1] = code & 0xff;
    length = 2;
    if (reason) {
      /* Cut at a character boundary: the reason must stay UTF-8. */
      const gchar *end = reason;

      while (*end && (end - reason) < MAX_CONTROL_PAYLOAD - 2) {
        const gchar *next = g_utf8_next_char (end);

        if (next - reason > MAX_CONTROL_PAYLOAD - 2)
          break;
        end = next;
      }
      memcpy (payload + 2, reason, end - reason);
      length += end - reason;
    }
  }
  send_frame (ws, OPCODE_CLOSE, payload, length);
  ws->close_sent = TRUE;
  if (ws->state == LETSCHAT_WEBSOCKET_OPEN)
    ws->state = LETSCHAT_WEBSOCKET_CLOSING;
}

/* The peer broke the protocol: say why and go, without waiting for its
 * close frame. */
static FrameResult
fail (LetsChatWebSocket * ws, gushort code, const gchar * reason)
{
  ws->why = reason;
  send_close (ws, code, reason);
  ws->finish_when_sent = TRUE;
  if (ws->out == NULL)
    finish (ws);
  else
    start_close_timeout (ws);
  return FRAME_FAILED;
}

/* g_utf8_validate_len() refuses NUL bytes, but U+0000 is valid UTF-8, and
 * RFC 6455 (8.1) fails a connection only for what is not UTF-8. */
static gboolean
utf8_is_valid (const guint8 * data, gsize length)
{
  const gchar *p = (const gchar *) data, *end = p + length, *stop;

  while (!g_utf8_validate_len (p, end - p, &stop)) {
    if (*stop != '\0')
      return FALSE;
    p = stop + 1;
  }
  return TRUE;
}

/* RFC 6455's codes and the ones IANA registered since (1012-1014: service
 * restart, try again later, bad gateway), and those for applications. */
static gboolean
close_code_is_valid (guint code)
{
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
      || (code >= 3000 && code <= 4999);
}

static FrameResult
receive_close (LetsChatWebSocket * ws, const guint8 * payload, gsize length)
{
  gushort code = LETSCHAT_WEBSOCKET_CLOSE_NO_STATUS;

  if (length == 1)
    return fail (ws, LETSCHAT_WEBSOCKET_CLOSE_PROTOCOL_ERROR,
        "close frame of one byte");
  if (length >= 2) {
    code = (payload[0] << 8) | payload[1];
    if (!close_code_is_valid (code))
      return fail (ws, LETSCHAT_WEBSOCKET_CLOSE_PROTOCOL_ERROR,
          "invalid close code");
    if (!utf8_is_valid (payload + 2, length - 2))
      return fail (ws, LETSCHAT_WEBSOCKET_CLOSE_BAD_DATA,
          "close reason is not UTF-8");
  }
  ws->close_received = TRUE;
  ws->close_code = code;
  /* Our answer echoes the peer's code; then the server closes the TCP
   * connection (RFC 6455, 7.1.1). */
  send_close (ws, code, NULL);
  ws->finish_when_sent = TRUE;
  if (ws->out == NULL)
    finish (ws);
  else
    start_close_timeout (ws);
  return FRAME_DONE;
}

static FrameResult
deliver (LetsChatWebSocket * ws, gboolean is_text, const guint8 * data,
    gsize length)
{
  if (is_text && !utf8_is_valid (data, length))
    return fail (ws, LETSCHAT_WEBSOCKET_CLOSE_BAD_DATA,
        "text message is not UTF-8");
  /* Nothing is delivered once we said goodbye. */
  if (ws->close_sent)
    return FRAME_DONE;
  if (ws->callbacks && ws->callbacks->message)
    ws->callbacks->message (ws, is_text, (const gchar *) data, length,
        ws->user_data);
  return FRAME_DONE;
}

/* One frame from the start of @p, unmasked in place. */
static FrameResult
parse_frame (LetsChatWebSocket * ws, guint8 * p, gsize n, gsize * used)
{
  gboolean fin, control;
  guint8 opcode, *mask, *payload;
  guint64 length, message_length;
  gsize header_length = 2, i;

  if (n < 2)
    return FRAME_INCOMPLETE;
  fin = (p[0] & 0x80) != 0;
  opcode = p[0] & 0x0f;
  control = (opcode & 0x8) != 0;

  if (p[0] & 0x70)
    return fail (ws, LETSCHAT_WEBSOCKET_CLOSE_PROTOCOL_ERROR,
        "reserved bits set, but no extension was negotiated");
  if (!(p[1] & 0x80))
    return fail (ws, LETSCHAT_WEBSOCKET_CLOSE_PROTOCOL_ERROR,
        "a client's frames must be masked");
  if (control) {
    if (opcode != OPCODE_CLOSE && opcode != OPCODE_PING
        && opcode != OPCODE_PONG)
      return fail (ws, LETSCHAT_WEBSOCKET_CLOSE_PROTOCOL_ERROR,
          "unknown control opcode");
    if (!fin || (p[1] & 0x7f) > MAX_CONTROL_PAYLOAD)
      return fail (ws, LETSCHAT_WEBSOCKET_CLOSE_PROTOCOL_ERROR,
          "control frames must be whole and at most 125 bytes");
  } else if (opcode > OPCODE_BINARY) {
    return fail (ws, LETSCHAT_WEBSOCKET_CLOSE_PROTOCOL_ERROR,
        "unknown data opcode");
  } else if ((opcode == OPCODE_CONTINUATION) != (ws->fragments != NULL)) {
    return fail (ws, LETSCHAT_WEBSOCKET_CLOSE_PROTOCOL_ERROR,
        ws->fragments ? "a new message began before the last one ended" :
        "a continuation frame without a message");
  }

  length = p[1] & 0x7f;
  if (length == 126) {
    if (n < 4)
      return FRAME_INCOMPLETE;
    length = (p[2] << 8) | p[3];
    header_length = 4;
  } else if (length == 127) {
    if (n < 10)
      return FRAME_INCOMPLETE;
    length = 0;
    for (i = 0; i < 8; i++)
      length = (length << 8) | p[2 + i];
    header_length = 10;
  }

  /* Checked before the payload is waited for, so that an announced giant
   * is never buffered. */
  message_length = length + (ws->fragments && !control ?
      ws->fragments->len : 0);
  if (length > ws->max_payload || message_length > ws->max_payload)
    return fail (ws, LETSCHAT_WEBSOCKET_CLOSE_TOO_BIG,
        "message over the size limit");

  if (n < header_length + 4 + length)
    return FRAME_INCOMPLETE;
  mask = p + header_length;
  payload = mask + 4;
  for (i = 0; i < length; i++)
    payload[i] ^= mask[i & 3];
  *used = header_length + 4 + length;

  switch (opcode) {
    case OPCODE_TEXT:
    case OPCODE_BINARY:
      if (fin)
        return deliver (ws, opcode == OPCODE_TEXT, payload, length);
      ws->fragments = g_byte_array_sized_new (length);
      ws->fragments_are_text = opcode == OPCODE_TEXT;
      g_byte_array_append (ws->fragments, payload, length);
      return FRAME_DONE;
    case OPCODE_CONTINUATION:
      g_byte_array_append (ws->fragments, payload, length);
      if (fin) {
        g_autoptr (GByteArray) message = g_steal_pointer (&ws->fragments);

        return deliver (ws, ws->fragments_are_text, message->data,
            message->len);
      }
      return FRAME_DONE;
    case OPCODE_CLOSE:
      return receive_close (ws, payload, length);
    case OPCODE_PING:
      /* RFC 6455 5.5.3 lets us answer only the latest ping: while the
       * peer has not read what we sent, or past PONG_BURST pongs at once
       * and PONG_RATE a second, pongs are dropped rather than queued or
       * written (a peer flooding pings without reading filled 4 MiB per
       * socket with pongs, and a write per ping kept the loop from
       * everyone else, issue #17). */
      if (!take_pong_token (ws)) {
        if (++ws->pings_over_rate > PING_FLOOD_CLOSE)
          return fail (ws, LETSCHAT_WEBSOCKET_CLOSE_POLICY_VIOLATION,
              "ping flood");
      } else if (ws->out == NULL) {
        send_frame (ws, OPCODE_PONG, payload, length);
      }
      return FRAME_DONE;
    case OPCODE_PONG:
      if (ws->callbacks && ws->callbacks->pong && !ws->close_sent)
        ws->callbacks->pong (ws, ws->user_data);
      return FRAME_DONE;
  }
  g_assert_not_reached ();
  return FRAME_FAILED;
}

/* @data: bytes just read (in the loop's shared buffer, or the socket's own
 * partial frame when called from start). */
static void
process (LetsChatWebSocket * ws, guint8 * data, gsize length)
{
  guint8 *buffer = data;
  gsize size = length, offset = 0;

  if (ws->partial && ws->partial->data != data) {
    g_byte_array_append (ws->partial, data, length);
    buffer = ws->partial->data;
    size = ws->partial->len;
  }

  while (offset < size && ws->state != LETSCHAT_WEBSOCKET_CLOSED
      && !ws->close_received) {
    gsize used = 0;

    if (parse_frame (ws, buffer + offset, size - offset, &used) != FRAME_DONE)
      break;
    offset += used;
  }

  if (ws->state == LETSCHAT_WEBSOCKET_CLOSED || ws->close_received
      || ws->finish_when_sent || offset == size) {
    g_clear_pointer (&ws->partial, g_byte_array_unref);
  } else if (ws->partial) {
    g_byte_array_remove_range (ws->partial, 0, offset);
  } else {
    ws->partial = g_byte_array_sized_new (size - offset);
    g_byte_array_append (ws->partial, buffer + offset, size - offset);
  }
}

/* Bytes read, 0 when there is nothing more now, -1 at the end. */
static gssize
read_some (LetsChatWebSocket * ws, guint8 * buffer, gsize size)
{
  gssize n;

  if (ws->tls_stream) {
    GInputStream *in = g_io_stream_get_input_stream (ws->tls_stream);
    g_autoptr (GError) error = NULL;

    n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM
        (in), buffer, size, NULL, &error);
    if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      return 0;
    return n == 0 ? -1 : n;
  }

  do {
    n = recv (ws->fd, buffer, size, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0)
    return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
  return n == 0 ? -1 : n;
}

static void
on_ready (guint32 events, gpointer user_data)
{
  LetsChatWebSocket *ws = letschat_websocket_ref (user_data);

  if (events & EPOLLOUT)
    flush (ws);

  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
    gsize size;
    guint8 *buffer = letschat_socket_loop_get_read_buffer (ws->loop, &size);

    while (ws->state != LETSCHAT_WEBSOCKET_CLOSED) {
      gssize n = read_some (ws, buffer, size);

      if (n < 0) {
        /* the peer is gone, with or without a close frame */
        finish (ws);
        break;
      }
      if (n == 0)
        break;
      process (ws, buffer, n);
      /* A short read emptied a plain socket; TLS may hold decrypted
       * bytes that epoll cannot see, so it is read until it blocks. */
      if (ws->tls_stream == NULL && (gsize) n < size)
        break;
    }
  }
  letschat_websocket_unref (ws);
}

LetsChatWebSocket *
letschat_websocket_new (LetsChatSocketLoop * loop, GIOStream * stream,
    GSocket * socket, gboolean tls, guint64 max_payload, GError ** error)
{
  LetsChatWebSocket *ws = g_new0 (LetsChatWebSocket, 1);
  gint fd;

  ws->ref_count = 1;
  ws->loop = loop;
  ws->fd = -1;
  ws->watch.fd = -1;
  ws->max_payload = max_payload;
  ws->accepted = socket ? g_object_ref (socket) : NULL;

  if (tls) {
    ws->tls_stream = g_object_ref (stream);
    fd = g_socket_get_fd (socket);
  } else {
    GInputStream *in = g_io_stream_get_input_stream (stream);

    /* libsoup reads the request through a buffer: whatever the client
     * sent after it is taken out before the socket is taken over. */
    if (G_IS_POLLABLE_INPUT_STREAM (in)) {
      guint8 buffer[4096];
      gssize n;

      while ((n = g_pollable_input_stream_read_nonblocking
              (G_POLLABLE_INPUT_STREAM (in), buffer, sizeof (buffer), NULL,
                  NULL)) > 0) {
        if (ws->partial == NULL)
          ws->partial = g_byte_array_new ();
        g_byte_array_append (ws->partial, buffer, n);
      }
    }
    ws->fd = fcntl (g_socket_get_fd (socket), F_DUPFD_CLOEXEC, 0);
    if (ws->fd < 0) {
      gint saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
          "Could not take over the socket: %s", g_strerror (saved));
      letschat_websocket_unref (ws);
      return NULL;
    }
    fd = ws->fd;
    /* Closed, not just dropped: libsoup keeps a reference to the stream
     * it handed over, and its descriptor would stay open. */
    g_io_stream_close (stream, NULL, NULL);
  }

  if (!letschat_socket_loop_add (loop, &ws->watch, fd, on_ready, ws, error)) {
    letschat_websocket_unref (ws);
    return NULL;
  }
  return ws;
}

void
letschat_websocket_set_callbacks (LetsChatWebSocket * ws,
    const LetsChatWebSocketCallbacks * callbacks, gpointer user_data)
{
  ws->callbacks = callbacks;
  ws->user_data = user_data;
}

void
letschat_websocket_start (LetsChatWebSocket * ws,
    const LetsChatWebSocketCallbacks * callbacks, gpointer user_data)
{
  letschat_websocket_set_callbacks (ws, callbacks, user_data);
  if (ws->partial) {
    letschat_websocket_ref (ws);
    process (ws, ws->partial->data, ws->partial->len);
    letschat_websocket_unref (ws);
  } else if (ws->tls_stream) {
    /* What libsoup's buffer or TLS already holds would not wake epoll. */
    on_ready (EPOLLIN, ws);
  }
}

LetsChatWebSocket *
letschat_websocket_ref (LetsChatWebSocket * ws)
{
  ws->ref_count++;
  return ws;
}

void
letschat_websocket_unref (LetsChatWebSocket * ws)
{
  if (--ws->ref_count > 0)
    return;
  ws->callbacks = NULL;
  finish (ws);
  g_clear_pointer (&ws->partial, g_byte_array_unref);
  g_clear_pointer (&ws->fragments, g_byte_array_unref);
  g_free (ws);
}

LetsChatWebSocketState
letschat_websocket_get_state (LetsChatWebSocket * ws)
{
  return ws->state;
}

gushort
letschat_websocket_get_close_code (LetsChatWebSocket * ws)
{
  return ws->close_code;
}

const gchar *
letschat_websocket_get_drop_reason (LetsChatWebSocket * ws)
{
  return ws->why;
}

void
letschat_websocket_send_text (LetsChatWebSocket * ws, const gchar * text,
    gssize length)
{
  if (ws->state != LETSCHAT_WEBSOCKET_OPEN)
    return;
  send_frame (ws, OPCODE_TEXT, (const guint8 *) text,
      length < 0 ? strlen (text) : (gsize) length);
}

void
letschat_websocket_ping (LetsChatWebSocket * ws)
{
  if (ws->state == LETSCHAT_WEBSOCKET_OPEN)
    send_frame (ws, OPCODE_PING, NULL, 0);
}

void
letschat_websocket_close (LetsChatWebSocket * ws, gushort code,
    const gchar * reason)
{
  if (ws->state != LETSCHAT_WEBSOCKET_OPEN)
    return;
  send_close (ws, code, reason);
  start_close_timeout (ws);
}
