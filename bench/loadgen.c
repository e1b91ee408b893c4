/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* loadgen: the load generator of the room-server benchmark (bench/server.sh).
 * Every socket lives in this one process. The rooms are dealt round-robin to
 * --threads worker threads, each with its own GMainContext and SoupSession:
 * GLib walks every source of a context and polls every descriptor on each
 * wake-up, so with one context for all sockets the generator's own cost per
 * wake-up grew with the number of open sockets, and above a few thousand
 * sockets its latencies were mostly its own delay. A worker's context holds
 * only its share. The main thread only orchestrates (phases, the server's
 * RSS and CPU): it never touches a worker's rooms or sockets, but runs small
 * functions on the worker's thread and waits for them (worker_call_all()).
 * A sweep over all sockets still costs the same in all, so the workers
 * together take at most --max-cpu cores (default 1: the server keeps the
 * other, as with one context) and run at a lower priority than the server.
 * Measured at 1,000 rooms and 10,000 msg/s against the Node baseline:
 * 8 workers p50/p99 2.0/3.8 ms, one worker 4.3/16 ms, at the same CPU.
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
 * order, so each party keeps a FIFO of its send times. Both parties of a
 * room are on the same worker, so both times come from one thread.
 *
 * A cluster (bench/cluster.sh): --url takes the nodes' URLs, and room r's A
 * connects to node r, its B to node r + 1 (modulo the nodes), so every
 * signal crosses from one node to the other through Redis and each node
 * holds as many parties of each kind. --server-pid takes the nodes' pids
 * (CPU and RSS are summed, and each is kept), --redis-pid Redis's.
 *
 * Modes (one JSON object on stdout, progress on stderr):
 *   ramp       rooms added level by level and held (each does the script up
 *              to its candidates and stays, as parties in a call do); at
 *              each level the server's RSS and a fixed-rate probe of
 *              trickled candidates; stops at errors or when latency blows up
 *   latency    --rooms rooms cycle through the whole script at --rate
 *              messages per second for --duration seconds
 *   saturate   the same with no rate, as fast as the server answers (at most
 *              --window messages in flight)
 * The rate, the window and the handshakes in flight are for the whole
 * process: each worker gets the share of its rooms. Counters are summed and
 * latencies merged over the workers before percentiles. */

#include "loadgen-processes.h"

#include <libsoup/soup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RING 64                 /* signals one party may have in flight */
#define N_ICE 20                /* both parties' candidates */
/* Handshakes at once, over all workers. Before d0e139c letschat-server
 * listened with a backlog of 10 and more than that got resets; Node's is
 * 511. */
#define CONNECTS_IN_FLIGHT 64
#define CONNECT_TRIES 3
/* how often the main thread looks at the workers' progress while it waits */
#define POLL_US (10 * 1000)
/* a worker's shortest time between two main-loop iterations */
#define ITERATION_US 1000
#define WORKER_NICE 10

typedef struct _Room Room;
typedef struct _Worker Worker;

typedef struct
{
  Room *room;
  guint index;                  /* 0: A, 1: B */
  guint tries;
  const gchar *url;             /* its node's */
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
  Worker *w;
  gchar join[96];
  Party party[2];
  Step step;
  Wait wait;
  guint ice_sent;
  guint pending;                /* signals sent, not yet received */
  gboolean queued;
};

/* A worker's counters. Only its thread writes them; the main thread gets
 * copies through worker_call_all() and sums them. */
typedef struct
{
  guint rooms, to_connect;      /* filled in by the copy */
  guint connecting, connected, connect_failed, connect_retried, closed;
  /* sent, relayed, received and cycles count from the phase's start */
  guint64 sent, relayed, received, errors, cycles, held;
} Stats;

struct _Worker
{
  guint id, n_workers;          /* rooms id, id + n_workers, ... are ours */
  gdouble max_cpu;              /* cores all workers may take together */
  GThread *thread;
  GMainContext *context;
  gboolean quit;
  SoupSession *session;         /* made on the worker's thread */
  gchar **urls;                 /* the nodes: a room's parties on two */
  GPtrArray *rooms;
  GQueue ready;                 /* rooms that can send their next step */
  gboolean hold;                /* ramp: rooms stop at STEP_HELD */
  gboolean probe;               /* held rooms trickle candidates */

