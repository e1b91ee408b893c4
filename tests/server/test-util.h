/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>
#include <json-glib/json-glib.h>

#include "letschat-client.h"

G_BEGIN_DECLS
/* Every wait in these tests has a deadline: a broken server fails the test
 * with the condition that never came true, it never hangs the suite. */
#define WAIT_TIMEOUT_MS 5000
    gboolean test_wait_tick (gpointer unused);

#define WAIT_UNTIL_MS(cond, timeout_ms) G_STMT_START {                 \
    guint _tick = g_timeout_add (5, test_wait_tick, NULL);            \
    gint64 _deadline = g_get_monotonic_time () +                      \
        (gint64) (timeout_ms) * G_TIME_SPAN_MILLISECOND;               \
    while (!(cond) && g_get_monotonic_time () < _deadline)            \
      g_main_context_iteration (NULL, TRUE);                          \
    g_source_remove (_tick);                                          \
    if (!(cond))                                                      \
      g_error ("%s:%d: timed out after %d ms waiting for: %s",        \
          __FILE__, __LINE__, (int) (timeout_ms), #cond);             \
  } G_STMT_END

#define WAIT_UNTIL(cond) WAIT_UNTIL_MS (cond, WAIT_TIMEOUT_MS)

/* Spins the main context for @ms without waiting for anything. */
void test_iterate_for (guint ms);

/* A raw WebSocket party: sends any bytes, and records every message the
 * server sends as a parsed JSON object, for hostile-input tests. */
typedef struct
{
  SoupWebsocketConnection *ws;
  GQueue messages;              /* JsonNode*, oldest first */
  GPtrArray *seen;              /* JsonNode* handed out by expect() */
  gboolean closed;
  gushort close_code;
} RawPeer;

RawPeer *raw_peer_connect (SoupSession * session, const gchar * url);
/* The HTTP status of a WebSocket handshake to @url from a page on
 * @origin (NULL: none sent; 101: accepted); an accepted connection is
 * closed again. */
guint websocket_handshake_status (SoupSession * session, const gchar * url,
    const gchar * origin);
void raw_peer_send (RawPeer * peer, const gchar * text);
/* Waits for the next message, checks its type, returns its object
 * (valid until raw_peer_free()). */
JsonObject *raw_peer_expect (RawPeer * peer, const gchar * type);
/* Waits for an error message with @code. */
void raw_peer_expect_error (RawPeer * peer, const gchar * code);
/* Spins for @ms and checks nothing arrived. */
void raw_peer_expect_nothing (RawPeer * peer, guint ms);
/* Joins @room (NULL: strangers) and returns the welcome object. */
JsonObject *raw_peer_join (RawPeer * peer, const gchar * room,
    const gchar * secret);
/* Closes (if open), waits for the close handshake, frees. */
void raw_peer_free (RawPeer * peer);

/* A LetsChatClient with every signal recorded. */
typedef struct
{
  LetsChatClient *client;
  gboolean connected;
  GError *connect_error;

  gchar *id;                    /* from welcome */
  gchar *room;
  gchar *welcome_peer_id;
  gchar *welcome_peer_name;
  JsonNode *ice_servers;
  guint n_welcome;

  gchar *joined_id;             /* last peer-joined */
  gchar *joined_name;
  guint n_joined;
  gchar *left_id;               /* last peer-left */
  guint n_left;

  GPtrArray *signals;           /* JsonNode* data, in order */
  gchar *signal_from;           /* last signal's from */

  gchar *error_code;            /* last server-error */
  gchar *error_message;
  guint n_errors;

  gboolean closed;
  GError *closed_error;
} ClientPeer;

ClientPeer *client_peer_new (void);
/* Starts connecting; wait on ->connected or ->connect_error. */
void client_peer_connect_async (ClientPeer * peer, const gchar * url,
    guint timeout_ms);
/* Connects and waits for the connection. */
ClientPeer *client_peer_connect (const gchar * url);
/* Joins and waits for welcome. */
void client_peer_join (ClientPeer * peer, const gchar * room,
    const gchar * secret, const gchar * name);
void client_peer_free (ClientPeer * peer);

/* The letschat-server program (LETSCHAT_SERVER) as a test's peer: started
 * on a free port, its output kept, killed with the test if the test dies. */
typedef struct
{
  GSubprocess *process;
  GDataInputStream *out;
  GString *output;              /* everything it printed so far */
  GCancellable *cancellable;
  gboolean eof;                 /* its stdout is read to the end */
  gboolean exited;
  guint16 port;
  gboolean tls;
  gchar *url;                   /* ws(s)://127.0.0.1:PORT/ws */
} ServerProcess;

/* The program's path, from LETSCHAT_SERVER (set by meson test). */
const gchar *server_process_path (void);
/* Starts it with "--port=0" then @args (NULL-terminated) and waits for its
 * first line (text or --log-format json), which says where it listens. */
ServerProcess *server_process_start (const gchar * const *args);
ServerProcess *
server_process_start_va (const gchar * first_arg, ...)
    G_GNUC_NULL_TERMINATED;
/* SIGTERM, then asserts the exit was clean (status 0: a crash fails). */
     void server_process_stop (ServerProcess * s);

G_END_DECLS
