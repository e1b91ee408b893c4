/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The elements with the application's own signalling: a tiny signaller,
 * written here against the GstLetsChatSignaller interface, carries the
 * descriptions and candidates of two parties inside this process. No room
 * server runs. The call has media both ways, and when one party stops the
 * other hears that its peer left and keeps running.
 *
 * The signaller is bound to the plugin's interface type at run time (by
 * name), as an application would after loading the plugin: it uses the
 * header for the interface's layout only.
 */
#include <gst/gst.h>
#include <string.h>

#include "gstletschatsignaller.h"

#define TIMEOUT_S 40

/* ---------------------------------------------------------------------- */
/* PairSignaller: two of them, each the other's only peer.                 */

typedef struct _PairSignaller PairSignaller;

struct _PairSignaller
{
  GObject parent;
  PairSignaller *other;         /* not a ref: the test keeps both */
  gchar *id;
  GMainContext *context;        /* where this one's signals go */
  gboolean started;             /* under pair_lock */
};

typedef struct
{
  GObjectClass parent_class;
} PairSignallerClass;

static GMutex pair_lock;
static GType pair_signaller_type;
/* Every description sent, "offer\n<sdp>" or "answer\n<sdp>" (pair_lock). */
static GPtrArray *sent_descriptions;

#define PAIR_SIGNALLER(o) ((PairSignaller *) (o))

/* Runs an emission on @target's context, as the interface asks. */
typedef struct
{
  PairSignaller *target;
  gchar *signal;
  gchar *a, *b;
  guint n;
} Emission;

static gboolean
emission_run (gpointer data)
{
  Emission *e = data;

  if (g_str_equal (e->signal, "description"))
    g_signal_emit_by_name (e->target, "description", e->a, e->b);
  else if (g_str_equal (e->signal, "candidate"))
    g_signal_emit_by_name (e->target, "candidate", e->n, e->a);
  else if (g_str_equal (e->signal, "peer-joined"))
    g_signal_emit_by_name (e->target, "peer-joined", e->a, e->b);
  else if (g_str_equal (e->signal, "peer-left"))
    g_signal_emit_by_name (e->target, "peer-left", e->a);
  return G_SOURCE_REMOVE;
}

static void
emission_free (gpointer data)
{
  Emission *e = data;

  g_object_unref (e->target);
  g_free (e->signal);
  g_free (e->a);
  g_free (e->b);
  g_free (e);
}

static void
emit_on_other (PairSignaller * self, const gchar * signal, const gchar * a,
    const gchar * b, guint n)
{
  PairSignaller *other = self->other;
  Emission *e;

  g_mutex_lock (&pair_lock);
  if (!other->started) {
    g_mutex_unlock (&pair_lock);
    return;
  }
  e = g_new0 (Emission, 1);
  e->target = g_object_ref (other);
  e->signal = g_strdup (signal);
  e->a = g_strdup (a);
  e->b = g_strdup (b);
  e->n = n;
  g_main_context_invoke_full (other->context, G_PRIORITY_DEFAULT,
      emission_run, e, emission_free);
  g_mutex_unlock (&pair_lock);
}

static void
pair_start (GstLetsChatSignaller * signaller)
{
  PairSignaller *self = PAIR_SIGNALLER (signaller);
  gboolean other_there;

  g_mutex_lock (&pair_lock);
  g_clear_pointer (&self->context, g_main_context_unref);
  self->context = g_main_context_ref_thread_default ();
  self->started = TRUE;
  other_there = self->other->started;
  g_mutex_unlock (&pair_lock);

  /* The second to come is told of the first, and offers. */
  g_signal_emit_by_name (self, "joined", self->id, "pair",
      other_there ? self->other->id : NULL, other_there ? "other" : NULL,
      NULL, FALSE);
  if (other_there)
    emit_on_other (self, "peer-joined", self->id, "other", 0);
}

static void
pair_stop (GstLetsChatSignaller * signaller)
{
  PairSignaller *self = PAIR_SIGNALLER (signaller);
  gboolean was_started;

  g_mutex_lock (&pair_lock);
  was_started = self->started;
  g_mutex_unlock (&pair_lock);
  if (!was_started)
    return;
  emit_on_other (self, "peer-left", self->id, NULL, 0);
  g_mutex_lock (&pair_lock);
  self->started = FALSE;
  g_mutex_unlock (&pair_lock);
}