  /* connecting */
  GQueue to_connect;
  guint connects_max;           /* this worker's share of the handshakes */

  Stats st;

  /* the phase being measured: this worker's share of it */
  gboolean pumping;
  gdouble rate;                 /* messages/s, 0: as fast as possible */
  guint window;
  gint64 phase_start_us;
  guint64 inflight;
  GArray *latencies;            /* guint32 us */
  GSource *pump;
};

/* the main thread's view */
typedef struct
{
  Worker **workers;
  guint n_workers;
  guint n_rooms;                /* rooms asked for so far, in all */
  guint window;
} Loadgen;

static gboolean debug;
static gint errors_printed;     /* over all workers, atomic */

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

/* ---- on a worker's thread ---- */

static void
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
static gboolean
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

static void
pump_once (Worker * w, guint64 budget)
{
  while (budget > 0 && !g_queue_is_empty (&w->ready)) {
    Room *room = g_queue_pop_head (&w->ready);

    room->queued = FALSE;
    if (room->step == STEP_HELD && !w->probe)
      continue;
    if (room_step (room))
      room_ready (room);
    budget--;
  }
}

static guint64
pump_budget (Worker * w)
{
  if (w->rate > 0) {
    gdouble due = w->rate * (g_get_monotonic_time () - w->phase_start_us)
        / 1e6;

    /* open loop: a stall is caught up, but in bursts of at most 100 */
    return due > w->st.sent ? MIN ((guint64) (due - w->st.sent), 100) : 0;
  }
  return w->inflight < w->window ? w->window - w->inflight : 0;
}

static gboolean
on_pump (gpointer user_data)
{
  Worker *w = user_data;

  pump_once (w, pump_budget (w));
  return G_SOURCE_CONTINUE;
}

static void
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

static void
on_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer user_data)
{
  Party *party = user_data;
  Room *room = party->room;
  Worker *w = room->w;
  gsize size;
  const gchar *text = g_bytes_get_data (bytes, &size);
  const gchar *kind = message_type (text, size);

  w->st.received++;
  if (debug)
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
    pump_once (w, pump_budget (w));
}

static void
on_closed (SoupWebsocketConnection * ws, gpointer user_data)
{
  Party *party = user_data;

  party->room->w->st.closed++;
}

static void connect_next (Worker * w);

static void
on_connected (GObject * source, GAsyncResult * result, gpointer user_data)
{
  Party *party = user_data;
  Worker *w = party->room->w;
  g_autoptr (GError) error = NULL;

  w->st.connecting--;
  party->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source),
      result, &error);
  if (party->ws == NULL && ++party->tries < CONNECT_TRIES) {
    w->st.connect_retried++;
    g_queue_push_tail (&w->to_connect, party);
  } else if (party->ws == NULL) {
    g_autofree gchar *what = g_strdup_printf ("connect: %s", error->message);

    w->st.connect_failed++;
    record_error (w, what);
  } else {
    /* the server pings; libsoup answers on its own */
    soup_websocket_connection_set_keepalive_interval (party->ws, 0);
    g_signal_connect (party->ws, "message", G_CALLBACK (on_message), party);
    g_signal_connect (party->ws, "closed", G_CALLBACK (on_closed), party);
    w->st.connected++;
    /* ramp: a room joins as soon as both its parties are connected, not
     * when the whole level is (the server closes sockets that do not join
     * within its join-timeout) */
    if (w->hold && party->room->step == STEP_JOIN_A
        && party->room->party[!party->index].ws)
      room_ready (party->room);
  }
  connect_next (w);
}

static void
connect_next (Worker * w)
{
  while (w->st.connecting < w->connects_max
      && !g_queue_is_empty (&w->to_connect)) {
    Party *party = g_queue_pop_head (&w->to_connect);
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", party->url);

    w->st.connecting++;
    soup_session_websocket_connect_async (w->session, msg, NULL, NULL,
        G_PRIORITY_DEFAULT, NULL, on_connected, party);
  }
}

