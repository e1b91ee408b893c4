/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/**
 * SECTION:element-letschatsink
 * @title: letschatsink
 * @see_also: letschatsrc, webrtcbin
 *
 * Publishes what the pipeline produces to the other party of a letschat
 * room: a browser on the room server's page, or another pipeline with a
 * letschatsrc. Raw video is encoded inside (VP8 by default, see
 * #GstLetsChatSink:video-codec), raw audio as Opus; VP8, VP9, H.264 and
 * Opus that are already encoded are sent as they are.
 *
 * The room signalling is inside: join a room by name on a letschat-server
 * (or host the room in this process with serve=true), and the party that
 * joins second makes the offer. A letschatsink and a letschatsrc with the
 * same server-url and room in one pipeline are one party of the call: one
 * connection to the server, one peer connection, media both ways.
 *
 * Inside (one chain per request pad; webrtcbin is shared with a letschatsrc
 * of the same party and lives in whichever of the two started first):
 *
 * |[
 *            +------------------------- letschatsink ----------------------+
 *  video_0 --|-> videoconvert -> vp8enc -> rtpvp8pay --> sink_0 +---------+ |
 *            |                                                   |webrtcbin|=|=> other party
 *  audio_0 --|-> audioconvert -> audioresample -> opusenc        |         | |
 *            |                               -> rtpopuspay --> sink_1 +---------+ |
 *            +-------------------------------------------------------------+
 *  (already encoded input skips the encoder: h264parse/rtph264pay, ...)
 * ]|
 *
 * Bus messages (element messages, see `gst-launch-1.0 -m`; fields are
 * strings; `gst-inspect-1.0 letschatsink` lists them under Bus-messages),
 * posted by the element of the party that hosts webrtcbin:
 * - `letschat/joined`: `id`, `room`, `server-url`: this party is in the
 *   room, through that room server.
 * - `letschat/peer-joined`: `peer-id`, `peer-name`: the other party is there.
 * - `letschat/peer-left`: `peer-id`.
 * - `letschat/connection-state`: `state` (new, connecting, connected,
 *   disconnected, failed, closed): the peer connection's state.
 * - `letschat/candidate-pair`: `local-type`, `remote-type` (host, srflx,
 *   prflx, relay), `local-address`, `local-port`, `remote-address`,
 *   `remote-port`, `protocol`: the path the call took, once per peer
 *   connection when it is up; `relay` means through the TURN server.
 *   When no path works, a warning says what was tried and what to do (a
 *   TURN server); so does one when a TURN server gives no relay address
 *   (refused or expired credentials, unreachable).
 * - `letschat/call-reset`: `reason` (peer-left, peer-changed,
 *   connection-failed, new-offer, no-media, negotiation-failed, restarted):
 *   the peer connection was replaced by a new one; the elements' pads stay.
 * - `letschat/negotiation-failed`: `step`, `error`: what the other party
 *   sent could not be used (a warning says the same); the party waits for
 *   its next offer, or for the next party.
 * - `letschat/server-lost`: `reason`, `server-url`: that room server went
 *   away; media already flowing continues, and the element reconnects
 *   (see #GstLetsChatSink:reconnect), to the next node when server-url
 *   lists several.
 * - `letschat/server-reconnected`: `id`, `room`, `server-url`: back in the
 *   room as the same party, through that node.
 * - `letschat/chat`: `from` (the other party's id), `from-name`, `text`:
 *   the other party typed a chat message (see #GstLetsChatBin::send-chat).
 *
 * ## Text chat
 *
 * The other party's chat (a browser on the room's page, or another
 * pipeline) arrives as the #GstLetsChatBin::chat-received signal, whose
 * handler gets `(element, from, text)` (gst-inspect-1.0 prints them as
 * `arg0, arg1`, since GObject keeps no parameter names; its
 * Signal-parameters line names them), and the `letschat/chat` bus
 * message, so `gst-launch-1.0 -m` shows what it types; the
 * #GstLetsChatBin::send-chat action signal `(element, text)` answers. letschatsrc has the
 * same two signals: use whichever element the application holds.
 * `examples/chat.c` chats from a terminal.
 *
 * ## When the other party leaves
 *
 * The pipeline keeps running, however the other party goes (it leaves the
 * room, closes its peer connection as a browser tab does, or vanishes): an
 * error inside the old peer connection becomes a warning, never an ERROR.
 * letschatsink waits for the next party and sends to it; letschatsrc keeps
 * its pads (downstream sees gap events meanwhile, never EOS) and the next
 * party's media continues on them. When
 * the peer connection fails (ICE or DTLS), a new one is negotiated through
 * the room. When the room server goes away, the call goes on peer to peer
 * and the element rejoins the room as the same party when it comes back.
 *
 * ## Example launch line: host a room and send a test call
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! letschatsink name=s room=demo serve=true \
 *     audiotestsrc is-live=true ! s.
 * ]| Hosts the room server at ws://127.0.0.1:8443/ws in this process, joins
 * room "demo" and sends VP8 video and Opus audio to whoever joins it.
 *
 * ## Example launch line: publish to a letschat:// URI
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! 'letschat://127.0.0.1:8443/demo?secret=s3cret&name=camera'
 * ]| letschatsink is the URI sink of `letschat://HOST:PORT/ROOM`
 * (`letschats://` for wss://; see letschatsrc): the URI sets server-url,
 * room, and with `?secret=...&name=...` secret and display-name.
 *
 * ## Example launch line: a room on a cluster of room servers
 * |[
 * gst-launch-1.0 -m videotestsrc is-live=true ! letschatsink room=demo \
 *     server-url=ws://node1.example.org:8443/ws,ws://node2.example.org:8443/ws
 * ]| Joins through the first node that answers; when that node goes away
 * the call goes on, and the party rejoins the room through the next node
 * as the same party (`letschat/server-lost` and
 * `letschat/server-reconnected` name the node in `server-url`).
 *
 * ## Example launch line: send a pre-encoded H.264 stream
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! x264enc tune=zerolatency key-int-max=60 ! \
 *     video/x-h264,profile=constrained-baseline ! letschatsink room=demo
 * ]| Payloads the H.264 as it is, without decoding or re-encoding it.
 *
 * ## Example launch line: talk to strangers
 * |[
 * gst-launch-1.0 -m videotestsrc is-live=true ! letschatsink name=s strangers=true \
 *     letschatsrc strangers=true ! queue ! videoconvert ! autovideosink
 * ]| With strangers=true (and no room) the room server pairs the party with
 * whoever else waits; `letschat/joined` names the room it made. When the
 * stranger leaves, the party queues for the next one by itself; the
 * #GstLetsChatBin::next-stranger action signal leaves the current one
 * (Omegle's "Next"). The pads stay across strangers.
 *
 * ## Calls across NATs
 *
 * Parties behind NATs that do not let a direct path through need a TURN
 * server: run coturn beside letschat-server, which hands out short-lived
 * credentials (`--turn-secret`, `--turn-uri`), or set #GstLetsChatSink:turn-servers.
 * `letschat/candidate-pair` says whether the call goes through the relay.
 * See docs/networks.md.
 *
 * Since: 0.1
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstletschatelements.h"
#include "gstletschatsink.h"
#include "gstletschatcongestion.h"

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_sink_debug);
#define GST_CAT_DEFAULT gst_lets_chat_sink_debug

#define DEFAULT_VIDEO_CODEC GST_LETS_CHAT_VIDEO_CODEC_VP8

enum
{
  PROP_VIDEO_CODEC = 1,
  PROP_CONGESTION_CONTROL,
  PROP_MIN_BITRATE,
  PROP_MAX_BITRATE,
  PROP_START_BITRATE,
};

/* One request pad and the chain behind it. The chain is built when the
 * pad's caps arrive, since only then is it known whether to encode. */