static void
pair_send_description (GstLetsChatSignaller * signaller, const gchar * type,
    const gchar * sdp)
{
  g_mutex_lock (&pair_lock);
  g_ptr_array_add (sent_descriptions, g_strdup_printf ("%s\n%s", type, sdp));
  g_mutex_unlock (&pair_lock);
  emit_on_other (PAIR_SIGNALLER (signaller), "description", type, sdp, 0);
}

static void
pair_send_candidate (GstLetsChatSignaller * signaller, guint mline,
    const gchar * mid, const gchar * candidate)
{
  if (candidate)
    emit_on_other (PAIR_SIGNALLER (signaller), "candidate", candidate, NULL,
        mline);
}

static void
pair_signaller_iface_init (gpointer g_iface, gpointer data)
{
  GstLetsChatSignallerInterface *iface = g_iface;

  iface->start = pair_start;
  iface->stop = pair_stop;
  iface->send_description = pair_send_description;
  iface->send_candidate = pair_send_candidate;
}

static void
pair_signaller_finalize (GObject * object)
{
  PairSignaller *self = PAIR_SIGNALLER (object);

  g_free (self->id);
  g_clear_pointer (&self->context, g_main_context_unref);
  G_OBJECT_CLASS (g_type_class_peek_parent (G_OBJECT_GET_CLASS
          (object)))->finalize (object);
}

static void
pair_signaller_class_init (gpointer klass, gpointer data)
{
  G_OBJECT_CLASS (klass)->finalize = pair_signaller_finalize;
}

static void
register_pair_signaller (void)
{
  static const GTypeInfo info = {
    sizeof (PairSignallerClass), NULL, NULL, pair_signaller_class_init,
    NULL, NULL, sizeof (PairSignaller), 0, NULL, NULL
  };
  static const GInterfaceInfo iface_info = {
    pair_signaller_iface_init, NULL, NULL
  };
  GType iface;

  /* Loading the element registers the plugin's types. */
  gst_object_unref (gst_object_ref_sink (gst_element_factory_make
          ("letschatsink", NULL)));
  iface = g_type_from_name ("GstLetsChatSignaller");
  g_assert_true (iface != 0);
  pair_signaller_type = g_type_register_static (G_TYPE_OBJECT,
      "TestPairSignaller", &info, 0);
  g_type_add_interface_static (pair_signaller_type, iface, &iface_info);
}

/* ---------------------------------------------------------------------- */
/* Two parties                                                             */

typedef struct
{
  GstElement *pipeline;
  gint video_frames;            /* atomic */
  gboolean peer_left;
  GstMessage *error;
  GstStructure *stats;          /* the latest letschat/stats */
  gint frames_at_stats;         /* video_frames when it was popped */
} Party;

static void
on_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, Party * p)
{
  g_atomic_int_inc (&p->video_frames);
}

static Party *
party_new (GObject * signaller)
{
  Party *p = g_new0 (Party, 1);
  GError *error = NULL;
  GstElement *e;

  p->pipeline = gst_parse_launch ("videotestsrc name=vsrc is-live=true ! "
      "video/x-raw,width=320,height=240,framerate=30/1 ! letschatsink name=s "
      "audiotestsrc name=asrc is-live=true wave=ticks ! s. "
      "letschatsrc name=r r. ! video/x-raw ! fakesink name=video "
      "signal-handoffs=true sync=false r. ! audio/x-raw ! fakesink sync=false",
      &error);
  g_assert_no_error (error);
  /* One signaller for both elements: one party. */
  e = gst_bin_get_by_name (GST_BIN (p->pipeline), "s");
  g_object_set (e, "signaller", signaller, NULL);
  gst_object_unref (e);
  e = gst_bin_get_by_name (GST_BIN (p->pipeline), "r");
  g_object_set (e, "signaller", signaller, NULL);
  gst_object_unref (e);
  e = gst_bin_get_by_name (GST_BIN (p->pipeline), "video");
  g_signal_connect (e, "handoff", G_CALLBACK (on_handoff), p);
  gst_object_unref (e);
  return p;
}

