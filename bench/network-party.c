/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * letschat-network-party: one party of the network benchmark
 * (bench/network.py), run in its own network namespace.
 *
 *   letschat-network-party send URL ROOM [PROPERTY=VALUE...]
 *     videotestsrc 1280x720@30 -> stamp -> letschatsink PROPERTIES
 *   letschat-network-party recv URL ROOM [PROPERTY=VALUE...]
 *     letschatsrc PROPERTIES -> read -> fakesink
 *
 * Frame numbers go in the picture as in bench/media-bench.c (16 bits and
 * two guards in blocks of the top-left corner, 32 pixels wide at 1280 and
 * as much smaller as the picture is when the congestion control scaled it
 * down). Both processes run on one machine, so they share its clock:
 * glass-to-glass is the receiver's time minus the sender's for the same
 * number. Times are the real-time clock (g_get_real_time, microseconds
 * since 1970) so that they compare with a browser's Date.now() in the
 * Chromium variants of bench/network.py. The source is busy
 * (videotestsrc pattern=snow: every frame costs what the encoder is
 * allowed, as a camera in a busy room does). Prints, one line each:
 *   sent N T_US             a frame left the source (sender)
 *   recv N T_US             a frame left the decoder (receiver; N -1: unreadable)
 *   state T_US STATE        the peer connection's state (both)
 *   stats T_US STRUCTURE    a letschat/stats message (both)
 *   pair T_US LOCAL-TYPE REMOTE-TYPE PROTOCOL LOCAL-ADDRESS REMOTE-ADDRESS
 *                           the selected candidate pair, from the stats,
 *                           when it is first known and whenever it changes
 *                           (both): which path the call took (udp or
 *                           ICE-TCP), so bench/network.py can tell whether
 *                           the call went through the shaped one
 */

#include <gst/gst.h>
#include <gst/video/video.h>
#include <stdio.h>
#include <string.h>

#define WIDTH 1280
#define BLOCK 32
#define BITS 16

static guint sent;

static void
write_number (GstVideoFrame * frame, guint number)
{
  guint8 *y = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  gint b, row;

  for (b = 0; b < BITS + 2; b++) {
    gboolean on = b < BITS ? (number >> (BITS - 1 - b)) & 1 : b == BITS;

    for (row = 0; row < BLOCK; row++)
      memset (y + row * stride + b * BLOCK, on ? 235 : 16, BLOCK);
  }
}

static gint
block_mean (GstVideoFrame * frame, gint b, gint block)
{
  guint8 *y = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  gint row, col, sum = 0, n = 0;

  for (row = block / 4; row < 3 * block / 4; row++)
    for (col = block / 4; col < 3 * block / 4; col++, n++)
      sum += y[row * stride + b * block + col];
  return n ? sum / n : 0;
}

static gint
read_number (GstPad * pad, GstBuffer * buffer)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  GstVideoInfo info;
  GstVideoFrame frame;
  gint b, block, number = 0;

  if (!caps)
    return -1;
  if (!gst_video_info_from_caps (&info, caps) ||
      GST_VIDEO_INFO_FORMAT (&info) != GST_VIDEO_FORMAT_I420 ||
      !gst_video_frame_map (&frame, &info, buffer, GST_MAP_READ)) {
    gst_caps_unref (caps);
    return -1;
  }
  gst_caps_unref (caps);
  block = BLOCK * GST_VIDEO_INFO_WIDTH (&info) / WIDTH;
  if (block < 4 || block_mean (&frame, BITS, block) < 180
      || block_mean (&frame, BITS + 1, block) > 70) {
    number = -1;
  } else {
    for (b = 0; b < BITS; b++)
      number = (number << 1) | (block_mean (&frame, b, block) > 125);
  }
  gst_video_frame_unmap (&frame);
  return number;
}

static GstPadProbeReturn
stamp_probe (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  GstBuffer *buffer = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER
      (info));
  GstCaps *caps = gst_pad_get_current_caps (pad);
  GstVideoInfo vinfo;
  GstVideoFrame frame;
  guint number;

  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  if (!caps)
    return GST_PAD_PROBE_OK;
  gst_video_info_from_caps (&vinfo, caps);
  gst_caps_unref (caps);
  if (!gst_video_frame_map (&frame, &vinfo, buffer, GST_MAP_WRITE))
    return GST_PAD_PROBE_OK;
  number = sent++ & ((1 << BITS) - 1);
  write_number (&frame, number);
  gst_video_frame_unmap (&frame);
  printf ("sent %u %" G_GINT64_FORMAT "\n", number, g_get_real_time ());
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
read_probe (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  gint number = read_number (pad, GST_PAD_PROBE_INFO_BUFFER (info));

  printf ("recv %d %" G_GINT64_FORMAT "\n", number, g_get_real_time ());
  return GST_PAD_PROBE_OK;
}