typedef struct
{
  GstLetsChatSink *sink;
  GstPad *ghost;
  gboolean video;
  gboolean configured;          /* chain built, linked to webrtcbin */
  gboolean holding;             /* holds the session's negotiation */
  gboolean eos;                 /* got EOS, under the sink's object lock */
  GList *elements;
  gpointer send_stream;         /* the session's handle */

  /* Changing codec: the streaming thread waits in a pad probe while the
   * session thread rebuilds the chain. */
  GMutex switch_lock;
  GCond switch_cond;
  gboolean switch_parked;       /* the streaming thread waits */
  gboolean switch_done;         /* it may go on */
} SinkStream;

struct _GstLetsChatSink
{
  GstLetsChatBin parent;

  /* Protected by the object lock */
  GstLetsChatVideoCodec video_codec;
  gboolean video_codec_chosen;  /* set by the application, not default */
  /* Read by the session's congestion control (gstletschatcongestion.c). */
  GstLetsChatCongestionControl congestion_control;
  guint min_bitrate, max_bitrate, start_bitrate;
  GList *streams;
  guint n_video, n_audio;
};

#define SESSION(self) gst_lets_chat_bin_get_session (GST_LETS_CHAT_BIN (self))

static GstStaticPadTemplate video_template =
    GST_STATIC_PAD_TEMPLATE ("video_%u", GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS ("video/x-raw; video/x-vp8; video/x-vp9; "
        "video/x-h264, stream-format=(string){ byte-stream, avc }, "
        "alignment=(string)au"));
