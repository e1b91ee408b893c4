/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* TLS as a server should do it, and without a thread per idle client.
 *
 *   accepted connection (letschat-accept-guard.c)
 *        |  wait in the main context for the whole ClientHello record:
 *        |  SO_RCVLOWAT makes the socket readable only once it is there,
 *        |  so a client that sends nothing or half a record costs a
 *        |  descriptor, no thread, until the handshake timeout shuts it
 *        v
 *   a handshake slot: LETSCHAT_TLS_HANDSHAKES_MAX at once, at most
 *        |  LETSCHAT_TLS_HANDSHAKES_PER_KEY per client key; the others
 *        |  wait in order, and one whose key is at its limit lets the
 *        |  next key go first (an office behind one NAT whose parties
 *        |  connect at once waits its turn instead of being cut off, and
 *        |  one address's stalled handshakes hold 2 slots, not 8). The
 *        |  accept guard's caps bound how many wait, its deadline how long
 *        v
 *   GTlsServerConnection, no CA store, g_tls_connection_handshake_async()
 *        v
 *   ready function: the room server hands the stream to libsoup
 *
 * glib-networking runs every handshake in a GLib worker thread that blocks
 * while the client is silent (issue #17: 150 half-open handshakes, 99
 * threads, 650 MB, 7 of 8 honest connections failing). The slots keep the
 * threads few (GTask's pool starts at 10: fewer slots than that, and an
 * honest handshake never waits for the pool to grow), and waiting for the
 * ClientHello first keeps silent clients out of them.
 *
 * Versions and ciphers: LETSCHAT_TLS_PRIORITY through glib-networking's
 * G_TLS_GNUTLS_PRIORITY. glib-networking offers no way to refuse a TLS 1.2
 * client's (secure, RFC 5746) renegotiation; TLS 1.3 has none.
 *
 * Everything runs in the thread-default context of letschat_tls_guard_new():
 * the server's, which is not the process's default one when the server runs
 * in a thread of its own (letschatsink serve=true). A source attached to
 * the default context would hand the connection to libsoup, and the
 * WebSocket to the rooms, on whatever thread runs that context, while the
 * server's thread reads the same socket: a join that came before the rooms
 * took the WebSocket in was read and dropped (1 run in 15 of
 * /tls/elements-wss-call), and an application that runs no default main
 * loop never got through a handshake (/tls/server-in-own-thread). */

#define G_LOG_DOMAIN "letschat-server"

#include "letschat-tls-guard.h"

#include <errno.h>
#include <sys/socket.h>

#define TLS_RECORD_HEADER 5
#define TLS_HANDSHAKE_RECORD 0x16
/* RFC 8446 5.1: a plaintext record holds at most 2^14 bytes */
#define TLS_RECORD_MAX 16384

struct _LetsChatTlsGuard
{
  GMainContext *context;        /* the server's: every source runs there */
  GTlsCertificate *certificate;
  LetsChatTlsReadyFunc func;
  gpointer user_data;
  gboolean stopped;

  guint running;
  GHashTable *running_per_key;  /* key -> count */
  GQueue waiting;               /* Pending*, hello complete, no slot yet */
  guint64 n_waited;             /* handshakes that waited for their key */
  guint64 refused_since_log;
  gint64 last_log_us;
  GSource *log_flush;           /* tells what the last second held back */
};

typedef struct
{
  LetsChatTlsGuard *guard;      /* a reference */
  GSocketConnection *connection;
  gchar *key;
  GSource *hello_wait;
  gint lowat;
  GTlsConnection *tls;
} Pending;

static void run_handshake (Pending * pending);

void
letschat_tls_guard_init_priority (void)
{
  g_setenv ("G_TLS_GNUTLS_PRIORITY", LETSCHAT_TLS_PRIORITY, FALSE);
}

static gboolean
on_log_flush (gpointer user_data)
{
  LetsChatTlsGuard *guard = user_data;

  g_clear_pointer (&guard->log_flush, g_source_unref);
  if (guard->refused_since_log > 0)
    g_info ("TLS handshakes waiting over %u per address: %" G_GUINT64_FORMAT
        " more in the last second", LETSCHAT_TLS_HANDSHAKES_PER_KEY,
        guard->refused_since_log);
  guard->refused_since_log = 0;
  guard->last_log_us = g_get_monotonic_time ();
  return G_SOURCE_REMOVE;
}

static void
guard_clear (LetsChatTlsGuard * guard)
{
  g_clear_object (&guard->certificate);
  g_main_context_unref (guard->context);
  g_hash_table_unref (guard->running_per_key);
}

static void
guard_unref (LetsChatTlsGuard * guard)
{
  g_rc_box_release_full (guard, (GDestroyNotify) guard_clear);
}

LetsChatTlsGuard *
letschat_tls_guard_new (GTlsCertificate * certificate,
    LetsChatTlsReadyFunc func, gpointer user_data)
{
  LetsChatTlsGuard *guard = g_rc_box_new0 (LetsChatTlsGuard);

  guard->context = g_main_context_ref_thread_default ();
  guard->certificate = g_object_ref (certificate);
  guard->func = func;
  guard->user_data = user_data;
  guard->running_per_key = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, NULL);
  g_queue_init (&guard->waiting);
  return guard;
}

