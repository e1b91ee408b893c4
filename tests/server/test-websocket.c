/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The room server's own WebSocket layer (ext/signalling/letschat-websocket.c)
 * against a client that writes raw bytes. The libsoup clients of the other
 * server tests only ever send well-formed frames; here frames are split at
 * every byte, coalesced, fragmented, interleaved with pings, and break each
 * rule RFC 6455 asks a server to enforce, and the close code the RFC names
 * is checked each time, followed by the end of the TCP connection.
 *
 * The server runs in this process and on this thread (as in the other
 * server tests), so the client's socket is non-blocking and every wait
 * spins the main context with a deadline (WAIT_UNTIL): a read that blocked
 * would stop the server it waits for. */

#include "letschat-room-server.h"
#include "test-util.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

/* First byte of a frame */
#define FIN 0x80
#define RSV1 0x40
#define RSV2 0x20
#define RSV3 0x10
#define OP_CONTINUATION 0x0
#define OP_TEXT 0x1
#define OP_BINARY 0x2
#define OP_CLOSE 0x8
#define OP_PING 0x9
#define OP_PONG 0xa

#define CLOSE_NORMAL 1000
#define CLOSE_GOING_AWAY 1001
#define CLOSE_PROTOCOL_ERROR 1002
#define CLOSE_BAD_DATA 1007
#define CLOSE_TOO_BIG 1009

/* The example key of RFC 6455 (1.3) and the accept value it gives. */
#define HANDSHAKE_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define HANDSHAKE_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* The server */

/* Pings cannot be turned off: the clients below keep them out of the
 * tests' sight. */
static LetsChatRoomServer *
server_new (guint max_message_size, guint ping_interval, guint ping_timeout)
{
  g_autoptr (GError) error = NULL;
  LetsChatRoomServer *server = letschat_room_server_new ();

  g_object_set (server, "max-message-size", max_message_size,
      "ping-interval", ping_interval, "ping-timeout", ping_timeout, NULL);
  g_assert_true (letschat_room_server_listen (server, "127.0.0.1", 0, &error));
  g_assert_no_error (error);
  return server;
}

static void
server_free (LetsChatRoomServer * server)
{
  /* every test ends its sockets: nothing may be left behind */
  WAIT_UNTIL (letschat_room_server_get_n_connections (server) == 0);
  g_assert_cmpuint (letschat_room_server_get_n_rooms (server), ==, 0);
  letschat_room_server_shutdown (server);
  g_object_unref (server);
}

/* The raw client */

typedef struct
{
  GSocket *socket;
  GByteArray *in;               /* received, not yet taken as frames */
  gboolean eof;                 /* the server ended the TCP connection */
  gboolean reset;               /* ... with a reset rather than a FIN */
  GPtrArray *seen;              /* JsonNode* handed out by expect_message */
  /* The server's pings are counted and kept out of the tests' sight
   * (one may come at any time); answered only if asked. */
  gboolean answer_pings;
  guint n_pings;
} Raw;

typedef struct
{
  gboolean fin;
  guint8 opcode;
  GBytes *payload;
} Frame;

static void
frame_free (Frame * frame)
{
  g_bytes_unref (frame->payload);
  g_free (frame);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Frame, frame_free);

/* For failure messages: what the server sent instead. */
static gchar *
frame_describe (Frame * frame)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (frame->payload, &size);

  switch (frame->opcode) {
    case OP_CLOSE:
      if (size < 2)
        return g_strdup ("a close frame without a code");
      return g_strdup_printf ("a close frame with code %u, \"%.*s\"",
          (data[0] << 8) | data[1], (int) size - 2, data + 2);
    case OP_TEXT:
      return g_strdup_printf ("a text frame: %.*s", (int) MIN (size, 200),
          data);
    default:
      return g_strdup_printf ("a frame of opcode 0x%x, %" G_GSIZE_FORMAT
          " bytes", frame->opcode, size);
  }
}

/* A client frame: @b0 is FIN, RSV and opcode as they go out; the length
 * field says @announced (in its shortest form), then come @length bytes of
 * @payload, masked with a key unless @masked is FALSE. */
static GByteArray *
frame_build (guint8 b0, gboolean masked, guint64 announced,
    const void *payload, gsize length)
{
  /* Not all zero: an unmasked payload would read as garbage. */
  static const guint8 key[4] = { 0x37, 0xfa, 0x21, 0x3d };
  GByteArray *frame = g_byte_array_sized_new (14 + length);
  guint8 header[14];
  gsize header_size = 2, i;

  header[0] = b0;
  header[1] = masked ? 0x80 : 0;
  if (announced < 126) {
    header[1] |= announced;
  } else if (announced <= G_MAXUINT16) {
    header[1] |= 126;
    header[2] = announced >> 8;
    header[3] = announced & 0xff;
    header_size = 4;
  } else {
    header[1] |= 127;
    for (i = 0; i < 8; i++)
      header[2 + i] = (announced >> (56 - 8 * i)) & 0xff;
    header_size = 10;
  }
  if (masked) {
    memcpy (header + header_size, key, 4);
    header_size += 4;
  }
  g_byte_array_append (frame, header, header_size);
  if (length > 0)
    g_byte_array_append (frame, payload, length);
  if (masked)
    for (i = 0; i < length; i++)
      frame->data[header_size + i] ^= key[i & 3];
  return frame;
}

/* Writes all of @data; a socket that is full waits for the server (on this
 * thread) to read. */
static void
raw_write (Raw * r, const void *data, gsize length)
{
  const gchar *p = data;

  while (length > 0) {
    g_autoptr (GError) error = NULL;
    gssize n = g_socket_send (r->socket, p, length, NULL, &error);

    if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK)) {
      WAIT_UNTIL (g_socket_condition_check (r->socket, G_IO_OUT) & G_IO_OUT);
      continue;
    }
    if (n < 0)
      g_error ("Writing to the server failed: %s", error->message);
    p += n;
    length -= n;
  }
}

/* Takes in whatever the server has sent so far. */
static void
raw_fill (Raw * r)
{
  guint8 buffer[16384];

  while (!r->eof) {
    g_autoptr (GError) error = NULL;
    gssize n = g_socket_receive (r->socket, (gchar *) buffer,
        sizeof (buffer), NULL, &error);

    if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
      return;
    if (n < 0 && g_error_matches (error, G_IO_ERROR,
            G_IO_ERROR_CONNECTION_CLOSED)) {
      r->eof = r->reset = TRUE;
      return;
    }
    if (n < 0)
      g_error ("Reading from the server failed: %s", error->message);
    if (n == 0)
      r->eof = TRUE;
    else
      g_byte_array_append (r->in, buffer, n);
  }
}

/* The size of the frame at @offset in @r->in, or 0 while it is
 * incomplete. Checks what RFC 6455 asks of a server's frames on the way. */
