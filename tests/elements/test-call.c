/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Real calls between letschatsink and letschatsrc: a real room server on a
 * loopback port, real webrtcbin, real ICE over this machine's interfaces.
 * Each test asserts what a user would check: frames decoded (or still
 * encoded when asked), bus messages, readable errors.
 */
#include <gst/gst.h>
#include <gio/gio.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>

#include "letschat-client.h"
#include "letschat-protocol.h"
#include "letschat-room-server.h"

#define CALL_TIMEOUT_S 40

/* ---------------------------------------------------------------------- */
/* A room server on its own thread, on a free loopback port.               */

typedef struct
{
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  LetsChatRoomServer *server;
  guint16 port;
  GMutex lock;
  GCond cond;
  gboolean ready;
} TestServer;

static gpointer
server_thread (gpointer data)
{
  TestServer *ts = data;
  GError *error = NULL;

  g_main_context_push_thread_default (ts->context);
  ts->server = letschat_room_server_new ();
  if (!letschat_room_server_listen (ts->server, "127.0.0.1", 0, &error))
    g_error ("cannot start the room server: %s", error->message);
  g_mutex_lock (&ts->lock);
  ts->port = letschat_room_server_get_port (ts->server);
  ts->ready = TRUE;
  g_cond_signal (&ts->cond);
  g_mutex_unlock (&ts->lock);
  g_main_loop_run (ts->loop);
  letschat_room_server_shutdown (ts->server);
  g_clear_object (&ts->server);
  g_main_context_pop_thread_default (ts->context);
  return NULL;
}

static TestServer *
test_server_start (void)
{
  TestServer *ts = g_new0 (TestServer, 1);

  g_mutex_init (&ts->lock);
  g_cond_init (&ts->cond);
  ts->context = g_main_context_new ();
  ts->loop = g_main_loop_new (ts->context, FALSE);
  ts->thread = g_thread_new ("test-server", server_thread, ts);
  g_mutex_lock (&ts->lock);
  while (!ts->ready)
    g_cond_wait (&ts->cond, &ts->lock);
  g_mutex_unlock (&ts->lock);
  return ts;
}

static void
test_server_stop (TestServer * ts)
{
  g_main_loop_quit (ts->loop);
  g_thread_join (ts->thread);
  g_main_loop_unref (ts->loop);
  g_main_context_unref (ts->context);
  g_free (ts);
}

static gchar *
test_server_url (TestServer * ts)
{
  return g_strdup_printf ("ws://127.0.0.1:%u/ws", ts->port);
}

/* A port nothing listens on: bind port 0, note it, close. */
static guint16
free_port (void)
{
  GSocket *s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
      G_SOCKET_PROTOCOL_TCP, NULL);
  GInetAddress *lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  GSocketAddress *addr = g_inet_socket_address_new (lo, 0), *bound;
  guint16 port;

  g_assert_true (g_socket_bind (s, addr, TRUE, NULL));
  bound = g_socket_get_local_address (s, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_object_unref (bound);
  g_object_unref (addr);
  g_object_unref (lo);
  g_object_unref (s);
  return port;
}

/* ---------------------------------------------------------------------- */
/* Parties and what they received.                                         */

typedef struct
{
  GstElement *pipeline;
  gint video_frames;            /* atomic */
  gint audio_buffers;           /* atomic */
  gchar *video_caps;            /* media type of the first video buffer */
  gchar *audio_caps;
  GHashTable *seen;             /* element message names seen */
  GstMessage *error;
  GPtrArray *errors;            /* texts of every error message */
  GPtrArray *warnings;          /* texts of warning messages */
  GPtrArray *bus_chats;         /* "from-name|text" of letschat/chat */
  GMutex chat_lock;
  GPtrArray *signal_chats;      /* "element|from|text" of chat-received */
} Party;

static void
on_video_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, Party * p)
{
  if (g_atomic_int_add (&p->video_frames, 1) == 0) {
    GstCaps *caps = gst_pad_get_current_caps (pad);
    p->video_caps = g_strdup (gst_structure_get_name
        (gst_caps_get_structure (caps, 0)));
    gst_caps_unref (caps);
  }
}

static void
on_audio_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, Party * p)
{
  if (g_atomic_int_add (&p->audio_buffers, 1) == 0) {
    GstCaps *caps = gst_pad_get_current_caps (pad);
    p->audio_caps = g_strdup (gst_structure_get_name
        (gst_caps_get_structure (caps, 0)));
    gst_caps_unref (caps);
  }
}

/* @desc may name fakesinks "video" and "audio"; their buffers are counted.
 * "URL" in @desc is replaced by @url. */
static Party *
party_new (const gchar * desc, const gchar * url)
{
  Party *p = g_new0 (Party, 1);
  GError *error = NULL;
  GstElement *sink;
  gchar **parts = g_strsplit (desc, "URL", -1);
  gchar *full = g_strjoinv (url, parts);

  g_strfreev (parts);
  p->pipeline = gst_parse_launch (full, &error);
  g_assert_no_error (error);
  g_free (full);
  p->seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  p->warnings = g_ptr_array_new_with_free_func (g_free);
  p->errors = g_ptr_array_new_with_free_func (g_free);
  p->bus_chats = g_ptr_array_new_with_free_func (g_free);
  p->signal_chats = g_ptr_array_new_with_free_func (g_free);
  g_mutex_init (&p->chat_lock);

  sink = gst_bin_get_by_name (GST_BIN (p->pipeline), "video");
  /* playbin: its sinks are properties, not children yet. */
  if (!sink && g_object_class_find_property (G_OBJECT_GET_CLASS
          (p->pipeline), "video-sink"))
    g_object_get (p->pipeline, "video-sink", &sink, NULL);
  if (sink) {
    g_object_set (sink, "signal-handoffs", TRUE, "sync", FALSE, NULL);
    g_signal_connect (sink, "handoff", G_CALLBACK (on_video_handoff), p);
    gst_object_unref (sink);
  }
  sink = gst_bin_get_by_name (GST_BIN (p->pipeline), "audio");
  if (!sink && g_object_class_find_property (G_OBJECT_GET_CLASS
          (p->pipeline), "audio-sink"))
    g_object_get (p->pipeline, "audio-sink", &sink, NULL);
  if (sink) {
    g_object_set (sink, "signal-handoffs", TRUE, "sync", FALSE, NULL);
    g_signal_connect (sink, "handoff", G_CALLBACK (on_audio_handoff), p);
    gst_object_unref (sink);
  }
  return p;
}

static void
party_free (Party * p)
{
  gst_element_set_state (p->pipeline, GST_STATE_NULL);
  gst_object_unref (p->pipeline);
  g_hash_table_unref (p->seen);
  g_ptr_array_unref (p->warnings);
  g_ptr_array_unref (p->errors);
  g_ptr_array_unref (p->bus_chats);
  g_ptr_array_unref (p->signal_chats);
  g_mutex_clear (&p->chat_lock);
  g_free (p->video_caps);
  g_free (p->audio_caps);
  if (p->error)
    gst_message_unref (p->error);
  g_free (p);
}

static void
party_play (Party * p)
{
  GstStateChangeReturn ret = gst_element_set_state (p->pipeline,
      GST_STATE_PLAYING);
  g_assert_cmpint (ret, !=, GST_STATE_CHANGE_FAILURE);
}

/* Reads the party's bus: notes element messages and keeps the first
 * error. */
