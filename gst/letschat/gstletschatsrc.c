/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-letschatsrc
 * @title: letschatsrc
 * @see_also: letschatsink, webrtcbin
 *
 * Brings the other party of a letschat room into the pipeline: its video on
 * `video_%u` pads and its audio on `audio_%u` pads, added when the streams
 * arrive. Output is decoded (raw video and audio) by default; when what is
 * linked to a pad asks for the encoded format (for example a
 * `video/x-vp8` caps filter in front of webmmux) the stream comes out still
 * encoded, so that a recording keeps the original quality and costs no
 * decoding.
 *
 * The room signalling is inside (see letschatsink). A letschatsrc alone
 * only receives; with a letschatsink of the same server-url and room in the
 * same pipeline it is one party with media both ways.
 *
 * Inside, per stream of the other party:
 *
 * |[
 *          +--------------------------- letschatsrc ----------------------+
 *  other   | +---------+                                                   |
 *  party =>| |webrtcbin|-src_0-> rtpvp8depay -> vp8dec ------------------->|- video_0
 *          | |         |-src_1-> rtpopusdepay -> opusdec ----------------->|- audio_0
 *          | +---------+   (encoded output: the depayloader (and parser)   |
 *          |               only, no decoder)                               |
 *          +---------------------------------------------------------------+
 * ]|
 *
 * Bus messages (element messages, see `gst-launch-1.0 -m`; fields are
 * strings unless said), posted by the element of the party that hosts
 * webrtcbin, the same as letschatsink's (`gst-inspect-1.0 letschatsrc`
 * lists them under Bus-messages too):
 * - `letschat/joined`: `id`, `room`, `server-url`: this party is in the
 *   room, through that room server.
 * - `letschat/peer-joined`: `peer-id`, `peer-name`: the other party is there.
 * - `letschat/peer-left`: `peer-id`.
 * - `letschat/connection-state`: `state` (new, connecting, connected,
 *   disconnected, failed, closed): the peer connection's state.
 * - `letschat/call-reset`: `reason` (peer-left, peer-changed,
 *   connection-failed, new-offer, no-media, negotiation-failed, restarted):
 *   the peer connection was replaced by a new one; the pads stay.
 * - `letschat/negotiation-failed`: `step`, `error`: what the other party
 *   sent could not be used; the party waits for its next offer.
 * - `letschat/server-lost`: `reason`, `server-url`;
 *   `letschat/server-reconnected`: `id`, `room`, `server-url`: the room
 *   server went away and the party is back (on the next node when
 *   server-url lists several); media goes on.
 * - `letschat/chat`: `from`, `from-name`, `text`: the other party typed a
 *   chat message. The #GstLetsChatBin::chat-received signal says the same
 *   to a handler `(element, from, text)` (gst-inspect-1.0 shows its
 *   parameters as `arg0, arg1`: GObject keeps no names); the
 *   #GstLetsChatBin::send-chat action signal `(element, text)` answers.
 *
 * And its own: `letschat/first-frame` (`pad`, `codec`,
 * `ms-since-peer-joined`, a double) when the first buffer of a stream
 * leaves it, and, for recording applications:
 *
 * - `letschat/stream-started` (`pad`, `codec`, `encoded`, `keyframe`): the
 *   first buffer left a pad; a video stream always starts on a keyframe
 *   (`keyframe` is then TRUE), so a recording of it plays from its start.
 * - `letschat/stream-ended` (`pad`, `reason`): EOS left a pad (`reason` is
 *   `eos`): a muxer downstream can now finalize its file.
 *
 * EOS sent to letschatsrc (`gst-launch-1.0 -e`, or the application sending
 * EOS to the pipeline) goes out of every pad. If the other party never
 * sent a video (or an audio) stream, `video_0` (or `audio_0`) is added at
 * that moment to carry just the EOS: a branch waiting for it, such as a
 * muxer's track, ends too, and the recording finishes.
 *
 * When a video stream starts, letschatsrc asks the other party for a
 * keyframe at once (RTCP PLI) instead of waiting for its next periodic one;
 * an upstream force-key-unit event sent into a pad (a recording branch
 * that starts later, see gst_video_event_new_upstream_force_key_unit())
 * reaches the other party the same way.
 *
 * ## letschat:// URIs
 *
 * letschatsrc handles `letschat://HOST:PORT/ROOM` URIs (`letschats://` for
 * a wss:// room server; PORT defaults to 8443; `?secret=...&name=...` set
 * #GstLetsChatBin:secret and #GstLetsChatBin:display-name), so playbin,
 * uridecodebin and gst-play-1.0 join a room and play the other party. It
 * posts no-more-pads once every stream of the first call has its pad,
 * which playbin waits for. A malformed URI is a #GST_URI_ERROR saying what
 * is wrong.
 *
 * |[
 * gst-play-1.0 letschat://127.0.0.1:8443/demo
 * gst-launch-1.0 playbin uri='letschat://127.0.0.1:8443/demo?name=viewer'
 * ]|
 *
 * ## Example launch line: watch and hear the other party
 * |[
 * gst-launch-1.0 letschatsrc name=s room=demo ! queue ! videoconvert ! autovideosink \
 *     s. ! queue ! audioconvert ! autoaudiosink
 * ]|
 *
 * ## Example launch line: record the other party without re-encoding
 * |[
 * gst-launch-1.0 -e letschatsrc name=s room=demo ! video/x-vp8 ! queue ! webmmux name=m ! \
 *     filesink location=call.webm  s. ! audio/x-opus ! queue ! m.audio_%u
 * ]|
 *
 * Since: 0.1
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstletschatelements.h"
#include "gstletschatsrc.h"
#include "gstletschatjitterbuffers.h"

#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_src_debug);
#define GST_CAT_DEFAULT gst_lets_chat_src_debug

/* Jitter buffer: webrtcbin's 200 ms default suits streaming, not a
 * conversation. 50 ms absorbs the jitter of a LAN or a good broadband path
 * and keeps mouth-to-ear delay low; raise it on lossy, jittery networks. */
#define DEFAULT_LATENCY 50

enum
{
  PROP_LATENCY = 1,
  PROP_MAX_LATENCY,
};

struct _GstLetsChatSrc
{
  GstLetsChatBin parent;

  /* Protected by the object lock */
  guint latency;
  guint max_latency;

  /* webrtcbin adds the streams of the other party from several streaming
   * threads at once. Adding our pads one at a time lets whoever links them
   * (gst-launch-1.0's delayed links try every unlinked pad) see one new pad
   * at a time. */
  GMutex add_stream_lock;
  GList *streams;               /* of SrcStream, under add_stream_lock */
  guint generation;             /* of the peer connection streams came from */
  guint n_video_now, n_audio_now;       /* streams of that connection */
  gboolean no_more_pads;        /* posted since the last start */
};

/* One pad and the chain behind it. A pad outlives peer connections: the
 * next party's first video stream arrives on video_0 again. */
typedef struct
{
  GstPad *ghost;
  gboolean video;
  guint index;                  /* among streams of its kind */
  gboolean decode;
  const GstLetsChatCodec *codec;
  GList *chain;
} SrcStream;

static GstStaticPadTemplate video_template =
    GST_STATIC_PAD_TEMPLATE ("video_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS ("video/x-raw; video/x-vp8; video/x-vp9; video/x-h264"));
static GstStaticPadTemplate audio_template =
    GST_STATIC_PAD_TEMPLATE ("audio_%u", GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS ("audio/x-raw; audio/x-opus"));

#define gst_lets_chat_src_parent_class parent_class
static void
src_uri_handler_init (gpointer g_iface, gpointer iface_data)
{
  gst_lets_chat_bin_uri_handler_init (g_iface, GST_URI_SRC);
}

G_DEFINE_TYPE_WITH_CODE (GstLetsChatSrc, gst_lets_chat_src,
    GST_TYPE_LETS_CHAT_BIN, G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER,
        src_uri_handler_init));
GST_ELEMENT_REGISTER_DEFINE (letschatsrc, "letschatsrc", GST_RANK_NONE,
    GST_TYPE_LETS_CHAT_SRC);

/* Until its chain exists a new pad has no target: answer caps queries with
 * the template, so that gst-launch-1.0 and pad-added handlers link it to
 * what fits (a video pad never to an audio branch). */
static gboolean
src_pad_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstPad *target = gst_ghost_pad_get_target (GST_GHOST_PAD (pad));

  if (target) {
    gst_object_unref (target);
  } else if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS) {
    GstCaps *filter, *templ, *result;

    gst_query_parse_caps (query, &filter);
    templ = gst_pad_get_pad_template_caps (pad);
    result = filter ? gst_caps_intersect_full (filter, templ,
        GST_CAPS_INTERSECT_FIRST) : gst_caps_ref (templ);
    gst_query_set_caps_result (query, result);
    gst_caps_unref (result);
    gst_caps_unref (templ);
    return TRUE;
  }
  return gst_pad_query_default (pad, parent, query);
}