static gsize
raw_frame_size_at (Raw * r, gsize offset, gsize * header_size,
    guint64 * payload_size)
{
  const guint8 *p = r->in->data + offset;
  gsize n = r->in->len - offset, header = 2;
  guint64 length;
  guint i;

  if (n < 2)
    return 0;
  length = p[1] & 0x7f;
  if (length == 126) {
    if (n < 4)
      return 0;
    length = (p[2] << 8) | p[3];
    header = 4;
    /* lengths are in their shortest form (5.2) */
    g_assert_cmpuint (length, >=, 126);
  } else if (length == 127) {
    if (n < 10)
      return 0;
    length = 0;
    for (i = 0; i < 8; i++)
      length = (length << 8) | p[2 + i];
    header = 10;
    g_assert_cmpuint (length, >, G_MAXUINT16);
    g_assert_cmpuint (length, <, G_MAXINT32);
  }
  if (n < header + length)
    return 0;

  /* A server never masks (5.1) and negotiated no extension (5.2). */
  g_assert_cmpuint (p[1] & 0x80, ==, 0);
  g_assert_cmpuint (p[0] & (RSV1 | RSV2 | RSV3), ==, 0);
  *header_size = header;
  *payload_size = length;
  return header + length;
}

static gsize
raw_frame_size (Raw * r, gsize * header_size, guint64 * payload_size)
{
  return raw_frame_size_at (r, 0, header_size, payload_size);
}

/* For WAIT_UNTIL, which tests its condition more than once: TRUE once a
 * whole frame other than a ping, or the end of the connection, is there.
 * Every whole ping received is taken out (and answered if asked), even
 * behind other frames, as a client would as they come. */
static gboolean
raw_frame_or_eof (Raw * r)
{
  gsize header, size, offset = 0;
  guint64 length;

  raw_fill (r);
  while ((size = raw_frame_size_at (r, offset, &header, &length)) > 0) {
    if ((r->in->data[offset] & 0x0f) != OP_PING) {
      offset += size;
      continue;
    }
    r->n_pings++;
    if (r->answer_pings) {
      g_autoptr (GByteArray) pong = frame_build (FIN | OP_PONG, TRUE, length,
          r->in->data + offset + header, length);

      raw_write (r, pong->data, pong->len);
    }
    g_byte_array_remove_range (r->in, offset, size);
  }
  return offset > 0 || r->eof;
}

static Frame *
raw_expect_frame_ms (Raw * r, guint timeout_ms)
{
  Frame *frame;
  gsize header, size;
  guint64 length;

  WAIT_UNTIL_MS (raw_frame_or_eof (r), timeout_ms);
  size = raw_frame_size (r, &header, &length);
  if (size == 0)
    g_error ("The server ended the connection (%s) where a frame was "
        "expected; %u bytes of a frame came before", r->reset ? "reset" :
        "FIN", r->in->len);

  frame = g_new0 (Frame, 1);
  frame->fin = (r->in->data[0] & FIN) != 0;
  frame->opcode = r->in->data[0] & 0x0f;
  frame->payload = g_bytes_new (r->in->data + header, length);
  g_byte_array_remove_range (r->in, 0, size);
  return frame;
}

static Frame *
raw_expect_frame (Raw * r)
{
  return raw_expect_frame_ms (r, WAIT_TIMEOUT_MS);
}

/* Lets the server handle what is ready for it, without waiting. */
static void
settle (void)
{
  while (g_main_context_iteration (NULL, FALSE));
}

/* Appends one masked frame to @bytes (to send several in one write). */
static void
frame_append (GByteArray * bytes, guint8 b0, const void *payload, gsize length)
{
  g_autoptr (GByteArray) frame = frame_build (b0, TRUE, length, payload,
      length);

  g_byte_array_append (bytes, frame->data, frame->len);
}

static void
raw_send_frame (Raw * r, guint8 b0, const void *payload, gsize length)
{
  g_autoptr (GByteArray) frame = frame_build (b0, TRUE, length, payload,
      length);

  raw_write (r, frame->data, frame->len);
}

static void
raw_send_text (Raw * r, const gchar * text)
{
  raw_send_frame (r, FIN | OP_TEXT, text, strlen (text));
}

static void
raw_send_close (Raw * r, gushort code, const gchar * reason)
{
  guint8 payload[125];
  gsize length = 2 + (reason ? strlen (reason) : 0);

  g_assert_cmpuint (length, <=, sizeof (payload));
  payload[0] = code >> 8;
  payload[1] = code & 0xff;
  if (reason)
    memcpy (payload + 2, reason, length - 2);
  raw_send_frame (r, FIN | OP_CLOSE, payload, length);
}

static gboolean
headers_complete (Raw * r)
{
  raw_fill (r);
  return r->eof || (r->in->len > 0 && g_strstr_len ((const gchar *)
          r->in->data, r->in->len, "\r\n\r\n") != NULL);
}

/* Connects and does the opening handshake by hand (RFC 6455, 4.1).
 * @receive_buffer: SO_RCVBUF if not 0 (set before connecting, so that the
 * TCP window is small too); @with_request: frames written in the same
 * write as the request, before the server's answer (or NULL). */
static Raw *
raw_connect_full (LetsChatRoomServer * server, gint receive_buffer,
    const GByteArray * with_request)
{
  Raw *r = g_new0 (Raw, 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocketAddress) address = NULL;
  g_autoptr (GByteArray) request = g_byte_array_new ();
  g_autofree gchar *headers = NULL;
  g_autofree gchar *response = NULL;
  g_autofree gchar *lower = NULL;
  guint16 port = letschat_room_server_get_port (server);
  const gchar *end;

  r->in = g_byte_array_new ();
  r->seen = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  r->socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, &error);
  g_assert_no_error (error);
  if (receive_buffer > 0)
    g_assert_true (g_socket_set_option (r->socket, SOL_SOCKET, SO_RCVBUF,
            receive_buffer, &error));
  /* Small writes go out as they are written, so that "one byte per write"
   * reaches the server one byte at a time. */
  g_assert_true (g_socket_set_option (r->socket, IPPROTO_TCP, TCP_NODELAY,
          1, &error));
  /* Blocking is fine for the connect itself: the kernel completes it
   * (listen backlog) without the server's thread. */
  address = g_inet_socket_address_new_from_string ("127.0.0.1", port);
  g_assert_true (g_socket_connect (r->socket, address, NULL, &error));
  g_assert_no_error (error);
  g_socket_set_blocking (r->socket, FALSE);

  headers = g_strdup_printf ("GET /ws HTTP/1.1\r\n"
      "Host: 127.0.0.1:%u\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Key: " HANDSHAKE_KEY "\r\n"
      "Sec-WebSocket-Version: 13\r\n" "\r\n", port);
  g_byte_array_append (request, (const guint8 *) headers, strlen (headers));
  if (with_request)
    g_byte_array_append (request, with_request->data, with_request->len);
  raw_write (r, request->data, request->len);

  WAIT_UNTIL (headers_complete (r));
  g_assert_cmpuint (r->in->len, >, 0);
  end = g_strstr_len ((const gchar *) r->in->data, r->in->len, "\r\n\r\n");
  g_assert_nonnull (end);
  response = g_strndup ((const gchar *) r->in->data,
      end - (const gchar *) r->in->data);
  g_byte_array_remove_range (r->in, 0, end + 4 - (const gchar *) r->in->data);

  g_assert_true (g_str_has_prefix (response, "HTTP/1.1 101 "));
  /* header names are case-insensitive (RFC 9110) */
  lower = g_ascii_strdown (response, -1);
  g_assert_nonnull (strstr (lower, "\r\nupgrade: websocket"));
  g_assert_nonnull (strstr (response, HANDSHAKE_ACCEPT));
  /* no extension was asked for, so none may be answered */
  g_assert_null (strstr (lower, "sec-websocket-extensions"));
  return r;
}

