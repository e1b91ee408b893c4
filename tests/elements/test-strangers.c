/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Pipelines among strangers (strangers=true), against a real
 * letschat-server process: four parties make two calls, each with media;
 * a party that quits while queued is never paired; next-stranger on one
 * party pairs it with the one waiting, and the stranger it left queues
 * again by itself. Each party is a two-way pipeline:
 *
 *   videotestsrc ! letschatsink strangers=true
 *   letschatsrc strangers=true ! fakesink name=video (frames counted)
 */
#include <gst/gst.h>
#include <gio/gio.h>
#include <signal.h>
#include <string.h>

#include "test-party.h"
#include "test-server.h"

#define WAIT_S 60

static TestParty *
party_new (const gchar * name, const gchar * url)
{
  g_autofree gchar *desc = g_strdup_printf ("videotestsrc is-live=true "
      "pattern=ball ! video/x-raw,width=160,height=120,framerate=15/1 ! "
      "letschatsink name=s strangers=true server-url=%s display-name=%s "
      "letschatsrc strangers=true server-url=%s display-name=%s ! "
      "video/x-raw ! fakesink name=video", url, name, url, name);

  return test_party_new (name, desc);
}

static TestParty *all[8];

/* Polls every party (and the server's log) until @cond holds. */
#define WAIT_FOR(cond) TEST_PARTY_WAIT_FOR (all, WAIT_S, cond)

static void
party_add (TestParty * p)
{
  guint i;

  for (i = 0; all[i]; i++);
  g_assert_cmpuint (i, <, G_N_ELEMENTS (all) - 1);
  all[i] = p;
}


static gboolean
frames_at_least (TestParty * p, gint n)
{
  return test_party_frames (p) >= n;
}

static void
test_strangers (void)
{
  TestServer *server = test_server_start (0, NULL);
  TestParty *p1, *p2, *p3, *p4, *p5, *quitter;
  g_autofree gchar *quitter_room = NULL;
  g_autofree gchar *quitter_left = NULL;
  g_autofree gchar *p2_room = NULL;
  GstElement *s;
  gboolean ok = FALSE;
  gint p1_frames;

  /* Four parties, one after the other: two calls form. */
  party_add (p1 = party_new ("p1", server->url));
  WAIT_FOR (p1->n_joined == 1);
  party_add (p2 = party_new ("p2", server->url));
  WAIT_FOR (p2->n_joined == 1);
  party_add (p3 = party_new ("p3", server->url));
  WAIT_FOR (p3->n_joined == 1);
  party_add (p4 = party_new ("p4", server->url));
  WAIT_FOR (p4->n_joined == 1);
  g_assert_true (g_str_has_prefix (p1->room, "stranger-"));
  g_assert_cmpstr (p2->room, ==, p1->room);
  g_assert_cmpstr (p4->room, ==, p3->room);
  g_assert_cmpstr (p3->room, !=, p1->room);
  WAIT_FOR (frames_at_least (p1, 10) && frames_at_least (p2, 10)
      && frames_at_least (p3, 10) && frames_at_least (p4, 10));

  /* A party that quits while it waits is never handed out. */
  party_add (quitter = party_new ("quitter", server->url));
  WAIT_FOR (quitter->n_joined == 1);
  quitter_room = g_strdup (quitter->room);
  quitter_left = g_strdup_printf ("leave room=%s", quitter_room);
  test_party_stop (quitter);
  WAIT_FOR (strstr (server->log->str, quitter_left) != NULL);
  party_add (p5 = party_new ("p5", server->url));
  WAIT_FOR (p5->n_joined == 1);
  g_assert_cmpstr (p5->room, !=, quitter_room);

  /* "Next" on p1: it leaves p2 for p5, who waits; p2 queues again. */
  p1_frames = test_party_frames (p1);
  p2_room = g_strdup (p2->room);
  s = gst_bin_get_by_name (GST_BIN (p1->pipeline), "s");
  g_signal_emit_by_name (s, "next-stranger", &ok);
  gst_object_unref (s);
  g_assert_true (ok);
  WAIT_FOR (p1->n_joined == 2 && p2->n_joined == 2);
  g_assert_cmpstr (p1->room, ==, p5->room);
  g_assert_cmpuint (p1->n_peer_left, ==, 1);
  g_assert_nonnull (strstr (p1->resets->str, "next-stranger"));
  g_assert_cmpuint (p2->n_peer_left, ==, 1);
  g_assert_cmpstr (p2->room, !=, p2_room);
  g_assert_cmpstr (p2->room, !=, p5->room);
  WAIT_FOR (frames_at_least (p5, 10)
      && frames_at_least (p1, p1_frames + 10));

  test_party_free (p1);
  test_party_free (p2);
  test_party_free (p3);
  test_party_free (p4);
  test_party_free (p5);
  test_party_free (quitter);
  memset (all, 0, sizeof (all));
  test_server_stop (server);
}