/* Decoded unless what the pad was linked to wants the encoded format and
 * not raw. */
static gboolean
src_wants_decoded (GstPad * ghost, const GstLetsChatCodec * codec)
{
  GstCaps *peer, *raw, *encoded;
  gboolean decode = TRUE;

  if (!gst_pad_is_linked (ghost))
    return TRUE;
  peer = gst_pad_peer_query_caps (ghost, NULL);
  raw = gst_caps_from_string (codec->raw_caps);
  encoded = gst_caps_from_string (codec->encoded_caps);
  if (!gst_caps_is_any (peer) && !gst_caps_can_intersect (peer, raw) &&
      gst_caps_can_intersect (peer, encoded))
    decode = FALSE;
  gst_caps_unref (peer);
  gst_caps_unref (raw);
  gst_caps_unref (encoded);
  return decode;
}

typedef struct
{
  GstLetsChatSrc *src;
  gchar *pad_name;
  const gchar *codec;
  GstClockTime since;
} FirstFrame;

static void
first_frame_free (gpointer data)
{
  FirstFrame *f = data;

  g_free (f->pad_name);
  g_free (f);
}

/* A pad nobody linked (`letschatsrc ! autovideosink` while the other party
 * also sends audio) must not stop the call: its stream is dropped, and
 * the bus says so once. */