static Raw *
raw_connect (LetsChatRoomServer * server)
{
  return raw_connect_full (server, 0, NULL);
}

/* Ends the TCP connection (if the server has not), and frees. */
static void
raw_free (Raw * r)
{
  g_socket_close (r->socket, NULL);
  g_object_unref (r->socket);
  g_byte_array_unref (r->in);
  g_ptr_array_unref (r->seen);
  g_free (r);
}

/* The next frame is a whole text message of the protocol with @type;
 * returns its object (valid until raw_free()). */
static JsonObject *
raw_expect_message (Raw * r, const gchar * type)
{
  g_autoptr (Frame) frame = raw_expect_frame (r);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonNode *root;
  JsonObject *object;
  gsize size;
  const gchar *data = g_bytes_get_data (frame->payload, &size);

  if (frame->opcode != OP_TEXT) {
    g_autofree gchar *got = frame_describe (frame);

    g_error ("Expected a \"%s\" message, got %s", type, got);
  }
  g_assert_true (frame->fin);
  g_assert_true (json_parser_load_from_data (parser, data, size, &error));
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  object = json_node_get_object (root);
  if (g_strcmp0 (json_object_get_string_member (object, "type"), type) != 0)
    g_error ("Expected a \"%s\" message, got %.*s", type, (int) size, data);
  g_ptr_array_add (r->seen, json_node_ref (root));
  return object;
}

static void
raw_expect_error (Raw * r, const gchar * code)
{
  JsonObject *error = raw_expect_message (r, "error");

  g_assert_cmpstr (json_object_get_string_member (error, "code"), ==, code);
}

static JsonObject *
raw_join (Raw * r, const gchar * room)
{
  g_autofree gchar *join = g_strdup_printf ("{\"type\":\"join\","
      "\"room\":\"%s\"}", room);

  raw_send_text (r, join);
  return raw_expect_message (r, "welcome");
}

static void
raw_expect_pong (Raw * r, const void *payload, gsize length)
{
  g_autoptr (Frame) frame = raw_expect_frame (r);
  gsize size;
  const void *data = g_bytes_get_data (frame->payload, &size);

  if (frame->opcode != OP_PONG) {
    g_autofree gchar *got = frame_describe (frame);

    g_error ("Expected a pong, got %s", got);
  }
  g_assert_true (frame->fin);
  g_assert_cmpmem (data, size, payload, length);
}

/* The server ended the TCP connection, and sent nothing more before. */
static void
raw_expect_eof (Raw * r)
{
  gsize header;
  guint64 length;

  WAIT_UNTIL (raw_frame_or_eof (r));
  if (raw_frame_size (r, &header, &length) > 0) {
    g_autoptr (Frame) frame = raw_expect_frame (r);
    g_autofree gchar *got = frame_describe (frame);

    g_error ("Expected the end of the connection, got %s", got);
  }
  g_assert_true (r->eof);
  /* not even part of a frame */
  g_assert_cmpuint (r->in->len, ==, 0);
}

/* The next frame is a close frame with @code and a UTF-8 reason. */
static void
raw_expect_close_frame (Raw * r, gushort code)
{
  g_autoptr (Frame) frame = raw_expect_frame (r);
  gsize size;
  const guint8 *data = g_bytes_get_data (frame->payload, &size);

  if (frame->opcode != OP_CLOSE || size < 2
      || ((data[0] << 8) | data[1]) != code) {
    g_autofree gchar *got = frame_describe (frame);

    g_error ("Expected a close frame with code %u, got %s", code, got);
  }
  g_assert_true (frame->fin);
  g_assert_true (g_utf8_validate ((const gchar *) data + 2, size - 2, NULL));
}

/* A close frame with @code, then the server ends the TCP connection
 * without waiting for ours: it failed the connection (RFC 6455, 7.1.7), or
 * answered our close. */
static void
raw_expect_close (Raw * r, gushort code)
{
  raw_expect_close_frame (r, code);
  raw_expect_eof (r);
}

/* The normal end of a test's connection: our close, the server's answer
 * echoing it, the TCP connection ended by the server. */
static void
raw_close_and_free (Raw * r)
{
  raw_send_close (r, CLOSE_NORMAL, NULL);
  raw_expect_close (r, CLOSE_NORMAL);
  raw_free (r);
}

/* A new connection gets @bytes in one write, and must be failed with
 * @code. */
static void
expect_refused (LetsChatRoomServer * server, const GByteArray * bytes,
    gushort code)
{
  Raw *r = raw_connect (server);

  raw_write (r, bytes->data, bytes->len);
  raw_expect_close (r, code);
  raw_free (r);
}

/* Same, for a single frame. */
static void
expect_frame_refused (LetsChatRoomServer * server, guint8 b0,
    const void *payload, gsize length, gushort code)
{
  g_autoptr (GByteArray) bytes = frame_build (b0, TRUE, length, payload,
      length);

  expect_refused (server, bytes, code);
}

/* 1: a frame cut at every byte is put back together. */
static void
test_split_everywhere (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  Raw *r = raw_connect (server);
  const gchar *join = "{\"type\":\"join\",\"room\":\"split\"}";
  g_autoptr (GByteArray) frame = frame_build (FIN | OP_TEXT, TRUE,
      strlen (join), join, strlen (join));
  JsonObject *welcome;
  guint i;

  for (i = 0; i < frame->len; i++) {
    raw_write (r, frame->data + i, 1);
    settle ();
  }
  welcome = raw_expect_message (r, "welcome");
  g_assert_cmpstr (json_object_get_string_member (welcome, "room"), ==,
      "split");

  /* and a 16-bit length cut inside its length field */
  {
    g_autofree gchar *ping = g_strnfill (130, 'p');
    g_autoptr (GByteArray) big = frame_build (FIN | OP_TEXT, TRUE, 130, ping,
        130);

    raw_write (r, big->data, 3);
    settle ();
    raw_write (r, big->data + 3, big->len - 3);
    raw_expect_error (r, "bad-request");
  }

  /* Two sockets cut at every byte, in turns: what one has of a frame is
   * its own (the server reads every socket into one shared buffer). */
  {
    Raw *other = raw_connect (server);
    /* shorter than the signal, which ends after it */
    const gchar *other_join = "{\"type\":\"join\",\"room\":\"split\"}";
    g_autoptr (GByteArray) other_frame = frame_build (FIN | OP_TEXT, TRUE,
        strlen (other_join), other_join, strlen (other_join));
    const gchar *signal = "{\"type\":\"signal\",\"data\":{\"ice\":null}}";
    g_autoptr (GByteArray) signal_frame = frame_build (FIN | OP_TEXT, TRUE,
        strlen (signal), signal, strlen (signal));

    for (i = 0; i < MAX (other_frame->len, signal_frame->len); i++) {
      if (i < other_frame->len)
        raw_write (other, other_frame->data + i, 1);
      settle ();
      if (i < signal_frame->len)
        raw_write (r, signal_frame->data + i, 1);
      settle ();
    }
    raw_expect_message (other, "welcome");
    raw_expect_message (r, "peer-joined");
    /* the signal was whole only after the other one joined */
    g_assert_true (json_object_get_null_member (json_object_get_object_member
            (raw_expect_message (other, "signal"), "data"), "ice"));
    raw_send_close (other, CLOSE_NORMAL, NULL);
    raw_expect_close (other, CLOSE_NORMAL);
    raw_expect_message (r, "peer-left");
    raw_free (other);
  }

  raw_close_and_free (r);
  server_free (server);
}

