/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * record-call: join a letschat room as a party (camera and microphone, or
 * test sources) and record the whole call, both parties' video and audio,
 * into one Matroska file:
 *
 *   record-call --room demo --output call.mkv
 *
 * The local streams are encoded once (VP8 and Opus) and go both to the
 * other party and into the file; the other party's streams go into the file
 * as they arrive, without re-encoding. Ctrl-C or --duration finalizes the
 * file; the file is streamable Matroska, so even a recorder killed outright
 * leaves a file that plays. See docs/recording.md.
 */
#include <gst/gst.h>
#include <glib-unix.h>
#include <stdlib.h>

typedef struct
{
  GMainLoop *loop;
  GstElement *pipeline;
  gboolean stopping;
  gint status;
} App;

/* The other party's branches are linked only when its streams arrive; a
 * branch that never got one must still end, or the muxer waits for it and
 * never finalizes the file. */
static void
end_unlinked_branch (GstElement * pipeline, const gchar * name)
{
  GstElement *filter = gst_bin_get_by_name (GST_BIN (pipeline), name);
  GstPad *pad = gst_element_get_static_pad (filter, "sink");

  if (!gst_pad_is_linked (pad))
    gst_pad_send_event (pad, gst_event_new_eos ());
  gst_object_unref (pad);
  gst_object_unref (filter);
}

static gboolean
force_quit (gpointer data)
{
  App *app = data;

  g_printerr ("record-call: the recording did not finish in time\n");
  app->status = 1;
  g_main_loop_quit (app->loop);
  return G_SOURCE_REMOVE;
}

/* EOS into every source: each track ends, the muxer writes its index and
 * duration, and the EOS message tells us the file is complete. */
static gboolean
stop_recording (gpointer data)
{
  App *app = data;

  if (app->stopping)
    return G_SOURCE_REMOVE;
  app->stopping = TRUE;
  g_print ("record-call: finishing the recording\n");
  gst_element_send_event (app->pipeline, gst_event_new_eos ());
  end_unlinked_branch (app->pipeline, "remote_video");
  end_unlinked_branch (app->pipeline, "remote_audio");
  g_timeout_add_seconds (10, force_quit, app);
  return G_SOURCE_REMOVE;
}

static gboolean
recording_complete (gpointer data)
{
  App *app = data;

  g_print ("record-call: recording complete\n");
  g_main_loop_quit (app->loop);
  return G_SOURCE_REMOVE;
}

/* The file is complete when EOS reaches the filesink. The pipeline's own
 * EOS message does not come: the call's network sinks inside webrtcbin
 * never end. */
static GstPadProbeReturn
on_file_event (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS)
    g_idle_add (recording_complete, data);
  return GST_PAD_PROBE_OK;
}