static gint64
thread_cpu_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static gpointer
worker_main (gpointer user_data)
{
  Worker *w = user_data;
  gdouble cpu_avg = 0;

  /* Linux's scheduler shares a core between runnable threads, not
   * processes: 8 busy workers beside a one-thread server left it a fraction
   * of a core for tens of ms at a time (p99 25-200 ms where 4-10 ms was
   * usual). At a lower priority the server under test goes first whenever
   * both want a core, as if its clients were elsewhere. */
  setpriority (PRIO_PROCESS, syscall (SYS_gettid), WORKER_NICE);
  /* the session, its connections and their sources belong to the
   * thread-default context of the thread that makes them */
  g_main_context_push_thread_default (w->context);
  /* Handshakes only count against these limits until libsoup hands the
   * connection to the WebSocket; the defaults (10, 2 per host) would
   * serialize them. */
  w->session = soup_session_new_with_options ("max-conns", 100000,
      "max-conns-per-host", 100000, "timeout", 0, "idle-timeout", 0, NULL);

  /* An iteration costs in proportion to the worker's sockets however
   * little is ready (GLib walks every source and polls every socket), so a
   * worker lets what arrives gather: it starts an iteration at most every
   * ITERATION_US (the pump's tick), and no sooner than n_workers / max_cpu
   * times the CPU time of its recent iterations (a moving average, so that
   * one long iteration does not stall its rooms), so that the workers take
   * at most max_cpu cores in all and leave the rest to the server. Without
   * that, 8 workers on 2 cores woke for nearly every message, took 1.3
   * cores and starved the server. A worker with nothing to do blocks in
   * poll() as usual. */
  while (!w->quit) {
    gint64 start = g_get_monotonic_time (), cpu = thread_cpu_us (), rest;

    g_main_context_iteration (w->context, TRUE);
    cpu = thread_cpu_us () - cpu;
    cpu_avg = 0.9 * cpu_avg + 0.1 * cpu;
    rest = start + MAX (ITERATION_US, cpu_avg * w->n_workers / w->max_cpu)
        - g_get_monotonic_time ();
    if (rest > 0)
      g_usleep (rest);
  }
  g_main_context_pop_thread_default (w->context);
  return NULL;
}

/* What the main thread asks of the workers (run by worker_call_all()). */

/* @data: guint, the rooms there are to be in all */
static void
op_add_rooms (Worker * w, gpointer data)
{
  guint n_rooms = *(guint *) data;
  guint index;

  while ((index = w->id + w->rooms->len * w->n_workers) < n_rooms) {
    Room *room = g_new0 (Room, 1);
    guint i;

    room->w = w;
    g_snprintf (room->join, sizeof (room->join),
        "{\"type\":\"join\",\"room\":\"bench-%d-%u\"}", getpid (), index);
    for (i = 0; i < 2; i++) {
      guint n_urls = g_strv_length (w->urls);

      room->party[i].room = room;
      room->party[i].index = i;
      /* room r: A on node r, B on node r + 1, so that with several nodes
       * every signal crosses from one node to another, and each node holds
       * as many A as B parties */
      room->party[i].url = w->urls[(index + i) % n_urls];
      g_queue_push_tail (&w->to_connect, &room->party[i]);
    }
    g_ptr_array_add (w->rooms, room);
  }
  connect_next (w);
}

typedef struct
{
  gdouble rate;
  guint window;
  gint64 start_us;
  gboolean probe, all_ready;
} Phase;

/* @data: Phase[n_workers] */
static void
op_phase_begin (Worker * w, gpointer data)
{
  const Phase *phase = (const Phase *) data + w->id;
  guint i;

  w->rate = phase->rate;
  w->window = phase->window;
  w->probe = phase->probe;
  w->st.sent = w->st.relayed = w->st.received = w->st.cycles = 0;
  g_array_set_size (w->latencies, 0);
  w->phase_start_us = phase->start_us;
  if (phase->all_ready)
    for (i = 0; i < w->rooms->len; i++)
      room_ready (g_ptr_array_index (w->rooms, i));
  w->pumping = TRUE;
  if (w->pump == NULL) {
    w->pump = g_timeout_source_new (1);
    g_source_set_callback (w->pump, on_pump, w, NULL);
    g_source_attach (w->pump, w->context);
  }
}