static void
party_poll (Party * p)
{
  GstBus *bus = gst_element_get_bus (p->pipeline);
  GstMessage *msg;

  while ((msg = gst_bus_pop (bus))) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      GError *err;
      gchar *dbg;
      gst_message_parse_error (msg, &err, &dbg);
      g_test_message ("error from %s: %s (%s)", GST_OBJECT_NAME (msg->src),
          err->message, dbg);
      g_ptr_array_add (p->errors, g_strdup (err->message));
      g_error_free (err);
      g_free (dbg);
      if (!p->error)
        p->error = gst_message_ref (msg);
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS) {
      g_hash_table_add (p->seen, g_strdup ("eos"));
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
      GError *err;
      gst_message_parse_warning (msg, &err, NULL);
      g_test_message ("warning from %s: %s", GST_OBJECT_NAME (msg->src),
          err->message);
      g_ptr_array_add (p->warnings, g_strdup (err->message));
      g_error_free (err);
    } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT) {
      const GstStructure *s = gst_message_get_structure (msg);
      if (g_str_has_prefix (gst_structure_get_name (s), "letschat/")) {
        gchar *str = gst_structure_to_string (s);
        g_test_message ("%s: %s", GST_OBJECT_NAME (p->pipeline), str);
        g_free (str);
        g_hash_table_add (p->seen, g_strdup (gst_structure_get_name (s)));
        if (gst_structure_has_name (s, "letschat/first-frame"))
          g_hash_table_add (p->seen, g_strdup_printf ("codec:%s",
                  gst_structure_get_string (s, "codec")));
        if (gst_structure_has_name (s, "letschat/chat"))
          g_ptr_array_add (p->bus_chats, g_strdup_printf ("%s|%s",
                  gst_structure_get_string (s, "from-name"),
                  gst_structure_get_string (s, "text")));
        if (gst_structure_has_name (s, "letschat/peer-joined"))
          g_hash_table_add (p->seen, g_strdup_printf ("peer-name:%s",
                  gst_structure_get_string (s, "peer-name")));
        if (gst_structure_has_name (s, "letschat/joined"))
          g_object_set_data_full (G_OBJECT (p->pipeline), "id",
              g_strdup (gst_structure_get_string (s, "id")), g_free);
        if (gst_structure_has_name (s, "letschat/connection-state"))
          g_hash_table_add (p->seen, g_strdup_printf ("state:%s",
                  gst_structure_get_string (s, "state")));
      }
    }
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
}

typedef gboolean (*Condition) (Party ** parties, gpointer data);

/* Waits (with a deadline) until @cond holds, failing on any error. */
static void
wait_for (Party ** parties, Condition cond, gpointer data, const gchar * what)
{
  gint64 deadline = g_get_monotonic_time () + CALL_TIMEOUT_S * G_USEC_PER_SEC;
  Party **p;

  while (TRUE) {
    for (p = parties; *p; p++) {
      party_poll (*p);
      if ((*p)->error) {
        GError *err;
        gst_message_parse_error ((*p)->error, &err, NULL);
        g_error ("while waiting for %s: %s", what, err->message);
      }
    }
    if (cond (parties, data))
      return;
    if (g_get_monotonic_time () > deadline)
      break;
    g_usleep (20 * 1000);
  }
  for (p = parties; *p; p++)
    g_test_message ("%s: %d video frames, %d audio buffers",
        GST_OBJECT_NAME ((*p)->pipeline), (*p)->video_frames,
        (*p)->audio_buffers);
  g_error ("timed out after %d s waiting for %s", CALL_TIMEOUT_S, what);
}

/* Waits for an error message on @p and returns its text. */
static gchar *
wait_for_error (Party * p)
{
  gint64 deadline = g_get_monotonic_time () + CALL_TIMEOUT_S * G_USEC_PER_SEC;
  GError *err;
  gchar *text;

  while (!p->error && g_get_monotonic_time () < deadline) {
    party_poll (p);
    g_usleep (20 * 1000);
  }
  if (!p->error)
    g_error ("no error message within %d s", CALL_TIMEOUT_S);
  gst_message_parse_error (p->error, &err, NULL);
  text = g_strdup (err->message);
  g_error_free (err);
  return text;
}

static gboolean
receivers_got_media (Party ** parties, gpointer data)
{
  Party **p;
  gint min_video = GPOINTER_TO_INT (data);

  for (p = parties; *p; p++) {
    if (!g_object_get_data (G_OBJECT ((*p)->pipeline), "receiver"))
      continue;
    if (g_atomic_int_get (&(*p)->video_frames) < min_video)
      return FALSE;
    if (g_object_get_data (G_OBJECT ((*p)->pipeline), "wants-audio") &&
        g_atomic_int_get (&(*p)->audio_buffers) < 10)
      return FALSE;
  }
  return TRUE;
}

static void
mark_receiver (Party * p, gboolean audio)
{
  g_object_set_data (G_OBJECT (p->pipeline), "receiver", GINT_TO_POINTER (1));
  if (audio)
    g_object_set_data (G_OBJECT (p->pipeline), "wants-audio",
        GINT_TO_POINTER (1));
}

#define TEST_VIDEO "videotestsrc is-live=true ! " \
  "video/x-raw,width=320,height=240,framerate=30/1"
#define TEST_AUDIO "audiotestsrc is-live=true wave=ticks"

/* ---------------------------------------------------------------------- */
/* Calls                                                                   */

/* A sender and a receiver, each in its own pipeline. */
static void
run_one_way_call (const gchar * sender_desc, const gchar * receiver_desc,
    gboolean audio, const gchar * expect_video_caps, const gchar * expect_codec)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  Party *tx = party_new (sender_desc, url);
  Party *rx = party_new (receiver_desc, url);
  Party *parties[] = { tx, rx, NULL };

  mark_receiver (rx, audio);
  party_play (tx);
  party_play (rx);
  wait_for (parties, receivers_got_media, GINT_TO_POINTER (30),
      ">= 30 video frames at the receiver");
  g_assert_cmpstr (rx->video_caps, ==, expect_video_caps);
  if (audio)
    g_assert_cmpstr (rx->audio_caps, ==, "audio/x-raw");
  g_assert_true (g_hash_table_contains (rx->seen, "letschat/joined"));
  g_assert_true (g_hash_table_contains (rx->seen, "letschat/peer-joined"));
  g_assert_true (g_hash_table_contains (rx->seen, "letschat/first-frame"));
  g_assert_true (g_hash_table_contains (rx->seen, "state:connected"));
  if (!g_hash_table_contains (rx->seen, expect_codec))
    g_error ("the receiver did not get %s", expect_codec);
  /* The sender sends only: it gets nothing, and asks nothing. */
  g_assert_cmpint (tx->video_frames, ==, 0);
  /* A call both parties can hold has nothing to warn about (a webrtcbin
   * receiver offers its audio bundle-only, on port 0: it is not refused). */
  party_poll (tx);
  party_poll (rx);
  g_assert_cmpuint (tx->warnings->len, ==, 0);
  g_assert_cmpuint (rx->warnings->len, ==, 0);

  party_free (tx);
  party_free (rx);
  test_server_stop (ts);
  g_free (url);
}

static void
test_sink_only_to_src_only (void)
{
  run_one_way_call (TEST_VIDEO " ! letschatsink name=s room=r1 "
      "server-url=URL " TEST_AUDIO " ! s.",
      "letschatsrc name=r room=r1 server-url=URL "
      "r. ! video/x-raw ! fakesink name=video "
      "r. ! audio/x-raw ! fakesink name=audio", TRUE, "video/x-raw",
      "codec:VP8");
}

static void
test_codec (const gchar * codec, const gchar * expect)
{
  gchar *sender = g_strdup_printf (TEST_VIDEO " ! letschatsink room=c "
      "server-url=URL video-codec=%s", codec);

  run_one_way_call (sender, "letschatsrc room=c server-url=URL ! "
      "video/x-raw ! fakesink name=video", FALSE, "video/x-raw", expect);
  g_free (sender);
}

static void
test_video_codec_vp9 (void)
{
  test_codec ("vp9", "codec:VP9");
}

static void
test_video_codec_h264 (void)
{
  test_codec ("h264", "codec:H264");
}