static gboolean
on_bus_message (GstBus * bus, GstMessage * msg, gpointer data)
{
  App *app = data;
  const GstStructure *s;
  GError *error = NULL;
  gchar *debug = NULL;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &error, &debug);
      g_printerr ("record-call: %s\n", error->message);
      g_clear_error (&error);
      g_free (debug);
      app->status = 1;
      g_main_loop_quit (app->loop);
      break;
    case GST_MESSAGE_ELEMENT:
      s = gst_message_get_structure (msg);
      if (gst_structure_has_name (s, "letschat/peer-joined"))
        g_print ("record-call: the other party joined\n");
      else if (gst_structure_has_name (s, "letschat/peer-left"))
        g_print ("record-call: the other party left; still recording\n");
      else if (gst_structure_has_name (s, "letschat/stream-started"))
        g_print ("record-call: recording the other party's %s (%s)\n",
            gst_structure_get_string (s, "pad"),
            gst_structure_get_string (s, "codec"));
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  gchar *room = NULL, *server_url = NULL, *output = NULL;
  gchar *video_source = NULL, *audio_source = NULL;
  gboolean serve = FALSE;
  gint duration = 0;
  GOptionEntry entries[] = {
    {"room", 'r', 0, G_OPTION_ARG_STRING, &room,
        "Room to join (required)", "NAME"},
    {"server-url", 'u', 0, G_OPTION_ARG_STRING, &server_url,
        "Room server (default ws://127.0.0.1:8443/ws)", "URL"},
    {"output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
        "Matroska file to write (default call.mkv)", "FILE"},
    {"serve", 's', 0, G_OPTION_ARG_NONE, &serve,
        "Host the room server in this process at server-url", NULL},
    {"duration", 'd', 0, G_OPTION_ARG_INT, &duration,
        "Stop after so many seconds (default: until Ctrl-C)", "S"},
    {"video-source", 0, 0, G_OPTION_ARG_STRING, &video_source,
        "Local video, as a gst-launch-1.0 description (default: a test "
          "pattern; v4l2src for a camera)", "DESC"},
    {"audio-source", 0, 0, G_OPTION_ARG_STRING, &audio_source,
        "Local audio, as a gst-launch-1.0 description (default: a test "
          "tone; autoaudiosrc for a microphone)", "DESC"},
    {NULL}
  };
  GOptionContext *ctx;
  GError *error = NULL;
  gchar *desc;
  App app = { 0, };
  GstBus *bus;

  ctx = g_option_context_new ("- record a whole letschat call to a file");
  g_option_context_set_description (ctx, "Joins ROOM as one party, sends "
      "the local video and audio, and records both parties (4 tracks: local "
      "and remote video and audio) into one Matroska file.\nCtrl-C finishes "
      "the file. See docs/recording.md.\n");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("record-call: %s\n", error->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (!room) {
    g_printerr ("record-call: --room is required (see --help)\n");
    return 2;
  }
  if (duration < 0) {
    g_printerr ("record-call: --duration must be 0 or more seconds\n");
    return 2;
  }

  /* The local streams are encoded once, with the settings letschatsink
   * itself uses for a call (real time, a keyframe at least every 2 s), and
   * split: one copy to the other party, one to the file. Keyframes the
   * other party asks for reach the encoder through the tee, so the file
   * gets them too. The other party's streams come out of letschatsrc still
   * encoded (the caps filters ask for it), so nothing is re-encoded.
   *
   * The queues to the call are leaky: with another party that does not
   * receive, the call takes nothing from them, and a full queue would stop
   * the tee and so the recording. The queues in front of the muxer hold
   * what one side has recorded while the muxer waits for the other (for
   * example until the other party arrives); they hold encoded data only, so
   * they are unbounded. streamable=true: no index or duration to write at
   * the end, so what is on disk plays even when the process is killed
   * (docs/recording.md, "What a killed recorder leaves"). */
  desc = g_strdup_printf ("letschatsink name=s room=%s server-url=%s "
      "serve=%s  letschatsrc name=r room=%s server-url=%s "
      "matroskamux name=m streamable=true ! filesink name=file "
      "%s ! videoconvert ! videoscale ! videorate ! "
      "video/x-raw,width=640,height=480,framerate=30/1 ! "
      "vp8enc deadline=1 lag-in-frames=0 cpu-used=8 threads=1 end-usage=cbr "
      "target-bitrate=1000000 keyframe-max-dist=60 error-resilient=1 ! "
      "tee name=vt "
      "vt. ! queue leaky=downstream ! s. "
      "vt. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! "
      "m.video_0 "
      "%s ! audioconvert ! audioresample ! "
      "opusenc audio-type=restricted-lowdelay ! tee name=at "
      "at. ! queue leaky=downstream ! s. "
      "at. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! "
      "m.audio_0 "
      "r. ! capsfilter name=remote_video "
      "caps=\"video/x-vp8;video/x-vp9;video/x-h264\" ! "
      "queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! "
      "m.video_1 "
      "r. ! capsfilter name=remote_audio caps=audio/x-opus ! "
      "queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! "
      "m.audio_1", room,
      server_url ? server_url : "ws://127.0.0.1:8443/ws",
      serve ? "true" : "false", room,
      server_url ? server_url : "ws://127.0.0.1:8443/ws",
      video_source ? video_source : "videotestsrc is-live=true",
      audio_source ? audio_source : "audiotestsrc is-live=true wave=ticks");
  app.pipeline = gst_parse_launch (desc, &error);
  g_free (desc);
  if (!app.pipeline) {
    g_printerr ("record-call: %s\n", error->message);
    return 1;
  }

  /* Set here, not in the description: any file name is fine. */
  {
    GstElement *file = gst_bin_get_by_name (GST_BIN (app.pipeline), "file");

    GstPad *pad = gst_element_get_static_pad (file, "sink");

    g_object_set (file, "location", output ? output : "call.mkv", NULL);
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
        on_file_event, &app, NULL);
    gst_object_unref (pad);
    gst_object_unref (file);
  }

  app.loop = g_main_loop_new (NULL, FALSE);
  bus = gst_element_get_bus (app.pipeline);
  gst_bus_add_watch (bus, on_bus_message, &app);
  gst_object_unref (bus);
  g_unix_signal_add (SIGINT, stop_recording, &app);
  g_unix_signal_add (SIGTERM, stop_recording, &app);
  if (duration > 0)
    g_timeout_add_seconds (duration, stop_recording, &app);

  if (gst_element_set_state (app.pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    /* The reason is on the bus. */
    GstMessage *msg;

    bus = gst_element_get_bus (app.pipeline);
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    if (msg) {
      on_bus_message (bus, msg, &app);
      gst_message_unref (msg);
    }
    gst_object_unref (bus);
    app.status = 1;
  } else {
    g_print ("record-call: in room %s, recording to %s\n", room,
        output ? output : "call.mkv");
    g_main_loop_run (app.loop);
  }

  gst_element_set_state (app.pipeline, GST_STATE_NULL);
  gst_object_unref (app.pipeline);
  g_main_loop_unref (app.loop);
  g_free (room);
  g_free (server_url);
  g_free (output);
  g_free (video_source);
  g_free (audio_source);
  return app.status;
}
