/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* libFuzzer target over the room server's message handling: three parties'
 * bytes in, the server's replies out, and after every message the server's
 * rooms and connections checked against each other
 * (letschat_room_server_check_invariants()). Every reply must be a valid
 * server message, which includes being strict RFC 8259 JSON in UTF-8
 * (letschat-json-strict). Messages may be as large as the real server's
 * limit (64 KiB): deep nesting behind '...' strings or comments only
 * crashed json-glib past ~100,000 levels, out of reach of small inputs. The parties have no sockets but go through the very
 * function the WebSocket handler calls.
 *
 * Input, one message per line:
 *   0<bytes>  1<bytes>  2<bytes>   a text frame from party 0, 1 or 2
 *   A<bytes>  B<bytes>  C<bytes>   a binary frame from party 0, 1 or 2
 *   x  y  z                        party 0, 1 or 2 goes away and comes back
 *   anything else                  the whole line as text from party 0
 *
 * Built by -Dfuzzing=true with clang (scripts/fuzz); normal builds replay
 * the corpus and every crash found through the same entry point
 * (fuzz-replay.c). */

#include "letschat-room-server-private.h"
#include "letschat-protocol.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N_PARTIES 3

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

static void
check_reply (const gchar * text, gpointer user_data)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (LetsChatMessage) msg =
      letschat_message_parse (text, strlen (text),
      LETSCHAT_PROTOCOL_FROM_SERVER, &error);

  if (msg == NULL) {
    g_printerr ("the server sent an invalid message: %s\n%s\n",
        error->message, text);
    abort ();
  }
}

static void
check (LetsChatRoomServer * server)
{
  g_autofree gchar *why = NULL;

  if (!letschat_room_server_check_invariants (server, &why)) {
    g_printerr ("room server invariant broken: %s\n", why);
    abort ();
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  LetsChatRoomServer *server = g_object_new (LETSCHAT_TYPE_ROOM_SERVER,
      "max-message-size", LETSCHAT_DEFAULT_MAX_MESSAGE_SIZE, "rate-limit",
      0.1, "rate-burst", 30,
      "max-rooms", 3, "max-rooms-per-ip", 2, "max-per-ip", N_PARTIES, NULL);
  gpointer parties[N_PARTIES];
  const gchar *p = (const gchar *) data, *end = p + size;
  guint i;

  for (i = 0; i < N_PARTIES; i++)
    parties[i] = letschat_room_server_open_virtual (server, "192.0.2.1",
        check_reply, NULL);
  letschat_room_server_set_room_secret (server, "locked", "s3cret");

  while (p < end) {
    const gchar *nl = memchr (p, '\n', end - p);
    const gchar *line_end = nl ? nl : end;
    gsize len = line_end - p;
    guint who = 0;
    gboolean is_text = TRUE;
    const gchar *msg = p;
    gsize msg_len = len;

    if (len > 0 && p[0] >= '0' && p[0] <= '2') {
      who = p[0] - '0';
      msg++;
      msg_len--;
    } else if (len > 0 && p[0] >= 'A' && p[0] <= 'C') {
      who = p[0] - 'A';
      is_text = FALSE;
      msg++;
      msg_len--;
    } else if (len == 1 && p[0] >= 'x' && p[0] <= 'z') {
      who = p[0] - 'x';
      if (parties[who])
        letschat_room_server_close_virtual (parties[who]);
      parties[who] = letschat_room_server_open_virtual (server, "192.0.2.1",
          check_reply, NULL);
      msg = NULL;
    }

    if (msg && parties[who]) {
      /* a frame is a copy that ends where the frame ends, as libsoup's */
      gchar *frame = g_memdup2 (msg, msg_len);

      letschat_room_server_virtual_receive (parties[who], is_text, frame,
          msg_len);
      g_free (frame);
    }
    check (server);
    p = nl ? nl + 1 : end;
  }

  for (i = 0; i < N_PARTIES; i++)
    if (parties[i])
      letschat_room_server_close_virtual (parties[i]);
  check (server);
  if (letschat_room_server_get_n_rooms (server) != 0
      || letschat_room_server_get_n_connections (server) != 0) {
    g_printerr ("rooms or connections left after every party left\n");
    abort ();
  }
  g_object_unref (server);
  return 0;
}
