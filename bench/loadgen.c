/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* loadgen: the load generator of the room-server benchmark (bench/server.sh).
 * Every socket lives in this one process, on one GMainContext, so that one
 * core drives thousands of parties and the other is left to the server.
 *
 * A room is two parties, A and B, running this script (the protocol's
 * roles: the second to join offers):
 *
 *   A join  -> welcome          B join -> welcome (A: peer-joined)
 *   B offer -> A                A answer -> B
 *   10 ICE candidates each, alternating, without waiting
 *   B leave -> A: peer-left     A leave        ... and again from the top
 *
 * Relay latency is the time from handing a signal to libsoup until the
 * other party's "message" signal: the server relays a party's signals in
 * order, so each party keeps a FIFO of its send times.
 *
 * Modes (one JSON object on stdout, progress on stderr):
 *   ramp       rooms added level by level and held (each does the script up
 *              to its candidates and stays, as parties in a call do); at
 *              each level the server's RSS and a fixed-rate probe of
 *              trickled candidates; stops at errors or when latency blows up
 *   latency    --rooms rooms cycle through the whole script at --rate
 *              messages per second for --duration seconds
 *   saturate   the same with no rate, as fast as the server answers (at most
 *              --window messages in flight) */

#include <libsoup/soup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define RING 64                 /* signals one party may have in flight */
#define N_ICE 20                /* both parties' candidates */
/* Handshakes at once. Before d0e139c letschat-server listened with a
 * backlog of 10 and more than that got resets; Node's is 511. */
#define CONNECTS_IN_FLIGHT 64
#define CONNECT_TRIES 3

typedef struct _Room Room;
typedef struct _Loadgen Loadgen;

typedef struct
{
  Room *room;
  guint index;                  /* 0: A, 1: B */
  guint tries;
  SoupWebsocketConnection *ws;
  gint64 sent_us[RING];         /* FIFO of signal send times */
  guint head, count;
} Party;

typedef enum
{
  STEP_JOIN_A,
  STEP_JOIN_B,
  STEP_OFFER,
  STEP_ANSWER,
  STEP_ICE,
  STEP_LEAVE_B,
  STEP_LEAVE_A,
  STEP_HELD
} Step;

typedef enum
{
  WAIT_NONE,
  WAIT_WELCOME_A,
  WAIT_WELCOME_B,
  WAIT_OFFER,
  WAIT_ANSWER,
  WAIT_ICE,
  WAIT_PEER_LEFT
} Wait;

struct _Room
{
  Loadgen *lg;
  gchar join[96];
  Party party[2];
  Step step;
  Wait wait;
  guint ice_sent;
  guint pending;                /* signals sent, not yet received */
  gboolean queued;
};

struct _Loadgen
{
  SoupSession *session;
  gchar *url;
  GPtrArray *rooms;
  GQueue ready;                 /* rooms that can send their next step */
  gboolean hold;                /* ramp: rooms stop at STEP_HELD */
  gboolean probe;               /* held rooms trickle candidates */

  /* connecting */
  GQueue to_connect;
  guint connecting, connected, connect_failed, connect_retried, closed;

  /* the phase being measured */
  gdouble rate;                 /* messages/s, 0: as fast as possible */
  guint window;
  gint64 phase_start_us;
  guint64 sent, relayed, received, errors, cycles, held, inflight;
  GArray *latencies;            /* guint32 us */
  guint errors_printed;
  GSource *pump;
};

static const gchar *offer_json, *answer_json;
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

static gint64
proc_rss_kb (gint pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/status", pid);
  g_autofree gchar *text = NULL;
  const gchar *line;

  if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  line = strstr (text, "VmRSS:");
  return line ? g_ascii_strtoll (line + 6, NULL, 10) : -1;
}

/* utime + stime of a process in seconds */
static gdouble
proc_cpu_s (gint pid)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%d/stat", pid);
  g_autofree gchar *text = NULL;
  g_auto (GStrv) fields = NULL;
  const gchar *after_name;

  if (pid <= 0 || !g_file_get_contents (path, &text, NULL, NULL))
    return -1;
  /* the command name may hold spaces: fields count from after ")" */
  after_name = strrchr (text, ')');
  if (after_name == NULL)
    return -1;
  fields = g_strsplit (after_name + 2, " ", 16);
  if (g_strv_length (fields) < 13)
    return -1;
  return (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12],
          NULL)) / sysconf (_SC_CLK_TCK);
}