static GstStaticPadTemplate audio_template =
    GST_STATIC_PAD_TEMPLATE ("audio_%u", GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS ("audio/x-raw; audio/x-opus"));

#define gst_lets_chat_sink_parent_class parent_class
static void
sink_uri_handler_init (gpointer g_iface, gpointer iface_data)
{
  gst_lets_chat_bin_uri_handler_init (g_iface, GST_URI_SINK);
}

G_DEFINE_TYPE_WITH_CODE (GstLetsChatSink, gst_lets_chat_sink,
    GST_TYPE_LETS_CHAT_BIN, G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER,
        sink_uri_handler_init));
GST_ELEMENT_REGISTER_DEFINE (letschatsink, "letschatsink", GST_RANK_NONE,
    GST_TYPE_LETS_CHAT_SINK);

/* Adds the chain for @codec to the sink and links it; returns its first
 * and last elements. */
static GList *
sink_stream_make_chain (SinkStream * stream, const GstLetsChatCodec * codec,
    gboolean encode, GError ** error)
{
  GList *elements, *l;
  guint min, max, start;

  /* The encoder starts at start-bitrate: the first congestion decision
   * comes once a call is connected, and with a fixed 1 Mbit/s until then
   * its first keyframes went out at that bitrate's picture size (320x180
   * snow, 170 to 310 kbit each) into a call that had asked for 300 kbit/s
   * over a 600 kbit/s link. */
  g_object_get (stream->sink, "min-bitrate", &min, "max-bitrate", &max,
      "start-bitrate", &start, NULL);
  elements = gst_lets_chat_codec_make_sender (codec, encode,
      gst_lets_chat_congestion_start_bitrate (min, max, start), error);
  for (l = elements; l; l = l->next)
    gst_bin_add (GST_BIN (stream->sink), l->data);
  for (l = elements; l && l->next; l = l->next)
    gst_element_link (l->data, l->next->data);
  return elements;
}

static GstPadProbeReturn
sink_stream_park (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  SinkStream *stream = data;

  g_mutex_lock (&stream->switch_lock);
  stream->switch_parked = TRUE;
  g_cond_broadcast (&stream->switch_cond);
  while (!stream->switch_done)
    g_cond_wait (&stream->switch_cond, &stream->switch_lock);
  g_mutex_unlock (&stream->switch_lock);
  return GST_PAD_PROBE_REMOVE;
}

/* Session thread, before the answer (or offer) is made: the other party
 * wants another codec than the one this raw stream is encoded to. The
 * streaming thread is parked at the pad (between two buffers) while the
 * old chain goes and the new one comes; nothing reaches webrtcbin yet, so
 * the call only ever sees the new codec. */
