/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The load generator's worker threads (bench/loadgen.c).
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
 * 8 workers p50/p99 2.0/3.8 ms, one worker 4.3/16 ms, at the same CPU. */

#include "loadgen.h"

#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Handshakes at once, over all workers. Before d0e139c letschat-server
 * listened with a backlog of 10 and more than that got resets; Node's is
 * 511. */
#define CONNECTS_IN_FLIGHT 64
#define CONNECT_TRIES 3
/* a worker's shortest time between two main-loop iterations */
#define ITERATION_US 1000
#define WORKER_NICE 10

/* ---- on a worker's thread ---- */

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

/* Sends what the phase's rate or window allows now. */
void
worker_pump (Worker * w)
{
  pump_once (w, pump_budget (w));
}

static gboolean
on_pump (gpointer user_data)
{
  worker_pump (user_data);
  return G_SOURCE_CONTINUE;
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
    g_signal_connect (party->ws, "message", G_CALLBACK (party_on_message),
        party);
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

/* What the main thread asks of the workers (run by worker_call_all()) */

/* @data: guint, the rooms there are to be in all */
void
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

/* @data: Phase[n_workers] */
void
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

void
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
void
op_stats (Worker * w, gpointer data)
{
  Stats *st = (Stats *) data + w->id;

  *st = w->st;
  st->rooms = w->rooms->len;
  st->to_connect = w->to_connect.length;
}

/* @data: GArray *[n_workers], each gets a copy of the worker's latencies */
void
op_latencies (Worker * w, gpointer data)
{
  GArray **copies = data;

  copies[w->id] = g_array_copy (w->latencies);
}

void
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

void
op_quit (Worker * w, gpointer data)
{
  w->quit = TRUE;
}

/* ---- on the main thread ---- */

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
void
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
void
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
GArray *
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

Worker *
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