static GstPadProbeReturn
src_unlinked_probe (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  GstPad *ghost = data;
  GstLetsChatSrc *self;

  if (gst_pad_is_linked (ghost))
    return GST_PAD_PROBE_OK;
  if (!g_object_get_data (G_OBJECT (ghost), "letschat-warned")) {
    g_object_set_data (G_OBJECT (ghost), "letschat-warned",
        GINT_TO_POINTER (1));
    self = GST_LETS_CHAT_SRC (gst_pad_get_parent_element (ghost));
    if (self) {
      GST_ELEMENT_WARNING (self, STREAM, FAILED, ("Pad %s is not linked: "
              "the other party's %s is dropped. Link it (for example to "
              "fakesink) to silence this.", GST_PAD_NAME (ghost),
              g_str_has_prefix (GST_PAD_NAME (ghost), "video") ? "video" :
              "audio"), (NULL));
      gst_object_unref (self);
    }
  }
  return GST_PAD_PROBE_DROP;
}

static GstPadProbeReturn
src_first_buffer_probe (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  FirstFrame *f = data;
  GstClockTime now = gst_util_get_timestamp ();
  GstStructure *s = gst_structure_new ("letschat/first-frame",
      "pad", G_TYPE_STRING, f->pad_name,
      "codec", G_TYPE_STRING, f->codec,
      "ms-since-peer-joined", G_TYPE_DOUBLE,
      GST_CLOCK_TIME_IS_VALID (f->since) ?
      (gdouble) (now - f->since) / GST_MSECOND : -1.0, NULL);

  gst_element_post_message (GST_ELEMENT (f->src),
      gst_message_new_element (GST_OBJECT (f->src), s));
  return GST_PAD_PROBE_REMOVE;
}

/* Posts letschat/stream-started for the first buffer out of a pad and
 * letschat/stream-ended for EOS, so that an application knows when its
 * recording has media and when the file can be closed. */