static GstPad *
sink_stream_switch_codec (gpointer data, const GstLetsChatCodec * codec)
{
  SinkStream *stream = data;
  GstLetsChatSink *self = stream->sink;
  GError *error = NULL;
  GList *elements, *l;
  GstPad *pad, *upstream = NULL;
  gint64 deadline = g_get_monotonic_time () + G_TIME_SPAN_SECOND;
  gboolean parked;
  gulong probe;

  elements = sink_stream_make_chain (stream, codec, TRUE, &error);
  if (!elements) {
    GST_ELEMENT_WARNING (self, STREAM, ENCODE, ("Could not switch to %s, "
            "which the other party prefers: %s", codec->encoding_name,
            error->message), (NULL));
    g_error_free (error);
    return NULL;
  }

  g_mutex_lock (&stream->switch_lock);
  stream->switch_parked = FALSE;
  stream->switch_done = FALSE;
  g_mutex_unlock (&stream->switch_lock);
  probe = gst_pad_add_probe (stream->ghost, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST, sink_stream_park, stream, NULL);
  g_mutex_lock (&stream->switch_lock);
  while (!stream->switch_parked &&
      g_cond_wait_until (&stream->switch_cond, &stream->switch_lock, deadline));
  parked = stream->switch_parked;
  g_mutex_unlock (&stream->switch_lock);

  if (parked) {
    for (l = stream->elements; l; l = l->next) {
      gst_element_set_state (l->data, GST_STATE_NULL);
      gst_bin_remove (GST_BIN (self), l->data);
    }
    g_list_free (stream->elements);
    stream->elements = elements;
    for (l = elements; l; l = l->next)
      gst_element_sync_state_with_parent (l->data);
    pad = gst_element_get_static_pad (g_list_first (elements)->data, "sink");
    gst_ghost_pad_set_target (GST_GHOST_PAD (stream->ghost), pad);
    gst_object_unref (pad);
    upstream = gst_element_get_static_pad (g_list_last (elements)->data, "src");
    GST_INFO_OBJECT (self, "%s: now sending %s (encoded here)",
        GST_PAD_NAME (stream->ghost), codec->encoding_name);
  } else {
    /* Nothing flows (a source that stopped): keep the chain. */
    gst_pad_remove_probe (stream->ghost, probe);
    for (l = elements; l; l = l->next)
      gst_bin_remove (GST_BIN (self), l->data);
    g_list_free (elements);
  }

  g_mutex_lock (&stream->switch_lock);
  stream->switch_done = TRUE;
  g_cond_broadcast (&stream->switch_cond);
  g_mutex_unlock (&stream->switch_lock);
  return upstream;
}