static void
test_pre_encoded_h264 (void)
{
  run_one_way_call (TEST_VIDEO " ! x264enc tune=zerolatency key-int-max=30 "
      "speed-preset=ultrafast ! video/x-h264,profile=constrained-baseline ! "
      "letschatsink room=pre server-url=URL",
      "letschatsrc room=pre server-url=URL ! video/x-raw ! "
      "fakesink name=video", FALSE, "video/x-raw", "codec:H264");
}

static void
test_pre_encoded_vp8_and_opus (void)
{
  run_one_way_call (TEST_VIDEO " ! vp8enc deadline=1 keyframe-max-dist=30 ! "
      "letschatsink name=s room=pre8 server-url=URL "
      TEST_AUDIO " ! opusenc ! s.",
      "letschatsrc name=r room=pre8 server-url=URL "
      "r. ! video/x-raw ! fakesink name=video "
      "r. ! audio/x-raw ! fakesink name=audio", TRUE, "video/x-raw",
      "codec:OPUS");
}

static void
test_encoded_output (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  Party *tx = party_new (TEST_VIDEO " ! letschatsink name=s room=enc "
      "server-url=URL " TEST_AUDIO " ! s.", url);
  Party *rx = party_new ("letschatsrc name=r room=enc server-url=URL "
      "r. ! video/x-vp8 ! fakesink name=video "
      "r. ! audio/x-opus ! fakesink name=audio", url);
  Party *parties[] = { tx, rx, NULL };

  mark_receiver (rx, TRUE);
  party_play (tx);
  party_play (rx);
  wait_for (parties, receivers_got_media, GINT_TO_POINTER (30),
      ">= 30 encoded frames");
  /* Not decoded: the very bytes the sender's encoder made. */
  g_assert_cmpstr (rx->video_caps, ==, "video/x-vp8");
  g_assert_cmpstr (rx->audio_caps, ==, "audio/x-opus");
  party_free (tx);
  party_free (rx);
  test_server_stop (ts);
  g_free (url);
}

/* Each party has a sink and a src of the same room: one party, media both
 * ways, one peer connection. */
static void
test_two_way (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  const gchar *desc = TEST_VIDEO " ! letschatsink name=s room=both "
      "server-url=URL " TEST_AUDIO " ! s. "
      "letschatsrc name=r room=both server-url=URL "
      "r. ! video/x-raw ! fakesink name=video "
      "r. ! audio/x-raw ! fakesink name=audio";
  Party *a = party_new (desc, url);
  Party *b = party_new (desc, url);
  Party *parties[] = { a, b, NULL };

  mark_receiver (a, TRUE);
  mark_receiver (b, TRUE);
  party_play (a);
  party_play (b);
  wait_for (parties, receivers_got_media, GINT_TO_POINTER (30),
      "both parties to receive >= 30 frames");
  /* One party each: the room holds exactly two connections. */
  g_assert_cmpuint (letschat_room_server_get_n_connections (ts->server), ==, 2);
  party_free (a);
  party_free (b);
  test_server_stop (ts);
  g_free (url);
}

/* serve=true: the first pipeline is the room; no server process. */
static void
test_serve (void)
{
  guint16 port = free_port ();
  gchar *url = g_strdup_printf ("ws://127.0.0.1:%u/ws", port);
  Party *tx = party_new (TEST_VIDEO " ! letschatsink room=served serve=true "
      "server-url=URL", url);
  Party *rx = party_new ("letschatsrc room=served server-url=URL ! "
      "video/x-raw ! fakesink name=video", url);
  Party *parties[] = { tx, rx, NULL };

  mark_receiver (rx, FALSE);
  party_play (tx);
  party_play (rx);
  wait_for (parties, receivers_got_media, GINT_TO_POINTER (30),
      ">= 30 frames through the served room");
  party_free (rx);
  party_free (tx);
  g_free (url);
}

/* ---------------------------------------------------------------------- */
/* letschat:// URIs: playbin, uridecodebin and URI sinks join rooms.       */

static void
assert_contains (const gchar * text, const gchar * part)
{
  if (!strstr (text, part))
    g_error ("error text '%s' does not mention '%s'", text, part);
}

static gchar *
test_server_uri (TestServer * ts, const gchar * rest)
{
  return g_strdup_printf ("letschat://127.0.0.1:%u/%s", ts->port, rest);
}

/* A letschatsink publishes a test source; @receiver_desc ("URI" replaced
 * by letschat://127.0.0.1:PORT/@room_and_query) plays it. */
static void
run_uri_call (const gchar * sender_desc, const gchar * room_and_query,
    const gchar * receiver_desc, const gchar * expect_receiver_name)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  gchar *uri = test_server_uri (ts, room_and_query);
  gchar **parts = g_strsplit (sender_desc, "URI", -1);
  gchar *sender = g_strjoinv (uri, parts);
  Party *tx = party_new (sender, url);
  Party *rx = party_new (receiver_desc, uri);
  Party *parties[] = { tx, rx, NULL };
  gchar *name = g_strdup_printf ("peer-name:%s", expect_receiver_name);

  g_strfreev (parts);
  mark_receiver (rx, TRUE);
  party_play (tx);
  party_play (rx);
  wait_for (parties, receivers_got_media, GINT_TO_POINTER (30),
      ">= 30 video frames and 10 audio buffers through a letschat:// URI");
  g_assert_cmpstr (rx->video_caps, ==, "video/x-raw");
  g_assert_cmpstr (rx->audio_caps, ==, "audio/x-raw");
  /* ?name= reached the other party as this party's display name. */
  if (!g_hash_table_contains (tx->seen, name))
    g_error ("the sender did not see the receiver as '%s'",
        expect_receiver_name);
  g_free (name);
  party_free (rx);
  party_free (tx);
  test_server_stop (ts);
  g_free (sender);
  g_free (uri);
  g_free (url);
}

/* playbin uri=letschat://... (what gst-play-1.0 does), sinks as
 * properties, as an application sets them. */
static void
test_uri_playbin (void)
{
  run_uri_call (TEST_VIDEO " ! letschatsink name=s room=lobby "
      "server-url=URL " TEST_AUDIO " ! s.", "lobby?name=Player",
      "playbin uri=URL video-sink=\"fakesink name=video\" "
      "audio-sink=\"fakesink name=audio\"", "Player");
}

/* uridecodebin, and the sender a URI sink (gst-launch-1.0 makes an element
 * from a URI with gst_element_make_from_uri()). Secret and name with
 * characters that need escaping. */
static void
test_uri_uridecodebin_and_sink (void)
{
  run_uri_call (TEST_VIDEO " ! URI " TEST_AUDIO " ! letschatsink0.",
      "hall?secret=a%26b%3Dc&name=Ana%20B",
      "uridecodebin uri=URL name=d d. ! video/x-raw ! fakesink name=video "
      "d. ! audio/x-raw ! fakesink name=audio", "Ana B");
}

/* Every way a URI can be wrong: a GError that says what, and what a URI
 * looks like; playbin posts it as its ERROR. get_uri says the settings
 * back. */