static GstPadProbeReturn
src_recording_probe (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  GstLetsChatSrc *self = data;
  GstStructure *s = NULL;
  /* Not add_stream_lock: it is held while old chains stop, which waits for
   * their streaming threads, which may be in here. */
  const gchar *codec = g_object_get_data (G_OBJECT (pad), "letschat-codec");
  gboolean encoded =
      GPOINTER_TO_INT (g_object_get_data (G_OBJECT (pad), "letschat-encoded"));

  if (info->type & (GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST)) {
    GstBuffer *buf = (info->type & GST_PAD_PROBE_TYPE_BUFFER) ?
        GST_PAD_PROBE_INFO_BUFFER (info) :
        gst_buffer_list_get (GST_PAD_PROBE_INFO_BUFFER_LIST (info), 0);

    if (g_object_get_data (G_OBJECT (pad), "letschat-started"))
      return GST_PAD_PROBE_OK;
    g_object_set_data (G_OBJECT (pad), "letschat-started", GINT_TO_POINTER (1));
    s = gst_structure_new ("letschat/stream-started",
        "pad", G_TYPE_STRING, GST_PAD_NAME (pad),
        "codec", G_TYPE_STRING, codec ? codec : "",
        "encoded", G_TYPE_BOOLEAN, encoded,
        "keyframe", G_TYPE_BOOLEAN, buf &&
        !GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT), NULL);
  } else if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) == GST_EVENT_EOS) {
    s = gst_structure_new ("letschat/stream-ended",
        "pad", G_TYPE_STRING, GST_PAD_NAME (pad),
        "reason", G_TYPE_STRING, "eos", NULL);
  }
  if (s)
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_element (GST_OBJECT (self), s));
  return GST_PAD_PROBE_OK;
}

/* Builds the chain for @stream's codec behind its pad, and links
 * @webrtc_pad to it. Called with add_stream_lock held. */
static gboolean
src_stream_build (GstLetsChatSrc * self, SrcStream * stream,
    GstPad * webrtc_pad, GstClockTime since)
{
  GstElement *first, *last;
  GstPad *pad;
  GList *l;
  GError *error = NULL;
  FirstFrame *f;

  stream->chain = gst_lets_chat_codec_make_receiver (stream->codec,
      stream->decode, &error);
  if (!stream->chain) {
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN, ("%s", error->message),
        (NULL));
    g_error_free (error);
    return FALSE;
  }
  for (l = stream->chain; l; l = l->next) {
    /* Start on a keyframe, and ask the sender for one on loss rather than
     * waiting for the next periodic one. */
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (l->data),
            "request-keyframe"))
      g_object_set (l->data, "request-keyframe", TRUE, NULL);
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (l->data),
            "wait-for-keyframe"))
      g_object_set (l->data, "wait-for-keyframe", TRUE, NULL);
    gst_bin_add (GST_BIN (self), l->data);
  }
  for (l = stream->chain; l && l->next; l = l->next)
    gst_element_link (l->data, l->next->data);
  first = g_list_first (stream->chain)->data;
  last = g_list_last (stream->chain)->data;
  for (l = stream->chain; l; l = l->next)
    gst_element_sync_state_with_parent (l->data);

  g_object_set_data (G_OBJECT (stream->ghost), "letschat-codec",
      (gpointer) stream->codec->encoding_name);
  g_object_set_data (G_OBJECT (stream->ghost), "letschat-encoded",
      GINT_TO_POINTER (!stream->decode));
  pad = gst_element_get_static_pad (last, "src");
  gst_ghost_pad_set_target (GST_GHOST_PAD (stream->ghost), pad);
  f = g_new0 (FirstFrame, 1);
  f->src = self;
  f->pad_name = gst_pad_get_name (stream->ghost);
  f->codec = stream->codec->encoding_name;
  f->since = since;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, src_first_buffer_probe,
      f, first_frame_free);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST, src_unlinked_probe,
      gst_object_ref (stream->ghost), gst_object_unref);
  gst_object_unref (pad);

  /* webrtcbin may live in the letschatsink of this party: link across
   * the two bins, as ghost pads do internally. */
  pad = gst_element_get_static_pad (first, "sink");
  if (gst_pad_link_full (webrtc_pad, pad, GST_PAD_LINK_CHECK_NOTHING) !=
      GST_PAD_LINK_OK)
    GST_ELEMENT_ERROR (self, CORE, PAD, ("Could not link the %s stream of "
            "the other party", stream->codec->encoding_name), (NULL));
  gst_object_unref (pad);

  /* A recording must start on a keyframe, and the depayloader drops all
   * until one comes: ask the sender for one now (webrtcbin turns this into
   * an RTCP PLI) rather than wait for its next periodic keyframe. */
  if (stream->video) {
    pad = gst_element_get_static_pad (last, "src");
    gst_pad_send_event (pad,
        gst_video_event_new_upstream_force_key_unit (GST_CLOCK_TIME_NONE,
            TRUE, 0));
    gst_object_unref (pad);
  }
  return TRUE;
}