/* Sets a boolean property shared by the party's sink and src on both. */
static void
party_set_both (Party * p, const gchar * property, gboolean value)
{
  const gchar *names[] = { "s", "r" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    GstElement *e = gst_bin_get_by_name (GST_BIN (p->pipeline), names[i]);

    g_object_set (e, property, value, NULL);
    gst_object_unref (e);
  }
}

static void
party_poll (Party * p)
{
  GstBus *bus = gst_element_get_bus (p->pipeline);
  GstMessage *msg;

  while ((msg = gst_bus_pop (bus))) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR && !p->error)
      p->error = gst_message_ref (msg);
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT &&
        gst_message_has_name (msg, "letschat/peer-left"))
      p->peer_left = TRUE;
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT &&
        gst_message_has_name (msg, "letschat/stats")) {
      if (p->stats)
        gst_structure_free (p->stats);
      p->stats = gst_structure_copy (gst_message_get_structure (msg));
      p->frames_at_stats = g_atomic_int_get (&p->video_frames);
    }
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
}

typedef gboolean (*Condition) (Party * a, Party * b);

static void
wait_for (Party * a, Party * b, Condition cond, const gchar * what)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_S * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline) {
    party_poll (a);
    if (b)
      party_poll (b);
    if (a->error || (b && b->error)) {
      GError *err;

      gst_message_parse_error (a->error ? a->error : b->error, &err, NULL);
      g_error ("while waiting for %s: %s", what, err->message);
    }
    if (cond (a, b))
      return;
    g_usleep (20 * 1000);
  }
  g_error ("timed out waiting for %s (%d and %d video frames)", what,
      a->video_frames, b ? b->video_frames : -1);
}

static gboolean
media_both_ways (Party * a, Party * b)
{
  return g_atomic_int_get (&a->video_frames) >= 30 &&
      g_atomic_int_get (&b->video_frames) >= 30;
}

static gboolean
a_heard_peer_left (Party * a, Party * b)
{
  return a->peer_left;
}

static void
party_free (Party * p)
{
  gst_element_set_state (p->pipeline, GST_STATE_NULL);
  gst_object_unref (p->pipeline);
  if (p->error)
    gst_message_unref (p->error);
  if (p->stats)
    gst_structure_free (p->stats);
  g_free (p);
}

static void
pair_new (PairSignaller ** sa, PairSignaller ** sb)
{
  *sa = g_object_new (pair_signaller_type, NULL);
  *sb = g_object_new (pair_signaller_type, NULL);
  (*sa)->id = g_strdup ("party-a");
  (*sb)->id = g_strdup ("party-b");
  (*sa)->other = *sb;
  (*sb)->other = *sa;
}

static void
test_custom_signaller (void)
{
  PairSignaller *sa, *sb;
  Party *a, *b;

  pair_new (&sa, &sb);
  a = party_new (G_OBJECT (sa));
  b = party_new (G_OBJECT (sb));

  gst_element_set_state (a->pipeline, GST_STATE_PLAYING);
  gst_element_set_state (b->pipeline, GST_STATE_PLAYING);
  wait_for (a, b, media_both_ways, "30 video frames each way");

  party_free (b);
  wait_for (a, NULL, a_heard_peer_left, "A to hear that B left");
  g_assert_null (a->error);
  party_free (a);
  g_object_unref (sa);
  g_object_unref (sb);
}

/* The video m-line of a description (from "m=video" to the next m-line). */
static gchar *
video_section (const gchar * description)
{
  const gchar *start = strstr (description, "m=video");
  const gchar *end;

  g_assert_nonnull (start);
  end = strstr (start + 1, "\nm=");
  return end ? g_strndup (start, end - start) : g_strdup (start);
}