/* 2: several frames in one write are each handled, in order. */
static void
test_coalesced (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  Raw *r = raw_connect (server);
  const gchar *join = "{\"type\":\"join\",\"room\":\"coalesced\"}";
  const gchar *bad = "this is not JSON";
  g_autoptr (GByteArray) bytes = g_byte_array_new ();

  frame_append (bytes, FIN | OP_TEXT, join, strlen (join));
  frame_append (bytes, FIN | OP_TEXT, bad, strlen (bad));
  frame_append (bytes, FIN | OP_PING, "after", 5);
  raw_write (r, bytes->data, bytes->len);

  raw_expect_message (r, "welcome");
  raw_expect_error (r, "bad-request");
  raw_expect_pong (r, "after", 5);

  /* the end of one frame and the start of the next in one write */
  g_byte_array_set_size (bytes, 0);
  frame_append (bytes, FIN | OP_PING, "one", 3);
  frame_append (bytes, FIN | OP_PING, "two", 3);
  raw_write (r, bytes->data, 5);
  settle ();
  raw_write (r, bytes->data + 5, bytes->len - 5);
  raw_expect_pong (r, "one", 3);
  raw_expect_pong (r, "two", 3);

  raw_close_and_free (r);
  server_free (server);
}

/* 3: a message in three frames is one message; a ping between its frames
 * is answered at once. */
static void
test_fragmented (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  Raw *r = raw_connect (server);
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  JsonObject *welcome;

  raw_send_frame (r, OP_TEXT, "{\"type\":", 8);
  raw_send_frame (r, OP_CONTINUATION, "\"join\",\"room\":", 14);
  raw_send_frame (r, FIN | OP_PING, "between", 7);
  /* the pong comes before the message is whole */
  raw_expect_pong (r, "between", 7);
  raw_send_frame (r, FIN | OP_CONTINUATION, "\"fragments\"}", 12);
  welcome = raw_expect_message (r, "welcome");
  g_assert_cmpstr (json_object_get_string_member (welcome, "room"), ==,
      "fragments");

  /* the same with every frame in one write, and empty fragments */
  frame_append (bytes, OP_TEXT, NULL, 0);
  frame_append (bytes, OP_CONTINUATION, "{\"type\":\"le", 11);
  frame_append (bytes, FIN | OP_PING, NULL, 0);
  frame_append (bytes, OP_CONTINUATION, "ave\"}", 5);
  frame_append (bytes, FIN | OP_CONTINUATION, NULL, 0);
  /* after the leave, "not-joined": the leave was one message */
  frame_append (bytes, FIN | OP_TEXT, "{\"type\":\"leave\"}", 16);
  raw_write (r, bytes->data, bytes->len);
  raw_expect_pong (r, NULL, 0);
  raw_expect_error (r, "not-joined");

  raw_close_and_free (r);
  server_free (server);
}

/* 4: a ping's payload comes back in the pong, up to the 125 bytes a
 * control frame may carry. */
static void
test_ping (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  Raw *r = raw_connect (server);
  guint8 payload[125];
  guint i;

  for (i = 0; i < sizeof (payload); i++)
    payload[i] = i * 7;         /* binary, not UTF-8: pings may carry any */
  raw_send_frame (r, FIN | OP_PING, "hello", 5);
  raw_expect_pong (r, "hello", 5);
  raw_send_frame (r, FIN | OP_PING, NULL, 0);
  raw_expect_pong (r, NULL, 0);
  raw_send_frame (r, FIN | OP_PING, payload, sizeof (payload));
  raw_expect_pong (r, payload, sizeof (payload));
  /* an unasked-for pong is allowed (5.5.3) and not answered */
  raw_send_frame (r, FIN | OP_PONG, "unasked", 7);
  raw_send_frame (r, FIN | OP_PING, "last", 4);
  raw_expect_pong (r, "last", 4);

  raw_close_and_free (r);
  server_free (server);
}

/* 5: a client must mask every frame (5.1). */
static void
test_unmasked (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  const gchar *join = "{\"type\":\"join\",\"room\":\"unmasked\"}";
  g_autoptr (GByteArray) text = frame_build (FIN | OP_TEXT, FALSE,
      strlen (join), join, strlen (join));
  g_autoptr (GByteArray) ping = frame_build (FIN | OP_PING, FALSE, 2, "hi", 2);

  /* the first frame back is the close, not a welcome */
  expect_refused (server, text, CLOSE_PROTOCOL_ERROR);
  expect_refused (server, ping, CLOSE_PROTOCOL_ERROR);
  server_free (server);
}

/* 6: no extension was negotiated, so no reserved bit may be set, and
 * opcodes 0x3-0x7 and 0xB-0xF mean nothing (5.2). */
static void
test_reserved (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  const gchar *leave = "{\"type\":\"leave\"}";
  const guint8 rsv[] = { RSV1, RSV2, RSV3 };
  const guint8 opcodes[] = { 0x3, 0x7, 0xb, 0xf };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (rsv); i++)
    expect_frame_refused (server, FIN | rsv[i] | OP_TEXT, leave,
        strlen (leave), CLOSE_PROTOCOL_ERROR);
  for (i = 0; i < G_N_ELEMENTS (opcodes); i++)
    expect_frame_refused (server, FIN | opcodes[i], leave, strlen (leave),
        CLOSE_PROTOCOL_ERROR);
  server_free (server);
}

/* 7: continuation frames only continue a message, and a message must end
 * before the next one begins (5.4). */
static void
test_bad_fragments (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  const gchar *leave = "{\"type\":\"leave\"}";
  g_autoptr (GByteArray) bytes = g_byte_array_new ();

  expect_frame_refused (server, FIN | OP_CONTINUATION, leave, strlen (leave),
      CLOSE_PROTOCOL_ERROR);
  expect_frame_refused (server, OP_CONTINUATION, leave, strlen (leave),
      CLOSE_PROTOCOL_ERROR);

  frame_append (bytes, OP_TEXT, "{\"type\":", 8);
  frame_append (bytes, FIN | OP_TEXT, leave, strlen (leave));
  expect_refused (server, bytes, CLOSE_PROTOCOL_ERROR);

  /* the same once a whole fragmented message went through */
  g_byte_array_set_size (bytes, 0);
  frame_append (bytes, OP_TEXT, "{\"type\":", 8);
  frame_append (bytes, FIN | OP_CONTINUATION, "\"leave\"}", 8);
  frame_append (bytes, FIN | OP_CONTINUATION, leave, strlen (leave));
  {
    Raw *r = raw_connect (server);

    raw_write (r, bytes->data, bytes->len);
    raw_expect_error (r, "not-joined");
    raw_expect_close (r, CLOSE_PROTOCOL_ERROR);
    raw_free (r);
  }
  server_free (server);
}

