/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The script of the load generator's rooms (bench/loadgen.c), run on their
 * worker's thread. A room is two parties, A and B, running this script (the
 * protocol's roles: the second to join offers):
 *
 *   A join  -> welcome          B join -> welcome (A: peer-joined)
 *   B offer -> A                A answer -> B
 *   10 ICE candidates each, alternating, without waiting
 *   B leave -> A: peer-left     A leave        ... and again from the top
 *
 * Relay latency is the time from handing a signal to libsoup until the
 * other party's "message" signal: the server relays a party's signals in
 * order, so each party keeps a FIFO of its send times. Both parties of a
 * room are on the same worker, so both times come from one thread. */

#include "loadgen.h"

#define N_ICE 20                /* both parties' candidates */

gboolean loadgen_debug;
static gint errors_printed;     /* over all workers, atomic */

static gchar *offer_json, *answer_json;
static const gchar ice_json[] = "{\"type\":\"signal\",\"data\":{\"ice\":"
    "{\"candidate\":\"candidate:842163049 1 udp 1677729535 192.0.2.10 54321 "
    "typ srflx raddr 10.0.0.2 rport 54321 generation 0\","
    "\"sdpMLineIndex\":0,\"sdpMid\":\"video0\"}}}";
static const gchar leave_json[] = "{\"type\":\"leave\"}";

/* A realistic audio+video offer (about 1.3 KB), what webrtcbin sends. */
static gchar *
make_sdp_json (const gchar * type)
{
  GString *sdp = g_string_new (NULL);
  g_autofree gchar *text = NULL;
  guint m;

  g_string_append (sdp, "v=0\\r\\no=- 4611731400430051336 2 IN IP4 "
      "127.0.0.1\\r\\ns=-\\r\\nt=0 0\\r\\na=group:BUNDLE video0 audio1\\r\\n"
      "a=ice-options:trickle\\r\\n");
  for (m = 0; m < 2; m++) {
    g_string_append_printf (sdp, "m=%s 9 UDP/TLS/RTP/SAVPF %u\\r\\n"
        "c=IN IP4 0.0.0.0\\r\\na=rtcp-mux\\r\\na=mid:%s%u\\r\\n"
        "a=setup:%s\\r\\na=ice-ufrag:Yq3hJ0cQm1vXbPkd\\r\\n"
        "a=ice-pwd:Cw2eF9GVxQ4Zb7mLpHs1nT8aRkUjYdOi\\r\\n"
        "a=fingerprint:sha-256 5A:0F:3C:6E:91:B2:D4:77:08:1E:AF:63:C9:"
        "2B:8D:F0:44:1A:9E:7C:35:D2:60:BB:17:E8:49:03:CA:6F:92:5D\\r\\n"
        "a=sendrecv\\r\\na=rtpmap:%u %s\\r\\na=rtcp-fb:%u nack\\r\\n"
        "a=rtcp-fb:%u nack pli\\r\\na=rtcp-fb:%u ccm fir\\r\\n"
        "a=ssrc:%u cname:user3245@host-8d1c\\r\\n",
        m ? "audio" : "video", 96 + m, m ? "audio" : "video", m,
        g_str_equal (type, "offer") ? "actpass" : "active",
        96 + m, m ? "OPUS/48000/2" : "VP8/90000", 96 + m, 96 + m, 96 + m,
        3735928559u + m);
  }
  text = g_string_free (sdp, FALSE);
  return g_strdup_printf ("{\"type\":\"signal\",\"data\":{\"sdp\":"
      "{\"type\":\"%s\",\"sdp\":\"%s\"}}}", type, text);
}

void
room_messages_init (void)
{
  offer_json = make_sdp_json ("offer");
  answer_json = make_sdp_json ("answer");
}

void
room_messages_clear (void)
{
  g_clear_pointer (&offer_json, g_free);
  g_clear_pointer (&answer_json, g_free);
}

void
room_ready (Room * room)
{
  if (!room->queued) {
    room->queued = TRUE;
    g_queue_push_tail (&room->w->ready, room);
  }
}