static void
assert_loss_recovery_and_twcc (const gchar * description)
{
  gchar *video = video_section (description);

  /* Generic NACK, an RTX format bound to a payload type, keyframe
   * requests, transport-wide feedback and its header extension. */
  g_assert_nonnull (strstr (video, " nack\r\n"));
  g_assert_nonnull (strstr (video, " nack pli\r\n"));
  g_assert_nonnull (strstr (video, " rtx/90000\r\n"));
  g_assert_nonnull (strstr (video, " apt="));
  g_assert_nonnull (strstr (video, " transport-cc\r\n"));
  g_assert_nonnull (strstr (video, "transport-wide-cc-extensions-01"));
  g_free (video);
}

/* letschat offers and answers NACK, RTX and transport-wide congestion
 * control feedback, so that loss is repaired and the sender can measure
 * the path. */
static void
test_loss_recovery_negotiated (void)
{
  PairSignaller *sa, *sb;
  Party *a, *b;
  guint i, offers = 0, answers = 0;

  pair_new (&sa, &sb);
  a = party_new (G_OBJECT (sa));
  b = party_new (G_OBJECT (sb));
  gst_element_set_state (a->pipeline, GST_STATE_PLAYING);
  gst_element_set_state (b->pipeline, GST_STATE_PLAYING);
  wait_for (a, b, media_both_ways, "30 video frames each way");

  g_mutex_lock (&pair_lock);
  for (i = 0; i < sent_descriptions->len; i++) {
    const gchar *d = g_ptr_array_index (sent_descriptions, i);

    if (g_str_has_prefix (d, "offer\n"))
      offers++;
    else if (g_str_has_prefix (d, "answer\n"))
      answers++;
    assert_loss_recovery_and_twcc (d);
  }
  g_mutex_unlock (&pair_lock);
  g_assert_cmpuint (offers, >=, 1);
  g_assert_cmpuint (answers, >=, 1);

  party_free (b);
  party_free (a);
  g_object_unref (sa);
  g_object_unref (sb);
}

/* do-fec=true on both parties: ULPFEC in RED is offered and answered on
 * video, and the call still carries video both ways. */
static void
test_fec_negotiated (void)
{
  PairSignaller *sa, *sb;
  Party *a, *b;
  guint i, answers = 0;

  pair_new (&sa, &sb);
  a = party_new (G_OBJECT (sa));
  b = party_new (G_OBJECT (sb));
  party_set_both (a, "do-fec", TRUE);
  party_set_both (b, "do-fec", TRUE);
  gst_element_set_state (a->pipeline, GST_STATE_PLAYING);
  gst_element_set_state (b->pipeline, GST_STATE_PLAYING);
  wait_for (a, b, media_both_ways, "30 video frames each way");

  g_mutex_lock (&pair_lock);
  for (i = 0; i < sent_descriptions->len; i++) {
    const gchar *d = g_ptr_array_index (sent_descriptions, i);
    gchar *video = video_section (d);

    answers += g_str_has_prefix (d, "answer\n");
    g_assert_nonnull (strstr (video, " red/90000\r\n"));
    g_assert_nonnull (strstr (video, " ulpfec/90000\r\n"));
    g_free (video);
  }
  g_mutex_unlock (&pair_lock);
  g_assert_cmpuint (answers, >=, 1);
  g_assert_null (a->error);
  g_assert_null (b->error);

  party_free (b);
  party_free (a);
  g_object_unref (sa);
  g_object_unref (sb);
}

/* A stream of a letschat/stats structure, with every documented field. */
static const GstStructure *
stats_stream (const GstStructure * stats, const gchar * name)
{
  static const gchar *fields[] = { "codec", "ssrc", "packets", "bytes",
    "bitrate", "packets-lost", "fraction-lost", "jitter", "nacks", "plis",
    "firs", "retransmitted-packets", NULL
  };
  static const gchar *video_fields[] = { "width", "height", "frames",
    "frame-rate", NULL
  };
  const GValue *v = gst_structure_get_value (stats, name);
  const GstStructure *s;
  guint i;

  g_assert_nonnull (v);
  g_assert_true (GST_VALUE_HOLDS_STRUCTURE (v));
  s = gst_value_get_structure (v);
  for (i = 0; fields[i]; i++)
    g_assert_true (gst_structure_has_field (s, fields[i]));
  for (i = 0; g_str_has_suffix (name, "-video") && video_fields[i]; i++)
    g_assert_true (gst_structure_has_field (s, video_fields[i]));
  if (g_str_has_prefix (name, "send-"))
    g_assert_true (gst_structure_has_field (s, "round-trip-time"));
  return s;
}