/* 8: control frames carry at most 125 bytes and are never fragmented
 * (5.5). */
static void
test_bad_control (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  g_autofree gchar *big = g_strnfill (126, 'x');
  g_autoptr (GByteArray) bytes = g_byte_array_new ();

  expect_frame_refused (server, FIN | OP_PING, big, 126, CLOSE_PROTOCOL_ERROR);
  expect_frame_refused (server, FIN | OP_PONG, big, 126, CLOSE_PROTOCOL_ERROR);
  expect_frame_refused (server, FIN | OP_CLOSE, big, 126, CLOSE_PROTOCOL_ERROR);
  expect_frame_refused (server, OP_PING, "part", 4, CLOSE_PROTOCOL_ERROR);

  /* a fragmented ping is refused even inside a fragmented message */
  frame_append (bytes, OP_TEXT, "{\"type\":", 8);
  frame_append (bytes, OP_PING, "part", 4);
  expect_refused (server, bytes, CLOSE_PROTOCOL_ERROR);
  server_free (server);
}

/* 9: text must be UTF-8 (8.1); a character may straddle two fragments. */
static void
test_not_utf8 (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  const gchar *invalid[] = {
    "\xc3\x28",                 /* a lead byte without its continuation */
    "\xc0\xaf",                 /* overlong '/' */
    "\xed\xa0\x80",             /* a UTF-16 surrogate */
    "\xf4\x90\x80\x80",         /* past U+10FFFF */
    "{\"type\":\"leave\",\"x\":\"\xff\"}",
  };
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (invalid); i++)
    expect_frame_refused (server, FIN | OP_TEXT, invalid[i],
        strlen (invalid[i]), CLOSE_BAD_DATA);

  /* invalid only once the fragments are put together */
  frame_append (bytes, OP_TEXT, "\xe2\x82", 2);
  frame_append (bytes, FIN | OP_CONTINUATION, "(", 1);
  expect_refused (server, bytes, CLOSE_BAD_DATA);

  /* valid once put together: "é" cut in two */
  {
    Raw *r = raw_connect (server);
    JsonObject *welcome;
    const gchar *head = "{\"type\":\"join\",\"room\":\"utf8\","
        "\"name\":\"Ren\xc3";
    const gchar *tail = "\xa9\"}";

    raw_send_frame (r, OP_TEXT, head, strlen (head));
    raw_send_frame (r, FIN | OP_CONTINUATION, tail, strlen (tail));
    welcome = raw_expect_message (r, "welcome");
    g_assert_cmpstr (json_object_get_string_member (welcome, "room"), ==,
        "utf8");

    /* Binary frames are not text: not UTF-8 is no reason to close (the
     * protocol refuses binary), whole or in fragments. */
    raw_send_frame (r, FIN | OP_BINARY, "\xc3\x28", 2);
    raw_expect_error (r, "bad-request");
    raw_send_frame (r, OP_BINARY, "\xff", 1);
    raw_send_frame (r, FIN | OP_CONTINUATION, "\xfe", 1);
    raw_expect_error (r, "bad-request");
    raw_send_close (r, CLOSE_NORMAL, NULL);
    raw_expect_close (r, CLOSE_NORMAL);
    raw_free (r);
  }
  server_free (server);
}

/* 10: the WebSocket layer's limit is max-message-size times
 * WEBSOCKET_PAYLOAD_FACTOR (4, letschat-room-server.c): past it the socket
 * is closed (1009), before the payload is waited for; under it, a message
 * over max-message-size is the protocol's too-large error and the socket
 * stays open. */
#define MAX_MESSAGE_SIZE 1000
#define WEBSOCKET_LIMIT (4 * MAX_MESSAGE_SIZE)

static void
test_too_big (void)
{
  LetsChatRoomServer *server = server_new (MAX_MESSAGE_SIZE, 10, 0);
  g_autofree gchar *text = g_strnfill (WEBSOCKET_LIMIT + 1, 'a');
  g_autoptr (GByteArray) bytes = NULL;

  /* a giant announced, nothing sent after the header and its mask: the
   * close can only come if the server does not wait for the payload */
  bytes = frame_build (FIN | OP_TEXT, TRUE, G_GUINT64_CONSTANT (1) << 40,
      NULL, 0);
  expect_refused (server, bytes, CLOSE_TOO_BIG);
  g_clear_pointer (&bytes, g_byte_array_unref);
  bytes = frame_build (FIN | OP_TEXT, TRUE, WEBSOCKET_LIMIT + 1, NULL, 0);
  expect_refused (server, bytes, CLOSE_TOO_BIG);
  g_clear_pointer (&bytes, g_byte_array_unref);
  /* the most significant bit of a 64-bit length must be 0 (5.2); such a
   * length is over any limit too, and either code says why */
  {
    Raw *r = raw_connect (server);
    g_autoptr (Frame) frame = NULL;
    const guint8 *code;

    bytes = frame_build (FIN | OP_TEXT, TRUE, G_GUINT64_CONSTANT (1) << 63,
        NULL, 0);
    raw_write (r, bytes->data, bytes->len);
    g_clear_pointer (&bytes, g_byte_array_unref);
    frame = raw_expect_frame (r);
    g_assert_cmpuint (frame->opcode, ==, OP_CLOSE);
    g_assert_cmpuint (g_bytes_get_size (frame->payload), >=, 2);
    code = g_bytes_get_data (frame->payload, NULL);
    g_assert_true (((code[0] << 8) | code[1]) == CLOSE_TOO_BIG
        || ((code[0] << 8) | code[1]) == CLOSE_PROTOCOL_ERROR);
    raw_expect_eof (r);
    raw_free (r);
  }

  /* one byte over, whole */
  expect_frame_refused (server, FIN | OP_TEXT, text, WEBSOCKET_LIMIT + 1,
      CLOSE_TOO_BIG);
  /* one byte over, in fragments each under the limit */
  bytes = g_byte_array_new ();
  frame_append (bytes, OP_TEXT, text, 3000);
  frame_append (bytes, FIN | OP_CONTINUATION, text, WEBSOCKET_LIMIT + 1 - 3000);
  expect_refused (server, bytes, CLOSE_TOO_BIG);

  /* over max-message-size but within the WebSocket limit (at it, and
   * under): the protocol's error, and the socket stays open */
  {
    Raw *r = raw_connect (server);

    raw_send_frame (r, FIN | OP_TEXT, text, WEBSOCKET_LIMIT);
    raw_expect_error (r, "too-large");
    raw_send_frame (r, FIN | OP_TEXT, text, MAX_MESSAGE_SIZE + 1);
    raw_expect_error (r, "too-large");
    raw_send_frame (r, OP_TEXT, text, 2000);
    raw_send_frame (r, FIN | OP_CONTINUATION, text, 2000);
    raw_expect_error (r, "too-large");
    raw_join (r, "still-open");
    raw_send_close (r, CLOSE_NORMAL, NULL);
    raw_expect_close (r, CLOSE_NORMAL);
    raw_free (r);
  }
  server_free (server);
}

