/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/* A real letschat-server process for the element tests that start,
 * restart or kill servers themselves (test-strangers, test-failover):
 * started from $LETSCHAT_SERVER, its stdout kept as the log the test can
 * search, killed with the test if the test dies. tests/server has its own
 * (libsoup-based test-util.c), which these tests do not link. */
#include <gio/gio.h>

G_BEGIN_DECLS typedef struct
{
  GSubprocess *process;
  GDataInputStream *out;
  GString *log;                 /* its stdout so far, line by line */
  gboolean eof;                 /* its stdout is read to the end */
  gchar *url;                   /* ws://.../ws, as it printed it */
} TestServer;

/* On @port (0: any free one), with @extra arguments (NULL-terminated, or
 * NULL); returns once it listens. The test's default main context reads
 * its log: iterate it while waiting on the log. */
TestServer *test_server_start (guint16 port, const gchar * const *extra);
/* SIGTERM, waits, prints the log as a test message, frees. */
void test_server_stop (TestServer * s);
/* SIGKILL, waits, prints the log as a test message, frees. */
void test_server_kill (TestServer * s);
/* A loopback port nobody holds now: bound to port 0, noted, closed. */
guint16 test_server_free_port (void);

/* For a GSubprocessLauncher's child setup: the child gets SIGKILL when
 * the test dies (a redis-server beside the nodes, say). */
void test_server_die_with_parent (gpointer data);

G_END_DECLS
