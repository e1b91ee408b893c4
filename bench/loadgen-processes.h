/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* What the processes under test cost, read from /proc: the load generator
 * reports it beside its latencies. A set of processes (the nodes of a
 * cluster, or the one server) is summed, and each is kept too. */

#pragma once

#include <glib.h>

typedef struct
{
  GArray *pids;                 /* gint; empty: none given */
} ProcessSet;

/* "PID[,PID...]": FALSE if a part is not a number */
gboolean process_set_parse (ProcessSet * set, const gchar * list);
void process_set_clear (ProcessSet * set);

/* the sum over the set, -1 if the set is empty or a process is gone */
gint64 process_set_rss_kb (const ProcessSet * set);
gdouble process_set_cpu_s (const ProcessSet * set);
/* each process's, in the set's order: [cpu, cpu, ...] */
GArray *process_set_cpu_each (const ProcessSet * set);
/* `"NAME": [x, y, ...]` of each process's RSS in kB or CPU seconds */
void process_set_print_rss (const ProcessSet * set, GString * out,
    const gchar * name);
void process_set_print_cpu_since (const ProcessSet * set, GArray * before,
    GString * out, const gchar * name);

gint64 process_rss_kb (gint pid);
gdouble process_cpu_s (gint pid);
/* this process's CPU seconds, all threads */
gdouble self_cpu_s (void);
/* the seconds all cores together were busy (not idle or waiting for I/O)
 * since boot, from /proc/stat: the whole machine, other work included */
gdouble machine_busy_s (void);
