/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/* A party of the element tests that start their own servers (test-strangers,
 * test-failover): one gst-launch pipeline with a `fakesink name=video`
 * whose frames are counted, and what its bus said. Any ERROR on its bus
 * fails the test. */
#include <gst/gst.h>

G_BEGIN_DECLS typedef struct
{
  const gchar *name;
  GstElement *pipeline;
  gint video_frames;            /* atomic */
  /* Of the last letschat/joined or letschat/server-reconnected. */
  gchar *id;
  gchar *room;
  gchar *server_url;            /* the node it joined through */
  guint n_joined;
  guint n_lost;                 /* letschat/server-lost */
  guint n_reconnected;
  guint n_peer_left;
  GString *resets;              /* call-reset reasons, space-separated */
} TestParty;

/* Parses @desc, names the pipeline @name, sets it PLAYING. */
TestParty *test_party_new (const gchar * name, const gchar * desc);
void test_party_stop (TestParty * p);
/* Stops it and frees it. */
void test_party_free (TestParty * p);
/* Reads its bus: logs every letschat/ message, counts them. */
void test_party_poll (TestParty * p);
gint test_party_frames (TestParty * p);

/* Polls every party of @parties (a NULL-terminated array) and iterates
 * the default main context (the servers' logs) until @cond holds; fails
 * the test after @wait_s seconds. */
#define TEST_PARTY_WAIT_FOR(parties, wait_s, cond) G_STMT_START {        \
    gint64 _deadline = g_get_monotonic_time () + (wait_s) * G_USEC_PER_SEC; \
    while (TRUE) {                                                        \
      TestParty **_p;                                                     \
      for (_p = (parties); *_p; _p++)                                     \
        test_party_poll (*_p);                                            \
      while (g_main_context_iteration (NULL, FALSE));                     \
      if (cond)                                                           \
        break;                                                            \
      if (g_get_monotonic_time () > _deadline)                            \
        g_error ("timed out after %d s waiting for: %s", (wait_s), #cond); \
      g_usleep (20 * 1000);                                               \
    }                                                                     \
  } G_STMT_END

G_END_DECLS