static guint64
stats_u64 (const GstStructure * s, const gchar * field)
{
  guint64 v = 0;

  g_assert_true (gst_structure_get_uint64 (s, field, &v));
  return v;
}

static gboolean
b_has_stats_of_90_frames (Party * a, Party * b)
{
  const GValue *v = b->stats ? gst_structure_get_value (b->stats,
      "receive-video") : NULL;
  guint64 frames = 0;

  if (v)
    gst_structure_get_uint64 (gst_value_get_structure (v), "frames", &frames);
  return frames >= 90;
}

/* The stats property and the letschat/stats messages describe the call as
 * it is: every documented field, the codec and size that are sent, and as
 * many frames received as the receiver decoded. */
static void
test_stats (void)
{
  PairSignaller *sa, *sb;
  Party *a, *b;
  const GstStructure *rv, *sv;
  GstStructure *property;
  GstElement *r;
  guint64 frames;
  gint decoded, width = 0, height = 0;
  guint i, latency = 0;
  gdouble rtt = 0;
  static const gchar *call_fields[] = { "timestamp", "round-trip-time",
    "target-bitrate", "available-bandwidth", "local-candidate-type",
    "local-address", "remote-candidate-type", "remote-address",
    "candidate-protocol", "receive-latency", "remb-bitrate", NULL
  };

  pair_new (&sa, &sb);
  a = party_new (G_OBJECT (sa));
  b = party_new (G_OBJECT (sb));
  gst_element_set_state (a->pipeline, GST_STATE_PLAYING);
  gst_element_set_state (b->pipeline, GST_STATE_PLAYING);
  wait_for (a, b, b_has_stats_of_90_frames, "stats of 90 received frames");

  for (i = 0; call_fields[i]; i++)
    g_assert_true (gst_structure_has_field (b->stats, call_fields[i]));
  g_assert_cmpstr (gst_structure_get_string (b->stats,
          "local-candidate-type"), ==, "host");
  g_assert_cmpstr (gst_structure_get_string (b->stats,
          "remote-candidate-type"), ==, "host");
  g_assert_true (strchr (gst_structure_get_string (b->stats,
              "remote-address"), ':'));
  /* letschatsrc's latency, or more where a packet was lost on the way. */
  gst_structure_get_uint (b->stats, "receive-latency", &latency);
  g_assert_cmpuint (latency, >=, 50);
  g_assert_cmpuint (latency, <=, 300);
  /* two parties on one machine pair over UDP (ICE-TCP ranks lower) */
  g_assert_cmpstr (gst_structure_get_string (b->stats,
          "candidate-protocol"), ==, "udp");

  rv = stats_stream (b->stats, "receive-video");
  stats_stream (b->stats, "receive-audio");
  sv = stats_stream (b->stats, "send-video");
  stats_stream (b->stats, "send-audio");
  g_assert_cmpstr (gst_structure_get_string (rv, "codec"), ==, "VP8");
  g_assert_cmpstr (gst_structure_get_string (sv, "codec"), ==, "VP8");
  gst_structure_get_int (sv, "width", &width);
  gst_structure_get_int (sv, "height", &height);
  g_assert_cmpint (width, ==, 320);
  g_assert_cmpint (height, ==, 240);
  g_assert_cmpuint (stats_u64 (rv, "packets"), >, 0);
  g_assert_cmpuint (stats_u64 (sv, "bytes"), >, 0);
  /* The other party's receiver reports are read: the round trip is known,
   * per sent stream and for the call (it read 0 all call long where
   * webrtcbin had not linked its report entry to the stream's). */
  g_assert_true (gst_structure_get_double (sv, "round-trip-time", &rtt));
  g_test_message ("send-video round trip %.6f s", rtt);
  g_assert_cmpfloat (rtt, >, 0);
  g_assert_true (gst_structure_get_double (b->stats, "round-trip-time", &rtt));
  g_assert_cmpfloat (rtt, >, 0);

  /* Frames counted by letschat (RTP marker bits after the jitter buffer)
   * against frames decoded downstream, when the message was read: within
   * 5 % plus the few frames between the two (the decoder's queue). */
  frames = stats_u64 (rv, "frames");
  decoded = b->frames_at_stats;
  g_test_message ("stats: %" G_GUINT64_FORMAT " frames received, %d decoded",
      frames, decoded);
  g_assert_cmpfloat (ABS ((gdouble) frames - decoded), <=, frames * 0.05 + 5);

  /* The property holds the same shape. */
  r = gst_bin_get_by_name (GST_BIN (b->pipeline), "r");
  g_object_get (r, "stats", &property, NULL);
  gst_object_unref (r);
  g_assert_true (gst_structure_has_name (property, "letschat/stats"));
  stats_stream (property, "receive-video");
  gst_structure_free (property);

  party_free (b);
  party_free (a);
  g_object_unref (sa);
  g_object_unref (sb);
}