/* Hands @pending's outcome to the server (unless it stopped) and frees
 * it; the connection closes with its last reference if @stream is NULL. */
static void
finish (Pending * pending, GIOStream * stream)
{
  LetsChatTlsGuard *guard = pending->guard;

  if (pending->hello_wait) {
    g_source_destroy (pending->hello_wait);
    g_clear_pointer (&pending->hello_wait, g_source_unref);
  }
  if (!guard->stopped)
    guard->func (pending->connection, stream, guard->user_data);
  g_clear_object (&pending->tls);
  g_object_unref (pending->connection);
  g_free (pending->key);
  guard_unref (guard);
  g_free (pending);
}

void
letschat_tls_guard_free (LetsChatTlsGuard * guard)
{
  Pending *pending;

  if (guard == NULL)
    return;
  guard->stopped = TRUE;
  if (guard->log_flush) {
    g_source_destroy (guard->log_flush);
    g_clear_pointer (&guard->log_flush, g_source_unref);
  }
  while ((pending = g_queue_pop_head (&guard->waiting)))
    finish (pending, NULL);
  guard_unref (guard);
}

static guint
running_for (LetsChatTlsGuard * guard, const gchar * key)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (guard->running_per_key, key));
}

/* The first waiting connection whose key may start a handshake now,
 * taken out of the queue; NULL if none. */
static Pending *
next_runnable (LetsChatTlsGuard * guard)
{
  GList *l;

  if (guard->running >= LETSCHAT_TLS_HANDSHAKES_MAX)
    return NULL;
  for (l = guard->waiting.head; l; l = l->next) {
    Pending *pending = l->data;

    if (running_for (guard, pending->key) < LETSCHAT_TLS_HANDSHAKES_PER_KEY) {
      g_queue_delete_link (&guard->waiting, l);
      return pending;
    }
  }
  return NULL;
}

/* @pending's key has all its slots: counted, and told once a second at
 * most. */
static void
note_waiting_for_key (LetsChatTlsGuard * guard, Pending * pending)
{
  gint64 now = g_get_monotonic_time ();

  guard->n_waited++;
  guard->refused_since_log++;
  if (now - guard->last_log_us >= G_USEC_PER_SEC) {
    g_info ("%" G_GUINT64_FORMAT " TLS handshake(s) wait: %s has %u "
        "running, the most one address gets at once",
        guard->refused_since_log, pending->key,
        LETSCHAT_TLS_HANDSHAKES_PER_KEY);
    guard->refused_since_log = 0;
    guard->last_log_us = now;
  } else if (guard->log_flush == NULL && !guard->stopped) {
    guard->log_flush = g_timeout_source_new_seconds (1);
    g_source_set_callback (guard->log_flush, on_log_flush, guard, NULL);
    g_source_attach (guard->log_flush, guard->context);
  }
}

static void
on_handshake_done (GObject * source, GAsyncResult * result, gpointer user_data)
{
  Pending *pending = user_data;
  LetsChatTlsGuard *guard = pending->guard;
  guint n = running_for (guard, pending->key);
  gboolean ok;
  Pending *next;

  ok = g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result,
      NULL);
  guard->running--;
  if (n <= 1)
    g_hash_table_remove (guard->running_per_key, pending->key);
  else
    g_hash_table_insert (guard->running_per_key, g_strdup (pending->key),
        GUINT_TO_POINTER (n - 1));

  finish (pending, ok ? G_IO_STREAM (pending->tls) : NULL);

  while (!guard->stopped && (next = next_runnable (guard)))
    run_handshake (next);
}