/* A "pair" line when the stats' selected candidate pair differs from the
 * last one printed (nothing until ICE has selected one). */
static void
print_pair (const GstStructure * stats)
{
  static gchar *last;
  const gchar *protocol = gst_structure_get_string (stats,
      "candidate-protocol");
  gchar *pair;

  if (!protocol || !*protocol)
    return;
  pair = g_strdup_printf ("%s %s %s %s %s",
      gst_structure_get_string (stats, "local-candidate-type"),
      gst_structure_get_string (stats, "remote-candidate-type"), protocol,
      gst_structure_get_string (stats, "local-address"),
      gst_structure_get_string (stats, "remote-address"));
  if (g_strcmp0 (pair, last) == 0) {
    g_free (pair);
    return;
  }
  printf ("pair %" G_GINT64_FORMAT " %s\n", g_get_real_time (), pair);
  g_free (last);
  last = pair;
}

static gboolean
on_message (GstBus * bus, GstMessage * msg, gpointer loop)
{
  gchar *text;
  GError *error = NULL;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:
      if (gst_message_has_name (msg, "letschat/stats")) {
        text = gst_structure_to_string (gst_message_get_structure (msg));
        printf ("stats %" G_GINT64_FORMAT " %s\n", g_get_real_time (), text);
        g_free (text);
        print_pair (gst_message_get_structure (msg));
      } else if (gst_message_has_name (msg, "letschat/connection-state")) {
        /* the bench tells "never connected" (ICE/DTLS) from "connected
         * but nothing decoded" (the link too narrow for what is sent) */
        printf ("state %" G_GINT64_FORMAT " %s\n", g_get_real_time (),
            gst_structure_get_string (gst_message_get_structure (msg),
                "state"));
      }
      break;
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &error, NULL);
      fprintf (stderr, "error: %s\n", error->message);
      g_error_free (error);
      g_main_loop_quit (loop);
      break;
    default:
      break;
  }
  return TRUE;
}

int
main (int argc, char **argv)
{
  GString *desc = g_string_new (NULL);
  GstElement *pipeline, *e;
  GError *error = NULL;
  GMainLoop *loop;
  GstBus *bus;
  GstPad *pad;
  gboolean send;
  gint i;

  gst_init (&argc, &argv);
  if (argc < 4 || (strcmp (argv[1], "send") && strcmp (argv[1], "recv"))) {
    fprintf (stderr, "usage: %s send|recv URL ROOM [PROPERTY=VALUE...]\n",
        argv[0]);
    return 2;
  }
  setvbuf (stdout, NULL, _IOLBF, 0);
  send = strcmp (argv[1], "send") == 0;
  if (send)
    g_string_append (desc, "videotestsrc is-live=true pattern=snow ! "
        "video/x-raw,format=I420,width=1280,height=720,framerate=30/1 ! "
        "identity name=mark ! letschatsink name=party");
  else
    g_string_append (desc, "letschatsrc name=party");
  g_string_append_printf (desc, " server-url=%s room=%s stats-interval=250",
      argv[2], argv[3]);
  for (i = 4; i < argc; i++)
    g_string_append_printf (desc, " %s", argv[i]);
  if (!send)
    g_string_append (desc, " ! video/x-raw,format=I420 ! identity name=mark "
        "! fakesink sync=false");

  pipeline = gst_parse_launch (desc->str, &error);
  if (!pipeline) {
    fprintf (stderr, "%s: %s\n", desc->str, error->message);
    return 1;
  }
  e = gst_bin_get_by_name (GST_BIN (pipeline), "mark");
  pad = gst_element_get_static_pad (e, send ? "sink" : "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, send ? stamp_probe :
      read_probe, NULL, NULL);
  gst_object_unref (pad);
  gst_object_unref (e);

  loop = g_main_loop_new (NULL, FALSE);
  bus = gst_element_get_bus (pipeline);
  gst_bus_add_watch (bus, on_message, loop);
  gst_object_unref (bus);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  g_main_loop_run (loop);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_string_free (desc, TRUE);
  return 1;
}
