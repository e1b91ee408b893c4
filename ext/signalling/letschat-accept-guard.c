/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* What a TCP connection meets before it is an HTTP request: the accept
 * loop, the caps on connections open at once, and the deadline of a
 * connection that is not a WebSocket (yet).
 *
 *   listening socket --readable--> accept4() ...  up to ACCEPT_BATCH
 *        |  EMFILE/ENFILE: close the spare fd, accept and close one
 *        |  connection with it, take the spare back, and stop accepting
 *        |  for a delay that doubles (10 ms .. 1 s) until one succeeds
 *        v
 *   caps: total and per client key (IPv4 address, IPv6 /64) -> close
 *        v
 *   Entry (qdata of the GSocket): counted until the GSocket goes; a
 *   deadline that shuts the socket down unless the server rearms it
 *        v
 *   LetsChatAcceptFunc -> SoupServer (letschat-room-server.c)
 *
 * GSocketService would do the accepting, but on EMFILE its loop spins: the
 * listening socket stays readable and every try fails at once, one log line
 * each (issue #17: 19 MB of stderr in 47 s, a core at 95 %). Here the
 * accept is ours, so that a full descriptor table means a pause, not a
 * spin.
 *
 * Everything runs in the thread-default context of
 * letschat_accept_guard_new(): the server's. Log lines about refusals are
 * summarised, at most one a second per kind, with the count. */

#define G_LOG_DOMAIN "letschat-server"
#define _GNU_SOURCE             /* accept4() */

#include "letschat-accept-guard.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Connections taken per wake-up: others wait in the backlog, so that a
 * burst of connections does not hold the loop from the parties' work. */
#define ACCEPT_BATCH 64
#define PAUSE_MIN_MS 10
#define PAUSE_MAX_MS 1000
/* glibc keeps freed memory in its arenas: after a burst of connections
 * (an attack, or a crowd leaving) RSS stayed at its peak (issue #17: 315
 * MB after the sockets closed). Once the open connections fall to half a
 * peak of at least this many, the heap is trimmed, a second later. */
#define TRIM_PEAK_MIN 64

/* One summarised log line a second at most for each kind of refusal. */
typedef struct
{
  gint64 last_us;
  guint64 since_last;
  const gchar *what;            /* for the flush line */
} LogThrottle;

struct _LetsChatAcceptGuard
{
  GSocket *listening;
  GMainContext *context;
  GSource *accept_source;
  GSource *pause_source;
  guint pause_ms;
  gint spare_fd;                /* /dev/null, given up to accept on EMFILE */

  LetsChatAcceptFunc func;
  gpointer user_data;
  gboolean stopped;

  guint max_total, max_per_key;
  guint deadline_s;
  guint n_open;
  guint peak_open;              /* since the last trim */
  GSource *trim_source;
  GHashTable *per_key;          /* key -> count, for the open ones */

  LetsChatTransportCounters counters;
  LogThrottle log_fds, log_per_ip, log_total, log_deadline;
  /* Events held back by a throttle are told a second later, so that the
   * end of a burst is not lost */
  GSource *log_flush;
};

/* One accepted connection, kept as qdata of its GSocket: whoever holds the
 * socket last (libsoup, or the WebSocket after the upgrade), the count goes
 * down when it lets go. */
typedef struct
{
  LetsChatAcceptGuard *guard;   /* a reference */
  gchar *key;
  GSocket *socket;              /* not a reference: we are its qdata */
  GSource *deadline;
  gboolean upgraded;
} Entry;

static gboolean accept_some (GSocket * socket, GIOCondition condition,
    gpointer user_data);

static GQuark
entry_quark (void)
{
  return g_quark_from_static_string ("letschat-accept-guard-entry");
}

gchar *
letschat_client_key_for_address (GInetAddress * address)
{
  const guint8 *bytes;
  g_autoptr (GInetAddress) prefix = NULL;
  g_autofree gchar *text = NULL;
  guint8 masked[16];

  g_return_val_if_fail (G_IS_INET_ADDRESS (address), NULL);

  if (g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV6)
    return g_inet_address_to_string (address);

  bytes = g_inet_address_to_bytes (address);
  /* ::ffff:a.b.c.d is an IPv4 client on a dual-stack socket */
  if (memcmp (bytes, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
    return g_strdup_printf ("%u.%u.%u.%u", bytes[12], bytes[13], bytes[14],
        bytes[15]);
  memcpy (masked, bytes, 8);
  memset (masked + 8, 0, 8);
  prefix = g_inet_address_new_from_bytes (masked, G_SOCKET_FAMILY_IPV6);
  text = g_inet_address_to_string (prefix);
  return g_strdup_printf ("%s/64", text);
}

static gboolean
on_log_flush (gpointer user_data)
{
  LetsChatAcceptGuard *guard = user_data;
  LogThrottle *all[] = { &guard->log_fds, &guard->log_per_ip,
    &guard->log_total, &guard->log_deadline
  };
  guint i;

  g_clear_pointer (&guard->log_flush, g_source_unref);
  for (i = 0; i < G_N_ELEMENTS (all); i++) {
    if (all[i]->since_last == 0)
      continue;
    g_info ("%s: %" G_GUINT64_FORMAT " more in the last second",
        all[i]->what, all[i]->since_last);
    all[i]->since_last = 0;
    all[i]->last_us = g_get_monotonic_time ();
  }
  return G_SOURCE_REMOVE;
}

/* TRUE when a summary line is due; @n is then the events it covers. */
static gboolean
log_throttle_tick (LetsChatAcceptGuard * guard, LogThrottle * throttle,
    guint64 * n)
{
  gint64 now = g_get_monotonic_time ();

  throttle->since_last++;
  if (throttle->last_us != 0 && now - throttle->last_us < G_USEC_PER_SEC) {
    if (guard->log_flush == NULL && !guard->stopped) {
      guard->log_flush = g_timeout_source_new_seconds (1);
      g_source_set_callback (guard->log_flush, on_log_flush, guard, NULL);
      g_source_attach (guard->log_flush, guard->context);
    }
    return FALSE;
  }
  throttle->last_us = now;
  *n = throttle->since_last;
  throttle->since_last = 0;
  return TRUE;
}

static LetsChatAcceptGuard *
guard_ref (LetsChatAcceptGuard * guard)
{
  return g_rc_box_acquire (guard);
}

static void
guard_clear (LetsChatAcceptGuard * guard)
{
  g_hash_table_unref (guard->per_key);
  g_main_context_unref (guard->context);
  if (guard->spare_fd >= 0)
    close (guard->spare_fd);
}

static void
guard_unref (LetsChatAcceptGuard * guard)
{
  g_rc_box_release_full (guard, (GDestroyNotify) guard_clear);
}

static void
entry_stop_deadline (Entry * entry)
{
  if (entry->deadline) {
    g_source_destroy (entry->deadline);
    g_clear_pointer (&entry->deadline, g_source_unref);
  }
}

static gboolean
on_trim (gpointer user_data)
{
  LetsChatAcceptGuard *guard = user_data;

  g_clear_pointer (&guard->trim_source, g_source_unref);
  malloc_trim (0);
  guard->peak_open = guard->n_open;
  return G_SOURCE_REMOVE;
}

static void
maybe_trim (LetsChatAcceptGuard * guard)
{
  if (guard->peak_open < TRIM_PEAK_MIN || guard->n_open > guard->peak_open / 2
      || guard->trim_source || guard->stopped)
    return;
  guard->trim_source = g_timeout_source_new_seconds (1);
  g_source_set_callback (guard->trim_source, on_trim, guard, NULL);
  g_source_attach (guard->trim_source, guard->context);
}

static void
entry_free (Entry * entry)
{
  LetsChatAcceptGuard *guard = entry->guard;
  guint n = GPOINTER_TO_UINT (g_hash_table_lookup (guard->per_key,
          entry->key));

  entry_stop_deadline (entry);
  if (n <= 1)
    g_hash_table_remove (guard->per_key, entry->key);
  else
    g_hash_table_insert (guard->per_key, g_strdup (entry->key),
        GUINT_TO_POINTER (n - 1));
  guard->n_open--;
  maybe_trim (guard);
  g_free (entry->key);
  guard_unref (guard);
  g_free (entry);
}

/* The connection took too long for its step: shutting the socket down
 * (rather than closing it under libsoup's feet) ends whatever waits on it,
 * a TLS handshake in glib-networking's thread included, and libsoup then
 * closes the connection its usual way. */
static gboolean
on_deadline (gpointer user_data)
{
  Entry *entry = user_data;
  LetsChatAcceptGuard *guard = entry->guard;
  guint64 n;

  g_clear_pointer (&entry->deadline, g_source_unref);
  guard->counters.handshake_timeouts++;
  if (log_throttle_tick (guard, &guard->log_deadline, &n))
    g_info ("closed %" G_GUINT64_FORMAT " connection(s) that did not "
        "finish their TLS handshake, request or response within %u s "
        "(last from %s)", n, guard->deadline_s, entry->key);
  g_socket_shutdown (entry->socket, TRUE, TRUE, NULL);
  return G_SOURCE_REMOVE;
}

static void
entry_arm (Entry * entry)
{
  entry_stop_deadline (entry);
  if (entry->upgraded || entry->guard->deadline_s == 0)
    return;
  entry->deadline = g_timeout_source_new_seconds (entry->guard->deadline_s);
  g_source_set_callback (entry->deadline, on_deadline, entry, NULL);
  g_source_attach (entry->deadline, entry->guard->context);
}

void
letschat_accept_guard_rearm (GSocket * socket)
{
  Entry *entry = g_object_get_qdata (G_OBJECT (socket), entry_quark ());

  if (entry)
    entry_arm (entry);
}

void
letschat_accept_guard_upgraded (GSocket * socket)
{
  Entry *entry = g_object_get_qdata (G_OBJECT (socket), entry_quark ());

  if (entry) {
    entry->upgraded = TRUE;
    entry_stop_deadline (entry);
  }
}

const gchar *
letschat_accept_guard_key_of (GSocket * socket)
{
  Entry *entry = g_object_get_qdata (G_OBJECT (socket), entry_quark ());

  return entry ? entry->key : NULL;
}

static void
watch_listening_socket (LetsChatAcceptGuard * guard)
{
  guard->accept_source = g_socket_create_source (guard->listening, G_IO_IN,
      NULL);
  g_source_set_callback (guard->accept_source, G_SOURCE_FUNC (accept_some),
      guard, NULL);
  g_source_attach (guard->accept_source, guard->context);
}

static gboolean
on_pause_over (gpointer user_data)
{
  LetsChatAcceptGuard *guard = user_data;

  g_clear_pointer (&guard->pause_source, g_source_unref);
  watch_listening_socket (guard);
  return G_SOURCE_REMOVE;
}

/* Out of descriptors: the kernel keeps the connection in the backlog and
 * the socket readable, so trying again at once would spin. The spare
 * descriptor lets us take one connection off the backlog and close it
 * (the client sees a clean close rather than a hang), then we wait. */
static void
pause_accepting (LetsChatAcceptGuard * guard, gint error_code)
{
  guint64 n;
  gint fd;

  guard->counters.out_of_fds++;
  if (guard->spare_fd >= 0) {
    close (guard->spare_fd);
    fd = accept4 (g_socket_get_fd (guard->listening), NULL, NULL, SOCK_CLOEXEC);
    if (fd >= 0)
      close (fd);
    guard->spare_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  }

  guard->pause_ms = guard->pause_ms ?
      MIN (guard->pause_ms * 2, PAUSE_MAX_MS) : PAUSE_MIN_MS;
  if (log_throttle_tick (guard, &guard->log_fds, &n))
    g_info ("out of file descriptors (%s, %u open connections): closed "
        "%" G_GUINT64_FORMAT " new connection(s) unanswered, not accepting "
        "for %u ms", g_strerror (error_code), guard->n_open, n,
        guard->pause_ms);

  g_source_destroy (guard->accept_source);
  g_clear_pointer (&guard->accept_source, g_source_unref);
  guard->pause_source = g_timeout_source_new (guard->pause_ms);
  g_source_set_callback (guard->pause_source, on_pause_over, guard, NULL);
  g_source_attach (guard->pause_source, guard->context);
}

/* FALSE (and a summarised log line) when @key is at a cap. */
static gboolean
admit (LetsChatAcceptGuard * guard, const gchar * key)
{
  guint n_key = GPOINTER_TO_UINT (g_hash_table_lookup (guard->per_key, key));
  guint64 n;

  if (guard->n_open >= guard->max_total) {
    guard->counters.refused_total++;
    if (log_throttle_tick (guard, &guard->log_total, &n))
      g_info ("refused %" G_GUINT64_FORMAT " connection(s): %u open, the "
          "most the server takes (--max-connections and the page's "
          "allowance); last from %s", n, guard->n_open, key);
    return FALSE;
  }
  if (n_key >= guard->max_per_key) {
    guard->counters.refused_per_ip++;
    if (log_throttle_tick (guard, &guard->log_per_ip, &n))
      g_info ("refused %" G_GUINT64_FORMAT " connection(s): %s has %u "
          "open, the most one address takes (--max-per-ip and the page's "
          "allowance)", n, key, n_key);
    return FALSE;
  }
  return TRUE;
}

static void
take_connection (LetsChatAcceptGuard * guard, gint fd)
{
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GSocketAddress) remote = NULL;
  g_autoptr (GSocketConnection) connection = NULL;
  Entry *entry;
  gchar *key;
  guint n_key;

  socket = g_socket_new_from_fd (fd, NULL);
  if (socket == NULL) {
    close (fd);
    return;
  }
  remote = g_socket_get_remote_address (socket, NULL);
  if (!G_IS_INET_SOCKET_ADDRESS (remote))
    return;                     /* gone already */
  key = letschat_client_key_for_address (g_inet_socket_address_get_address
      (G_INET_SOCKET_ADDRESS (remote)));
  if (!admit (guard, key)) {
    g_free (key);
    return;                     /* the socket closes with its last reference */
  }

  n_key = GPOINTER_TO_UINT (g_hash_table_lookup (guard->per_key, key));
  g_hash_table_insert (guard->per_key, g_strdup (key),
      GUINT_TO_POINTER (n_key + 1));
  guard->n_open++;
  guard->peak_open = MAX (guard->peak_open, guard->n_open);
  guard->counters.accepted++;

  entry = g_new0 (Entry, 1);
  entry->guard = guard_ref (guard);
  entry->key = key;
  entry->socket = socket;
  g_object_set_qdata_full (G_OBJECT (socket), entry_quark (), entry,
      (GDestroyNotify) entry_free);
  entry_arm (entry);

  g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, TRUE, NULL);
  connection = g_socket_connection_factory_create_connection (socket);
  guard->func (connection, guard->user_data);
}

static gboolean
accept_some (GSocket * listening, GIOCondition condition, gpointer user_data)
{
  LetsChatAcceptGuard *guard = user_data;
  guint i;

  for (i = 0; i < ACCEPT_BATCH; i++) {
    gint fd = accept4 (g_socket_get_fd (listening), NULL, NULL,
        SOCK_CLOEXEC | SOCK_NONBLOCK);

    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) {
        pause_accepting (guard, errno);
        return G_SOURCE_REMOVE;
      }
      /* EAGAIN: the backlog is empty; anything else (ECONNABORTED, ...)
       * concerns that one connection */
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        break;
      continue;
    }
    guard->pause_ms = 0;
    take_connection (guard, fd);
    if (guard->stopped)
      break;
  }
  return G_SOURCE_CONTINUE;
}