/* What rtpsession and its sources logged while making sender reports. */
static gint reports_made, clock_rates_asked, sent_streams_forgotten;
/* Sender reports made from a packet whose running time rtpsession did not
 * know (it logs GST_CLOCK_TIME_NONE as 99:99:99.999999999). */
static gint reports_from_unknown_time;

static void
watch_sender_reports (GstDebugCategory * category, GstDebugLevel level,
    const gchar * file, const gchar * function, gint line, GObject * object,
    GstDebugMessage * message, gpointer user_data)
{
  const gchar *text = gst_debug_message_get (message);

  if (!text)
    return;
  if (g_str_has_prefix (text, "removing internal source that has sent BYE"))
    g_atomic_int_inc (&sent_streams_forgotten);
  if (g_strcmp0 (function, "rtp_source_get_new_sr") != 0)
    return;
  if (g_str_has_prefix (text, "no clock-rate"))
    g_atomic_int_inc (&clock_rates_asked);
  else if (g_str_has_prefix (text, "last_rtime")) {
    g_atomic_int_inc (&reports_made);
    if (g_str_has_prefix (text, "last_rtime 99:99:99.999999999"))
      g_atomic_int_inc (&reports_from_unknown_time);
  }
}

static void
watch_sender_reports_start (void)
{
  gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_add_log_function (watch_sender_reports, NULL, NULL);
  gst_debug_set_threshold_for_name ("rtpsource", GST_LEVEL_DEBUG);
  gst_debug_set_threshold_for_name ("rtpsession", GST_LEVEL_DEBUG);
}

static void
watch_sender_reports_stop (void)
{
  gst_debug_unset_threshold_for_name ("rtpsource");
  gst_debug_unset_threshold_for_name ("rtpsession");
  gst_debug_remove_log_function (watch_sender_reports);
  gst_debug_add_log_function (gst_debug_log_default, NULL, NULL);
}

static gboolean
sender_reports_made (Party * a, Party * b)
{
  /* Two parties, each sending audio and video. */
  return media_both_ways (a, b) && g_atomic_int_get (&reports_made) >= 8;
}

static GstPadProbeReturn
hold (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  return GST_PAD_PROBE_OK;
}

/* Blocks (or lets go of, @probes set) what the sources of @p's sink
 * make. */
static void
party_hold_sources (Party * p, gulong * probes)
{
  const gchar *names[] = { "vsrc", "asrc" };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (names); i++) {
    GstElement *e = gst_bin_get_by_name (GST_BIN (p->pipeline), names[i]);
    GstPad *pad = gst_element_get_static_pad (e, "src");

    if (probes[i]) {
      gst_pad_remove_probe (pad, probes[i]);
      probes[i] = 0;
    } else {
      probes[i] = gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BLOCK_DOWNSTREAM,
          hold, NULL, NULL);
    }
    gst_object_unref (pad);
    gst_object_unref (e);
  }
}

static gboolean
a_sent_stream_forgotten (Party * a, Party * b)
{
  return g_atomic_int_get (&sent_streams_forgotten) > 0;
}

static gint reports_at_resume;

static gboolean
reports_after_resume (Party * a, Party * b)
{
  return g_atomic_int_get (&reports_made) >= reports_at_resume + 8;
}

