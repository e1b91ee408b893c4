/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* The strangers' queue of a real letschat-server process, and its rules
 * (docs/protocol.md, letschat-strangers.c): first come first served, a
 * party that left or died or stopped answering is never handed out, two
 * parties from one address meet only when nobody else waits, and two who
 * just parted are not paired again at once. Parties come from different
 * loopback addresses (127.0.0.2, .3, ...) so that the server sees
 * different IPs. */

#include "letschat-protocol.h"
#include "test-util.h"

#include <signal.h>
#include <string.h>

typedef struct
{
  ServerProcess *server;
  GHashTable *sessions;         /* source IP -> SoupSession */
} Fixture;

typedef struct
{
  RawPeer *raw;
  gchar *id;
  gchar *room;
  gchar *peer;                  /* the stranger its welcome named, or NULL */
} Stranger;


/* The server pings every second: a party silent for 3 s is passed over. */
static void
fixture_set_up (Fixture * f, gconstpointer data)
{
  f->server = server_process_start_va ("--ping-interval=1",
      "--ping-timeout=60", NULL);
  f->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      g_object_unref);
}

static void
fixture_tear_down (Fixture * f, gconstpointer data)
{
  g_test_message ("server log:\n%s", f->server->output->str);
  server_process_stop (f->server);
  g_hash_table_unref (f->sessions);
}

/* A session whose connections leave from @ip (any 127.0.0.0/8 address is
 * this machine's). */
static SoupSession *
session_from (Fixture * f, const gchar * ip)
{
  SoupSession *session = g_hash_table_lookup (f->sessions, ip);

  if (session == NULL) {
    g_autoptr (GInetAddress) address = g_inet_address_new_from_string (ip);
    g_autoptr (GSocketAddress) local = g_inet_socket_address_new (address, 0);

    session = soup_session_new_with_options ("local-address", local, NULL);
    g_hash_table_insert (f->sessions, g_strdup (ip), session);
  }
  return session;
}

static void
stranger_read_welcome (Stranger * s, JsonObject * welcome)
{
  JsonArray *peers = json_object_get_array_member (welcome, "peers");

  g_free (s->id);
  g_free (s->room);
  g_free (s->peer);
  s->id = g_strdup (json_object_get_string_member (welcome, "id"));
  s->room = g_strdup (json_object_get_string_member (welcome, "room"));
  s->peer = json_array_get_length (peers) > 0 ?
      g_strdup (json_object_get_string_member
      (json_array_get_object_element (peers, 0), "id")) : NULL;
  g_test_message ("%s: room %s, %s%s", s->id, s->room,
      s->peer ? "paired with " : "waiting", s->peer ? s->peer : "");
}

/* Connects from @ip and asks for a stranger. */
static Stranger *
stranger_join (Fixture * f, const gchar * ip)
{
  Stranger *s = g_new0 (Stranger, 1);

  s->raw = raw_peer_connect (session_from (f, ip), f->server->url);
  stranger_read_welcome (s, raw_peer_join (s->raw, NULL, NULL));
  return s;
}

/* Leaves the stranger (it is told peer-left) and asks for another. */
static void
stranger_next (Stranger * s, Stranger * left)
{
  raw_peer_send (s->raw, "{\"type\": \"leave\"}");
  if (left)
    raw_peer_expect (left->raw, "peer-left");
  stranger_read_welcome (s, raw_peer_join (s->raw, NULL, NULL));
}

static void
stranger_free (Stranger * s)
{
  raw_peer_free (s->raw);
  g_free (s->id);
  g_free (s->room);
  g_free (s->peer);
  g_free (s);
}

/* The waiting party is told who came. */
static void
assert_paired (Stranger * waiting, Stranger * newcomer)
{
  JsonObject *joined;

  g_assert_cmpstr (newcomer->peer, ==, waiting->id);
  g_assert_cmpstr (newcomer->room, ==, waiting->room);
  joined = raw_peer_expect (waiting->raw, "peer-joined");
  g_assert_cmpstr (json_object_get_string_member
      (json_object_get_object_member (joined, "peer"), "id"), ==, newcomer->id);
}

/* Two who just parted both ask again: neither gets the other; the ones
 * who come next get them in the order they queued. */
static void
test_first_come_no_repair (Fixture * f, gconstpointer data)
{
  Stranger *a, *b, *c, *d;

  a = stranger_join (f, "127.0.0.2");
  g_assert_null (a->peer);
  b = stranger_join (f, "127.0.0.3");
  assert_paired (a, b);

  /* a presses "Next", then b does: they are kept apart */
  stranger_next (a, b);
  g_assert_null (a->peer);
  stranger_next (b, NULL);
  g_assert_null (b->peer);
  g_assert_cmpstr (b->room, !=, a->room);

  /* first come, first served */
  c = stranger_join (f, "127.0.0.4");
  assert_paired (a, c);
  d = stranger_join (f, "127.0.0.5");
  assert_paired (b, d);

  stranger_free (a);
  stranger_free (b);
  stranger_free (c);
  stranger_free (d);
}

/* A newcomer from address X passes over a party from X that waits longer
 * for one from elsewhere; when only a party from X waits, they meet. */
static void
test_same_address_last (Fixture * f, gconstpointer data)
{
  Stranger *p, *t, *n, *m;

  /* p (X) and t wait, p first: they just parted, so they wait apart */
  p = stranger_join (f, "127.0.0.2");
  t = stranger_join (f, "127.0.0.3");
  assert_paired (p, t);
  stranger_next (p, t);
  stranger_next (t, NULL);
  g_assert_null (p->peer);
  g_assert_null (t->peer);

  n = stranger_join (f, "127.0.0.2");
  assert_paired (t, n);
  m = stranger_join (f, "127.0.0.2");
  assert_paired (p, m);

  stranger_free (p);
  stranger_free (t);
  stranger_free (n);
  stranger_free (m);
}