static void
test_uri_errors (void)
{
  const gchar *bad[][2] = {
    {"letschat://", "names no room server host"},
    {"letschat://host:8443", "names no room"},
    {"letschat://host:8443/bad%20room", "'bad room' is not a room name"},
    {"letschat://host/r?secret=s&colour=red", "unknown parameter 'colour'"},
    {"letschat://host:99999/r", "Invalid letschat URI"},
  };
  GError *error = NULL;
  GstElement *e;
  gchar *uri;
  Party *p;
  guint i;

  for (i = 0; i < G_N_ELEMENTS (bad); i++) {
    e = gst_element_make_from_uri (GST_URI_SRC, bad[i][0], NULL, &error);
    g_assert_null (e);
    g_assert_nonnull (error);
    g_test_message ("%s: %s", bad[i][0], error->message);
    assert_contains (error->message, bad[i][1]);
    assert_contains (error->message, "Use letschat://HOST:PORT/ROOM");
    g_clear_error (&error);
  }

  e = gst_element_make_from_uri (GST_URI_SINK,
      "letschats://example.org/r1?name=A%20B&secret=x", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (G_OBJECT_TYPE_NAME (e), ==, "GstLetsChatSink");
  uri = gst_uri_handler_get_uri (GST_URI_HANDLER (e));
  g_assert_cmpstr (uri, ==, "letschats://example.org:8443/r1?secret=x&"
      "name=A%20B");
  g_free (uri);
  g_object_get (e, "server-url", &uri, NULL);
  g_assert_cmpstr (uri, ==, "wss://example.org:8443/ws");
  g_free (uri);
  gst_object_unref (gst_object_ref_sink (e));

  p = party_new ("playbin uri=URL", "letschat://host/a?b=c");
  g_assert_cmpint (gst_element_set_state (p->pipeline, GST_STATE_PLAYING),
      ==, GST_STATE_CHANGE_FAILURE);
  uri = wait_for_error (p);
  assert_contains (uri, "unknown parameter 'b'");
  g_free (uri);
  party_free (p);
}

/* ---------------------------------------------------------------------- */
/* Errors reach the bus with a message that says what to do.               */

static void
test_error_unreachable (void)
{
  gchar *url = g_strdup_printf ("ws://127.0.0.1:%u/ws", free_port ());
  Party *p = party_new ("letschatsrc room=x server-url=URL ! fakesink", url);
  gchar *text;

  party_play (p);
  text = wait_for_error (p);
  assert_contains (text, "Could not connect");
  assert_contains (text, url);
  assert_contains (text, "serve=true");
  g_free (text);
  party_free (p);
  g_free (url);
}

/* A server that accepts the TCP connection and never answers. */
static void
test_error_connect_timeout (void)
{
  GSocketListener *listener = g_socket_listener_new ();
  guint16 port = g_socket_listener_add_any_inet_port (listener, NULL, NULL);
  gchar *url = g_strdup_printf ("ws://127.0.0.1:%u/ws", port);
  Party *p = party_new ("letschatsrc room=x connect-timeout=1 "
      "server-url=URL ! fakesink", url);
  gchar *text;

  party_play (p);
  text = wait_for_error (p);
  assert_contains (text, "Could not connect");
  assert_contains (text, url);
  g_free (text);
  party_free (p);
  g_socket_listener_close (listener);
  g_object_unref (listener);
  g_free (url);
}

static void
test_error_no_room (void)
{
  Party *p = party_new ("letschatsrc ! fakesink", "");
  gchar *text;

  g_assert_cmpint (gst_element_set_state (p->pipeline, GST_STATE_PLAYING), ==,
      GST_STATE_CHANGE_FAILURE);
  text = wait_for_error (p);
  assert_contains (text, "No room set");
  g_free (text);
  party_free (p);
}

static gboolean
both_joined (Party ** parties, gpointer data)
{
  return g_hash_table_contains (parties[0]->seen, "letschat/peer-joined") &&
      g_hash_table_contains (parties[1]->seen, "letschat/peer-joined");
}

/* A refused join says so once. The party then tries again as an
 * application would (READY, PLAYING): the same refusal, and nothing else.
 * The server answers in order, so anything the first attempt left behind
 * (a "leave" of a room never entered, answered "You are not in a room")
 * reaches the bus before the second refusal. */
static void
assert_refused_once_per_attempt (Party * p, const gchar * expected)
{
  gchar *text;
  guint i;

  party_play (p);
  text = wait_for_error (p);
  assert_contains (text, expected);
  g_free (text);
  gst_element_set_state (p->pipeline, GST_STATE_READY);
  party_poll (p);
  gst_clear_message (&p->error);
  party_play (p);
  text = wait_for_error (p);
  assert_contains (text, expected);
  g_free (text);
  for (i = 0; i < p->errors->len; i++) {
    if (strstr (p->errors->pdata[i], "not in a room"))
      g_error ("spurious error after a refused join: '%s'",
          (gchar *) p->errors->pdata[i]);
  }
  g_assert_cmpuint (p->errors->len, ==, 2);
}

static void
test_error_room_full (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  Party *a = party_new (TEST_VIDEO " ! letschatsink room=full "
      "server-url=URL", url);
  Party *b = party_new ("letschatsrc room=full server-url=URL ! fakesink",
      url);
  Party *c = party_new ("letschatsrc room=full server-url=URL ! fakesink",
      url);
  Party *parties[] = { a, b, NULL };

  party_play (a);
  party_play (b);
  wait_for (parties, both_joined, NULL, "two parties in the room");
  assert_refused_once_per_attempt (c, "is full: it already holds two parties");
  party_free (c);
  party_free (a);
  party_free (b);
  test_server_stop (ts);
  g_free (url);
}

static gboolean
first_joined (Party ** parties, gpointer data)
{
  return g_hash_table_contains (parties[0]->seen, "letschat/joined");
}

static void
test_error_wrong_secret (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  Party *a = party_new (TEST_VIDEO " ! letschatsink room=locked secret=right "
      "server-url=URL", url);
  Party *b = party_new ("letschatsrc room=locked secret=wrong "
      "server-url=URL ! fakesink", url);
  Party *parties[] = { a, NULL };

  party_play (a);
  wait_for (parties, first_joined, NULL, "the first party to join");
  assert_refused_once_per_attempt (b, "is protected by another secret: set "
      "the secret property");
  party_free (b);
  party_free (a);
  test_server_stop (ts);
  g_free (url);
}

/* No secret at all: the error says one is needed and how to give it. */
static void
test_error_no_secret (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  Party *a = party_new (TEST_VIDEO " ! letschatsink room=locked secret=right "
      "server-url=URL", url);
  Party *b = party_new ("letschatsrc room=locked server-url=URL ! fakesink",
      url);
  Party *parties[] = { a, NULL };
  gchar *text;

  party_play (a);
  wait_for (parties, first_joined, NULL, "the first party to join");
  party_play (b);
  text = wait_for_error (b);
  assert_contains (text, "Room 'locked' needs a secret: set the secret "
      "property");
  assert_contains (text, "?secret=");
  g_assert_null (strstr (text, "another secret"));
  g_free (text);
  party_free (b);
  party_free (a);
  test_server_stop (ts);
  g_free (url);
}

static gboolean
warned_about (Party ** parties, gpointer data)
{
  guint i;

  for (i = 0; i < parties[0]->warnings->len; i++)
    if (strstr (parties[0]->warnings->pdata[i], data))
      return TRUE;
  return FALSE;
}

/* display-name (or any shared property) set only on the second element of
 * a two-way party is not used: a warning names it, and where to set it. */
static void
test_error_ignored_setting (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  Party *p = party_new (TEST_VIDEO " ! letschatsink name=s room=two "
      "server-url=URL letschatsrc name=r room=two server-url=URL "
      "display-name=Kitchen ! fakesink", url);
  Party *parties[] = { p, NULL };

  party_play (p);
  wait_for (parties, warned_about, "display-name of r is ignored: s (same "
      "room) started this party first", "a warning about display-name");
  wait_for (parties, warned_about, "Set display-name the same on both "
      "elements, or only on s.", "the warning's advice");
  party_free (p);
  test_server_stop (ts);
  g_free (url);

  /* serve=true on the sink alone (scripts/demo, record-call) loses
   * nothing: the party joins with no such warning. */
  url = g_strdup_printf ("ws://127.0.0.1:%u/ws", free_port ());
  p = party_new (TEST_VIDEO " ! letschatsink name=s room=two serve=true "
      "server-url=URL letschatsrc name=r room=two server-url=URL ! fakesink",
      url);
  parties[0] = p;
  party_play (p);
  wait_for (parties, first_joined, NULL, "the served party to join");
  party_poll (p);
  g_assert_false (warned_about (parties, "ignored"));
  party_free (p);
  g_free (url);
}

/* serve=true where a server already listens: say so, and what to do. */
static void
test_error_serve_port_in_use (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  Party *p = party_new ("letschatsrc room=x serve=true server-url=URL ! "
      "fakesink", url);
  gchar *text;

  g_assert_cmpint (gst_element_set_state (p->pipeline, GST_STATE_PLAYING), ==,
      GST_STATE_CHANGE_FAILURE);
  text = wait_for_error (p);
  assert_contains (text, "Could not host the room server");
  assert_contains (text, "drop serve=true");
  g_free (text);
  party_free (p);
  test_server_stop (ts);
  g_free (url);
}

static void
test_error_bad_turn_server (void)
{
  Party *p = party_new ("letschatsrc room=x turn-servers=<\"nonsense\"> ! "
      "fakesink", "");
  gchar *text;

  g_assert_cmpint (gst_element_set_state (p->pipeline, GST_STATE_PLAYING), ==,
      GST_STATE_CHANGE_FAILURE);
  text = wait_for_error (p);
  assert_contains (text, "Invalid TURN server 'nonsense'");
  g_free (text);
  party_free (p);
}

/* ---------------------------------------------------------------------- */
/* Calls that survive the other party leaving and coming back.             */

static gchar *
pad_names (GstElement * element)
{
  GString *names = g_string_new (NULL);
  GList *l;

  GST_OBJECT_LOCK (element);
  for (l = element->srcpads; l; l = l->next)
    g_string_append_printf (names, "%s%p ", GST_PAD_NAME (l->data), l->data);
  GST_OBJECT_UNLOCK (element);
  return g_string_free (names, FALSE);
}

static gboolean
got_more_video (Party ** parties, gpointer data)
{
  return g_atomic_int_get (&parties[0]->video_frames) >= GPOINTER_TO_INT (data);
}

static gboolean
saw_peer_left (Party ** parties, gpointer data)
{
  return g_hash_table_contains (parties[0]->seen, "letschat/peer-left");
}

/* The receiver stays; a sender joins, sends, leaves, 20 times. The
 * receiving pipeline never errors, keeps the very same pads, and gets
 * frames after every return. */
static void
test_peer_leaves_and_rejoins (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  Party *rx = party_new ("letschatsrc name=r room=again server-url=URL "
      "r. ! video/x-raw ! fakesink name=video "
      "r. ! audio/x-raw ! fakesink name=audio", url);
  Party *only_rx[] = { rx, NULL };
  GstElement *src = gst_bin_get_by_name (GST_BIN (rx->pipeline), "r");
  gchar *first_pads = NULL;
  gint cycle, target;

  party_play (rx);
  for (cycle = 0; cycle < 20; cycle++) {
    Party *tx = party_new (TEST_VIDEO " ! letschatsink name=s room=again "
        "server-url=URL " TEST_AUDIO " ! s.", url);
    Party *both[] = { rx, tx, NULL };
    gchar *pads;

    party_play (tx);
    target = g_atomic_int_get (&rx->video_frames) + 15;
    wait_for (both, got_more_video, GINT_TO_POINTER (target),
        "frames after the sender (re)joined");
    pads = pad_names (src);
    if (!first_pads)
      first_pads = g_strdup (pads);
    g_assert_cmpstr (pads, ==, first_pads);
    g_free (pads);

    g_hash_table_remove (rx->seen, "letschat/peer-left");
    party_free (tx);
    wait_for (only_rx, saw_peer_left, NULL, "letschat/peer-left");
  }
  g_test_message ("20 cycles, %d frames, pads: %s", rx->video_frames,
      first_pads);
  g_assert_true (g_hash_table_contains (rx->seen, "letschat/call-reset"));
  g_assert_null (rx->error);
  g_free (first_pads);
  gst_object_unref (src);
  party_free (rx);
  test_server_stop (ts);
  g_free (url);
}

static gboolean
first_saw_eos (Party ** parties, gpointer data)
{
  return g_hash_table_contains (parties[0]->seen, "eos");
}

static gboolean
first_connected (Party ** parties, gpointer data)
{
  return g_hash_table_contains (parties[0]->seen, "state:connected");
}

/* The other party only sends: the answer refuses this party's video. Its
 * stream must not be left blocked inside webrtcbin, or the end of the
 * source (EOS; Ctrl-C with gst-launch-1.0 -e) would never get through and
 * the pipeline would never end. */
static void
test_stream_refused_still_ends (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  Party *other = party_new (TEST_VIDEO " ! letschatsink room=refused "
      "server-url=URL", url);
  /* 150 frames: 5 s, ending well after the call is up. letschatsrc's pad
   * is left unlinked (it drops): letschatsink is the pipeline's one sink. */
  Party *a = party_new ("videotestsrc is-live=true num-buffers=150 ! "
      "video/x-raw,width=320,height=240,framerate=30/1 ! "
      "letschatsink name=s room=refused server-url=URL "
      "letschatsrc name=r room=refused server-url=URL", url);
  Party *parties[] = { a, other, NULL };

  party_play (other);
  wait_for (parties + 1, first_joined, NULL, "the sending party to join");
  party_play (a);
  wait_for (parties, first_connected, NULL, "the call to connect");
  wait_for (parties, first_saw_eos, NULL, "the pipeline's EOS when its "
      "source ends");

  party_free (a);
  party_free (other);
  test_server_stop (ts);
  g_free (url);
}

/* The sender stays; receivers come and go: each one gets frames. */
static void
test_sender_waits_for_next_party (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  Party *tx = party_new (TEST_VIDEO " ! letschatsink name=s room=wait "
      "server-url=URL " TEST_AUDIO " ! s.", url);
  gint cycle;

  party_play (tx);
  for (cycle = 0; cycle < 3; cycle++) {
    Party *rx = party_new ("letschatsrc room=wait server-url=URL ! "
        "video/x-raw ! fakesink name=video", url);
    Party *both[] = { rx, tx, NULL };

    party_play (rx);
    wait_for (both, got_more_video, GINT_TO_POINTER (30),
        "a new receiver to get >= 30 frames");
    party_free (rx);
  }
  party_poll (tx);
  g_assert_null (tx->error);
  party_free (tx);
  test_server_stop (ts);
  g_free (url);
}

/* ---------------------------------------------------------------------- */
/* Real processes, killed for real.                                         */

static GSubprocess *
spawn_server (guint16 port)
{
  const gchar *path = g_getenv ("LETSCHAT_SERVER");
  gchar *port_str = g_strdup_printf ("%u", port);
  GError *error = NULL;
  GSubprocess *proc;
  GSocketClient *probe = g_socket_client_new ();
  GSocketConnection *conn = NULL;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  g_assert_nonnull (path);
  proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, &error, path,
      "--port", port_str, NULL);
  g_assert_no_error (error);
  /* Ready when it accepts connections. */
  while (!conn && g_get_monotonic_time () < deadline) {
    conn = g_socket_client_connect_to_host (probe, "127.0.0.1", port, NULL,
        NULL);
    if (!conn)
      g_usleep (20 * 1000);
  }
  g_assert_nonnull (conn);
  g_object_unref (conn);
  g_object_unref (probe);
  g_free (port_str);
  return proc;
}