static void
src_stream_drop_chain (GstLetsChatSrc * self, SrcStream * stream)
{
  GList *l;

  gst_ghost_pad_set_target (GST_GHOST_PAD (stream->ghost), NULL);
  for (l = stream->chain; l; l = l->next) {
    gst_element_set_state (l->data, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (self), l->data);
  }
  g_clear_pointer (&stream->chain, g_list_free);
}

/* Adds pad video_<index> or audio_<index>, without a target, so that
 * whoever links it tells us (through its caps) whether it wants the stream
 * decoded. Called with add_stream_lock held. */
static SrcStream *
src_stream_new (GstLetsChatSrc * self, gboolean video, guint index)
{
  SrcStream *stream = g_new0 (SrcStream, 1);
  GstPadTemplate *templ;
  gchar *name;

  stream->video = video;
  stream->index = index;
  name = g_strdup_printf (video ? "video_%u" : "audio_%u", index);
  templ = gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (self),
      video ? "video_%u" : "audio_%u");
  stream->ghost = gst_ghost_pad_new_no_target_from_template (name, templ);
  g_free (name);
  gst_pad_set_query_function (stream->ghost, src_pad_query);
  gst_pad_add_probe (stream->ghost, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST |
      GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, src_recording_probe, self, NULL);
  gst_pad_set_active (stream->ghost, TRUE);
  self->streams = g_list_append (self->streams, stream);
  gst_element_add_pad (GST_ELEMENT (self), stream->ghost);
  return stream;
}

static SrcStream *
src_find_stream (GstLetsChatSrc * self, gboolean video, guint index)
{
  GList *l;

  for (l = self->streams; l; l = l->next) {
    SrcStream *stream = l->data;
    if (stream->video == video && stream->index == index)
      return stream;
  }
  return NULL;
}

/* How many streams the other party sends on the peer connection of
 * @webrtc_pad: the m-lines of its description that send (sendrecv or
 * sendonly) and are not rejected (port 0 without bundle-only). 0 if
 * unknown. */
static guint
src_count_remote_streams (GstPad * webrtc_pad)
{
  GstElement *webrtc = gst_pad_get_parent_element (webrtc_pad);
  GstWebRTCSessionDescription *desc = NULL;
  guint i, n = 0;

  if (!webrtc)
    return 0;
  g_object_get (webrtc, "remote-description", &desc, NULL);
  gst_object_unref (webrtc);
  if (!desc)
    return 0;
  for (i = 0; i < gst_sdp_message_medias_len (desc->sdp); i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (desc->sdp, i);
    const gchar *type = gst_sdp_media_get_media (media);

    if (g_strcmp0 (type, "video") && g_strcmp0 (type, "audio"))
      continue;
    if (gst_sdp_media_get_port (media) == 0 &&
        !gst_sdp_media_get_attribute_val (media, "bundle-only"))
      continue;
    if (gst_sdp_media_get_attribute_val (media, "recvonly") ||
        gst_sdp_media_get_attribute_val (media, "inactive"))
      continue;
    n++;
  }
  gst_webrtc_session_description_free (desc);
  return n;
}

/* The session's receiver function: webrtcbin added a pad for a stream of
 * the other party (webrtcbin's thread). */