static gboolean
sink_stream_link (SinkStream * stream, const GstCaps * caps, GError ** error)
{
  GstLetsChatSink *self = stream->sink;
  const GstLetsChatCodec *codec;
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  gboolean encode = g_str_has_suffix (gst_structure_get_name (s), "/x-raw");
  GstElement *first, *last;
  GstPad *pad;
  GList *l;

  if (encode) {
    GstLetsChatVideoCodec vc;

    GST_OBJECT_LOCK (self);
    vc = self->video_codec;
    GST_OBJECT_UNLOCK (self);
    codec = stream->video ? gst_lets_chat_codec_for_video (vc) :
        gst_lets_chat_codec_opus ();
  } else {
    codec = gst_lets_chat_codec_for_caps (caps);
  }
  if (!codec) {
    g_set_error (error, GST_STREAM_ERROR, GST_STREAM_ERROR_FORMAT,
        "letschatsink sends raw video or audio, VP8, VP9, H.264 or Opus; "
        "it cannot send %s", gst_structure_get_name (s));
    return FALSE;
  }

  stream->elements = sink_stream_make_chain (stream, codec, encode, error);
  if (!stream->elements)
    return FALSE;
  first = g_list_first (stream->elements)->data;
  last = g_list_last (stream->elements)->data;

  /* The session feeds the payloader to this call's webrtcbin and to the
   * next ones, if the other party leaves and another comes. */
  pad = gst_element_get_static_pad (last, "src");
  stream->send_stream = gst_lets_chat_session_add_send_stream (SESSION (self),
      pad, codec);
  gst_object_unref (pad);
  /* Raw input can be encoded to whatever the other party prefers. Only
   * video: Opus is the one audio codec. */
  if (encode && stream->video) {
    gboolean chosen;

    GST_OBJECT_LOCK (self);
    chosen = self->video_codec_chosen;
    GST_OBJECT_UNLOCK (self);
    gst_lets_chat_session_set_send_stream_switchable (SESSION (self),
        stream->send_stream, sink_stream_switch_codec, stream, chosen);
  }
  for (l = stream->elements; l; l = l->next)
    gst_element_sync_state_with_parent (l->data);

  pad = gst_element_get_static_pad (first, "sink");
  gst_ghost_pad_set_target (GST_GHOST_PAD (stream->ghost), pad);
  gst_object_unref (pad);
  GST_INFO_OBJECT (self, "%s: sending %s%s", GST_PAD_NAME (stream->ghost),
      codec->encoding_name, encode ? " (encoded here)" : " as it comes");
  return TRUE;
}

static void
sink_stream_release_hold (SinkStream * stream)
{
  if (stream->holding && SESSION (stream->sink)) {
    stream->holding = FALSE;
    gst_lets_chat_session_release_negotiation (SESSION (stream->sink));
  }
}

/* webrtcbin's network sinks never end, so the bin would never post EOS:
 * letschatsink does, once every one of its pads got EOS, for
 * gst-launch-1.0 -e and applications that stop by sending EOS. */
static void
sink_stream_track_eos (GstLetsChatSink * self, SinkStream * stream,
    GstEvent * event)
{
  gboolean all = TRUE;
  GList *l;

  GST_OBJECT_LOCK (self);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_EOS:
      stream->eos = TRUE;
      for (l = self->streams; l; l = l->next)
        all &= ((SinkStream *) l->data)->eos;
      break;
    case GST_EVENT_STREAM_START:
    case GST_EVENT_FLUSH_STOP:
      stream->eos = FALSE;
      all = FALSE;
      break;
    default:
      all = FALSE;
      break;
  }
  GST_OBJECT_UNLOCK (self);

  if (all) {
    GstMessage *eos = gst_message_new_eos (GST_OBJECT (self));

    gst_message_set_seqnum (eos, gst_event_get_seqnum (event));
    gst_element_post_message (GST_ELEMENT (self), eos);
  }
}

/* The first caps on a pad decide its chain. Later caps (a new resolution,
 * say) just flow through it. */
static gboolean
sink_stream_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstLetsChatSink *self = GST_LETS_CHAT_SINK (parent);
  SinkStream *stream = gst_pad_get_element_private (pad);

  sink_stream_track_eos (self, stream, event);

  if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS && !stream->configured) {
    GstCaps *caps;
    GError *error = NULL;

    gst_event_parse_caps (event, &caps);
    if (!SESSION (self)) {
      GST_ELEMENT_ERROR (self, CORE, FAILED, ("Data arrived before the "
              "element was started"), (NULL));
      gst_event_unref (event);
      return FALSE;
    }
    stream->configured = TRUE;
    if (!sink_stream_link (stream, caps, &error)) {
      GST_ELEMENT_ERROR (self, STREAM, FORMAT, ("%s", error->message),
          ("caps: %" GST_PTR_FORMAT, caps));
      g_error_free (error);
      gst_event_unref (event);
      return FALSE;
    }
    sink_stream_release_hold (stream);
  }
  return gst_pad_event_default (pad, parent, event);
}

/* Until the chain exists the ghost pad has no target; answer caps queries
 * with what the pad can take, so upstream negotiates. */
