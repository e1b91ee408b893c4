/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* What the load generator's parts share: bench/loadgen.c, the main thread
 * (the modes, what is measured and printed); loadgen-room.c, the script a
 * room's two parties run; loadgen-worker.c, the worker threads that run the
 * rooms, and how the main thread asks things of them. */

#pragma once

#include <libsoup/soup.h>

#define RING 64                 /* signals one party may have in flight */

typedef struct _Room Room;
typedef struct _Worker Worker;

/* one of a room's two sockets */
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

/* each worker's share of a phase (op_phase_begin) */
typedef struct
{
  gdouble rate;
  guint window;
  gint64 start_us;
  gboolean probe, all_ready;
} Phase;

/* loadgen-room.c, on a worker's thread */
extern gboolean loadgen_debug;  /* LOADGEN_DEBUG: print what comes in */
/* the offer and the answer every room sends, made once */
void room_messages_init (void);
void room_messages_clear (void);
void room_ready (Room * room);
gboolean room_step (Room * room);
void party_on_message (SoupWebsocketConnection * ws, gint type,
    GBytes * bytes, gpointer user_data);
void record_error (Worker * w, const gchar * what);

/* loadgen-worker.c, on a worker's thread */
void worker_pump (Worker * w);

/* loadgen-worker.c: what the main thread asks of the workers, with
 * worker_call_all() */
typedef void (*WorkerFunc) (Worker * w, gpointer data);

void op_add_rooms (Worker * w, gpointer data);
void op_phase_begin (Worker * w, gpointer data);
void op_phase_end (Worker * w, gpointer data);
void op_stats (Worker * w, gpointer data);
void op_latencies (Worker * w, gpointer data);
void op_close_all (Worker * w, gpointer data);
void op_quit (Worker * w, gpointer data);

/* loadgen-worker.c, on the main thread */
Worker *worker_new (guint id, guint n_workers, gdouble max_cpu, gchar ** urls,
    gboolean hold);
void worker_call_all (Loadgen * lg, WorkerFunc func, gpointer data);
void get_stats (Loadgen * lg, Stats * total);
GArray *get_latencies (Loadgen * lg);