static void
gst_lets_chat_src_add_stream (GstElement * element, GstPad * webrtc_pad,
    guint generation, GstClockTime peer_joined_time)
{
  GstLetsChatSrc *self = GST_LETS_CHAT_SRC (element);
  GstCaps *caps = gst_pad_get_current_caps (webrtc_pad);
  const GstLetsChatCodec *codec = gst_lets_chat_codec_for_caps (caps);
  SrcStream *stream;
  gboolean video, all_there = FALSE;
  guint index, expected;

  if (!codec) {
    GST_ELEMENT_WARNING (self, STREAM, CODEC_NOT_FOUND,
        ("The other party sends a codec letschat does not receive; that "
            "stream is ignored"), ("caps %" GST_PTR_FORMAT, caps));
    gst_clear_caps (&caps);
    return;
  }
  gst_caps_unref (caps);
  video = g_str_equal (codec->media, "video");
  /* Asked of webrtcbin before our lock is taken (never hold ours across a
   * call into webrtcbin). */
  expected = src_count_remote_streams (webrtc_pad);

  g_mutex_lock (&self->add_stream_lock);
  if (generation != self->generation) {
    self->generation = generation;
    self->n_video_now = self->n_audio_now = 0;
  }
  index = video ? self->n_video_now++ : self->n_audio_now++;

  stream = src_find_stream (self, video, index);
  if (stream) {
    /* The same pad again, for a new peer connection. A new codec means a
     * new chain behind it (and new caps downstream). */
    if (stream->codec != codec) {
      src_stream_drop_chain (self, stream);
      /* A pad made at EOS with nobody there (see send_event) has no
       * codec yet: ask what is linked to it now. */
      if (!stream->codec)
        stream->decode = src_wants_decoded (stream->ghost, codec);
      stream->codec = codec;
    } else {
      GstPad *sinkpad =
          gst_element_get_static_pad (g_list_first (stream->chain)->data,
          "sink");
      GstPadLinkReturn ok = gst_pad_link_full (webrtc_pad, sinkpad,
          GST_PAD_LINK_CHECK_NOTHING);

      gst_object_unref (sinkpad);
      g_mutex_unlock (&self->add_stream_lock);
      GST_INFO_OBJECT (self, "%s: receiving %s again%s",
          GST_PAD_NAME (stream->ghost), codec->encoding_name,
          ok == GST_PAD_LINK_OK ? "" : " (could not link!)");
      return;
    }
  } else {
    stream = src_stream_new (self, video, index);
    stream->codec = codec;
    stream->decode = src_wants_decoded (stream->ghost, codec);
  }

  src_stream_build (self, stream, webrtc_pad, peer_joined_time);
  /* Every stream of the first call has its pad: playbin and uridecodebin
   * link their outputs only after no-more-pads. Later calls reuse the
   * pads. */
  if (!self->no_more_pads &&
      self->n_video_now + self->n_audio_now >= MAX (expected, 1)) {
    self->no_more_pads = TRUE;
    all_there = TRUE;
  }
  g_mutex_unlock (&self->add_stream_lock);
  if (all_there) {
    GST_INFO_OBJECT (self, "all %u streams of the other party are here",
        expected);
    gst_element_no_more_pads (GST_ELEMENT (self));
  }
  GST_INFO_OBJECT (self, "%s: receiving %s%s", GST_PAD_NAME (stream->ghost),
      codec->encoding_name, stream->decode ? ", decoded" : ", still encoded");
}

/* While the party waits for the other one: tell downstream that nothing
 * comes for @duration from now, on every pad that has started. */
static void
gst_lets_chat_src_push_gap (GstElement * element, GstClockTime duration)
{
  GstLetsChatSrc *self = GST_LETS_CHAT_SRC (element);
  GstClockTime now = gst_element_get_current_running_time (GST_ELEMENT (self));
  GList *pads = NULL, *l;

  if (!GST_CLOCK_TIME_IS_VALID (now))
    return;
  g_mutex_lock (&self->add_stream_lock);
  for (l = self->streams; l; l = l->next)
    pads =
        g_list_prepend (pads, gst_object_ref (((SrcStream *) l->data)->ghost));
  g_mutex_unlock (&self->add_stream_lock);

  for (l = pads; l; l = l->next) {
    GstEvent *seg_event = gst_pad_get_sticky_event (l->data,
        GST_EVENT_SEGMENT, 0);
    const GstSegment *segment;
    guint64 position;

    if (!seg_event)
      continue;                 /* never started: nothing to continue */
    gst_event_parse_segment (seg_event, &segment);
    if (segment->format == GST_FORMAT_TIME &&
        gst_segment_position_from_running_time_full (segment, GST_FORMAT_TIME,
            now, &position) == 1)
      gst_pad_push_event (l->data, gst_event_new_gap (position, duration));
    gst_event_unref (seg_event);
  }
  g_list_free_full (pads, gst_object_unref);
}

/* For gst-inspect-1.0 (see gst_lets_chat_bin_class_add_manual()). */
static const gchar *const src_bus_messages[] = {
  "letschat/first-frame (pad, codec, ms-since-peer-joined: double): the "
      "first buffer of a stream left a pad",
  "letschat/stream-started (pad, codec, encoded: boolean, keyframe: "
      "boolean): a pad started (video on a keyframe)",
  "letschat/stream-ended (pad, reason): EOS left a pad",
  NULL
};

static const GstLetsChatReceiverFuncs receiver_funcs = {
  gst_lets_chat_src_add_stream,
  gst_lets_chat_src_push_gap,
};

/* The jitter buffer settings, to the session (which has them from READY
 * on: set at NULL->READY, and again when changed in READY). */