static gboolean
sink_stream_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  SinkStream *stream = gst_pad_get_element_private (pad);

  if (!stream->configured) {
    GstCaps *filter, *templ, *result;

    switch (GST_QUERY_TYPE (query)) {
      case GST_QUERY_CAPS:
        gst_query_parse_caps (query, &filter);
        templ = gst_pad_get_pad_template_caps (pad);
        result = filter ? gst_caps_intersect_full (filter, templ,
            GST_CAPS_INTERSECT_FIRST) : gst_caps_ref (templ);
        gst_query_set_caps_result (query, result);
        gst_caps_unref (result);
        gst_caps_unref (templ);
        return TRUE;
      case GST_QUERY_ACCEPT_CAPS:
        gst_query_parse_accept_caps (query, &filter);
        templ = gst_pad_get_pad_template_caps (pad);
        gst_query_set_accept_caps_result (query,
            gst_caps_can_intersect (filter, templ));
        gst_caps_unref (templ);
        return TRUE;
      default:
        break;
    }
  }
  return gst_pad_query_default (pad, parent, query);
}

/* Takes the chain behind a pad down, and its stream out of the call. */
static void
sink_stream_drop_chain (SinkStream * stream)
{
  GList *l;

  if (stream->send_stream && SESSION (stream->sink))
    gst_lets_chat_session_remove_send_stream (SESSION (stream->sink),
        stream->send_stream);
  stream->send_stream = NULL;
  for (l = stream->elements; l; l = l->next) {
    gst_element_set_state (l->data, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (stream->sink), l->data);
  }
  g_clear_pointer (&stream->elements, g_list_free);
}

static void
sink_stream_free (SinkStream * stream)
{
  sink_stream_drop_chain (stream);
  g_mutex_clear (&stream->switch_lock);
  g_cond_clear (&stream->switch_cond);
  g_free (stream);
}

/* Puts a stream back to "no chain yet", for the next start. */
static void
sink_stream_reset (SinkStream * stream)
{
  sink_stream_drop_chain (stream);
  gst_ghost_pad_set_target (GST_GHOST_PAD (stream->ghost), NULL);
  stream->eos = FALSE;
  stream->configured = FALSE;
  stream->holding = FALSE;
}

static GstPad *
gst_lets_chat_sink_request_new_pad (GstElement * element,
    GstPadTemplate * templ, const gchar * name, const GstCaps * caps)
{
  GstLetsChatSink *self = GST_LETS_CHAT_SINK (element);
  SinkStream *stream = g_new0 (SinkStream, 1);
  gchar *pad_name;

  stream->sink = self;
  g_mutex_init (&stream->switch_lock);
  g_cond_init (&stream->switch_cond);
  stream->video = templ == gst_element_class_get_pad_template
      (GST_ELEMENT_GET_CLASS (element), "video_%u");
  GST_OBJECT_LOCK (self);
  pad_name = g_strdup_printf (stream->video ? "video_%u" : "audio_%u",
      stream->video ? self->n_video++ : self->n_audio++);
  GST_OBJECT_UNLOCK (self);

  stream->ghost = gst_ghost_pad_new_no_target_from_template (pad_name, templ);
  g_free (pad_name);
  gst_pad_set_element_private (stream->ghost, stream);
  gst_pad_set_event_function (stream->ghost, sink_stream_event);
  gst_pad_set_query_function (stream->ghost, sink_stream_query);

  GST_OBJECT_LOCK (self);
  self->streams = g_list_append (self->streams, stream);
  GST_OBJECT_UNLOCK (self);

  if (GST_STATE (self) >= GST_STATE_PAUSED)
    GST_ELEMENT_WARNING (self, CORE, PAD, ("A stream added to a running "
            "call is not sent before the next call"), (NULL));

  gst_pad_set_active (stream->ghost, TRUE);
  gst_element_add_pad (element, stream->ghost);
  return stream->ghost;
}