static void
run_handshake (Pending * pending)
{
  LetsChatTlsGuard *guard = pending->guard;
  GTlsBackend *backend = g_tls_backend_get_default ();
  g_autoptr (GError) error = NULL;

  /* "database" NULL at construction: otherwise glib-networking copies the
   * system's CA store into every connection (about 3.8 MB each, issue
   * #17), and a server that asks for no client certificate needs none. */
  pending->tls = g_initable_new (g_tls_backend_get_server_connection_type
      (backend), NULL, &error, "base-io-stream", pending->connection,
      "certificate", guard->certificate, "database", NULL,
      "require-close-notify", FALSE, NULL);
  if (pending->tls == NULL) {
    g_warning ("Could not set up TLS for a connection: %s", error->message);
    finish (pending, NULL);
    return;
  }
  guard->running++;
  g_hash_table_insert (guard->running_per_key, g_strdup (pending->key),
      GUINT_TO_POINTER (running_for (guard, pending->key) + 1));
  /* its callback comes in the thread-default context of this call */
  g_main_context_push_thread_default (guard->context);
  g_tls_connection_handshake_async (pending->tls, G_PRIORITY_DEFAULT, NULL,
      on_handshake_done, pending);
  g_main_context_pop_thread_default (guard->context);
}

static void
set_lowat (Pending * pending, gint bytes)
{
  GSocket *socket = g_socket_connection_get_socket (pending->connection);

  pending->lowat = bytes;
  g_socket_set_option (socket, SOL_SOCKET, SO_RCVLOWAT, bytes, NULL);
}

/* Readable: at least pending->lowat bytes are there, or the client left. */
static gboolean
on_hello_readable (GSocket * socket, GIOCondition condition, gpointer user_data)
{
  Pending *pending = user_data;
  LetsChatTlsGuard *guard = pending->guard;
  guint8 buf[TLS_RECORD_HEADER + TLS_RECORD_MAX];
  gssize n;
  gint need;

  do {
    n = recv (g_socket_get_fd (socket), buf, sizeof buf, MSG_PEEK);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return G_SOURCE_CONTINUE;

  if (n < TLS_RECORD_HEADER || buf[0] != TLS_HANDSHAKE_RECORD) {
    /* gone, shut down by the deadline, or not TLS at all */
    g_clear_pointer (&pending->hello_wait, g_source_unref);
    finish (pending, NULL);
    return G_SOURCE_REMOVE;
  }
  need = TLS_RECORD_HEADER + ((buf[3] << 8) | buf[4]);
  if (need > (gint) sizeof buf || (n < need && pending->lowat >= need)) {
    /* too long for a record, or readable below the mark: the end came */
    g_clear_pointer (&pending->hello_wait, g_source_unref);
    finish (pending, NULL);
    return G_SOURCE_REMOVE;
  }
  if (n < need) {
    set_lowat (pending, need);
    return G_SOURCE_CONTINUE;
  }

  set_lowat (pending, 1);
  g_clear_pointer (&pending->hello_wait, g_source_unref);
  if (running_for (guard, pending->key) >= LETSCHAT_TLS_HANDSHAKES_PER_KEY) {
    note_waiting_for_key (guard, pending);
    g_queue_push_tail (&guard->waiting, pending);
  } else if (guard->running < LETSCHAT_TLS_HANDSHAKES_MAX) {
    run_handshake (pending);
  } else {
    g_queue_push_tail (&guard->waiting, pending);
  }
  return G_SOURCE_REMOVE;
}

void
letschat_tls_guard_start (LetsChatTlsGuard * guard,
    GSocketConnection * connection, const gchar * key)
{
  Pending *pending = g_new0 (Pending, 1);
  GSocket *socket = g_socket_connection_get_socket (connection);

  pending->guard = g_rc_box_acquire (guard);
  pending->connection = g_object_ref (connection);
  pending->key = g_strdup (key);
  set_lowat (pending, TLS_RECORD_HEADER);
  pending->hello_wait = g_socket_create_source (socket, G_IO_IN, NULL);
  g_source_set_callback (pending->hello_wait,
      G_SOURCE_FUNC (on_hello_readable), pending, NULL);
  g_source_attach (pending->hello_wait, guard->context);
}

guint64
letschat_tls_guard_get_n_waited (LetsChatTlsGuard * guard)
{
  return guard->n_waited;       /* handshakes that waited for their key */
}