static gdouble
self_cpu_s (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
      (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static void
room_ready (Room * room)
{
  if (!room->queued) {
    room->queued = TRUE;
    g_queue_push_tail (&room->lg->ready, room);
  }
}

static void
party_send (Party * party, const gchar * text, gboolean is_signal)
{
  Loadgen *lg = party->room->lg;

  if (party->ws == NULL || soup_websocket_connection_get_state (party->ws)
      != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  if (is_signal) {
    g_assert (party->count < RING);
    party->sent_us[(party->head + party->count) % RING] =
        g_get_monotonic_time ();
    party->count++;
    party->room->pending++;
    lg->inflight++;
  }
  soup_websocket_connection_send_text (party->ws, text);
  lg->sent++;
}

/* Sends the room's next message. Returns TRUE if the room may send again
 * at once, FALSE if it now waits for an answer. */
static gboolean
room_step (Room * room)
{
  Loadgen *lg = room->lg;
  Party *a = &room->party[0], *b = &room->party[1];

  switch (room->step) {
    case STEP_JOIN_A:
      room->wait = WAIT_WELCOME_A;
      lg->inflight++;
      party_send (a, room->join, FALSE);
      return FALSE;
    case STEP_JOIN_B:
      room->wait = WAIT_WELCOME_B;
      lg->inflight++;
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
      lg->inflight++;
      party_send (b, leave_json, FALSE);
      return FALSE;
    case STEP_LEAVE_A:
      party_send (a, leave_json, FALSE);
      room->step = STEP_JOIN_A;
      lg->cycles++;
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
  Loadgen *lg = room->lg;

  room->wait = WAIT_NONE;
  room->step = next;
  if (next == STEP_HELD) {
    lg->held++;
    if (!lg->probe)
      return;
  }
  room_ready (room);
}

static void
pump_once (Loadgen * lg, guint64 budget)
{
  while (budget > 0 && !g_queue_is_empty (&lg->ready)) {
    Room *room = g_queue_pop_head (&lg->ready);

    room->queued = FALSE;
    if (room->step == STEP_HELD && !lg->probe)
      continue;
    if (room_step (room))
      room_ready (room);
    budget--;
  }
}

static guint64
pump_budget (Loadgen * lg)
{
  if (lg->rate > 0) {
    gdouble due = lg->rate * (g_get_monotonic_time () - lg->phase_start_us)
        / 1e6;

    /* open loop: a stall is caught up, but in bursts of at most 100 */
    return due > lg->sent ? MIN ((guint64) (due - lg->sent), 100) : 0;
  }
  return lg->inflight < lg->window ? lg->window - lg->inflight : 0;
}

static gboolean
on_pump (gpointer user_data)
{
  Loadgen *lg = user_data;

  pump_once (lg, pump_budget (lg));
  return G_SOURCE_CONTINUE;
}

static void
record_error (Loadgen * lg, const gchar * what)
{
  lg->errors++;
  if (lg->errors_printed++ < 5)
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

static void
on_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer user_data)
{
  Party *party = user_data;
  Room *room = party->room;
  Loadgen *lg = room->lg;
  gsize size;
  const gchar *text = g_bytes_get_data (bytes, &size);
  const gchar *kind = message_type (text, size);

  lg->received++;
  if (g_getenv ("LOADGEN_DEBUG"))
    g_printerr ("%c< %.*s\n", "AB"[party->index], (int) MIN (size, 100), text);
  if (g_str_has_prefix (kind, "signal\"")) {
    Party *from = &room->party[!party->index];
    gint64 now = g_get_monotonic_time ();
    guint32 us;

    if (from->count == 0) {
      record_error (lg, "a signal nobody sent");
      return;
    }
    us = now - from->sent_us[from->head];
    from->head = (from->head + 1) % RING;
    from->count--;
    room->pending--;
    lg->inflight--;
    lg->relayed++;
    g_array_append_val (lg->latencies, us);

    if (room->wait == WAIT_OFFER && party->index == 0)
      room_advance (room, STEP_ANSWER);
    else if (room->wait == WAIT_ANSWER && party->index == 1)
      room_advance (room, STEP_ICE);
    else if (room->wait == WAIT_ICE && room->pending == 0)
      room_advance (room, lg->hold ? STEP_HELD : STEP_LEAVE_B);
  } else if (g_str_has_prefix (kind, "welcome\"")) {
    lg->inflight--;
    if (room->wait == WAIT_WELCOME_A && party->index == 0)
      room_advance (room, STEP_JOIN_B);
    else if (room->wait == WAIT_WELCOME_B && party->index == 1)
      room_advance (room, STEP_OFFER);
  } else if (g_str_has_prefix (kind, "peer-left\"")) {
    if (room->wait == WAIT_PEER_LEFT && party->index == 0) {
      lg->inflight--;
      room_advance (room, STEP_LEAVE_A);
    }
  } else if (g_str_has_prefix (kind, "error\"")) {
    g_autofree gchar *copy = g_strndup (text, MIN (size, 300));

    record_error (lg, copy);
  } else if (!g_str_has_prefix (kind, "peer-joined\"")) {
    record_error (lg, "a message of an unknown type");
  }
  if (lg->rate == 0)
    pump_once (lg, pump_budget (lg));
}

static void
on_closed (SoupWebsocketConnection * ws, gpointer user_data)
{
  Party *party = user_data;

  party->room->lg->closed++;
}

static void connect_next (Loadgen * lg);

static void
on_connected (GObject * source, GAsyncResult * result, gpointer user_data)
{
  Party *party = user_data;
  Loadgen *lg = party->room->lg;
  g_autoptr (GError) error = NULL;

  lg->connecting--;
  party->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source),
      result, &error);
  if (party->ws == NULL && ++party->tries < CONNECT_TRIES) {
    lg->connect_retried++;
    g_queue_push_tail (&lg->to_connect, party);
  } else if (party->ws == NULL) {
    g_autofree gchar *what = g_strdup_printf ("connect: %s", error->message);

    lg->connect_failed++;
    record_error (lg, what);
  } else {
    /* the server pings; libsoup answers on its own */
    soup_websocket_connection_set_keepalive_interval (party->ws, 0);
    g_signal_connect (party->ws, "message", G_CALLBACK (on_message), party);
    g_signal_connect (party->ws, "closed", G_CALLBACK (on_closed), party);
    lg->connected++;
    /* ramp: a room joins as soon as both its parties are connected, not
     * when the whole level is (the server closes sockets that do not join
     * within its join-timeout) */
    if (lg->hold && party->room->step == STEP_JOIN_A
        && party->room->party[!party->index].ws)
      room_ready (party->room);
  }
  connect_next (lg);
}

static void
connect_next (Loadgen * lg)
{
  while (lg->connecting < CONNECTS_IN_FLIGHT
      && !g_queue_is_empty (&lg->to_connect)) {
    Party *party = g_queue_pop_head (&lg->to_connect);
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", lg->url);

    lg->connecting++;
    soup_session_websocket_connect_async (lg->session, msg, NULL, NULL,
        G_PRIORITY_DEFAULT, NULL, on_connected, party);
  }
}

static gboolean
run_until (gboolean (*done) (Loadgen *), Loadgen * lg, gdouble timeout_s)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  /* wakes the loop at the deadline: a quiet server sends nothing */
  GSource *timer = g_timeout_source_new (timeout_s * 1000);
  gboolean ok = TRUE;

  g_source_set_dummy_callback (timer);
  g_source_attach (timer, NULL);
  while (!done (lg)) {
    if (g_get_monotonic_time () >= deadline) {
      ok = FALSE;
      break;
    }
    g_main_context_iteration (NULL, TRUE);
  }
  g_source_destroy (timer);
  g_source_unref (timer);
  return ok;
}

static gboolean
all_connected (Loadgen * lg)
{
  return lg->connecting == 0 && g_queue_is_empty (&lg->to_connect);
}

static gboolean
all_held (Loadgen * lg)
{
  return lg->held == lg->rooms->len || lg->errors > 0 || lg->closed > 0;
}

static gboolean
never (Loadgen * lg)
{
  return FALSE;
}

static gboolean
all_closed (Loadgen * lg)
{
  return lg->closed >= lg->connected;
}

/* Opens sockets until there are @n_rooms rooms; FALSE if any failed or
 * connecting took longer than @timeout_s. */
static gboolean
add_rooms (Loadgen * lg, guint n_rooms, gdouble timeout_s)
{
  while (lg->rooms->len < n_rooms) {
    Room *room = g_new0 (Room, 1);
    guint i;

    room->lg = lg;
    g_snprintf (room->join, sizeof (room->join),
        "{\"type\":\"join\",\"room\":\"bench-%d-%u\"}", getpid (),
        lg->rooms->len);
    for (i = 0; i < 2; i++) {
      room->party[i].room = room;
      room->party[i].index = i;
      g_queue_push_tail (&lg->to_connect, &room->party[i]);
    }
    g_ptr_array_add (lg->rooms, room);
  }
  connect_next (lg);
  return run_until (all_connected, lg, timeout_s) && lg->connect_failed == 0;
}

static void
phase_begin (Loadgen * lg, gdouble rate)
{
  lg->rate = rate;
  lg->sent = lg->relayed = lg->received = lg->cycles = 0;
  g_array_set_size (lg->latencies, 0);
  lg->phase_start_us = g_get_monotonic_time ();
  if (lg->pump == NULL) {
    lg->pump = g_timeout_source_new (1);
    g_source_set_callback (lg->pump, on_pump, lg, NULL);
    g_source_attach (lg->pump, NULL);
  }
}

static void
phase_end (Loadgen * lg)
{
  if (lg->pump) {
    g_source_destroy (lg->pump);
    g_clear_pointer (&lg->pump, g_source_unref);
  }
}

static gint
compare_u32 (gconstpointer a, gconstpointer b)
{
  guint32 x = *(const guint32 *) a, y = *(const guint32 *) b;

  return x < y ? -1 : x > y;
}

static gdouble
percentile_ms (GArray * sorted, gdouble p)
{
  if (sorted->len == 0)
    return -1;
  return g_array_index (sorted, guint32,
      MIN ((guint) (p * sorted->len), sorted->len - 1)) / 1000.0;
}

/* `"name": {p50, p99, max, n}` of the phase's latencies */
static void
print_latencies (GString * out, const gchar * name, GArray * latencies)
{
  g_array_sort (latencies, compare_u32);
  g_string_append_printf (out, "\"%s\": {\"p50_ms\": %.3f, \"p99_ms\": %.3f, "
      "\"max_ms\": %.3f, \"samples\": %u}", name,
      percentile_ms (latencies, 0.5), percentile_ms (latencies, 0.99),
      percentile_ms (latencies, 1.0), latencies->len);
}

/* Every room runs the script at @rate for @duration_s seconds. */
static void
run_cycles (Loadgen * lg, gint server_pid, gdouble rate, gdouble duration_s,
    GString * out)
{
  gdouble server_cpu, self_cpu, elapsed;
  guint i;

  for (i = 0; i < lg->rooms->len; i++)
    room_ready (g_ptr_array_index (lg->rooms, i));
  server_cpu = proc_cpu_s (server_pid);
  self_cpu = self_cpu_s ();
  phase_begin (lg, rate);
  run_until (never, lg, duration_s);
  phase_end (lg);
  elapsed = (g_get_monotonic_time () - lg->phase_start_us) / 1e6;
  server_cpu = proc_cpu_s (server_pid) - server_cpu;
  self_cpu = self_cpu_s () - self_cpu;

  g_string_append_printf (out, "\"rooms\": %u, \"sockets\": %u, "
      "\"rate_asked\": %.0f, \"duration_s\": %.2f, "
      "\"messages_in_per_s\": %.0f, \"messages_out_per_s\": %.0f, "
      "\"relayed_per_s\": %.0f, \"cycles\": %" G_GUINT64_FORMAT ", "
      "\"errors\": %" G_GUINT64_FORMAT ", \"server_cpu_s\": %.2f, "
      "\"loadgen_cpu_s\": %.2f, \"server_rss_kb\": %" G_GINT64_FORMAT ", ",
      lg->rooms->len, lg->connected, rate, elapsed, lg->sent / elapsed,
      lg->received / elapsed, lg->relayed / elapsed, lg->cycles, lg->errors,
      server_cpu, self_cpu, proc_rss_kb (server_pid));
  print_latencies (out, "relay_latency", lg->latencies);
}

static void
run_ramp (Loadgen * lg, gint server_pid, gchar ** levels, gdouble probe_rate,
    gdouble probe_s, gdouble max_p99_ms, GString * out)
{
  gint64 rss_before = proc_rss_kb (server_pid);
  gint64 rss_held = -1;
  guint max_sockets = 0;
  const gchar *stopped = "all levels reached";
  gchar **level;

  lg->hold = TRUE;
  g_string_append_printf (out, "\"server_rss_kb_idle\": %" G_GINT64_FORMAT
      ", \"probe_rate\": %.0f, \"levels\": [", rss_before, probe_rate);
  for (level = levels; *level; level++) {
    guint n_rooms = atoi (*level);
    guint i;
    gint64 t0 = g_get_monotonic_time ();
    gdouble connect_s, setup_s, p99;
    gint64 rss;
    gboolean ok;

    g_printerr ("loadgen: ramp to %u rooms\n", n_rooms);
    /* the new rooms join, offer, answer and trickle as their parties
     * connect, then hold */
    lg->probe = FALSE;
    phase_begin (lg, 0);
    ok = add_rooms (lg, n_rooms, 150);
    connect_s = (g_get_monotonic_time () - t0) / 1e6;
    if (!ok && lg->connect_failed == 0)
      stopped = "connecting took over 150 s";
    t0 = g_get_monotonic_time ();
    ok = ok && run_until (all_held, lg, 120) && lg->errors == 0;
    phase_end (lg);
    setup_s = (g_get_monotonic_time () - t0) / 1e6;
    if (level != levels)
      g_string_append (out, ", ");
    g_string_append_printf (out, "{\"rooms\": %u, \"sockets\": %u, "
        "\"connect_s\": %.2f, \"setup_s\": %.2f, ", lg->rooms->len,
        lg->connected - lg->closed, connect_s, setup_s);
    print_latencies (out, "setup_latency", lg->latencies);

    /* let the server settle (freed buffers) before reading its RSS */
    run_until (never, lg, 1.0);
    rss = proc_rss_kb (server_pid);

    /* every held room trickles candidates at probe_rate in all */
    lg->probe = TRUE;
    for (i = 0; i < lg->rooms->len; i++)
      room_ready (g_ptr_array_index (lg->rooms, i));
    phase_begin (lg, probe_rate);
    run_until (never, lg, probe_s);
    phase_end (lg);
    lg->probe = FALSE;
    /* drain: the probe's last candidates are still on their way */
    run_until (never, lg, 0.3);
    g_string_append_printf (out, ", \"server_rss_kb\": %" G_GINT64_FORMAT
        ", \"errors\": %" G_GUINT64_FORMAT ", \"probe_sent_per_s\": %.0f, ",
        rss, lg->errors, lg->sent / probe_s);
    p99 = (g_array_sort (lg->latencies, compare_u32),
        percentile_ms (lg->latencies, 0.99));
    print_latencies (out, "probe_latency", lg->latencies);
    g_string_append (out, "}");
    g_printerr ("loadgen:   %u sockets, server RSS %" G_GINT64_FORMAT
        " kB, probe p99 %.2f ms, errors %" G_GUINT64_FORMAT "\n",
        lg->connected - lg->closed, rss, p99, lg->errors);

    if (!ok || lg->errors > 0) {
      if (g_str_equal (stopped, "all levels reached"))
        stopped = lg->closed > 0 ? "sockets closed by the server" : "errors";
      break;
    }
    max_sockets = lg->connected - lg->closed;
    rss_held = rss;
    if (p99 > max_p99_ms) {
      stopped = "latency";
      break;
    }
  }
  g_string_append_printf (out, "], \"stopped_because\": \"%s\", "
      "\"max_sockets\": %u, \"server_rss_kb_at_max\": %" G_GINT64_FORMAT
      ", \"rss_per_socket_kb\": %.2f", stopped, max_sockets, rss_held,
      max_sockets ? (gdouble) (rss_held - rss_before) / max_sockets : -1);
}

int
main (int argc, char **argv)
{
  g_autofree gchar *url = NULL, *mode = NULL, *levels = NULL;
  gint rooms = 1000, server_pid = 0;
  gdouble rate = 10000, duration = 10, probe_rate = 2000, probe_s = 3;
  gdouble max_p99 = 50;
  gint window = 2000;
  GOptionEntry entries[] = {
    {"url", 'u', 0, G_OPTION_ARG_STRING, &url, "Server (ws://HOST:PORT/ws)",
        "URL"},
    {"mode", 'm', 0, G_OPTION_ARG_STRING, &mode,
        "ramp, latency or saturate", "MODE"},
    {"server-pid", 0, 0, G_OPTION_ARG_INT, &server_pid,
        "The server's process, for its RSS and CPU time", "PID"},
    {"rooms", 'r', 0, G_OPTION_ARG_INT, &rooms,
        "Rooms of latency and saturate (default 1000)", "N"},
    {"rate", 0, 0, G_OPTION_ARG_DOUBLE, &rate,
        "Messages/s of latency (default 10000)", "N"},
    {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &duration,
        "Seconds of latency and saturate (default 10)", "S"},
    {"window", 0, 0, G_OPTION_ARG_INT, &window,
        "Messages in flight in saturate (default 2000)", "N"},
    {"levels", 0, 0, G_OPTION_ARG_STRING, &levels,
        "Ramp: rooms at each level, comma-separated", "N,N,..."},
    {"probe-rate", 0, 0, G_OPTION_ARG_DOUBLE, &probe_rate,
        "Ramp: messages/s of the probe at each level (default 2000)", "N"},
    {"probe-seconds", 0, 0, G_OPTION_ARG_DOUBLE, &probe_s,
        "Ramp: seconds of each probe (default 3)", "S"},
    {"max-p99", 0, 0, G_OPTION_ARG_DOUBLE, &max_p99,
        "Ramp: stop once the probe's p99 is over this (default 50)", "MS"},
    {NULL}
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) out = g_string_new ("{");
  g_auto (GStrv) level_list = NULL;
  Loadgen lg = { 0 };
  gchar *offer, *answer;
  guint i;

  context = g_option_context_new ("- load generator of the letschat room "
      "server benchmark");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("loadgen: %s\n", error->message);
    return 2;
  }
  if (url == NULL || mode == NULL) {
    g_printerr ("loadgen: --url and --mode are needed (see --help)\n");
    return 2;
  }

  offer_json = offer = make_sdp_json ("offer");
  answer_json = answer = make_sdp_json ("answer");
  lg.url = url;
  lg.window = window;
  lg.rooms = g_ptr_array_new_with_free_func (g_free);
  lg.latencies = g_array_sized_new (FALSE, FALSE, sizeof (guint32), 1 << 20);
  /* Handshakes only count against these limits until libsoup hands the
   * connection to the WebSocket; the defaults (10, 2 per host) would
   * serialize them. */
  lg.session = soup_session_new_with_options ("max-conns", 100000,
      "max-conns-per-host", 100000, "timeout", 0, "idle-timeout", 0, NULL);

  g_string_append_printf (out, "\"mode\": \"%s\", \"url\": \"%s\", ", mode,
      url);
  if (g_str_equal (mode, "ramp")) {
    level_list = g_strsplit (levels ? levels : "500,1000,2000,4000,6000,"
        "8000,9000", ",", -1);
    run_ramp (&lg, server_pid, level_list, probe_rate, probe_s, max_p99, out);
  } else if (g_str_equal (mode, "latency") || g_str_equal (mode, "saturate")) {
    if (!add_rooms (&lg, rooms, 300))
      g_printerr ("loadgen: %u of %u sockets failed to connect\n",
          lg.connect_failed, rooms * 2);
    run_cycles (&lg, server_pid, g_str_equal (mode, "latency") ? rate : 0,
        duration, out);
  } else {
    g_printerr ("loadgen: unknown mode %s\n", mode);
    return 2;
  }
  g_string_append_printf (out, ", \"connect_retries\": %u, "
      "\"connect_failed\": %u, \"loadgen_rss_kb\": %" G_GINT64_FORMAT "}",
      lg.connect_retried, lg.connect_failed, proc_rss_kb (getpid ()));

  /* goodbye to every socket, so that the server's log and counts end
   * clean; a server that does not answer is not waited for long */
  for (i = 0; i < lg.rooms->len; i++) {
    Room *room = g_ptr_array_index (lg.rooms, i);
    guint p;

    for (p = 0; p < 2; p++)
      if (room->party[p].ws && soup_websocket_connection_get_state
          (room->party[p].ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (room->party[p].ws,
            SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  }
  run_until (all_closed, &lg, 5);

  g_print ("%s\n", out->str);
  g_free (offer);
  g_free (answer);
  return lg.errors > 0 ? 1 : 0;
}