static void
party_send (Party * party, const gchar * text, gboolean is_signal)
{
  Worker *w = party->room->w;

  if (party->ws == NULL || soup_websocket_connection_get_state (party->ws)
      != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  if (is_signal) {
    g_assert (party->count < RING);
    party->sent_us[(party->head + party->count) % RING] =
        g_get_monotonic_time ();
    party->count++;
    party->room->pending++;
    w->inflight++;
  }
  soup_websocket_connection_send_text (party->ws, text);
  w->st.sent++;
}

/* Sends the room's next message. Returns TRUE if the room may send again
 * at once, FALSE if it now waits for an answer. */
gboolean
room_step (Room * room)
{
  Worker *w = room->w;
  Party *a = &room->party[0], *b = &room->party[1];

  switch (room->step) {
    case STEP_JOIN_A:
      room->wait = WAIT_WELCOME_A;
      w->inflight++;
      party_send (a, room->join, FALSE);
      return FALSE;
    case STEP_JOIN_B:
      room->wait = WAIT_WELCOME_B;
      w->inflight++;
      party_send (b, room->join, FALSE);
      return FALSE;
    case STEP_OFFER:
      room->wait = WAIT_OFFER;
      party_send (b, offer_json, TRUE);
      return FALSE;
    case STEP_ANSWER:
      room->wait = WAIT_ANSWER;
      party_send (a, answer_json, TRUE);
      return FALSE;
    case STEP_ICE:
      party_send (&room->party[room->ice_sent % 2], ice_json, TRUE);
      if (++room->ice_sent < N_ICE)
        return TRUE;
      room->ice_sent = 0;
      room->wait = WAIT_ICE;
      return FALSE;
    case STEP_LEAVE_B:
      room->wait = WAIT_PEER_LEFT;
      w->inflight++;
      party_send (b, leave_json, FALSE);
      return FALSE;
    case STEP_LEAVE_A:
      party_send (a, leave_json, FALSE);
      room->step = STEP_JOIN_A;
      w->st.cycles++;
      return TRUE;
    case STEP_HELD:
      /* a call's later candidates (the probe of ramp mode) */
      party_send (&room->party[room->ice_sent++ % 2], ice_json, TRUE);
      return TRUE;
  }
  g_assert_not_reached ();
}

/* The answer @room waited for is here. */
static void
room_advance (Room * room, Step next)
{
  Worker *w = room->w;

  room->wait = WAIT_NONE;
  room->step = next;
  if (next == STEP_HELD) {
    w->st.held++;
    if (!w->probe)
      return;
  }
  room_ready (room);
}

void
record_error (Worker * w, const gchar * what)
{
  w->st.errors++;
  if (g_atomic_int_add (&errors_printed, 1) < 5)
    g_printerr ("loadgen: %s\n", what);
}

/* The server's messages start with their type (json-glib and
 * JSON.stringify keep the order they are built in), so a prefix is enough:
 * the generator must stay cheaper than the server it measures. */
static const gchar *
message_type (const gchar * text, gsize size)
{
  const gchar *t = g_strstr_len (text, MIN (size, 32), "\"type\":\"");

  if (t == NULL)
    return "";
  return t + 8;
}

void
party_on_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer user_data)
{
  Party *party = user_data;
  Room *room = party->room;
  Worker *w = room->w;
  gsize size;
  const gchar *text = g_bytes_get_data (bytes, &size);
  const gchar *kind = message_type (text, size);

  w->st.received++;
  if (loadgen_debug)
    g_printerr ("%c< %.*s\n", "AB"[party->index], (int) MIN (size, 100), text);
  if (g_str_has_prefix (kind, "signal\"")) {
    Party *from = &room->party[!party->index];
    gint64 now = g_get_monotonic_time ();
    guint32 us;

    if (from->count == 0) {
      record_error (w, "a signal nobody sent");
      return;
    }
    us = now - from->sent_us[from->head];
    from->head = (from->head + 1) % RING;
    from->count--;
    room->pending--;
    w->inflight--;
    w->st.relayed++;
    g_array_append_val (w->latencies, us);

    if (room->wait == WAIT_OFFER && party->index == 0)
      room_advance (room, STEP_ANSWER);
    else if (room->wait == WAIT_ANSWER && party->index == 1)
      room_advance (room, STEP_ICE);
    else if (room->wait == WAIT_ICE && room->pending == 0)
      room_advance (room, w->hold ? STEP_HELD : STEP_LEAVE_B);
  } else if (g_str_has_prefix (kind, "welcome\"")) {
    w->inflight--;
    if (room->wait == WAIT_WELCOME_A && party->index == 0)
      room_advance (room, STEP_JOIN_B);
    else if (room->wait == WAIT_WELCOME_B && party->index == 1)
      room_advance (room, STEP_OFFER);
  } else if (g_str_has_prefix (kind, "peer-left\"")) {
    if (room->wait == WAIT_PEER_LEFT && party->index == 0) {
      w->inflight--;
      room_advance (room, STEP_LEAVE_A);
    }
  } else if (g_str_has_prefix (kind, "error\"")) {
    g_autofree gchar *copy = g_strndup (text, MIN (size, 300));

    record_error (w, copy);
  } else if (!g_str_has_prefix (kind, "peer-joined\"")) {
    record_error (w, "a message of an unknown type");
  }
  /* saturate: an answer frees room in the window at once, not at the next
   * tick of the pump */
  if (w->pumping && w->rate == 0)
    worker_pump (w);
}