static void
gst_lets_chat_sink_release_pad (GstElement * element, GstPad * pad)
{
  GstLetsChatSink *self = GST_LETS_CHAT_SINK (element);
  SinkStream *stream = gst_pad_get_element_private (pad);

  GST_OBJECT_LOCK (self);
  self->streams = g_list_remove (self->streams, stream);
  GST_OBJECT_UNLOCK (self);

  sink_stream_release_hold (stream);
  gst_pad_set_active (pad, FALSE);
  gst_element_remove_pad (element, pad);
  sink_stream_free (stream);
}

/* Every pad must know its codec before the session negotiates. */
static void
gst_lets_chat_sink_joining (GstLetsChatBin * bin)
{
  GstLetsChatSink *self = GST_LETS_CHAT_SINK (bin);
  GList *l;

  GST_OBJECT_LOCK (self);
  for (l = self->streams; l; l = l->next) {
    SinkStream *stream = l->data;

    if (!stream->configured && !stream->holding) {
      stream->holding = TRUE;
      gst_lets_chat_session_hold_negotiation (SESSION (self));
    }
  }
  GST_OBJECT_UNLOCK (self);
}

/* READY->NULL, before the session goes: the chains leave the call. */
static void
gst_lets_chat_sink_stopping (GstLetsChatBin * bin)
{
  GstLetsChatSink *self = GST_LETS_CHAT_SINK (bin);
  GList *l;

  for (l = self->streams; l; l = l->next)
    sink_stream_reset (l->data);
}

