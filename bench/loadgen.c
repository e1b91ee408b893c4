/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* loadgen: the load generator of the room-server benchmark (bench/server.sh).
 * The rooms run on worker threads (loadgen-worker.c), each room the
 * script of loadgen-room.c; this file is the main thread: the modes, and
 * what they measure and print.
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
#include "loadgen.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* how often the main thread looks at the workers' progress while it waits */
#define POLL_US (10 * 1000)

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

  loadgen_debug = g_getenv ("LOADGEN_DEBUG") != NULL;
  room_messages_init ();
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
  room_messages_clear ();
  process_set_clear (&servers);
  process_set_clear (&redis);
  return st.errors > 0 ? 1 : 0;
}