static void
gst_lets_chat_src_apply_latency (GstLetsChatSrc * self)
{
  GstLetsChatSession *session =
      gst_lets_chat_bin_get_session (GST_LETS_CHAT_BIN (self));
  guint latency, max_latency;

  if (!session)
    return;
  GST_OBJECT_LOCK (self);
  latency = self->latency;
  max_latency = self->max_latency;
  GST_OBJECT_UNLOCK (self);
  gst_lets_chat_session_set_latency (session, latency, max_latency);
}

static gboolean
gst_lets_chat_src_started (GstLetsChatBin * bin)
{
  gst_lets_chat_src_apply_latency (GST_LETS_CHAT_SRC (bin));
  return TRUE;
}

/* READY->NULL, the session released: removes the pads and chains of the
 * last call. */
static void
gst_lets_chat_src_stopped (GstLetsChatBin * bin)
{
  GstLetsChatSrc *self = GST_LETS_CHAT_SRC (bin);
  GList *children = NULL, *pads = NULL, *l;

  GST_OBJECT_LOCK (self);
  for (l = GST_ELEMENT (self)->srcpads; l; l = l->next)
    pads = g_list_prepend (pads, gst_object_ref (l->data));
  for (l = GST_BIN (self)->children; l; l = l->next)
    children = g_list_prepend (children, gst_object_ref (l->data));
  GST_OBJECT_UNLOCK (self);
  g_mutex_lock (&self->add_stream_lock);
  g_list_free_full (self->streams, g_free);
  self->streams = NULL;
  self->generation = 0;
  self->no_more_pads = FALSE;
  g_mutex_unlock (&self->add_stream_lock);

  for (l = pads; l; l = l->next) {
    gst_pad_set_active (l->data, FALSE);
    gst_element_remove_pad (GST_ELEMENT (self), l->data);
  }
  for (l = children; l; l = l->next) {
    GstElementFactory *factory = gst_element_get_factory (l->data);

    /* webrtcbin still here belongs to a session a letschatsink holds. */
    if (factory && g_str_equal (GST_OBJECT_NAME (factory), "webrtcbin"))
      continue;
    gst_element_set_state (l->data, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (self), l->data);
  }
  g_list_free_full (pads, gst_object_unref);
  g_list_free_full (children, gst_object_unref);
}

/* The other party's streams never end by themselves: an EOS sent to the
 * pipeline (gst-launch-1.0 -e, an application stopping a recording) goes out
 * of every pad at once, so muxers downstream can finalize their files. */
static void
src_add_missing_first_pads (GstLetsChatSrc * self)
{
  GList *added = NULL, *l;
  gboolean video;

  g_mutex_lock (&self->add_stream_lock);
  for (video = FALSE; video <= TRUE; video++) {
    if (!src_find_stream (self, video, 0))
      added = g_list_prepend (added,
          gst_object_ref (src_stream_new (self, video, 0)->ghost));
  }
  g_mutex_unlock (&self->add_stream_lock);

  for (l = added; l; l = l->next) {
    GstSegment segment;
    gchar *id = gst_pad_create_stream_id (l->data, GST_ELEMENT (self),
        GST_PAD_NAME (l->data));

    GST_INFO_OBJECT (self, "%s: added at EOS, nobody sent this kind",
        GST_PAD_NAME (l->data));
    gst_pad_push_event (l->data, gst_event_new_stream_start (id));
    gst_segment_init (&segment, GST_FORMAT_TIME);
    gst_pad_push_event (l->data, gst_event_new_segment (&segment));
    g_free (id);
  }
  g_list_free_full (added, gst_object_unref);
}

static gboolean
gst_lets_chat_src_send_event (GstElement * element, GstEvent * event)
{
  GList *pads = NULL, *l;

  if (GST_EVENT_TYPE (event) != GST_EVENT_EOS)
    return GST_ELEMENT_CLASS (parent_class)->send_event (element, event);

  /* The end before a party ever sent a video or an audio stream: what
   * waits for one (a muxer's track, linked with gst-launch-1.0's "r. !")
   * must end too, or a recording never finishes. So video_0 and audio_0
   * appear now, to carry just the EOS. */
  src_add_missing_first_pads (GST_LETS_CHAT_SRC (element));

  GST_OBJECT_LOCK (element);
  for (l = element->srcpads; l; l = l->next)
    pads = g_list_prepend (pads, gst_object_ref (l->data));
  GST_OBJECT_UNLOCK (element);
  for (l = pads; l; l = l->next)
    gst_pad_push_event (l->data, gst_event_ref (event));
  g_list_free_full (pads, gst_object_unref);
  gst_event_unref (event);
  return TRUE;
}