static void
kill_process (GSubprocess * proc)
{
  g_subprocess_send_signal (proc, SIGKILL);
  g_subprocess_wait (proc, NULL, NULL);
  g_object_unref (proc);
}

static gboolean
both_reconnected (Party ** parties, gpointer data)
{
  return g_hash_table_contains (parties[0]->seen,
      "letschat/server-reconnected") &&
      g_hash_table_contains (parties[1]->seen, "letschat/server-reconnected");
}

/* The server is SIGKILLed mid-call: frames keep coming peer to peer; when
 * it is back on the same port both parties rejoin as themselves, and a
 * later leave/rejoin works. */
static void
test_server_killed_and_restarted (void)
{
  guint16 port = free_port ();
  gchar *url = g_strdup_printf ("ws://127.0.0.1:%u/ws", port);
  GSubprocess *server = spawn_server (port);
  Party *rx = party_new ("letschatsrc room=phoenix server-url=URL ! "
      "video/x-raw ! fakesink name=video", url);
  Party *tx = party_new (TEST_VIDEO " ! letschatsink room=phoenix "
      "server-url=URL", url);
  Party *parties[] = { rx, tx, NULL };
  Party *later;
  gint target;

  party_play (rx);
  party_play (tx);
  wait_for (parties, got_more_video, GINT_TO_POINTER (30), "the call");

  kill_process (server);
  target = g_atomic_int_get (&rx->video_frames) + 60;
  wait_for (parties, got_more_video, GINT_TO_POINTER (target),
      "frames while the server is down");
  g_assert_true (g_hash_table_contains (rx->seen, "letschat/server-lost"));
  g_assert_true (g_hash_table_contains (tx->seen, "letschat/server-lost"));

  server = spawn_server (port);
  wait_for (parties, both_reconnected, NULL, "both parties to rejoin");
  g_assert_false (g_hash_table_contains (rx->seen, "letschat/peer-left"));
  /* Both came back as themselves: the call was not even renegotiated. */
  g_assert_false (g_hash_table_contains (rx->seen, "letschat/call-reset"));
  g_assert_false (g_hash_table_contains (tx->seen, "letschat/call-reset"));
  target = g_atomic_int_get (&rx->video_frames) + 30;
  wait_for (parties, got_more_video, GINT_TO_POINTER (target),
      "frames after the server came back");

  /* Leave and rejoin through the restarted server. */
  party_free (tx);
  later = party_new (TEST_VIDEO " ! letschatsink room=phoenix "
      "server-url=URL", url);
  parties[1] = later;
  party_play (later);
  target = g_atomic_int_get (&rx->video_frames) + 30;
  wait_for (parties, got_more_video, GINT_TO_POINTER (target),
      "frames from a new party after the restart");

  party_free (later);
  party_free (rx);
  kill_process (server);
  g_free (url);
}