LetsChatAcceptGuard *
letschat_accept_guard_new (GSocket * listening, LetsChatAcceptFunc func,
    gpointer user_data)
{
  LetsChatAcceptGuard *guard = g_rc_box_new0 (LetsChatAcceptGuard);

  guard->listening = g_object_ref (listening);
  g_socket_set_blocking (listening, FALSE);
  guard->context = g_main_context_ref_thread_default ();
  guard->func = func;
  guard->user_data = user_data;
  guard->max_total = G_MAXUINT;
  guard->max_per_key = G_MAXUINT;
  guard->per_key = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  guard->spare_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  guard->log_fds.what = "out of file descriptors, connections closed";
  guard->log_per_ip.what = "connections refused over --max-per-ip";
  guard->log_total.what = "connections refused over --max-connections";
  guard->log_deadline.what = "connections closed at --handshake-timeout";
  watch_listening_socket (guard);
  return guard;
}

void
letschat_accept_guard_free (LetsChatAcceptGuard * guard)
{
  if (guard == NULL)
    return;
  guard->stopped = TRUE;
  if (guard->accept_source) {
    g_source_destroy (guard->accept_source);
    g_clear_pointer (&guard->accept_source, g_source_unref);
  }
  if (guard->pause_source) {
    g_source_destroy (guard->pause_source);
    g_clear_pointer (&guard->pause_source, g_source_unref);
  }
  if (guard->trim_source) {
    g_source_destroy (guard->trim_source);
    g_clear_pointer (&guard->trim_source, g_source_unref);
  }
  if (guard->log_flush) {
    g_source_destroy (guard->log_flush);
    g_clear_pointer (&guard->log_flush, g_source_unref);
  }
  g_socket_close (guard->listening, NULL);
  g_clear_object (&guard->listening);
  guard_unref (guard);
}

void
letschat_accept_guard_set_limits (LetsChatAcceptGuard * guard,
    guint max_total, guint max_per_key)
{
  guard->max_total = max_total;
  guard->max_per_key = max_per_key;
}

void
letschat_accept_guard_set_deadline (LetsChatAcceptGuard * guard, guint seconds)
{
  guard->deadline_s = seconds;
}

LetsChatTransportCounters *
letschat_accept_guard_get_counters (LetsChatAcceptGuard * guard)
{
  return &guard->counters;
}

guint
letschat_accept_guard_get_n_open (LetsChatAcceptGuard * guard)
{
  return guard->n_open;
}