static void
op_phase_end (Worker * w, gpointer data)
{
  w->pumping = FALSE;
  w->probe = FALSE;
  if (w->pump) {
    g_source_destroy (w->pump);
    g_clear_pointer (&w->pump, g_source_unref);
  }
}

/* @data: Stats[n_workers] */
static void
op_stats (Worker * w, gpointer data)
{
  Stats *st = (Stats *) data + w->id;

  *st = w->st;
  st->rooms = w->rooms->len;
  st->to_connect = w->to_connect.length;
}

/* @data: GArray *[n_workers], each gets a copy of the worker's latencies */
static void
op_latencies (Worker * w, gpointer data)
{
  GArray **copies = data;

  copies[w->id] = g_array_copy (w->latencies);
}

static void
op_close_all (Worker * w, gpointer data)
{
  guint i, p;

  for (i = 0; i < w->rooms->len; i++) {
    Room *room = g_ptr_array_index (w->rooms, i);

    for (p = 0; p < 2; p++)
      if (room->party[p].ws && soup_websocket_connection_get_state
          (room->party[p].ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (room->party[p].ws,
            SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  }
}

static void
op_quit (Worker * w, gpointer data)
{
  w->quit = TRUE;
}

/* ---- on the main thread ---- */

typedef void (*WorkerFunc) (Worker * w, gpointer data);

typedef struct
{
  WorkerFunc func;
  gpointer data;
  GMutex lock;
  GCond cond;
  guint pending;
} Call;

typedef struct
{
  Call *call;
  Worker *w;
} CallOne;

static gboolean
call_dispatch (gpointer user_data)
{
  CallOne *one = user_data;
  Call *call = one->call;

  call->func (one->w, call->data);
  g_mutex_lock (&call->lock);
  if (--call->pending == 0)
    g_cond_signal (&call->cond);
  g_mutex_unlock (&call->lock);
  return G_SOURCE_REMOVE;
}

/* Runs @func on every worker's own thread, all at once, and waits until
 * each has returned. A worker's rooms, sockets and counters are only ever
 * touched by its thread, so no lock is held while messages flow. An idle
 * source rather than g_main_context_invoke(), which runs the function on
 * the calling thread whenever it can acquire the context. */
static void
worker_call_all (Loadgen * lg, WorkerFunc func, gpointer data)
{
  Call call = { func, data };
  CallOne *ones = g_new (CallOne, lg->n_workers);
  guint i;

  g_mutex_init (&call.lock);
  g_cond_init (&call.cond);
  call.pending = lg->n_workers;
  for (i = 0; i < lg->n_workers; i++) {
    GSource *idle = g_idle_source_new ();

    ones[i].call = &call;
    ones[i].w = lg->workers[i];
    g_source_set_priority (idle, G_PRIORITY_DEFAULT);
    g_source_set_callback (idle, call_dispatch, &ones[i], NULL);
    g_source_attach (idle, lg->workers[i]->context);
    g_source_unref (idle);
  }
  g_mutex_lock (&call.lock);
  while (call.pending > 0)
    g_cond_wait (&call.cond, &call.lock);
  g_mutex_unlock (&call.lock);
  g_mutex_clear (&call.lock);
  g_cond_clear (&call.cond);
  g_free (ones);
}

/* the workers' counters, summed */
static void
get_stats (Loadgen * lg, Stats * total)
{
  g_autofree Stats *st = g_new0 (Stats, lg->n_workers);
  guint i;

  worker_call_all (lg, op_stats, st);
  memset (total, 0, sizeof (*total));
  for (i = 0; i < lg->n_workers; i++) {
    total->rooms += st[i].rooms;
    total->to_connect += st[i].to_connect;
    total->connecting += st[i].connecting;
    total->connected += st[i].connected;
    total->connect_failed += st[i].connect_failed;
    total->connect_retried += st[i].connect_retried;
    total->closed += st[i].closed;
    total->sent += st[i].sent;
    total->relayed += st[i].relayed;
    total->received += st[i].received;
    total->errors += st[i].errors;
    total->cycles += st[i].cycles;
    total->held += st[i].held;
  }
}

/* the workers' latencies of the phase, merged */
static GArray *
get_latencies (Loadgen * lg)
{
  g_autofree GArray **copies = g_new0 (GArray *, lg->n_workers);
  GArray *all = g_array_new (FALSE, FALSE, sizeof (guint32));
  guint i;

  worker_call_all (lg, op_latencies, copies);
  for (i = 0; i < lg->n_workers; i++) {
    g_array_append_vals (all, copies[i]->data, copies[i]->len);
    g_array_unref (copies[i]);
  }
  return all;
}

/* Waits until @done or @timeout_s; leaves the last counters in @total. */
static gboolean
wait_until (gboolean (*done) (const Stats *), Loadgen * lg, gdouble timeout_s,
    Stats * total)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  for (;;) {
    gint64 now;

    get_stats (lg, total);
    if (done (total))
      return TRUE;
    now = g_get_monotonic_time ();
    if (now >= deadline)
      return FALSE;
    g_usleep (MIN (POLL_US, deadline - now));
  }
}

static void
sleep_s (gdouble seconds)
{
  g_usleep (seconds * G_USEC_PER_SEC);
}

static gboolean
all_connected (const Stats * st)
{
  return st->connecting == 0 && st->to_connect == 0;
}

static gboolean
all_held (const Stats * st)
{
  return st->held == st->rooms || st->errors > 0 || st->closed > 0;
}

static gboolean
all_closed (const Stats * st)
{
  return st->closed >= st->connected;
}

/* Opens sockets until there are @n_rooms rooms; FALSE if any failed or
 * connecting took longer than @timeout_s. */
static gboolean
add_rooms (Loadgen * lg, guint n_rooms, gdouble timeout_s, Stats * total)
{
  lg->n_rooms = MAX (lg->n_rooms, n_rooms);
  worker_call_all (lg, op_add_rooms, &n_rooms);
  return wait_until (all_connected, lg, timeout_s, total)
      && total->connect_failed == 0;
}

/* Starts a phase at @rate messages/s (0: as fast as the window allows) in
 * all; each worker gets the share of its rooms. Returns its start time. */
static gint64
phase_begin (Loadgen * lg, gdouble rate, gboolean probe, gboolean all_ready)
{
  g_autofree Phase *phases = g_new0 (Phase, lg->n_workers);
  gint64 start_us = g_get_monotonic_time ();
  guint i, rooms_before = 0;

  for (i = 0; i < lg->n_workers; i++) {
    /* rooms i, i + n_workers, ... */
    guint rooms = lg->n_rooms / lg->n_workers + (i < lg->n_rooms %
        lg->n_workers);

    phases[i].rate = lg->n_rooms ? rate * rooms / lg->n_rooms : 0;
    /* cumulative rounding: the shares add up to the whole window */
    phases[i].window = lg->n_rooms ? (guint64) lg->window * (rooms_before +
        rooms) / lg->n_rooms - (guint64) lg->window * rooms_before /
        lg->n_rooms : 0;
    phases[i].start_us = start_us;
    phases[i].probe = probe;
    phases[i].all_ready = all_ready;
    rooms_before += rooms;
  }
  worker_call_all (lg, op_phase_begin, phases);
  return start_us;
}

static void
phase_end (Loadgen * lg)
{
  worker_call_all (lg, op_phase_end, NULL);
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

/* `"name": {p50, p99, max, n}` of the phase's latencies, over all workers;
 * returns the p99 */
static gdouble
print_latencies (GString * out, const gchar * name, Loadgen * lg)
{
  g_autoptr (GArray) latencies = get_latencies (lg);

  g_array_sort (latencies, compare_u32);
  g_string_append_printf (out, "\"%s\": {\"p50_ms\": %.3f, \"p99_ms\": %.3f, "
      "\"max_ms\": %.3f, \"samples\": %u}", name,
      percentile_ms (latencies, 0.5), percentile_ms (latencies, 0.99),
      percentile_ms (latencies, 1.0), latencies->len);
  return percentile_ms (latencies, 0.99);
}

/* Every room runs the script at @rate for @duration_s seconds. */
static void
run_cycles (Loadgen * lg, const ProcessSet * servers, const ProcessSet * redis,
    gdouble rate, gdouble duration_s, GString * out)
{
  gdouble server_cpu, redis_cpu, self_cpu, machine_busy, elapsed;
  g_autoptr (GArray) each_before = process_set_cpu_each (servers);
  gint64 start_us;
  Stats st;

  server_cpu = process_set_cpu_s (servers);
  redis_cpu = process_set_cpu_s (redis);
  self_cpu = self_cpu_s ();
  machine_busy = machine_busy_s ();
  start_us = phase_begin (lg, rate, FALSE, TRUE);
  sleep_s (duration_s);
  phase_end (lg);
  elapsed = (g_get_monotonic_time () - start_us) / 1e6;
  server_cpu = process_set_cpu_s (servers) - server_cpu;
  redis_cpu = process_set_cpu_s (redis) - redis_cpu;
  /* every thread's CPU time: the workers' and the main thread's */
  self_cpu = self_cpu_s () - self_cpu;
  /* the whole machine's, other work included: what is left of the cores
   * is what the processes above could not get */
  machine_busy = machine_busy_s () - machine_busy;
  get_stats (lg, &st);

  g_string_append_printf (out, "\"rooms\": %u, \"sockets\": %u, "
      "\"rate_asked\": %.0f, \"duration_s\": %.2f, "
      "\"messages_in_per_s\": %.0f, \"messages_out_per_s\": %.0f, "
      "\"relayed_per_s\": %.0f, \"cycles\": %" G_GUINT64_FORMAT ", "
      "\"errors\": %" G_GUINT64_FORMAT ", \"server_cpu_s\": %.2f, ",
      st.rooms, st.connected, rate, elapsed, st.sent / elapsed,
      st.received / elapsed, st.relayed / elapsed, st.cycles, st.errors,
      server_cpu);
  process_set_print_cpu_since (servers, each_before, out, "server_cpu_s_each");
  g_string_append_printf (out, ", \"redis_cpu_s\": %.2f, "
      "\"loadgen_cpu_s\": %.2f, \"machine_busy_cpu_s\": %.2f, "
      "\"server_rss_kb\": %" G_GINT64_FORMAT ", ",
      redis->pids->len ? redis_cpu : 0, self_cpu, machine_busy,
      process_set_rss_kb (servers));
  process_set_print_rss (servers, out, "server_rss_kb_each");
  g_string_append (out, ", ");
  print_latencies (out, "relay_latency", lg);
}

static void
run_ramp (Loadgen * lg, const ProcessSet * servers, const ProcessSet * redis,
    gchar ** levels, gdouble probe_rate, gdouble probe_s, gdouble max_p99_ms,
    GString * out)
{
  gint64 rss_before = process_set_rss_kb (servers);
  gint64 rss_held = -1;
  guint max_sockets = 0;
  const gchar *stopped = "all levels reached";
  gchar **level;
  Stats st;

  g_string_append_printf (out, "\"server_rss_kb_idle\": %" G_GINT64_FORMAT
      ", \"probe_rate\": %.0f, \"levels\": [", rss_before, probe_rate);
  for (level = levels; *level; level++) {
    guint n_rooms = atoi (*level);
    gint64 t0 = g_get_monotonic_time ();
    gdouble connect_s, setup_s, p99;
    gint64 rss;
    gboolean ok;

    g_printerr ("loadgen: ramp to %u rooms\n", n_rooms);
    /* the new rooms join, offer, answer and trickle as their parties
     * connect, then hold; the window is shared by the rooms there will be */
    lg->n_rooms = MAX (lg->n_rooms, n_rooms);
    phase_begin (lg, 0, FALSE, FALSE);
    ok = add_rooms (lg, n_rooms, 150, &st);
    connect_s = (g_get_monotonic_time () - t0) / 1e6;
    if (!ok && st.connect_failed == 0)
      stopped = "connecting took over 150 s";
    t0 = g_get_monotonic_time ();
    ok = ok && wait_until (all_held, lg, 120, &st) && st.errors == 0;
    phase_end (lg);
    setup_s = (g_get_monotonic_time () - t0) / 1e6;
    if (level != levels)
      g_string_append (out, ", ");
    g_string_append_printf (out, "{\"rooms\": %u, \"sockets\": %u, "
        "\"connect_s\": %.2f, \"setup_s\": %.2f, ", st.rooms,
        st.connected - st.closed, connect_s, setup_s);
    print_latencies (out, "setup_latency", lg);

    /* let the server settle (freed buffers) before reading its RSS */
    sleep_s (1.0);
    rss = process_set_rss_kb (servers);

    /* every held room trickles candidates at probe_rate in all */
    phase_begin (lg, probe_rate, TRUE, TRUE);
    sleep_s (probe_s);
    phase_end (lg);
    /* drain: the probe's last candidates are still on their way */
    sleep_s (0.3);
    get_stats (lg, &st);
    g_string_append_printf (out, ", \"server_rss_kb\": %" G_GINT64_FORMAT
        ", ", rss);
    /* with several nodes: how the sockets fell on each */
    process_set_print_rss (servers, out, "server_rss_kb_each");
    /* a cluster's rooms and parties are in Redis too */
    g_string_append_printf (out, ", \"redis_rss_kb\": %" G_GINT64_FORMAT,
        process_set_rss_kb (redis));
    g_string_append_printf (out, ", \"errors\": %" G_GUINT64_FORMAT
        ", \"probe_sent_per_s\": %.0f, ", st.errors, st.sent / probe_s);
    p99 = print_latencies (out, "probe_latency", lg);
    g_string_append (out, "}");
    g_printerr ("loadgen:   %u sockets, server RSS %" G_GINT64_FORMAT
        " kB, probe p99 %.2f ms, errors %" G_GUINT64_FORMAT "\n",
        st.connected - st.closed, rss, p99, st.errors);

    if (!ok || st.errors > 0) {
      if (g_str_equal (stopped, "all levels reached"))
        stopped = st.closed > 0 ? "sockets closed by the server" : "errors";
      break;
    }
    max_sockets = st.connected - st.closed;
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

static Worker *
worker_new (guint id, guint n_workers, gdouble max_cpu, gchar ** urls,
    gboolean hold)
{
  Worker *w = g_new0 (Worker, 1);
  g_autofree gchar *name = g_strdup_printf ("loadgen-%u", id);

  w->id = id;
  w->n_workers = n_workers;
  w->max_cpu = max_cpu;
  w->urls = urls;
  w->hold = hold;
  /* cumulative rounding again: the shares add up to CONNECTS_IN_FLIGHT */
  w->connects_max = MAX (1, CONNECTS_IN_FLIGHT * (id + 1) / n_workers -
      CONNECTS_IN_FLIGHT * id / n_workers);
  w->rooms = g_ptr_array_new_with_free_func (g_free);
  /* a latency phase's samples without reallocations */
  w->latencies = g_array_sized_new (FALSE, FALSE, sizeof (guint32),
      (1 << 20) / n_workers);
  w->context = g_main_context_new ();
  w->thread = g_thread_new (name, worker_main, w);
  return w;
}

int
main (int argc, char **argv)
{
  g_autofree gchar *url = NULL, *mode = NULL, *levels = NULL;
  g_autofree gchar *server_pids = NULL, *redis_pid = NULL;
  gint rooms = 1000, threads = 8;
  gdouble rate = 10000, duration = 10, probe_rate = 2000, probe_s = 3;
  gdouble max_p99 = 50, max_cpu = 1;
  gint window = 2000;
  GOptionEntry entries[] = {
    {"url", 'u', 0, G_OPTION_ARG_STRING, &url, "Server (ws://HOST:PORT/ws), "
          "or the nodes of a cluster, comma-separated: the two parties of a "
          "room go to two different nodes", "URL[,URL...]"},
    {"mode", 'm', 0, G_OPTION_ARG_STRING, &mode,
        "ramp, latency or saturate", "MODE"},
    {"server-pid", 0, 0, G_OPTION_ARG_STRING, &server_pids,
        "The server's process (a cluster's: each node's, comma-separated), "
          "for its RSS and CPU time", "PID[,PID...]"},
    {"redis-pid", 0, 0, G_OPTION_ARG_STRING, &redis_pid,
        "A cluster's redis-server, for its CPU time", "PID"},
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
    {"threads", 't', 0, G_OPTION_ARG_INT, &threads,
        "Worker threads, each with a share of the rooms (default 8)", "N"},
    {"max-cpu", 0, 0, G_OPTION_ARG_DOUBLE, &max_cpu,
        "CPU cores the workers may take in all (default 1)", "CORES"},
    {NULL}
  };
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) out = g_string_new ("{");
  g_auto (GStrv) level_list = NULL;
  Loadgen lg = { 0 };
  ProcessSet servers = { 0 }, redis = { 0 };
  g_auto (GStrv) urls = NULL;
  gboolean ramp;
  guint max_rooms = 0;
  gchar *offer, *answer;
  gchar **level;
  Stats st;
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
  urls = g_strsplit (url, ",", -1);
  if (g_strv_length (urls) == 0 || !process_set_parse (&servers, server_pids)
      || !process_set_parse (&redis, redis_pid)) {
    g_printerr ("loadgen: --url wants URL[,URL...], --server-pid "
        "PID[,PID...] and --redis-pid PID\n");
    return 2;
  }
  for (i = 0; urls[i]; i++) {
    if (!g_uri_is_valid (urls[i], G_URI_FLAGS_NONE, NULL)
        || (!g_str_has_prefix (urls[i], "ws://")
            && !g_str_has_prefix (urls[i], "wss://"))) {
      g_printerr ("loadgen: --url: %s is not a ws:// or wss:// URL\n", urls[i]);
      return 2;
    }
  }
  ramp = g_str_equal (mode, "ramp");
  if (!ramp && !g_str_equal (mode, "latency")
      && !g_str_equal (mode, "saturate")) {
    g_printerr ("loadgen: unknown mode %s\n", mode);
    return 2;
  }
  if (threads < 1 || rooms < 1 || window < 1 || max_cpu <= 0) {
    g_printerr ("loadgen: --threads, --rooms and --window must be >= 1, "
        "--max-cpu > 0\n");
    return 2;
  }

  debug = g_getenv ("LOADGEN_DEBUG") != NULL;
  offer_json = offer = make_sdp_json ("offer");
  answer_json = answer = make_sdp_json ("answer");
  if (ramp) {
    level_list = g_strsplit (levels ? levels : "500,1000,2000,4000,6000,"
        "8000,9000", ",", -1);
    for (level = level_list; *level; level++)
      max_rooms = MAX (max_rooms, (guint) atoi (*level));
  } else {
    max_rooms = rooms;
  }

  /* a worker without rooms would only cost a thread */
  lg.n_workers = CLAMP ((guint) threads, 1, MAX (max_rooms, 1));
  lg.window = window;
  lg.workers = g_new0 (Worker *, lg.n_workers);
  for (i = 0; i < lg.n_workers; i++)
    lg.workers[i] = worker_new (i, lg.n_workers, max_cpu, urls, ramp);

  g_string_append_printf (out, "\"mode\": \"%s\", \"url\": \"%s\", "
      "\"nodes\": %u, ", mode, url, g_strv_length (urls));
  if (ramp) {
    run_ramp (&lg, &servers, &redis, level_list, probe_rate, probe_s, max_p99,
        out);
  } else {
    if (!add_rooms (&lg, rooms, 300, &st))
      g_printerr ("loadgen: %u of %u sockets failed to connect\n",
          st.connect_failed, rooms * 2);
    run_cycles (&lg, &servers, &redis, g_str_equal (mode, "latency") ? rate : 0,
        duration, out);
  }
  get_stats (&lg, &st);
  g_string_append_printf (out, ", \"connect_retries\": %u, "
      "\"connect_failed\": %u, \"loadgen_threads\": %u, "
      "\"loadgen_max_cpu\": %.2f, \"loadgen_rss_kb\": %" G_GINT64_FORMAT "}",
      st.connect_retried, st.connect_failed, lg.n_workers, max_cpu,
      process_rss_kb (getpid ()));

  /* goodbye to every socket, so that the server's log and counts end
   * clean; a server that does not answer is not waited for long */
  worker_call_all (&lg, op_close_all, NULL);
  wait_until (all_closed, &lg, 5, &st);
  worker_call_all (&lg, op_quit, NULL);
  for (i = 0; i < lg.n_workers; i++)
    g_thread_join (lg.workers[i]->thread);

  g_print ("%s\n", out->str);
  g_free (offer);
  g_free (answer);
  process_set_clear (&servers);
  process_set_clear (&redis);
  return st.errors > 0 ? 1 : 0;
}