/* Waits for the server's log to say @id disconnected. */
static gboolean
server_saw_disconnect (Fixture * f, const gchar * id)
{
  g_autofree gchar *line = g_strdup_printf ("disconnect id=%s", id);

  return strstr (f->server->output->str, line) != NULL;
}

/* A party in a main context of its own, iterated only to connect and
 * join: afterwards it answers no ping, as one whose machine went to sleep
 * with its socket still open. */
typedef struct
{
  GMainContext *context;
  SoupSession *session;
  SoupWebsocketConnection *ws;
  gchar *room;
} SilentParty;

static void
silent_on_connected (GObject * source, GAsyncResult * result, gpointer data)
{
  SilentParty *s = data;

  s->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source),
      result, NULL);
  g_assert_nonnull (s->ws);
}

static void
silent_on_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer data)
{
  SilentParty *s = data;
  g_autoptr (JsonNode) node = json_from_string (g_bytes_get_data (bytes,
          NULL), NULL);
  JsonObject *o = json_node_get_object (node);

  if (g_strcmp0 (json_object_get_string_member (o, "type"), "welcome") == 0)
    s->room = g_strdup (json_object_get_string_member (o, "room"));
}

static void
silent_iterate_until (SilentParty * s, gboolean * done_flag, gpointer ptr)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_TIMEOUT_MS * 1000;

  while (!(done_flag ? *done_flag : *(gpointer *) ptr != NULL)
      && g_get_monotonic_time () < deadline)
    g_main_context_iteration (s->context, FALSE);
  g_assert_true (done_flag ? *done_flag : *(gpointer *) ptr != NULL);
}

static SilentParty *
silent_party_join (Fixture * f, const gchar * ip)
{
  SilentParty *s = g_new0 (SilentParty, 1);
  g_autoptr (GInetAddress) address = g_inet_address_new_from_string (ip);
  g_autoptr (GSocketAddress) local = g_inet_socket_address_new (address, 0);
  g_autoptr (SoupMessage) msg =
      soup_message_new (SOUP_METHOD_GET, f->server->url);

  s->context = g_main_context_new ();
  g_main_context_push_thread_default (s->context);
  s->session = soup_session_new_with_options ("local-address", local, NULL);
  soup_session_websocket_connect_async (s->session, msg, NULL, NULL,
      G_PRIORITY_DEFAULT, NULL, silent_on_connected, s);
  silent_iterate_until (s, NULL, &s->ws);
  g_signal_connect (s->ws, "message", G_CALLBACK (silent_on_message), s);
  soup_websocket_connection_send_text (s->ws, "{\"type\": \"join\"}");
  silent_iterate_until (s, NULL, &s->room);
  g_main_context_pop_thread_default (s->context);
  return s;
}

static void
silent_party_free (SilentParty * s)
{
  g_main_context_push_thread_default (s->context);
  soup_websocket_connection_close (s->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  while (soup_websocket_connection_get_state (s->ws) !=
      SOUP_WEBSOCKET_STATE_CLOSED)
    g_main_context_iteration (s->context, TRUE);
  g_object_unref (s->ws);
  g_object_unref (s->session);
  g_main_context_pop_thread_default (s->context);
  g_main_context_unref (s->context);
  g_free (s->room);
  g_free (s);
}

/* A party that left the queue, whose socket died, or that stopped
 * answering is never handed out. */
static void
test_gone_never_handed_out (Fixture * f, gconstpointer data)
{
  Stranger *a, *c, *d, *e;
  g_autofree gchar *a_room = NULL;
  g_autofree gchar *d_room = NULL;
  g_autofree gchar *d_id = NULL;

  /* left */
  a = stranger_join (f, "127.0.0.2");
  a_room = g_strdup (a->room);
  raw_peer_send (a->raw, "{\"type\": \"leave\"}");
  c = stranger_join (f, "127.0.0.3");
  g_assert_null (c->peer);
  g_assert_cmpstr (c->room, !=, a_room);
  raw_peer_send (c->raw, "{\"type\": \"leave\"}");

  /* died (its socket closed) */
  d = stranger_join (f, "127.0.0.4");
  d_room = g_strdup (d->room);
  d_id = g_strdup (d->id);
  stranger_free (d);
  WAIT_UNTIL (server_saw_disconnect (f, d_id));
  e = stranger_join (f, "127.0.0.5");
  g_assert_null (e->peer);
  g_assert_cmpstr (e->room, !=, d_room);

  raw_peer_send (e->raw, "{\"type\": \"leave\"}");

  /* stopped answering: the server pings every second, and passes over a
   * party it has not heard from for 3 s (ping-interval + 2) */
  {
    SilentParty *silent = silent_party_join (f, "127.0.0.6");
    Stranger *g;

    test_iterate_for (4000);
    g = stranger_join (f, "127.0.0.7");
    g_assert_null (g->peer);
    g_assert_cmpstr (g->room, !=, silent->room);
    stranger_free (g);
    silent_party_free (silent);
  }

  stranger_free (a);
  stranger_free (c);
  stranger_free (e);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_set_up, \
    func, fixture_tear_down)
  ADD ("/strangers/first-come-no-repair", test_first_come_no_repair);
  ADD ("/strangers/same-address-last", test_same_address_last);
  ADD ("/strangers/gone-never-handed-out", test_gone_never_handed_out);
#undef ADD

  return g_test_run ();
}