/* The sending process is SIGKILLed: the receiver is told peer-left, and a
 * new party can join and call. */
static void
test_party_killed (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  gchar *sink = g_strdup_printf ("server-url=%s", url);
  Party *rx = party_new ("letschatsrc room=crash server-url=URL ! "
      "video/x-raw ! fakesink name=video", url);
  Party *only_rx[] = { rx, NULL };
  Party *tx, *parties[] = { rx, NULL, NULL };
  GError *error = NULL;
  GSubprocess *sender;
  gint target;

  party_play (rx);
  sender = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
      G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, "gst-launch-1.0",
      "videotestsrc", "is-live=true", "!", "letschatsink", "room=crash", sink,
      NULL);
  g_assert_no_error (error);
  wait_for (only_rx, got_more_video, GINT_TO_POINTER (30),
      "frames from the gst-launch-1.0 sender");
  kill_process (sender);
  wait_for (only_rx, saw_peer_left, NULL, "letschat/peer-left");

  tx = party_new (TEST_VIDEO " ! letschatsink room=crash server-url=URL", url);
  parties[1] = tx;
  party_play (tx);
  target = g_atomic_int_get (&rx->video_frames) + 30;
  wait_for (parties, got_more_video, GINT_TO_POINTER (target),
      "frames from the next party");
  party_free (tx);
  party_free (rx);
  test_server_stop (ts);
  g_free (sink);
  g_free (url);
}

static gboolean
saw_no_media_reset (Party ** parties, gpointer data)
{
  return g_hash_table_contains (parties[0]->seen, "letschat/call-reset");
}

/* The sender stops sending (its pipeline paused) for longer than the
 * receiver's media-timeout: the receiver starts over, and when media comes
 * again the call is back. */
static void
test_media_timeout (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  Party *rx = party_new ("letschatsrc room=quiet media-timeout=2 "
      "server-url=URL ! video/x-raw ! fakesink name=video", url);
  Party *tx = party_new (TEST_VIDEO " ! letschatsink room=quiet "
      "server-url=URL", url);
  Party *parties[] = { rx, tx, NULL };
  gint target;

  party_play (rx);
  party_play (tx);
  wait_for (parties, got_more_video, GINT_TO_POINTER (30), "the call");
  gst_element_set_state (tx->pipeline, GST_STATE_PAUSED);
  wait_for (parties, saw_no_media_reset, NULL, "a call reset for no media");
  party_play (tx);
  target = g_atomic_int_get (&rx->video_frames) + 30;
  wait_for (parties, got_more_video, GINT_TO_POINTER (target),
      "frames after the sender resumed");
  party_free (tx);
  party_free (rx);
  test_server_stop (ts);
  g_free (url);
}


/* ---------------------------------------------------------------------- */
/* Text chat                                                               */

static void
on_chat_received (GstElement * element, const gchar * from, const gchar * text,
    Party * p)
{
  g_mutex_lock (&p->chat_lock);
  g_ptr_array_add (p->signal_chats, g_strdup_printf ("%s|%s|%s",
          GST_ELEMENT_NAME (element), from, text));
  g_mutex_unlock (&p->chat_lock);
}

static void
watch_chat (Party * p, const gchar * name)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (p->pipeline), name);

  g_signal_connect (e, "chat-received", G_CALLBACK (on_chat_received), p);
  gst_object_unref (e);
}

static gboolean
send_chat (Party * p, const gchar * name, const gchar * text)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (p->pipeline), name);
  gboolean ok = FALSE;

  g_signal_emit_by_name (e, "send-chat", text, &ok);
  gst_object_unref (e);
  return ok;
}