/* 11: the close handshake (5.5.1, 7.1): the server echoes the client's
 * close and ends the TCP connection; malformed close frames are protocol
 * errors (7.4). */
static void
test_close (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  const gushort bad_codes[] = { 0, 999, 1004, 1005, 1006, 1015, 2999, 5000 };
  guint8 payload[4];
  guint i;

  {
    Raw *r = raw_connect (server);

    raw_join (r, "closing");
    g_assert_cmpuint (letschat_room_server_get_n_connections (server), ==, 1);
    raw_send_close (r, CLOSE_NORMAL, "bye");
    raw_expect_close (r, CLOSE_NORMAL);
    WAIT_UNTIL (letschat_room_server_get_n_connections (server) == 0);
    g_assert_cmpuint (letschat_room_server_get_n_rooms (server), ==, 0);
    raw_free (r);
  }

  /* a close without a code is answered, with no code (1005 is never
   * sent) */
  {
    Raw *r = raw_connect (server);
    g_autoptr (Frame) frame = NULL;

    raw_send_frame (r, FIN | OP_CLOSE, NULL, 0);
    frame = raw_expect_frame (r);
    g_assert_cmpuint (frame->opcode, ==, OP_CLOSE);
    g_assert_cmpuint (g_bytes_get_size (frame->payload), ==, 0);
    raw_expect_eof (r);
    raw_free (r);
  }

  /* codes a client may send are echoed */
  {
    const gushort good_codes[] = { 1001, 1003, 1011, 1012, 1014, 3000, 4999 };

    for (i = 0; i < G_N_ELEMENTS (good_codes); i++) {
      Raw *r = raw_connect (server);

      raw_send_close (r, good_codes[i], "fine");
      raw_expect_close (r, good_codes[i]);
      raw_free (r);
    }
  }

  /* a close code of one byte */
  expect_frame_refused (server, FIN | OP_CLOSE, "\x03", 1,
      CLOSE_PROTOCOL_ERROR);
  /* codes a client may not send */
  for (i = 0; i < G_N_ELEMENTS (bad_codes); i++) {
    payload[0] = bad_codes[i] >> 8;
    payload[1] = bad_codes[i] & 0xff;
    expect_frame_refused (server, FIN | OP_CLOSE, payload, 2,
        CLOSE_PROTOCOL_ERROR);
  }
  /* a reason that is not UTF-8 */
  payload[0] = CLOSE_NORMAL >> 8;
  payload[1] = CLOSE_NORMAL & 0xff;
  payload[2] = 0xc3;
  payload[3] = 0x28;
  expect_frame_refused (server, FIN | OP_CLOSE, payload, 4, CLOSE_BAD_DATA);

  /* a message and the close in one write: the message is handled first */
  {
    Raw *r = raw_connect (server);
    const gchar *join = "{\"type\":\"join\",\"room\":\"then-close\"}";
    g_autoptr (GByteArray) bytes = g_byte_array_new ();

    payload[0] = CLOSE_NORMAL >> 8;
    payload[1] = CLOSE_NORMAL & 0xff;
    frame_append (bytes, FIN | OP_TEXT, join, strlen (join));
    frame_append (bytes, FIN | OP_CLOSE, payload, 2);
    raw_write (r, bytes->data, bytes->len);
    raw_expect_message (r, "welcome");
    raw_expect_close (r, CLOSE_NORMAL);
    raw_free (r);
  }

  /* nothing after a close is read: the join never gets its welcome */
  {
    Raw *r = raw_connect (server);
    const gchar *join = "{\"type\":\"join\",\"room\":\"after-close\"}";
    g_autoptr (GByteArray) bytes = g_byte_array_new ();

    payload[0] = 3000 >> 8;
    payload[1] = 3000 & 0xff;
    frame_append (bytes, FIN | OP_CLOSE, payload, 2);
    frame_append (bytes, FIN | OP_TEXT, join, strlen (join));
    raw_write (r, bytes->data, bytes->len);
    raw_expect_close (r, 3000);
    raw_free (r);
  }
  server_free (server);
}

/* 12: the server's pings, and what it does about a party that stops
 * answering them (ping-interval 1 s, ping-timeout 2 s). */
static gboolean
seconds_passed (gint64 since, guint seconds)
{
  return g_get_monotonic_time () - since >= seconds * G_USEC_PER_SEC;
}

static void
test_server_pings (void)
{
  LetsChatRoomServer *server = server_new (65536, 1, 2);
  Raw *answers = raw_connect (server);
  Raw *silent = raw_connect (server);
  gint64 start;

  answers->answer_pings = TRUE;
  raw_join (answers, "pings");
  raw_join (silent, "pings");
  raw_expect_message (answers, "peer-joined");
  start = g_get_monotonic_time ();

  /* a ping comes within the interval (and the second the server's timer
   * may take) */
  WAIT_UNTIL_MS ((raw_frame_or_eof (answers), answers->n_pings > 0), 3000);

  /* The silent party is closed once ping-timeout passed without a word
   * from it: a going-away close frame, or at least the end of the TCP
   * connection. The other one answers all the while. */
  WAIT_UNTIL_MS ((raw_frame_or_eof (answers), raw_frame_or_eof (silent)), 6000);
  g_assert_cmpuint (silent->n_pings, >, 0);
  if (!silent->eof || silent->in->len > 0) {
    raw_expect_close_frame (silent, CLOSE_GOING_AWAY);
    /* our answer to the close; then the server ends the connection */
    raw_send_close (silent, CLOSE_GOING_AWAY, NULL);
    raw_expect_eof (silent);
  }
  raw_free (silent);

  /* Past twice the timeout, the party that answers is still there, and
   * was told that the other one left. */
  WAIT_UNTIL_MS ((raw_frame_or_eof (answers), seconds_passed (start, 4)), 6000);
  g_assert_false (answers->eof);
  raw_expect_message (answers, "peer-left");
  g_assert_cmpuint (answers->n_pings, >=, 2);
  WAIT_UNTIL (letschat_room_server_get_n_connections (server) == 1);

  /* after our close, nothing more is sent (not even pongs) */
  answers->answer_pings = FALSE;
  raw_close_and_free (answers);
  server_free (server);
}

/* The server going down closes every socket with 1001, and waits for the
 * close handshake (n_connections) before it lets go of them. */