/* rtpsession knows the clock rate of each stream it sends before it makes
 * its first sender report. Asked for then, the clock rate is fetched with
 * the session's lock let go in the middle of a walk of its sources, which
 * the other party's first packets can break in GStreamer before 1.22.10
 * (gstletschatsendclockrates.c). rtpsession logs each time it asks.
 * With @data set, also after a pause: a stream that sent nothing for a
 * while is forgotten by rtpsession (it sends a BYE for it after 5 s) and
 * made anew at its next packet, without a clock rate, so it must be told
 * again before its next sender report. */
static void
test_send_clock_rates (gconstpointer data)
{
  gboolean pause = GPOINTER_TO_INT (data);
  PairSignaller *sa, *sb;
  Party *a, *b;
  gulong probes[2] = { 0, 0 };

  watch_sender_reports_start ();
  pair_new (&sa, &sb);
  a = party_new (G_OBJECT (sa));
  b = party_new (G_OBJECT (sb));
  gst_element_set_state (a->pipeline, GST_STATE_PLAYING);
  gst_element_set_state (b->pipeline, GST_STATE_PLAYING);
  wait_for (a, b, sender_reports_made,
      "media both ways and two sender reports of each stream");

  if (pause) {
    /* Both of A's streams stop; rtpsession keeps the one whose SSRC it
     * uses for its own reports, and forgets the other. */
    party_hold_sources (a, probes);
    wait_for (a, b, a_sent_stream_forgotten,
        "rtpsession to forget a stream that sends nothing");
    party_hold_sources (a, probes);
    reports_at_resume = g_atomic_int_get (&reports_made);
    wait_for (a, b, reports_after_resume, "sender reports after the pause");
  }
  g_assert_cmpint (g_atomic_int_get (&clock_rates_asked), ==, 0);

  party_free (b);
  party_free (a);
  g_object_unref (sa);
  g_object_unref (sb);
  watch_sender_reports_stop ();
}

/* Every sender report maps its RTP timestamp to the time that timestamp
 * was captured. rtpsession before GStreamer 1.23.1, reporting send times,
 * took a packet sent before the pipeline's latency was known (a call's
 * first packets) as sent at an unknown time, and a report made from it
 * had an RTP timestamp ahead by the whole running time, so the other
 * party shifted that stream by as much (a recording's audio began 0.5 s
 * after its video). Whether a call's first report comes before the
 * latency is known is a race, so the test makes several calls. */
static void
test_sender_reports_times (void)
{
  guint call;

  watch_sender_reports_start ();
  for (call = 0; call < 4; call++) {
    PairSignaller *sa, *sb;
    Party *a, *b;

    g_atomic_int_set (&reports_made, 0);
    pair_new (&sa, &sb);
    a = party_new (G_OBJECT (sa));
    b = party_new (G_OBJECT (sb));
    gst_element_set_state (a->pipeline, GST_STATE_PLAYING);
    gst_element_set_state (b->pipeline, GST_STATE_PLAYING);
    wait_for (a, b, sender_reports_made,
        "media both ways and two sender reports of each stream");
    party_free (b);
    party_free (a);
    g_object_unref (sa);
    g_object_unref (sb);
    g_assert_cmpint (g_atomic_int_get (&reports_from_unknown_time), ==, 0);
  }
  watch_sender_reports_stop ();
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  register_pair_signaller ();
  sent_descriptions = g_ptr_array_new_with_free_func (g_free);

  g_test_add_func ("/signaller/custom", test_custom_signaller);
  g_test_add_func ("/media/loss-recovery-negotiated",
      test_loss_recovery_negotiated);
  g_test_add_func ("/media/fec-negotiated", test_fec_negotiated);
  g_test_add_func ("/media/stats", test_stats);
  g_test_add_data_func ("/media/send-clock-rates", GINT_TO_POINTER (FALSE),
      test_send_clock_rates);
  g_test_add_data_func ("/media/send-clock-rates-after-pause",
      GINT_TO_POINTER (TRUE), test_send_clock_rates);
  g_test_add_func ("/media/sender-reports-times", test_sender_reports_times);
  return g_test_run ();
}