static gboolean
array_has (GPtrArray * array, const gchar * want)
{
  guint i;

  for (i = 0; i < array->len; i++)
    if (g_strcmp0 (g_ptr_array_index (array, i), want) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
got_signal_chat (Party ** parties, gpointer data)
{
  gboolean found;

  g_mutex_lock (&parties[0]->chat_lock);
  found = array_has (parties[0]->signal_chats, data);
  g_mutex_unlock (&parties[0]->chat_lock);
  return found;
}

static gboolean
got_warning (Party ** parties, gpointer data)
{
  guint i;

  for (i = 0; i < parties[0]->warnings->len; i++)
    if (strstr (g_ptr_array_index (parties[0]->warnings, i), data))
      return TRUE;
  return FALSE;
}

static gboolean
peer_joined (Party ** parties, gpointer data)
{
  Party **p;

  for (p = parties; *p; p++)
    if (!g_hash_table_contains ((*p)->seen, "letschat/peer-joined"))
      return FALSE;
  return TRUE;
}

/* Waits for "element|from|text" at @to, where from is @from's id. */
static void
expect_chat (Party * to, const gchar * element, Party * from,
    const gchar * text)
{
  Party *parties[] = { to, from, NULL };
  gchar *want = g_strdup_printf ("%s|%s|%s", element,
      (gchar *) g_object_get_data (G_OBJECT (from->pipeline), "id"), text);

  wait_for (parties, got_signal_chat, want, want);
  g_free (want);
}

/* A party with only a sink and one with only a src chat both ways. The
 * first message is sent as soon as the other party is there, before the
 * call is connected: it waits for the chat to open. */
static void
test_chat_sink_only_and_src_only (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  Party *a = party_new (TEST_VIDEO " ! letschatsink name=s room=chat "
      "display-name=Ann server-url=URL", url);
  Party *b = party_new ("letschatsrc name=r room=chat display-name=Bob "
      "server-url=URL r. ! fakesink", url);
  Party *parties[] = { a, b, NULL };
  const gchar *hello = "héllo from the sink ✓";

  watch_chat (a, "s");
  watch_chat (b, "r");
  party_play (a);
  party_play (b);
  wait_for (parties, peer_joined, NULL, "both parties to see each other");
  g_assert_true (send_chat (a, "s", hello));
  expect_chat (b, "r", a, hello);
  g_assert_true (send_chat (b, "r", "and back from the src"));
  expect_chat (a, "s", b, "and back from the src");
  /* The bus says it too, with the sender's display name. */
  party_poll (b);
  g_assert_true (array_has (b->bus_chats, "Ann|héllo from the sink ✓"));

  party_free (a);
  party_free (b);
  test_server_stop (ts);
  g_free (url);
}

/* Sink and src in one party: each element emits chat-received (the
 * application may hold either), the bus hears it once. */
static void
test_chat_two_way (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  const gchar *desc = TEST_VIDEO " ! letschatsink name=s room=chat2 "
      "server-url=URL letschatsrc name=r room=chat2 server-url=URL "
      "r. ! fakesink";
  Party *a = party_new (desc, url);
  Party *b = party_new (desc, url);
  Party *parties[] = { a, b, NULL };
  guint i, n = 0;

  watch_chat (a, "s");
  watch_chat (a, "r");
  watch_chat (b, "s");
  watch_chat (b, "r");
  party_play (a);
  party_play (b);
  wait_for (parties, peer_joined, NULL, "both parties to see each other");
  g_assert_true (send_chat (a, "r", "one"));
  g_assert_true (send_chat (b, "s", "two"));
  expect_chat (b, "s", a, "one");
  expect_chat (b, "r", a, "one");
  expect_chat (a, "s", b, "two");
  expect_chat (a, "r", b, "two");
  g_usleep (200 * 1000);
  party_poll (b);
  for (i = 0; i < b->bus_chats->len; i++)
    n += g_str_has_suffix (g_ptr_array_index (b->bus_chats, i), "|one");
  g_assert_cmpuint (n, ==, 1);

  party_free (a);
  party_free (b);
  test_server_stop (ts);
  g_free (url);
}

/* What cannot be a chat message is refused with a readable warning, and
 * the chat goes on. */
static void
test_chat_refused (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  Party *a = party_new (TEST_VIDEO " ! letschatsink name=s room=chat3 "
      "server-url=URL", url);
  Party *b = party_new ("letschatsrc name=r room=chat3 server-url=URL "
      "r. ! fakesink", url);
  Party *alone[] = { a, NULL };
  Party *parties[] = { a, b, NULL };
  gchar *long_text = g_strnfill (4097, 'x');
  gchar *max_text = g_strnfill (4096, 'y');

  watch_chat (b, "r");
  g_assert_false (send_chat (a, "s", "too early"));
  wait_for (alone, got_warning, "not in a room yet", "not-in-a-room warning");
  party_play (a);
  g_ptr_array_set_size (a->warnings, 0);
  party_play (b);
  wait_for (parties, peer_joined, NULL, "both parties to see each other");

  g_assert_false (send_chat (a, "s", ""));
  wait_for (alone, got_warning, "it is empty", "empty warning");
  g_assert_false (send_chat (a, "s", long_text));
  wait_for (alone, got_warning, "it is 4097 bytes long, more than the 4096",
      "too-long warning");
  g_assert_false (send_chat (a, "s", "bad \xff\xfe bytes"));
  wait_for (alone, got_warning, "it is not valid UTF-8", "UTF-8 warning");
  g_assert_true (send_chat (a, "s", max_text));
  expect_chat (b, "r", a, max_text);

  g_free (long_text);
  g_free (max_text);
  party_free (a);
  party_free (b);
  test_server_stop (ts);
  g_free (url);
}

/* ---------------------------------------------------------------------- */
/* Stopping at any moment (set_state NULL, EOS) never blocks.              */

/* A stop that has not returned by then is a hang, not a slow machine: the
 * process ends with a message instead of waiting for meson's timeout. */
#define STOP_HANG_S 10

static const gchar *stopping_what;

static void
on_stop_hang (int sig)
{
  static const gchar msg[] = "\nHANG: stopping a pipeline did not return in "
      G_STRINGIFY (STOP_HANG_S) " s\n";

  (void) !write (2, msg, sizeof (msg) - 1);
  if (stopping_what)
    (void) !write (2, stopping_what, strlen (stopping_what));
  _exit (1);
}

static void
stop_party (Party * p, const gchar * when)
{
  gint64 start = g_get_monotonic_time ();

  stopping_what = when;
  signal (SIGALRM, on_stop_hang);
  alarm (STOP_HANG_S);
  gst_element_set_state (p->pipeline, GST_STATE_NULL);
  alarm (0);
  g_test_message ("stopped %s (%s) in %" G_GINT64_FORMAT " ms",
      GST_OBJECT_NAME (p->pipeline), when,
      (g_get_monotonic_time () - start) / 1000);
}

static gpointer
stop_party_thread (gpointer data)
{
  stop_party (data, "the other party, at the same time");
  return NULL;
}

static gboolean
joined (Party ** parties, gpointer data)
{
  return g_hash_table_contains (parties[0]->seen, "letschat/joined");
}

static gboolean
saw_eos (Party ** parties, gpointer data)
{
  return g_hash_table_contains (parties[0]->seen, "eos");
}

#define TWO_WAY_PARTY TEST_VIDEO " ! letschatsink name=s room=stop " \
  "server-url=URL " TEST_AUDIO " ! s. " \
  "letschatsrc name=r room=stop server-url=URL " \
  "r. ! video/x-raw ! fakesink name=video " \
  "r. ! audio/x-raw ! fakesink name=audio"

/* Stopped while the room connection is under way: the server has the
 * WebSocket upgrade request and has not answered. */
static void
stop_while_connecting (void)
{
  GSocketListener *listener = g_socket_listener_new ();
  guint16 port = g_socket_listener_add_any_inet_port (listener, NULL, NULL);
  gchar *url = g_strdup_printf ("ws://127.0.0.1:%u/ws", port);
  Party *p = party_new (TWO_WAY_PARTY, url);
  GSocketConnection *conn;
  GString *request = g_string_new (NULL);
  gchar byte;

  party_play (p);
  conn = g_socket_listener_accept (listener, NULL, NULL, NULL);
  g_assert_nonnull (conn);
  while (!g_str_has_suffix (request->str, "\r\n\r\n") &&
      g_input_stream_read (g_io_stream_get_input_stream (G_IO_STREAM (conn)),
          &byte, 1, NULL, NULL) == 1)
    g_string_append_c (request, byte);
  assert_contains (request->str, "Upgrade: websocket");
  stop_party (p, "while connecting to the room");
  party_free (p);
  g_string_free (request, TRUE);
  g_object_unref (conn);
  g_socket_listener_close (listener);
  g_object_unref (listener);
  g_free (url);
}

static void
test_stop_at_any_moment (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  Party *a, *b;
  GThread *thread;

  stop_while_connecting ();

  /* Alone in the room. */
  a = party_new (TWO_WAY_PARTY, url);
  party_play (a);
  wait_for ((Party *[]) {
      a, NULL}, joined, NULL, "A to join");
  stop_party (a, "alone in the room");
  party_free (a);

  /* Mid-negotiation: the moment the other party is seen. */
  a = party_new (TWO_WAY_PARTY, url);
  b = party_new (TWO_WAY_PARTY, url);
  party_play (a);
  wait_for ((Party *[]) {
      a, NULL}, joined, NULL, "A to join");
  party_play (b);
  wait_for ((Party *[]) {
      b, NULL}, peer_joined, NULL, "B to see A");
  stop_party (b, "mid-negotiation");
  party_free (b);

  /* In a call, media both ways: B comes back, then A stops. */
  b = party_new (TWO_WAY_PARTY, url);
  mark_receiver (a, TRUE);
  mark_receiver (b, TRUE);
  party_play (b);
  wait_for ((Party *[]) {
      a, b, NULL}, receivers_got_media,
      GINT_TO_POINTER (30), "a call with media both ways");
  stop_party (a, "in a call");
  party_free (a);

  /* While the other party is leaving: both stop at once. */
  a = party_new (TWO_WAY_PARTY, url);
  mark_receiver (a, TRUE);
  g_atomic_int_set (&b->video_frames, 0);
  party_play (a);
  wait_for ((Party *[]) {
      a, b, NULL}, receivers_got_media,
      GINT_TO_POINTER (30), "a new call with media both ways");
  thread = g_thread_new ("stop-a", stop_party_thread, a);
  stop_party (b, "while the other party leaves");
  g_thread_join (thread);
  party_free (a);
  party_free (b);

  /* EOS during a call (gst-launch-1.0 -e): it reaches the bus. */
  a = party_new (TWO_WAY_PARTY, url);
  b = party_new (TWO_WAY_PARTY, url);
  mark_receiver (a, TRUE);
  mark_receiver (b, TRUE);
  party_play (a);
  party_play (b);
  wait_for ((Party *[]) {
      a, b, NULL}, receivers_got_media,
      GINT_TO_POINTER (30), "a third call with media both ways");
  gst_element_send_event (a->pipeline, gst_event_new_eos ());
  wait_for ((Party *[]) {
      a, NULL}, saw_eos, NULL, "EOS on A's bus");
  stop_party (a, "after EOS");
  g_assert_null (b->error);
  party_free (a);
  party_free (b);

  test_server_stop (ts);
  g_free (url);
}

/* ---------------------------------------------------------------------- */
/* A description that cannot be used is not the end of the call.          */

typedef struct
{
  gboolean done;
  gboolean ok;
  gboolean welcomed;
} RawPeer;

static void
raw_connected (GObject * source, GAsyncResult * result, gpointer data)
{
  RawPeer *peer = data;

  peer->ok = letschat_client_connect_finish (LETSCHAT_CLIENT (source), result,
      NULL);
  peer->done = TRUE;
}

static void
raw_welcome (LetsChatClient * client, const gchar * id, const gchar * room,
    const gchar * peer_id, const gchar * peer_name, JsonNode * ice,
    RawPeer * peer)
{
  peer->welcomed = TRUE;
}

/* An offer webrtcbin refuses: its m-line has no ICE credentials. */
#define UNUSABLE_OFFER "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n" \
  "a=group:BUNDLE 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n" \
  "c=IN IP4 0.0.0.0\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n" \
  "a=rtpmap:96 VP8/90000\r\na=setup:actpass\r\na=fingerprint:sha-256 " \
  "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:" \
  "22:33:44:55:66:77:88:99\r\n"

static gboolean
saw_negotiation_failed (Party ** parties, gpointer data)
{
  return g_hash_table_contains (parties[0]->seen,
      "letschat/negotiation-failed");
}

static void
test_unusable_offer (void)
{
  TestServer *ts = test_server_start ();
  gchar *url = test_server_url (ts);
  const gchar *desc = TEST_VIDEO " ! letschatsink name=s room=bad "
      "server-url=URL " TEST_AUDIO " ! s. "
      "letschatsrc name=r room=bad server-url=URL "
      "r. ! video/x-raw ! fakesink name=video "
      "r. ! audio/x-raw ! fakesink name=audio";
  Party *a = party_new (desc, url), *b;
  Party *alone[] = { a, NULL };
  GMainContext *context = g_main_context_new ();
  LetsChatClient *client;
  RawPeer peer = { 0, };
  JsonNode *offer;
  gchar *warnings;

  party_play (a);
  wait_for (alone, joined, NULL, "A to join");

  /* A party of our own making joins second and offers nonsense. */
  g_main_context_push_thread_default (context);
  client = letschat_client_new ();
  g_signal_connect (client, "welcome", G_CALLBACK (raw_welcome), &peer);
  letschat_client_connect_async (client, url, 5000, NULL, raw_connected, &peer);
  while (!peer.done)
    g_main_context_iteration (context, TRUE);
  g_assert_true (peer.ok);
  letschat_client_join (client, "bad", NULL, "raw");
  while (!peer.welcomed)
    g_main_context_iteration (context, TRUE);
  offer = letschat_protocol_sdp_data_new ("offer", UNUSABLE_OFFER);
  letschat_client_send_signal (client, offer);
  json_node_unref (offer);
  while (g_main_context_iteration (context, FALSE));

  /* A warning that says what failed, a bus message, and no ERROR
   * (wait_for fails on one). */
  wait_for (alone, saw_negotiation_failed, NULL, "letschat/negotiation-failed");
  g_ptr_array_add (a->warnings, NULL);
  warnings = g_strjoinv ("\n", (gchar **) a->warnings->pdata);
  g_ptr_array_set_size (a->warnings, a->warnings->len - 1);
  g_test_message ("warnings: %s", warnings);
  assert_contains (warnings, "Could not negotiate the call with raw");
  assert_contains (warnings, "ice-ufrag");
  g_free (warnings);

  letschat_client_close (client);
  while (g_main_context_iteration (context, FALSE));
  g_object_unref (client);
  g_main_context_pop_thread_default (context);
  g_main_context_unref (context);

  /* The party is still there for the next one, media both ways. */
  b = party_new (desc, url);
  mark_receiver (a, TRUE);
  mark_receiver (b, TRUE);
  party_play (b);
  wait_for ((Party *[]) {
      a, b, NULL}
      , receivers_got_media,
      GINT_TO_POINTER (30), "a call with the next party");
  party_free (a);
  party_free (b);
  test_server_stop (ts);
  g_free (url);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/call/sink-only-to-src-only", test_sink_only_to_src_only);
  g_test_add_func ("/call/two-way", test_two_way);
  g_test_add_func ("/call/serve", test_serve);
  g_test_add_func ("/call/video-codec-vp9", test_video_codec_vp9);
  g_test_add_func ("/call/video-codec-h264", test_video_codec_h264);
  g_test_add_func ("/call/pre-encoded-h264", test_pre_encoded_h264);
  g_test_add_func ("/call/pre-encoded-vp8-opus", test_pre_encoded_vp8_and_opus);
  g_test_add_func ("/call/encoded-output", test_encoded_output);
  g_test_add_func ("/resilience/peer-leaves-and-rejoins",
      test_peer_leaves_and_rejoins);
  g_test_add_func ("/resilience/sender-waits-for-next-party",
      test_sender_waits_for_next_party);
  g_test_add_func ("/resilience/server-killed-and-restarted",
      test_server_killed_and_restarted);
  g_test_add_func ("/resilience/party-killed", test_party_killed);
  g_test_add_func ("/resilience/media-timeout", test_media_timeout);
  g_test_add_func ("/call/stream-refused-still-ends",
      test_stream_refused_still_ends);
  g_test_add_func ("/chat/sink-only-and-src-only",
      test_chat_sink_only_and_src_only);
  g_test_add_func ("/chat/two-way", test_chat_two_way);
  g_test_add_func ("/chat/refused", test_chat_refused);
  g_test_add_func ("/errors/unreachable", test_error_unreachable);
  g_test_add_func ("/errors/connect-timeout", test_error_connect_timeout);
  g_test_add_func ("/errors/no-room", test_error_no_room);
  g_test_add_func ("/errors/room-full", test_error_room_full);
  g_test_add_func ("/errors/wrong-secret", test_error_wrong_secret);
  g_test_add_func ("/errors/no-secret", test_error_no_secret);
  g_test_add_func ("/errors/ignored-setting", test_error_ignored_setting);
  g_test_add_func ("/errors/serve-port-in-use", test_error_serve_port_in_use);
  g_test_add_func ("/errors/bad-turn-server", test_error_bad_turn_server);
  g_test_add_func ("/stop/at-any-moment", test_stop_at_any_moment);
  g_test_add_func ("/uri/playbin", test_uri_playbin);
  g_test_add_func ("/uri/uridecodebin-and-sink",
      test_uri_uridecodebin_and_sink);
  g_test_add_func ("/uri/errors", test_uri_errors);
  g_test_add_func ("/errors/unusable-offer", test_unusable_offer);
  return g_test_run ();
}