/* The room server restarts: a pair of strangers comes back to the room
 * the server had made for it, by name, and the call goes on; a stranger
 * who was waiting alone goes back to the queue, where the next one finds
 * it. */
static void
test_server_restart (void)
{
  guint16 port = test_server_free_port ();
  TestServer *server = test_server_start (port, NULL);
  TestParty *p1, *p2, *p3, *p4;
  g_autofree gchar *pair_room = NULL;
  gint p1_frames, p2_frames;

  party_add (p1 = party_new ("p1", server->url));
  WAIT_FOR (p1->n_joined == 1);
  party_add (p2 = party_new ("p2", server->url));
  WAIT_FOR (p2->n_joined == 1);
  party_add (p3 = party_new ("p3", server->url));
  WAIT_FOR (p3->n_joined == 1);
  g_assert_cmpstr (p2->room, ==, p1->room);
  g_assert_cmpstr (p3->room, !=, p1->room);
  pair_room = g_strdup (p1->room);
  WAIT_FOR (frames_at_least (p1, 10) && frames_at_least (p2, 10));

  test_server_stop (server);
  server = test_server_start (port, NULL);
  WAIT_FOR (p1->n_reconnected >= 1 && p2->n_reconnected >= 1
      && p3->n_reconnected >= 1);
  g_assert_cmpstr (p1->room, ==, pair_room);
  g_assert_cmpstr (p2->room, ==, pair_room);
  g_assert_cmpstr (p3->room, !=, pair_room);
  p1_frames = test_party_frames (p1);
  p2_frames = test_party_frames (p2);
  WAIT_FOR (frames_at_least (p1, p1_frames + 10)
      && frames_at_least (p2, p2_frames + 10));

  party_add (p4 = party_new ("p4", server->url));
  WAIT_FOR (p4->n_joined == 1);
  g_assert_cmpstr (p4->room, ==, p3->room);
  WAIT_FOR (frames_at_least (p3, 10) && frames_at_least (p4, 10));

  test_party_free (p1);
  test_party_free (p2);
  test_party_free (p3);
  test_party_free (p4);
  memset (all, 0, sizeof (all));
  test_server_stop (server);
}

/* A room and strangers=true together: an error that says which to drop. */
static void
test_room_and_strangers (void)
{
  g_autoptr (GError) error = NULL;
  GstElement *pipeline = gst_parse_launch ("letschatsrc room=kitchen "
      "strangers=true ! fakesink", &error);
  GstBus *bus;
  GstMessage *msg;
  g_autoptr (GError) err = NULL;

  g_assert_no_error (error);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bus = gst_element_get_bus (pipeline);
  msg = gst_bus_timed_pop_filtered (bus, WAIT_S * GST_SECOND,
      GST_MESSAGE_ERROR);
  g_assert_nonnull (msg);
  gst_message_parse_error (msg, &err, NULL);
  g_test_message ("%s", err->message);
  g_assert_nonnull (strstr (err->message, "Both room='kitchen' and "
          "strangers=true are set: drop room to talk to strangers, or drop "
          "strangers=true"));
  gst_message_unref (msg);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/strangers/four-parties-next-and-quitter", test_strangers);
  g_test_add_func ("/strangers/server-restart", test_server_restart);
  g_test_add_func ("/strangers/room-and-strangers", test_room_and_strangers);
  return g_test_run ();
}
