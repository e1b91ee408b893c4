/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* One abuser against a real letschat-server process while 20 rooms hold
 * calls: 10,000 hostile messages (malformed, oversized, floods over the
 * rate limit, joins to full rooms, wrong secrets, signals while in no
 * room), reconnecting each time the server closes it. Every honest
 * signal must arrive, the server's resident memory must stay flat, and
 * the abuser must end up rate-limited and closed. */

#include "letschat-protocol.h"
#include "test-util.h"

#include <signal.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>

#define N_ROOMS 20
#define N_HOSTILE 10000
#define BATCH 100
/* what "flat" means: a few MiB of allocator slack, not growth per message */
#define MAX_GROWTH_KB (8 * 1024)

/* A failed assertion must not leave the server behind (nor keep meson
 * waiting on its inherited pipes). */
static void
die_with_parent (gpointer unused)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static gchar *
start_server (GSubprocess ** proc)
{
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  const gchar *server = g_getenv ("LETSCHAT_SERVER");
  g_autoptr (GError) error = NULL;
  g_autoptr (GDataInputStream) out = NULL;
  g_autofree gchar *line = NULL;
  g_autoptr (GFileOutputStream) null_out = NULL;
  const gchar *url;

  g_assert_nonnull (server);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
      G_SUBPROCESS_FLAGS_STDERR_MERGE);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  *proc = g_subprocess_launcher_spawn (launcher, &error, server, "--port",
      "0", "--max-per-ip", "100", "--max-rooms-per-ip", "100",
      "--room-secret", "vault=s3cret", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (*proc));
  line = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (line);
  url = strstr (line, "ws://");
  g_assert_nonnull (url);
  /* The log lines that follow (one per refusal) are drained to /dev/null
   * on the main context: a full pipe would stall the server. */
  null_out = g_file_append_to (g_file_new_for_path ("/dev/null"),
      G_FILE_CREATE_NONE, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_splice_async (G_OUTPUT_STREAM (null_out),
      G_INPUT_STREAM (out), G_OUTPUT_STREAM_SPLICE_CLOSE_TARGET,
      G_PRIORITY_DEFAULT, NULL, NULL, NULL);
  return g_strdup (url);
}

static guint
rss_kb (GSubprocess * proc)
{
  g_autofree gchar *path = g_strdup_printf ("/proc/%s/status",
      g_subprocess_get_identifier (proc));
  g_autofree gchar *status = NULL;
  const gchar *line;

  g_assert_true (g_file_get_contents (path, &status, NULL, NULL));
  line = strstr (status, "VmRSS:");
  g_assert_nonnull (line);
  return (guint) strtoul (line + strlen ("VmRSS:"), NULL, 10);
}

typedef struct
{
  SoupSession *session;
  const gchar *url;
  RawPeer *peer;
  guint n_sent;
  guint n_closed;               /* times the server closed it */
  guint n_rate_limited;
  guint n_other_errors;
} Abuser;

static void
abuser_collect (Abuser * a)
{
  JsonNode *node;

  while ((node = g_queue_pop_head (&a->peer->messages))) {
    JsonObject *o = json_node_get_object (node);

    if (g_strcmp0 (json_object_get_string_member_with_default (o, "code",
                ""), LETSCHAT_ERROR_RATE_LIMITED) == 0)
      a->n_rate_limited++;
    else
      a->n_other_errors++;
    json_node_unref (node);
  }
}

static void
abuser_send_batch (Abuser * a, guint n)
{
  static const gchar *const hostile[] = {
    "not json at all",
    "{\"type\":\"join\",\"room\":\"room-0\"}",  /* full */
    "{\"type\":\"join\",\"room\":\"vault\",\"secret\":\"guess\"}",
    "{\"type\":\"signal\",\"data\":{\"ice\":null}}",    /* not joined */
    "{\"type\":\"join\",\"room\":\"no such room!\"}",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "{\"type\":\"welcome\",\"id\":\"x\"}",
    NULL,                       /* oversized, built below */
  };
  static gchar *oversized;
  guint i;

  if (oversized == NULL) {
    g_autofree gchar *pad = g_strnfill (70000, 'x');
    oversized = g_strdup_printf ("{\"type\":\"join\",\"room\":\"a\","
        "\"pad\":\"%s\"}", pad);
  }

  for (i = 0; i < n; i++) {
    const gchar *text;

    if (a->peer && (a->peer->closed
            || soup_websocket_connection_get_state (a->peer->ws) !=
            SOUP_WEBSOCKET_STATE_OPEN)) {
      WAIT_UNTIL (a->peer->closed);
      abuser_collect (a);
      a->n_closed++;
      g_assert_cmpuint (a->peer->close_code, ==, 1008);
      raw_peer_free (a->peer);
      a->peer = NULL;
    }
    if (a->peer == NULL)
      a->peer = raw_peer_connect (a->session, a->url);

    abuser_collect (a);
    text = hostile[a->n_sent % G_N_ELEMENTS (hostile)];
    raw_peer_send (a->peer, text ? text : oversized);
    a->n_sent++;
  }
}

