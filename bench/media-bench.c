/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * letschat-media-bench: one two-way 1280x720@30 VP8 call between two
 * parties in this process, through a letschat-server, measured. Run by
 * bench/media.sh once per call (a fresh process, as a user's would be, so
 * that nothing made by an earlier call, such as a DTLS certificate, is
 * reused), for letschat and for the baseline (bench/baseline-sendrecv.c).
 *
 *  party 0 (joins first)                         party 1 (joins second)
 *  videotestsrc -> stamp -> [letschatsink | vp8enc ! pay ! webrtcbin] ==>
 *  <== [letschatsrc | webrtcbin ! decodebin] -> read -> queue ! videoconvert
 *                                                       ! fakesink sync=true
 *
 * Glass-to-glass: the stamp probe writes a frame number into the picture
 * (18 blocks of 32x32 luma in the top-left corner: 16 bits and two guard
 * blocks, big and flat enough to survive VP8 at 1 Mbit/s) and notes the
 * time the frame left the live source (its capture time). The receiver
 * reads the number back out of the decoded picture: "decoded" is the time
 * the frame leaves the decoder, "rendered" the time fakesink (sync=true,
 * what a display sink does) renders it. Both parties are in one process, so
 * the three times are read from one clock (gst_util_get_timestamp()).
 *
 * Call setup: from the instant the second party's join is sent (t0) to the
 * first decoded remote video frame, at each party; the call's figure is the
 * later of the two (the call is up both ways). letschat's own
 * `letschat/first-frame` ms-since-peer-joined is recorded beside it.
 *
 * CPU: getrusage() of this process (both parties, capture and encode
 * included) over the measured seconds, after a 3 s warm-up; beside it, the
 * share of the machine other processes used meanwhile (/proc/stat), since
 * on a shared machine that is what the latency tail follows.
 *
 * Milestones (ms after t0, per party): offer set, answer set, ICE
 * connected, peer connection connected (DTLS done), first RTP packet out
 * of webrtcbin (after its jitter buffer), first decoded frame.
 *
 * Prints one JSON object on stdout.
 */

#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "baseline-sendrecv.h"

#define WIDTH 1280
#define HEIGHT 720
#define BLOCK 32
#define BITS 16
#define WARMUP_S 3

/* letschatsink's VP8 settings (gst/letschat/gstletschatcodecs.c), for a
 * baseline with "the same encoder settings". */
#define LETSCHAT_VP8 "vp8enc deadline=1 lag-in-frames=0 cpu-used=8 threads=1 " \
    "end-usage=cbr target-bitrate=1000000 keyframe-max-dist=60 " \
    "error-resilient=1"
/* What webrtc-sendrecv.c writes. */
#define SENDRECV_VP8 "vp8enc deadline=1"

#define SOURCE "videotestsrc is-live=true pattern=ball ! video/x-raw," \
    "format=I420,width=1280,height=720,framerate=30/1 ! identity name=stamp "
#define RECEIVER "queue ! videoconvert ! fakesink name=vsink sync=true " \
    "signal-handoffs=true"

typedef struct _Party Party;

struct _Party
{
  gint index;
  Party *other;
  GstElement *pipeline;
  BaselineParty *baseline;
  gboolean joined;              /* letschat: letschat/joined seen */

  /* capture times of the frames this party sent, by frame number */
  GMutex lock;
  gint64 capture_us[1 << BITS];
  guint sent;

  /* the call's milestones at this party (its first webrtcbin) */
  gint64 offer_us;              /* an offer was set, local or remote */
  gint64 answer_us;             /* back to stable: both descriptions set */
  gint64 ice_connected_us;
  gint64 connected_us;
  gint64 first_rtp_us;
  gint64 first_frame_us;
  gdouble element_first_frame_ms;
  GArray *decoded_ms;
  GArray *rendered_ms;
  guint unreadable;
};

static gboolean measuring;
static gboolean failed;
static gchar *impl = NULL;
static gchar *encoder = NULL;
static gchar *server_url = NULL;
static gchar *room = NULL;
static gint seconds = 0;
static gint timeout_s = 30;
static gint latency = -1;