static void
test_server_shutdown (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  Raw *r = raw_connect (server);

  raw_join (r, "shutdown");
  letschat_room_server_shutdown (server);
  raw_expect_close_frame (r, CLOSE_GOING_AWAY);
  g_assert_cmpuint (letschat_room_server_get_n_connections (server), ==, 1);
  raw_send_close (r, CLOSE_GOING_AWAY, NULL);
  raw_expect_eof (r);
  WAIT_UNTIL (letschat_room_server_get_n_connections (server) == 0);
  raw_free (r);
  server_free (server);
}

/* 13: a party whose socket goes without a close frame leaves its room. */
static void
test_vanish (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  Raw *stays = raw_connect (server);
  Raw *vanishes = raw_connect (server);
  JsonObject *welcome, *left;
  g_autofree gchar *id = NULL;

  raw_join (stays, "vanish");
  welcome = raw_join (vanishes, "vanish");
  id = g_strdup (json_object_get_string_member (welcome, "id"));
  raw_expect_message (stays, "peer-joined");

  raw_free (vanishes);
  left = raw_expect_message (stays, "peer-left");
  g_assert_cmpstr (json_object_get_string_member
      (json_object_get_object_member (left, "peer"), "id"), ==, id);
  WAIT_UNTIL (letschat_room_server_get_n_connections (server) == 1);

  /* the same with a reset (a linger of 0 s), not a FIN, in the middle of
   * a frame */
  {
    struct linger linger = { 1, 0 };
    g_autoptr (GByteArray) bytes = g_byte_array_new ();

    vanishes = raw_connect (server);
    welcome = raw_join (vanishes, "vanish");
    g_free (id);
    id = g_strdup (json_object_get_string_member (welcome, "id"));
    raw_expect_message (stays, "peer-joined");
    frame_append (bytes, FIN | OP_TEXT, "{\"type\":\"leave\"}", 16);
    raw_write (vanishes, bytes->data, 5);
    settle ();
    g_assert_cmpint (setsockopt (g_socket_get_fd (vanishes->socket),
            SOL_SOCKET, SO_LINGER, &linger, sizeof (linger)), ==, 0);
    raw_free (vanishes);
    left = raw_expect_message (stays, "peer-left");
    g_assert_cmpstr (json_object_get_string_member
        (json_object_get_object_member (left, "peer"), "id"), ==, id);
    WAIT_UNTIL (letschat_room_server_get_n_connections (server) == 1);
  }

  raw_close_and_free (stays);
  server_free (server);
}

/* A signal message of exactly @size bytes; its candidate (returned in
 * @candidate) fills what the JSON around it leaves. Not one repeated byte,
 * and different for each @seed: a misplaced or repeated chunk would show. */
static gchar *
signal_of_size (gsize size, guint seed, gchar ** candidate)
{
  const gchar *head =
      "{\"type\":\"signal\",\"data\":{\"ice\":{\"candidate\":\"";
  const gchar *tail = "\",\"sdpMLineIndex\":0,\"sdpMid\":\"0\"}}}";
  const gchar *alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  gsize n_filler = size - strlen (head) - strlen (tail), i;
  gchar *text;

  *candidate = g_malloc (n_filler + 1);
  for (i = 0; i < n_filler; i++)
    (*candidate)[i] = alphabet[(i * 7 + i / 36 + seed) % 36];
  (*candidate)[n_filler] = '\0';
  text = g_strconcat (head, *candidate, tail, NULL);
  g_assert_cmpuint (strlen (text), ==, size);
  return text;
}

/* The next message of @to is the signal @from_id sent with @candidate. */
static void
expect_signal (Raw * to, const gchar * from_id, const gchar * candidate)
{
  JsonObject *signal = raw_expect_message (to, "signal");
  JsonObject *ice;

  g_assert_cmpstr (json_object_get_string_member (signal, "from"), ==, from_id);
  ice = json_object_get_object_member (json_object_get_object_member (signal,
          "data"), "ice");
  g_assert_cmpstr (json_object_get_string_member (ice, "candidate"), ==,
      candidate);
  g_assert_cmpint (json_object_get_int_member (ice, "sdpMLineIndex"), ==, 0);
  g_assert_cmpstr (json_object_get_string_member (ice, "sdpMid"), ==, "0");
}

/* 14: payloads in the 16-bit and 64-bit length forms are relayed intact.
 * @size: the client frame's payload. */
static void
relay_signal_of_size (Raw * from, const gchar * from_id, Raw * to, gsize size)
{
  g_autofree gchar *candidate = NULL;
  g_autofree gchar *text = signal_of_size (size, 0, &candidate);

  raw_send_text (from, text);
  expect_signal (to, from_id, candidate);
}

static void
test_length_forms (void)
{
  LetsChatRoomServer *server = server_new (100000, 10, 0);
  Raw *a = raw_connect (server);
  Raw *b = raw_connect (server);
  g_autofree gchar *a_id = NULL;
  g_autofree gchar *b_id = NULL;

  a_id = g_strdup (json_object_get_string_member (raw_join (a, "lengths"),
          "id"));
  b_id = g_strdup (json_object_get_string_member (raw_join (b, "lengths"),
          "id"));
  raw_expect_message (a, "peer-joined");

  relay_signal_of_size (a, a_id, b, 200);       /* 16-bit length */
  relay_signal_of_size (b, b_id, a, 70000);     /* 64-bit length */
  relay_signal_of_size (a, a_id, b, 125);       /* the 7-bit form's largest */
  relay_signal_of_size (a, a_id, b, 126);       /* the 16-bit form's smallest */
  relay_signal_of_size (b, b_id, a, 65535);
  relay_signal_of_size (b, b_id, a, 65536);

  raw_send_close (a, CLOSE_NORMAL, NULL);
  raw_expect_close (a, CLOSE_NORMAL);
  raw_expect_message (b, "peer-left");
  raw_send_close (b, CLOSE_NORMAL, NULL);
  raw_expect_close (b, CLOSE_NORMAL);
  raw_free (a);
  raw_free (b);
  server_free (server);
}

/* A ping inside a fragmented message is not part of the message (5.4,
 * 5.5): it does not count against the message's size. */
static void
test_ping_inside_large_message (void)
{
  LetsChatRoomServer *server = server_new (MAX_MESSAGE_SIZE, 10, 0);
  g_autofree gchar *text = g_strnfill (WEBSOCKET_LIMIT, 'a');
  Raw *r = raw_connect (server);

  raw_send_frame (r, OP_TEXT, text, WEBSOCKET_LIMIT - 10);
  raw_send_frame (r, FIN | OP_PING, "twenty bytes of ping", 20);
  raw_expect_pong (r, "twenty bytes of ping", 20);
  raw_send_frame (r, FIN | OP_CONTINUATION, text, 10);
  raw_expect_error (r, "too-large");

  raw_close_and_free (r);
  server_free (server);
}

/* U+0000 is valid UTF-8 (RFC 3629): a text frame holding it is not a
 * reason to fail the connection (8.1); the protocol refuses it (raw
 * control characters are not JSON) and the socket stays open. */
static void
test_nul_is_utf8 (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  static const gchar text[] = "{\"type\":\"leave\",\"x\":\"\0\"}";
  Raw *r = raw_connect (server);

  raw_send_frame (r, FIN | OP_TEXT, text, sizeof (text) - 1);
  raw_expect_error (r, "bad-request");
  /* and in a close reason */
  raw_send_frame (r, FIN | OP_CLOSE, "\x03\xe8\0", 3);
  raw_expect_close (r, CLOSE_NORMAL);
  raw_free (r);
  server_free (server);
}