static void
test_abuse (void)
{
  g_autoptr (GSubprocess) proc = NULL;
  g_autofree gchar *url = start_server (&proc);
  g_autoptr (SoupSession) session = soup_session_new ();
  ClientPeer *parties[N_ROOMS][2];
  Abuser abuser = { session, url };
  guint rounds = N_HOSTILE / BATCH, round, r, i;
  guint rss_start, rss_mid = 0, rss_end;

  for (r = 0; r < N_ROOMS; r++) {
    g_autofree gchar *room = g_strdup_printf ("room-%u", r);

    for (i = 0; i < 2; i++) {
      parties[r][i] = client_peer_connect (url);
      client_peer_join (parties[r][i], room, NULL, i ? "Bob" : "Alice");
    }
  }

  /* warm up: one signal each way, so that buffers exist before measuring */
  for (r = 0; r < N_ROOMS; r++)
    for (i = 0; i < 2; i++) {
      g_autoptr (JsonNode) d = letschat_protocol_sdp_data_new ("offer", "w");
      letschat_client_send_signal (parties[r][i]->client, d);
    }
  for (r = 0; r < N_ROOMS; r++)
    for (i = 0; i < 2; i++)
      WAIT_UNTIL (parties[r][i]->signals->len == 1);
  abuser_send_batch (&abuser, BATCH);
  test_iterate_for (200);
  rss_start = rss_kb (proc);

  for (round = 1; round < rounds; round++) {
    abuser_send_batch (&abuser, BATCH);
    /* the calls go on meanwhile: one signal each way per room */
    for (r = 0; r < N_ROOMS; r++)
      for (i = 0; i < 2; i++) {
        g_autofree gchar *cand = g_strdup_printf ("candidate:%u 1 UDP 1 "
            "192.0.2.%u 9 typ host", round, r + 1);
        g_autoptr (JsonNode) d = letschat_protocol_ice_data_new (cand, 0, "0");
        letschat_client_send_signal (parties[r][i]->client, d);
      }
    test_iterate_for (5);
    if (round == rounds / 2)
      rss_mid = rss_kb (proc);
  }

  /* every honest signal arrived, in order, from the right party */
  for (r = 0; r < N_ROOMS; r++)
    for (i = 0; i < 2; i++)
      WAIT_UNTIL_MS (parties[r][i]->signals->len == rounds, 30000);
  for (r = 0; r < N_ROOMS; r++)
    for (i = 0; i < 2; i++) {
      ClientPeer *p = parties[r][i];

      g_assert_cmpstr (p->signal_from, ==, parties[r][!i]->id);
      g_assert_cmpuint (p->n_errors, ==, 0);
      g_assert_cmpuint (p->n_left, ==, 0);
      g_assert_false (p->closed);
    }

  test_iterate_for (200);
  rss_end = rss_kb (proc);
  g_test_message ("server RSS: %u kB at the start, %u kB half way, %u kB "
      "after %u hostile messages; the abuser was closed %u times, told "
      "rate-limited %u times", rss_start, rss_mid, rss_end, abuser.n_sent,
      abuser.n_closed, abuser.n_rate_limited);
  g_assert_cmpuint (abuser.n_sent, ==, N_HOSTILE);
#ifdef __SANITIZE_ADDRESS__
  /* ASan keeps freed memory in quarantine (256 MiB) on purpose: resident
   * memory says nothing there. The normal build checks it. */
  g_test_message ("AddressSanitizer build: memory not checked");
#else
  g_assert_cmpuint (rss_end, <, rss_start + MAX_GROWTH_KB);
#endif
  g_assert_cmpuint (abuser.n_rate_limited, >, 0);
  g_assert_cmpuint (abuser.n_closed, >, 0);

  if (abuser.peer)
    raw_peer_free (abuser.peer);
  for (r = 0; r < N_ROOMS; r++)
    for (i = 0; i < 2; i++)
      client_peer_free (parties[r][i]);
  g_subprocess_send_signal (proc, SIGTERM);
  g_assert_true (g_subprocess_wait (proc, NULL, NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/abuse/flood-while-20-rooms-talk", test_abuse);
  return g_test_run ();
}