/* ---------------------------------------------------------------------- */
/* Frame numbers in the picture                                            */

static void
write_number (GstVideoFrame * frame, guint number)
{
  guint8 *y = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  gint b, row;

  for (b = 0; b < BITS + 2; b++) {
    /* bits MSB first, then a white and a black guard */
    gboolean on = b < BITS ? (number >> (BITS - 1 - b)) & 1 : b == BITS;

    for (row = 0; row < BLOCK; row++)
      memset (y + row * stride + b * BLOCK, on ? 235 : 16, BLOCK);
  }
}

static gint
block_mean (GstVideoFrame * frame, gint b)
{
  guint8 *y = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  gint row, col, sum = 0;

  /* the centre only: block edges blur under compression */
  for (row = BLOCK / 4; row < 3 * BLOCK / 4; row++)
    for (col = BLOCK / 4; col < 3 * BLOCK / 4; col++)
      sum += y[row * stride + b * BLOCK + col];
  return sum / (BLOCK * BLOCK / 4);
}

/* -1 when the guards do not read as white and black */
static gint
read_number (GstPad * pad, GstBuffer * buffer)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  GstVideoInfo info;
  GstVideoFrame frame;
  gint b, number = 0;

  if (!caps)
    return -1;
  if (!gst_video_info_from_caps (&info, caps) ||
      GST_VIDEO_INFO_FORMAT (&info) != GST_VIDEO_FORMAT_I420 ||
      !gst_video_frame_map (&frame, &info, buffer, GST_MAP_READ)) {
    gst_caps_unref (caps);
    return -1;
  }
  gst_caps_unref (caps);
  if (block_mean (&frame, BITS) < 180 || block_mean (&frame, BITS + 1) > 70) {
    number = -1;
  } else {
    for (b = 0; b < BITS; b++)
      number = (number << 1) | (block_mean (&frame, b) > 125);
  }
  gst_video_frame_unmap (&frame);
  return number;
}

static GstPadProbeReturn
stamp_probe (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Party *party = data;
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
  g_mutex_lock (&party->lock);
  number = party->sent++ & ((1 << BITS) - 1);
  party->capture_us[number] = g_get_monotonic_time ();
  g_mutex_unlock (&party->lock);
  write_number (&frame, number);
  gst_video_frame_unmap (&frame);
  return GST_PAD_PROBE_OK;
}

/* The latency of @buffer as received by @party, -1 if unknown. */
static gdouble
latency_ms (Party * party, GstPad * pad, GstBuffer * buffer, gint64 now)
{
  Party *sender = party->other;
  gint number = read_number (pad, buffer);
  gint64 captured;

  if (number < 0) {
    if (measuring)
      party->unreadable++;
    return -1;
  }
  g_mutex_lock (&sender->lock);
  captured = sender->capture_us[number];
  g_mutex_unlock (&sender->lock);
  return captured ? (now - captured) / 1000.0 : -1;
}

static GstPadProbeReturn
decoded_probe (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Party *party = data;
  gint64 now = g_get_monotonic_time ();
  gdouble ms;

  if (!party->first_frame_us)
    party->first_frame_us = now;
  if (measuring) {
    ms = latency_ms (party, pad, GST_PAD_PROBE_INFO_BUFFER (info), now);
    if (ms >= 0)
      g_array_append_val (party->decoded_ms, ms);
  }
  return GST_PAD_PROBE_OK;
}

static void
on_handoff (GstElement * sink, GstBuffer * buffer, GstPad * pad, Party * party)
{
  gdouble ms;

  if (!measuring)
    return;
  ms = latency_ms (party, pad, buffer, g_get_monotonic_time ());
  if (ms >= 0)
    g_array_append_val (party->rendered_ms, ms);
}