/* Cuts the last @n bytes off @bytes into @end. */
static GByteArray *
bytes_without_end (GByteArray * bytes, guint n, guint8 * end)
{
  memcpy (end, bytes->data + bytes->len - n, n);
  return g_byte_array_set_size (bytes, bytes->len - n);
}

/* A client that sends its first frames with the handshake, before the
 * server's answer (RFC 6455, 4.1 asks it to wait): the frames are already
 * in libsoup's buffer when the socket is taken over, and are not lost. */
static void
test_frames_with_handshake (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  const gchar *join = "{\"type\":\"join\",\"room\":\"early\"}";
  g_autoptr (GByteArray) bytes = g_byte_array_new ();
  guint8 end[3];
  Raw *r;

  frame_append (bytes, FIN | OP_TEXT, join, strlen (join));
  frame_append (bytes, FIN | OP_PING, "early", 5);
  /* and the start of a frame, finished after the answer */
  frame_append (bytes, FIN | OP_PING, "late", 4);
  r = raw_connect_full (server, 0, bytes_without_end (bytes, 3, end));
  raw_write (r, end, 3);
  raw_expect_message (r, "welcome");
  raw_expect_pong (r, "early", 5);
  raw_expect_pong (r, "late", 4);

  raw_close_and_free (r);
  server_free (server);
}

/* A party that does not read while signals for it pile up (a small
 * receive window): what its socket would not take is kept, and written in
 * order once it reads. 5 MB: over what the kernel takes for a socket (4 MB
 * at most with Debian's net.ipv4.tcp_wmem), so the server keeps some, and
 * under what it keeps for a party before dropping it (4 MB, MAX_UNSENT in
 * letschat-websocket.c) plus what the kernel took. */
#define N_PILED_UP 84
#define PILED_UP_SIZE 60000

/* @a sends N_PILED_UP signals to the other party of its room, which does
 * not read; returns their candidates. */
static GPtrArray *
pile_up (Raw * a)
{
  GPtrArray *candidates = g_ptr_array_new_with_free_func (g_free);
  guint i;

  for (i = 0; i < N_PILED_UP; i++) {
    gchar *candidate;
    g_autofree gchar *text = signal_of_size (PILED_UP_SIZE, i, &candidate);

    g_ptr_array_add (candidates, candidate);
    raw_send_text (a, text);
    settle ();
  }
  return candidates;
}

static void
test_slow_reader (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  Raw *a = raw_connect (server);
  Raw *b = raw_connect_full (server, 4096, NULL);
  g_autoptr (GPtrArray) candidates = NULL;
  g_autofree gchar *a_id = NULL;
  guint i;

  a_id = g_strdup (json_object_get_string_member (raw_join (a, "slow"), "id"));
  raw_join (b, "slow");
  raw_expect_message (a, "peer-joined");

  candidates = pile_up (a);
  /* Our close, before reading: the server's answer comes after all that
   * it has for us, and then the end of the connection. */
  raw_send_close (b, CLOSE_NORMAL, NULL);
  for (i = 0; i < N_PILED_UP; i++)
    expect_signal (b, a_id, candidates->pdata[i]);
  raw_expect_close (b, CLOSE_NORMAL);
  raw_expect_message (a, "peer-left");

  raw_close_and_free (a);
  raw_free (b);
  server_free (server);
}

/* A party that never reads while much more piles up for it than the
 * server keeps (MAX_UNSENT, 4 MiB, in letschat-websocket.c, beyond what the
 * kernel takes): it is dropped, and the other party is told, rather than
 * the server's memory growing without bound. */
#define N_NEVER_READ 170

static void
test_never_reads (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  Raw *a = raw_connect (server);
  Raw *b = raw_connect_full (server, 4096, NULL);
  guint i;

  raw_join (a, "deaf");
  raw_join (b, "deaf");
  raw_expect_message (a, "peer-joined");

  for (i = 0; i < N_NEVER_READ; i++) {
    g_autofree gchar *candidate = NULL;
    g_autofree gchar *text = signal_of_size (PILED_UP_SIZE, i, &candidate);

    raw_send_text (a, text);
    settle ();
  }
  raw_expect_message (a, "peer-left");
  g_assert_cmpuint (letschat_room_server_get_n_connections (server), ==, 1);

  raw_free (b);
  raw_close_and_free (a);
  server_free (server);
}

/* The same party sends its close and never reads again: the server cannot
 * send its answer, and gives up on the close handshake after a while
 * (CLOSE_TIMEOUT_S, 5 s, in letschat-websocket.c) rather than keep the
 * socket, what it could not send, and the party's seat in the room. */
static void
test_close_without_reading (void)
{
  LetsChatRoomServer *server = server_new (65536, 10, 0);
  Raw *a = raw_connect (server);
  Raw *b = raw_connect_full (server, 4096, NULL);
  g_autoptr (GPtrArray) candidates = NULL;

  raw_join (a, "stuck");
  raw_join (b, "stuck");
  raw_expect_message (a, "peer-joined");

  candidates = pile_up (a);
  raw_send_close (b, CLOSE_NORMAL, NULL);
  WAIT_UNTIL_MS (letschat_room_server_get_n_connections (server) == 1, 10000);
  raw_expect_message (a, "peer-left");

  raw_close_and_free (a);
  raw_free (b);
  server_free (server);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/websocket/split-everywhere", test_split_everywhere);
  g_test_add_func ("/websocket/coalesced", test_coalesced);
  g_test_add_func ("/websocket/fragmented", test_fragmented);
  g_test_add_func ("/websocket/ping", test_ping);
  g_test_add_func ("/websocket/unmasked", test_unmasked);
  g_test_add_func ("/websocket/reserved", test_reserved);
  g_test_add_func ("/websocket/bad-fragments", test_bad_fragments);
  g_test_add_func ("/websocket/bad-control", test_bad_control);
  g_test_add_func ("/websocket/not-utf8", test_not_utf8);
  g_test_add_func ("/websocket/too-big", test_too_big);
  g_test_add_func ("/websocket/close", test_close);
  g_test_add_func ("/websocket/server-pings", test_server_pings);
  g_test_add_func ("/websocket/server-shutdown", test_server_shutdown);
  g_test_add_func ("/websocket/vanish", test_vanish);
  g_test_add_func ("/websocket/length-forms", test_length_forms);
  g_test_add_func ("/websocket/frames-with-handshake",
      test_frames_with_handshake);
  g_test_add_func ("/websocket/slow-reader", test_slow_reader);
  g_test_add_func ("/websocket/never-reads", test_never_reads);
  g_test_add_func ("/websocket/close-without-reading",
      test_close_without_reading);
  g_test_add_func ("/websocket/ping-inside-large-message",
      test_ping_inside_large_message);
  g_test_add_func ("/websocket/nul-is-utf8", test_nul_is_utf8);

  return g_test_run ();
}