static void
gst_lets_chat_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstLetsChatSrc *self = GST_LETS_CHAT_SRC (object);

  GST_OBJECT_LOCK (self);
  if (!gst_lets_chat_bin_can_set_property (GST_LETS_CHAT_BIN (self), pspec)) {
    GST_OBJECT_UNLOCK (self);
    return;
  }
  switch (prop_id) {
    case PROP_LATENCY:
      self->latency = g_value_get_uint (value);
      break;
    case PROP_MAX_LATENCY:
      self->max_latency = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
  /* Changed in READY, after the session took the values at NULL->READY. */
  if (prop_id == PROP_LATENCY || prop_id == PROP_MAX_LATENCY)
    gst_lets_chat_src_apply_latency (self);
}

static void
gst_lets_chat_src_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstLetsChatSrc *self = GST_LETS_CHAT_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_LATENCY:
      g_value_set_uint (value, self->latency);
      break;
    case PROP_MAX_LATENCY:
      g_value_set_uint (value, self->max_latency);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_lets_chat_src_finalize (GObject * object)
{
  GstLetsChatSrc *self = GST_LETS_CHAT_SRC (object);

  g_mutex_clear (&self->add_stream_lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_lets_chat_src_class_init (GstLetsChatSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstLetsChatBinClass *bin_class = GST_LETS_CHAT_BIN_CLASS (klass);

  gobject_class->set_property = gst_lets_chat_src_set_property;
  gobject_class->get_property = gst_lets_chat_src_get_property;
  gobject_class->finalize = gst_lets_chat_src_finalize;

  bin_class->role = GST_LETS_CHAT_ROLE_SRC;
  bin_class->receiver = &receiver_funcs;
  bin_class->started = gst_lets_chat_src_started;
  bin_class->stopped = gst_lets_chat_src_stopped;

  /**
   * GstLetsChatSrc:latency:
   *
   * Jitter buffer of the call, in milliseconds.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_LATENCY,
      g_param_spec_uint ("latency", "Latency",
          "Jitter buffer in milliseconds: how long packets may be late "
          "before they count as lost, at the start of a call and whenever "
          "nothing is lost. Low by default for conversation (webrtcbin's "
          "own default, 200, suits one-way streaming); raise it on jittery "
          "networks", 0, G_MAXUINT, DEFAULT_LATENCY,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /**
   * GstLetsChatSrc:max-latency:
   *
   * How far the jitter buffer may grow while packets are lost that
   * retransmission could repair, in milliseconds.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_MAX_LATENCY,
      g_param_spec_uint ("max-latency", "Maximum latency",
          "How far the jitter buffer may grow, in milliseconds, while "
          "packets are lost that retransmission could have repaired "
          "(waiting for a retransmission beats waiting for a keyframe); it "
          "comes back down towards latency after 30 s without loss. The "
          "jitter buffer posts a latency message at each change. Set it "
          "to latency or less to keep the latency fixed", 0, G_MAXUINT,
          GST_LETS_CHAT_DEFAULT_MAX_LATENCY,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));


  gst_element_class_add_static_pad_template (element_class, &video_template);
  gst_element_class_add_static_pad_template (element_class, &audio_template);
  gst_element_class_set_static_metadata (element_class,
      "letschat source", "Source/Network/WebRTC",
      "Receives the video and audio of the other party of a letschat room "
      "(WebRTC, room signalling inside)", "letschat developers");

  gst_lets_chat_bin_class_add_manual (element_class, src_bus_messages);
  element_class->send_event = GST_DEBUG_FUNCPTR (gst_lets_chat_src_send_event);

  GST_DEBUG_CATEGORY_INIT (gst_lets_chat_src_debug, "letschatsrc", 0,
      "letschat source");
}

static void
gst_lets_chat_src_init (GstLetsChatSrc * self)
{
  self->latency = DEFAULT_LATENCY;
  self->max_latency = GST_LETS_CHAT_DEFAULT_MAX_LATENCY;
  g_mutex_init (&self->add_stream_lock);
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SOURCE);
}