static void
watch_receiver (Party * party, GstPad * decoded, GstElement * sink)
{
  GstElement *vsink = GST_IS_BIN (sink) ?
      gst_bin_get_by_name (GST_BIN (sink), "vsink") : gst_object_ref (sink);

  gst_pad_add_probe (decoded, GST_PAD_PROBE_TYPE_BUFFER, decoded_probe, party,
      NULL);
  g_signal_connect (vsink, "handoff", G_CALLBACK (on_handoff), party);
  gst_object_unref (vsink);
}

static void
on_baseline_decoded (BaselineParty * baseline, GstPad * pad, GstElement * sink,
    gpointer user_data)
{
  watch_receiver (user_data, pad, sink);
}

static void
on_letschat_pad (GstElement * src, GstPad * pad, Party * party)
{
  GstElement *vsink;

  if (!g_str_has_prefix (GST_PAD_NAME (pad), "video"))
    return;
  vsink = gst_bin_get_by_name (GST_BIN (party->pipeline), "vsink");
  watch_receiver (party, pad, vsink);
  gst_object_unref (vsink);
}

/* ---------------------------------------------------------------------- */
/* Where the setup time goes: the same hooks on whichever webrtcbin        */

static GstPadProbeReturn
first_rtp_probe (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  Party *party = data;

  if (!party->first_rtp_us)
    party->first_rtp_us = g_get_monotonic_time ();
  return GST_PAD_PROBE_REMOVE;
}

static void
on_webrtc_pad (GstElement * webrtc, GstPad * pad, Party * party)
{
  if (GST_PAD_DIRECTION (pad) == GST_PAD_SRC)
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, first_rtp_probe, party,
        NULL);
}

static void
on_webrtc_state (GstElement * webrtc, GParamSpec * pspec, Party * party)
{
  gint state;

  g_object_get (webrtc, pspec->name, &state, NULL);
  if (g_str_equal (pspec->name, "ice-connection-state") &&
      (state == GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED ||
          state == GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED) &&
      !party->ice_connected_us)
    party->ice_connected_us = g_get_monotonic_time ();
  if (g_str_equal (pspec->name, "signaling-state")) {
    if (state != GST_WEBRTC_SIGNALING_STATE_STABLE && !party->offer_us)
      party->offer_us = g_get_monotonic_time ();
    if (state == GST_WEBRTC_SIGNALING_STATE_STABLE && party->offer_us &&
        !party->answer_us)
      party->answer_us = g_get_monotonic_time ();
  }
  if (g_str_equal (pspec->name, "connection-state") &&
      state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED &&
      !party->connected_us)
    party->connected_us = g_get_monotonic_time ();
}

static void
hook_webrtcbin (Party * party, GstElement * element)
{
  GstElementFactory *factory = gst_element_get_factory (element);

  if (!factory || !g_str_equal (GST_OBJECT_NAME (factory), "webrtcbin") ||
      g_object_get_data (G_OBJECT (element), "bench-hooked"))
    return;
  g_object_set_data (G_OBJECT (element), "bench-hooked", party);
  g_signal_connect (element, "pad-added", G_CALLBACK (on_webrtc_pad), party);
  g_signal_connect (element, "notify::ice-connection-state",
      G_CALLBACK (on_webrtc_state), party);
  g_signal_connect (element, "notify::signaling-state",
      G_CALLBACK (on_webrtc_state), party);
  g_signal_connect (element, "notify::connection-state",
      G_CALLBACK (on_webrtc_state), party);
}

static void
on_deep_element_added (GstBin * bin, GstBin * sub_bin, GstElement * element,
    Party * party)
{
  hook_webrtcbin (party, element);
}

/* For the webrtcbins made before their bin was in the pipeline. */
static void
hook_existing_webrtcbins (Party * party)
{
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (party->pipeline));
  GValue item = G_VALUE_INIT;

  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    hook_webrtcbin (party, g_value_get_object (&item));
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
}

/* ---------------------------------------------------------------------- */
/* Parties                                                                 */