static void
gst_lets_chat_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstLetsChatSink *self = GST_LETS_CHAT_SINK (object);

  GST_OBJECT_LOCK (self);
  if (!gst_lets_chat_bin_can_set_property (GST_LETS_CHAT_BIN (self), pspec)) {
    GST_OBJECT_UNLOCK (self);
    return;
  }
  switch (prop_id) {
    case PROP_VIDEO_CODEC:
      self->video_codec = g_value_get_enum (value);
      self->video_codec_chosen = TRUE;
      break;
    case PROP_CONGESTION_CONTROL:
      self->congestion_control = g_value_get_enum (value);
      break;
    case PROP_MIN_BITRATE:
      self->min_bitrate = g_value_get_uint (value);
      break;
    case PROP_MAX_BITRATE:
      self->max_bitrate = g_value_get_uint (value);
      break;
    case PROP_START_BITRATE:
      self->start_bitrate = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_lets_chat_sink_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstLetsChatSink *self = GST_LETS_CHAT_SINK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_VIDEO_CODEC:
      g_value_set_enum (value, self->video_codec);
      break;
    case PROP_CONGESTION_CONTROL:
      g_value_set_enum (value, self->congestion_control);
      break;
    case PROP_MIN_BITRATE:
      g_value_set_uint (value, self->min_bitrate);
      break;
    case PROP_MAX_BITRATE:
      g_value_set_uint (value, self->max_bitrate);
      break;
    case PROP_START_BITRATE:
      g_value_set_uint (value, self->start_bitrate);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_lets_chat_sink_finalize (GObject * object)
{
  GstLetsChatSink *self = GST_LETS_CHAT_SINK (object);

  g_list_free_full (self->streams, (GDestroyNotify) sink_stream_free);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_lets_chat_sink_class_init (GstLetsChatSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstLetsChatBinClass *bin_class = GST_LETS_CHAT_BIN_CLASS (klass);

  gobject_class->set_property = gst_lets_chat_sink_set_property;
  gobject_class->get_property = gst_lets_chat_sink_get_property;
  gobject_class->finalize = gst_lets_chat_sink_finalize;

  bin_class->role = GST_LETS_CHAT_ROLE_SINK;
  bin_class->joining = gst_lets_chat_sink_joining;
  bin_class->stopping = gst_lets_chat_sink_stopping;

  /**
   * GstLetsChatSink:video-codec:
   *
   * The codec raw video is encoded to. When this party answers an offer
   * that does not include it, or when video-codec was left at its default,
   * raw video is encoded to the first codec of the offer that letschat can
   * send instead (a browser's preference, say); the encoder is swapped
   * before any of it is sent. Already encoded input keeps its own codec.
   *
   * Since: 0.1
   */
  g_object_class_install_property (gobject_class, PROP_VIDEO_CODEC,
      g_param_spec_enum ("video-codec", "Video codec",
          "Codec that raw video is encoded to. Left at its default, it "
          "follows the preference of the other party's offer when answering "
          "it. Already encoded input is sent as it is",
          GST_TYPE_LETS_CHAT_VIDEO_CODEC, DEFAULT_VIDEO_CODEC,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));

  /* The bitrate of what the sink encodes (names as webrtcsink's):
   * docs/congestion.md. */
  g_object_class_install_property (gobject_class, PROP_CONGESTION_CONTROL,
      g_param_spec_enum ("congestion-control", "Congestion control",
          "How the video encoder's bitrate follows the path: homegrown "
          "(from the other party's transport-wide feedback and REMB: lower "
          "on loss or growing delay, higher when the path takes it) or none "
          "(start-bitrate throughout). Already encoded video cannot be "
          "re-rated", GST_TYPE_LETS_CHAT_CONGESTION_CONTROL,
          GST_LETS_CHAT_DEFAULT_CONGESTION_CONTROL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
          GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MIN_BITRATE,
      g_param_spec_uint ("min-bitrate", "Minimal bitrate",
          "Lowest video bitrate (bit/s) the congestion control asks of the "
          "encoder, however bad the path", 1, G_MAXINT,
          GST_LETS_CHAT_DEFAULT_MIN_BITRATE, G_PARAM_READWRITE |
          G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_MAX_BITRATE,
      g_param_spec_uint ("max-bitrate", "Maximal bitrate",
          "Highest video bitrate (bit/s) the congestion control asks of the "
          "encoder, however good the path", 1, G_MAXINT,
          GST_LETS_CHAT_DEFAULT_MAX_BITRATE, G_PARAM_READWRITE |
          G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, PROP_START_BITRATE,
      g_param_spec_uint ("start-bitrate", "Start bitrate",
          "Video bitrate (bit/s) of a call's start, before any feedback "
          "(and throughout with congestion-control=none). Low, as browsers "
          "start: a start above what the path takes fills its queue before "
          "the first feedback", 1, G_MAXINT,
          GST_LETS_CHAT_DEFAULT_START_BITRATE, G_PARAM_READWRITE |
          G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));


  gst_element_class_add_static_pad_template (element_class, &video_template);
  gst_element_class_add_static_pad_template (element_class, &audio_template);
  gst_element_class_set_static_metadata (element_class,
      "letschat sink", "Sink/Network/WebRTC",
      "Sends video and audio to the other party of a letschat room "
      "(WebRTC, room signalling inside)", "letschat developers");

  gst_lets_chat_bin_class_add_manual (element_class, NULL);
  element_class->request_new_pad =
      GST_DEBUG_FUNCPTR (gst_lets_chat_sink_request_new_pad);
  element_class->release_pad =
      GST_DEBUG_FUNCPTR (gst_lets_chat_sink_release_pad);

  gst_type_mark_as_plugin_api (GST_TYPE_LETS_CHAT_VIDEO_CODEC, 0);
  GST_DEBUG_CATEGORY_INIT (gst_lets_chat_sink_debug, "letschatsink", 0,
      "letschat sink");
}

static void
gst_lets_chat_sink_init (GstLetsChatSink * self)
{
  self->video_codec = DEFAULT_VIDEO_CODEC;
  self->congestion_control = GST_LETS_CHAT_DEFAULT_CONGESTION_CONTROL;
  self->min_bitrate = GST_LETS_CHAT_DEFAULT_MIN_BITRATE;
  self->max_bitrate = GST_LETS_CHAT_DEFAULT_MAX_BITRATE;
  self->start_bitrate = GST_LETS_CHAT_DEFAULT_START_BITRATE;
  /* A network endpoint: it never waits for preroll, and its clock
   * matters to nobody. */
  GST_OBJECT_FLAG_SET (self, GST_ELEMENT_FLAG_SINK);
}