static gboolean
on_bus (GstBus * bus, GstMessage * msg, gpointer data)
{
  Party *party = data;
  const GstStructure *s = gst_message_get_structure (msg);
  GError *error = NULL;
  const gchar *pad;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &error, NULL);
      g_printerr ("party %d: %s\n", party->index, error->message);
      g_error_free (error);
      failed = TRUE;
      break;
    case GST_MESSAGE_ELEMENT:
      if (gst_structure_has_name (s, "letschat/joined"))
        party->joined = TRUE;
      pad = gst_structure_get_string (s, "pad");
      if (gst_structure_has_name (s, "letschat/first-frame") && pad &&
          g_str_has_prefix (pad, "video"))
        gst_structure_get_double (s, "ms-since-peer-joined",
            &party->element_first_frame_ms);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

static void
party_init (Party * party, gint index)
{
  gchar *desc;
  GError *error = NULL;
  GstElement *stamp, *src;
  GstPad *pad;
  GstBus *bus;
  gchar *latency_arg;

  party->index = index;
  g_mutex_init (&party->lock);
  party->element_first_frame_ms = -1;
  party->decoded_ms = g_array_new (FALSE, FALSE, sizeof (gdouble));
  party->rendered_ms = g_array_new (FALSE, FALSE, sizeof (gdouble));

  latency_arg = latency >= 0 ? g_strdup_printf ("latency=%d", latency) :
      g_strdup ("");
  if (g_str_equal (impl, "letschat"))
    /* start-bitrate: the baselines' 1 Mbit/s, whatever letschatsink's
     * default, at which the ladder keeps 720p from the first frame (at
     * 300 kbit/s it starts at 480x270, where the frame numbers cannot be
     * read) */
    desc = g_strdup_printf (SOURCE "! letschatsink name=s room=%s "
        "server-url=%s start-bitrate=1000000 letschatsrc name=r room=%s "
        "server-url=%s %s "
        "r. ! video/x-raw ! " RECEIVER, room, server_url, room, server_url,
        latency_arg);
  else
    desc = g_strdup_printf ("webrtcbin name=sendrecv bundle-policy=max-bundle "
        SOURCE "! videoconvert ! queue ! %s ! rtpvp8pay ! queue ! "
        "application/x-rtp,media=video,encoding-name=VP8,payload=96 ! "
        "sendrecv.", g_str_equal (encoder, "letschat") ? LETSCHAT_VP8 :
        SENDRECV_VP8);
  party->pipeline = gst_parse_launch (desc, &error);
  g_free (desc);
  g_free (latency_arg);
  if (!party->pipeline) {
    g_printerr ("%s\n", error->message);
    exit (1);
  }
  stamp = gst_bin_get_by_name (GST_BIN (party->pipeline), "stamp");
  pad = gst_element_get_static_pad (stamp, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, stamp_probe, party, NULL);
  gst_object_unref (pad);
  gst_object_unref (stamp);

  g_signal_connect (party->pipeline, "deep-element-added",
      G_CALLBACK (on_deep_element_added), party);
  hook_existing_webrtcbins (party);

  bus = gst_element_get_bus (party->pipeline);
  gst_bus_add_watch (bus, on_bus, party);
  gst_object_unref (bus);

  if (g_str_equal (impl, "letschat")) {
    src = gst_bin_get_by_name (GST_BIN (party->pipeline), "r");
    g_signal_connect (src, "pad-added", G_CALLBACK (on_letschat_pad), party);
    gst_object_unref (src);
  } else {
    party->baseline = baseline_party_new (party->pipeline, RECEIVER,
        on_baseline_decoded, party);
  }
}

/* ---------------------------------------------------------------------- */
/* Running the call                                                        */

static gboolean
wait_until (gboolean (*done) (Party *), Party * party, gint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * (gint64) 1000;

  while (!failed && !(done && done (party)) && g_get_monotonic_time () < end) {
    if (!g_main_context_iteration (NULL, FALSE))
      g_usleep (1000);
  }
  return !failed && (!done || done (party));
}

static gboolean
is_joined (Party * party)
{
  return party->joined;
}

static gboolean
is_connected (Party * party)
{
  return baseline_party_is_connected (party->baseline);
}

static gboolean
is_failed (Party * party)
{
  return baseline_party_failed (party->baseline);
}

static gboolean
both_have_frames (Party * party)
{
  return party->first_frame_us && party->other->first_frame_us;
}

static void
print_array (const gchar * name, GArray * array, gboolean comma)
{
  guint i;

  g_print ("\"%s\": [", name);
  for (i = 0; i < array->len; i++)
    g_print ("%s%.2f", i ? ", " : "", g_array_index (array, gdouble, i));
  g_print ("]%s\n", comma ? "," : "");
}

static gdouble
rusage_s (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
      ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* ms after t0, -1 for never */
#define MS(us) ((us) ? ((us) - t0) / 1000.0 : -1.0)

/* The first dtlsdec of a process makes the process's DTLS certificate. */
static gdouble
dtls_certificate_ms (void)
{
  gint64 start = g_get_monotonic_time ();
  GstElement *dec = gst_element_factory_make ("dtlsdec", NULL);
  gdouble ms = (g_get_monotonic_time () - start) / 1000.0;

  if (!dec)
    return -1;
  gst_object_unref (dec);
  return ms;
}

/* CPU seconds the whole machine was busy since boot (/proc/stat), so that
 * what other processes took during a measurement can be reported. */
static gdouble
machine_busy_s (void)
{
  gchar *text = NULL;
  guint64 v[8] = { 0 };
  gdouble busy = -1;

  if (g_file_get_contents ("/proc/stat", &text, NULL, NULL) &&
      sscanf (text, "cpu %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %"
          G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %"
          G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &v[0],
          &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8)
    /* all but idle and iowait, in USER_HZ (100 on Linux) */
    busy = (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / 100.0;
  g_free (text);
  return busy;
}

int
main (int argc, char **argv)
{
  static Party parties[2];
  gboolean dtls_only = FALSE;
  GOptionEntry entries[] = {
    {"impl", 0, 0, G_OPTION_ARG_STRING, &impl, "letschat or baseline", "NAME"},
    {"encoder", 0, 0, G_OPTION_ARG_STRING, &encoder,
          "baseline's VP8 settings: sendrecv (the example's) or letschat",
        "NAME"},
    {"server", 0, 0, G_OPTION_ARG_STRING, &server_url, "room server", "URL"},
    {"room", 0, 0, G_OPTION_ARG_STRING, &room, "room name", "NAME"},
    {"seconds", 0, 0, G_OPTION_ARG_INT, &seconds,
        "measure latency and CPU for this long (0: call setup only)", "S"},
    {"dtls-certificate", 0, 0, G_OPTION_ARG_NONE, &dtls_only,
        "only time making the process's DTLS certificate", NULL},
    {"latency", 0, 0, G_OPTION_ARG_INT, &latency,
        "letschat: letschatsrc's latency (jitter buffer, ms) instead of its "
          "default", "MS"},
    {"timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s, "give up after", "S"},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- one measured call");
  GError *error = NULL;
  Party *a = &parties[0], *b = &parties[1];
  gint64 t0, start = 0, end = 0;
  gdouble cpu0 = 0, cpu1 = 0, busy0 = 0, busy1 = 0;
  gint i;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
    g_printerr ("%s\n", error->message);
    return 2;
  }
  g_option_context_free (ctx);
  if (dtls_only) {
    g_print ("{\"dtls_certificate_ms\": %.2f}\n", dtls_certificate_ms ());
    return 0;
  }
  if (!impl || !server_url) {
    g_printerr ("--impl and --server are required\n");
    return 2;
  }
  if (!encoder)
    encoder = g_strdup (g_str_equal (impl, "letschat") ? "letschat" :
        "sendrecv");
  if (!room)
    room = g_strdup_printf ("bench-%u", g_random_int ());

  a->other = b;
  b->other = a;
  party_init (a, 0);
  party_init (b, 1);

  /* Both parties up and the first in the room before t0; the second joins
   * at t0. letschat joins at READY->PAUSED, so its second party goes to
   * READY (WebSocket open) first, and to PLAYING at t0. */
  if (g_str_equal (impl, "letschat")) {
    gst_element_set_state (a->pipeline, GST_STATE_PLAYING);
    if (!wait_until (is_joined, a, 10000))
      goto fail;
    gst_element_set_state (b->pipeline, GST_STATE_READY);
    wait_until (NULL, NULL, 500);
    hook_existing_webrtcbins (a);
    hook_existing_webrtcbins (b);
    t0 = g_get_monotonic_time ();
    gst_element_set_state (b->pipeline, GST_STATE_PLAYING);
  } else {
    for (i = 0; i < 2; i++) {
      gst_element_set_state (parties[i].pipeline, GST_STATE_PLAYING);
      baseline_party_connect (parties[i].baseline, server_url);
      if (!wait_until (is_connected, &parties[i], 10000))
        goto fail;
    }
    baseline_party_join (a->baseline, room);
    wait_until (NULL, NULL, 500);
    t0 = g_get_monotonic_time ();
    baseline_party_join (b->baseline, room);
  }
  if (!wait_until (both_have_frames, a, timeout_s * 1000))
    goto fail;
  if (b->baseline && (is_failed (a) || is_failed (b)))
    goto fail;

  if (seconds == 0)
    /* letschat/first-frame is on its way through the bus */
    wait_until (NULL, NULL, 500);
  if (seconds > 0) {
    wait_until (NULL, NULL, WARMUP_S * 1000);
    cpu0 = rusage_s ();
    busy0 = machine_busy_s ();
    start = g_get_monotonic_time ();
    measuring = TRUE;
    wait_until (NULL, NULL, seconds * 1000);
    measuring = FALSE;
    end = g_get_monotonic_time ();
    cpu1 = rusage_s ();
    busy1 = machine_busy_s ();
    if (failed)
      goto fail;
  }

  g_print ("{\"impl\": \"%s\", \"encoder\": \"%s\",\n", impl, encoder);
  g_print ("\"setup_ms\": [%.2f, %.2f],\n",
      (a->first_frame_us - t0) / 1000.0, (b->first_frame_us - t0) / 1000.0);
  for (i = 0; i < 2; i++)
    g_print ("%s[%.2f, %.2f, %.2f, %.2f, %.2f, %.2f]%s", i ? ", " :
        "\"milestones_ms\": [", MS (parties[i].offer_us),
        MS (parties[i].answer_us), MS (parties[i].ice_connected_us),
        MS (parties[i].connected_us), MS (parties[i].first_rtp_us),
        MS (parties[i].first_frame_us), i ? "],\n" : "");
  g_print ("\"element_first_frame_ms\": [%.2f, %.2f],\n",
      a->element_first_frame_ms, b->element_first_frame_ms);
  if (seconds > 0) {
    g_array_append_vals (a->decoded_ms, b->decoded_ms->data,
        b->decoded_ms->len);
    g_array_append_vals (a->rendered_ms, b->rendered_ms->data,
        b->rendered_ms->len);
    g_print ("\"seconds\": %.3f, \"cpu_s\": %.3f,\n", (end - start) / 1e6,
        cpu1 - cpu0);
    /* other processes' share of the machine's cores meanwhile */
    g_print ("\"others_cpu_share\": %.3f,\n", busy0 < 0 ? -1.0 :
        (busy1 - busy0 - (cpu1 - cpu0)) / ((end - start) / 1e6) /
        g_get_num_processors ());
    g_print ("\"frames_unreadable\": %u,\n", a->unreadable + b->unreadable);
    print_array ("decoded_ms", a->decoded_ms, TRUE);
    print_array ("rendered_ms", a->rendered_ms, TRUE);
  }
  g_print ("\"ok\": true}\n");

  for (i = 0; i < 2; i++)
    gst_element_set_state (parties[i].pipeline, GST_STATE_NULL);
  return 0;

fail:
  g_print ("{\"impl\": \"%s\", \"encoder\": \"%s\", \"ok\": false}\n", impl,
      encoder);
  for (i = 0; i < 2; i++)
    gst_element_set_state (parties[i].pipeline, GST_STATE_NULL);
  return 1;
}
