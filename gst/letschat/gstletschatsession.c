/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * One party of a call. Who talks to whom:
 *
 *   letschatsink --chains--\                     /--chains--> letschatsrc
 *                          v                     |
 *               +------------------ session ----------------------+
 *               |  webrtcbin (inside the first element to start)  |
 *               |      ^ offer/answer/ICE    | pad-added          |
 *               |      |                     v                    |
 *               |  session thread (GMainContext) -- LetsChatClient ---> room
 *               +-------------------------------------------------+   server
 *
 * Threads: everything that talks to the room server, and every webrtcbin
 * action the negotiation makes, runs on the session's own thread. Work
 * arriving from webrtcbin's threads (promises, ICE candidates, state
 * changes) is handed to it with g_main_context_invoke(). Bus messages are
 * posted with no lock held.
 *
 * Negotiation: the party that joins second offers (docs/protocol.md). It
 * waits until every sink pad knows its codec ("holds"), so that the offer
 * or the answer carries every stream of the party.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/webrtc/webrtc.h>
#include <gst/sdp/sdp.h>

#include "gstletschatsession.h"
#include "gstletschatrelay.h"
#include "gstletschatserve.h"
#include "gstletschatsrc.h"
#include "gstletschattextchat.h"
#include "letschat-client.h"
#include "letschat-protocol.h"

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_session_debug);
#define GST_CAT_DEFAULT gst_lets_chat_session_debug

struct _GstLetsChatSession
{
  GstObject parent;

  /* What identifies the party: set once, read without lock. */
  gpointer toplevel;            /* key only, never dereferenced */
  GstLetsChatSettings settings;

  /* Protected by the object lock. */
  GstElement *host;             /* bin holding webrtcbin (weak) */
  GstElement *sink;             /* weak */
  GstElement *src;              /* weak */
  guint holds;
  gboolean started;
  gboolean stopped;             /* left the room: no more call changes */

  /* The current peer connection. Replaced (on the session thread) when
   * the other party leaves or the connection fails; pc_lock guards the
   * pointer and the send streams attached to it against the sink's
   * streaming threads. */
  GMutex pc_lock;
  GstElement *webrtcbin;        /* owned by host */
  GList *send_streams;          /* of SendStream */
  guint generation;             /* of the current webrtcbin */
  guint latency;
  GstLetsChatServeHandle *served;
  /* Text chat with the current other party; NULL while alone. Set on the
   * session thread, read by applications sending chat. */
  GstLetsChatTextChat *chat;

  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;

  /* Only touched on the session thread. */
  LetsChatClient *client;
  GCancellable *cancellable;
  gboolean connected;
  gboolean join_sent;
  gchar *my_id;
  gchar *peer_id;
  gchar *peer_name;
  gboolean offerer;
  gboolean transceivers_ready;
  gboolean offer_made;
  gboolean remote_set;
  /* Both descriptions applied: webrtcbin takes media on its sink pads. */
  gboolean negotiated;
  GstWebRTCSessionDescription *pending_offer;
  GQueue pending_candidates;    /* of JsonObject (ice) */
  GstClockTime peer_joined_time;
  /* Back on the room server after losing it, the other party has not shown
   * up yet: it may be reconnecting too, or gone for good. */
  gboolean peer_unconfirmed;
  GSource *offer_wait;          /* offer ourselves if none comes */
  GSource *join_wait;           /* join even if a sink pad has no caps */
  gboolean join_waited;
  GSource *media_watch;         /* media-timeout, checked once a second */
  gint64 last_media_us;         /* written by streaming threads */
  gint media_seen;              /* atomic: media on this connection */
  guint reconnect_delay;        /* ms; 0: connected */
  GSource *reconnect_source;
  JsonNode *server_ice_servers; /* from welcome, for every new webrtcbin */
  GSource *gap_source;          /* fills the src's pads while alone */
};

/* One stream the party sends: the sink's chain ends in a relay, which the
 * session attaches to each new webrtcbin. */
typedef struct
{
  GstLetsChatRelay *relay;
  GstPad *upstream;             /* the payloader's src pad */
  const GstLetsChatCodec *codec;
  GstPad *webrtc_pad;           /* request pad of the webrtcbin it feeds */
  /* Set for a stream the sink encodes: it can change codec. */
  GstLetsChatSwitchCodecFunc switch_codec;
  gpointer switch_data;
  const GstLetsChatCodec *preferred;    /* what it was made with */
  gboolean chosen;              /* ... by the application: keep it if offered */
} SendStream;

#define GENERATION_KEY "letschat-generation"

G_DEFINE_TYPE (GstLetsChatSession, gst_lets_chat_session, GST_TYPE_OBJECT);

static GMutex registry_lock;
static GList *registry;         /* of GstLetsChatSession, no refs */

static void session_maybe_negotiate (GstLetsChatSession * self);
static void session_create_chat_channel (GstLetsChatSession * self);
static void ensure_dtls_certificate (void);
static void session_maybe_join (GstLetsChatSession * self);
static void session_cancel_join_wait (GstLetsChatSession * self);
static void session_restart_call (GstLetsChatSession * self,
    const gchar * reason);
static void session_start_gaps (GstLetsChatSession * self);
static void session_stop_gaps (GstLetsChatSession * self);
static gboolean session_media_watch_cb (gpointer data);
static void send_stream_set_payload_type (SendStream * stream, guint pt);

/* ---------------------------------------------------------------------- */
/* Bus messages, always posted with no lock held.                          */

static GstElement *
session_get_host (GstLetsChatSession * self)
{
  GstElement *host;

  GST_OBJECT_LOCK (self);
  host = self->host ? gst_object_ref (self->host) : NULL;
  GST_OBJECT_UNLOCK (self);
  return host;
}

static void
session_post (GstLetsChatSession * self, GstStructure * s)
{
  GstElement *host = session_get_host (self);

  if (!host) {
    gst_structure_free (s);
    return;
  }
  gst_element_post_message (host,
      gst_message_new_element (GST_OBJECT (host), s));
  gst_object_unref (host);
}

#define session_error(self, domain, code, text, debug) G_STMT_START {   \
    GstElement *__host = session_get_host (self);                       \
    if (__host) {                                                       \
      GST_ELEMENT_ERROR (__host, domain, code, text, debug);            \
      gst_object_unref (__host);                                        \
    }                                                                   \
  } G_STMT_END

/* ---------------------------------------------------------------------- */
/* ICE servers                                                             */

/* RTCIceServer URLs ("stun:host:port", "turn:host:port?transport=udp")
 * become the URIs webrtcbin takes ("stun://host:port",
 * "turn://user:pass@host:port"). */
static gchar *
ice_url_to_webrtcbin (const gchar * url, const gchar * user,
    const gchar * credential)
{
  gboolean turn = g_str_has_prefix (url, "turn:");
  gboolean turns = g_str_has_prefix (url, "turns:");
  const gchar *rest = strchr (url, ':');
  gchar *hostport, *q, *out;

  if (!rest || (!turn && !turns && !g_str_has_prefix (url, "stun:")))
    return NULL;
  rest++;
  while (*rest == '/')
    rest++;
  hostport = g_strdup (rest);
  if ((q = strchr (hostport, '?')))
    *q = '\0';
  if (turn || turns) {
    g_autofree gchar *u = g_uri_escape_string (user ? user : "", NULL, TRUE);
    g_autofree gchar *p = g_uri_escape_string (credential ? credential : "",
        NULL, TRUE);
    out = g_strdup_printf ("%s://%s:%s@%s", turns ? "turns" : "turn", u, p,
        hostport);
  } else {
    out = g_strdup_printf ("stun://%s", hostport);
  }
  g_free (hostport);
  return out;
}

static void
session_apply_server_ice_servers (GstLetsChatSession * self,
    GstElement * webrtc)
{
  JsonNode *node = self->server_ice_servers;
  JsonArray *arr;
  guint i;

  if (self->settings.stun_server || (self->settings.turn_servers &&
          self->settings.turn_servers[0]))
    return;                     /* the user chose; the element's wins */
  if (!node || !JSON_NODE_HOLDS_ARRAY (node))
    return;
  arr = json_node_get_array (node);
  for (i = 0; i < json_array_get_length (arr); i++) {
    JsonObject *o = json_array_get_object_element (arr, i);
    const gchar *user, *cred;
    JsonNode *urls;
    GList *list = NULL, *l;

    if (!o || !(urls = json_object_get_member (o, "urls")))
      continue;
    user = json_object_get_string_member_with_default (o, "username", NULL);
    cred = json_object_get_string_member_with_default (o, "credential", NULL);
    if (JSON_NODE_HOLDS_VALUE (urls))
      list = g_list_append (list, (gpointer) json_node_get_string (urls));
    else if (JSON_NODE_HOLDS_ARRAY (urls))
      list = json_array_get_elements (json_node_get_array (urls));
    for (l = list; l; l = l->next) {
      const gchar *url = JSON_NODE_HOLDS_VALUE (urls) ? l->data :
          json_node_get_string (l->data);
      g_autofree gchar *uri = url ? ice_url_to_webrtcbin (url, user,
          cred) : NULL;
      gboolean ok;

      if (!uri)
        continue;
      if (g_str_has_prefix (uri, "stun://")) {
        GST_INFO_OBJECT (self, "STUN server from the room server: %s", uri);
        g_object_set (webrtc, "stun-server", uri, NULL);
      } else {
        GST_INFO_OBJECT (self, "TURN server from the room server");
        g_signal_emit_by_name (webrtc, "add-turn-server", uri, &ok);
      }
    }
    g_list_free (list);
  }
}

/* ---------------------------------------------------------------------- */
/* Negotiation (session thread)                                            */

static void
session_send_sdp (GstLetsChatSession * self, GstWebRTCSessionDescription * d)
{
  g_autofree gchar *text = gst_sdp_message_as_text (d->sdp);
  JsonObject *sdp = json_object_new ();
  JsonObject *data = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  json_object_set_string_member (sdp, "type",
      gst_webrtc_sdp_type_to_string (d->type));
  json_object_set_string_member (sdp, "sdp", text);
  json_object_set_object_member (data, "sdp", sdp);
  json_node_take_object (node, data);
  GST_DEBUG_OBJECT (self, "sending %s:\n%s",
      gst_webrtc_sdp_type_to_string (d->type), text);
  letschat_client_send_signal (self->client, node);
  json_node_unref (node);
}

/* Everything the party receives, as receive-only transceivers for the kinds
 * of media no sink pad sends; a sink pad's transceiver also receives when
 * the party has a src. */
static void
session_setup_transceivers (GstLetsChatSession * self)
{
  gboolean have_src, have_video = FALSE, have_audio = FALSE;
  GArray *transceivers = NULL;
  guint i;

  if (self->transceivers_ready)
    return;
  self->transceivers_ready = TRUE;

  GST_OBJECT_LOCK (self);
  have_src = self->src != NULL;
  GST_OBJECT_UNLOCK (self);

  g_signal_emit_by_name (self->webrtcbin, "get-transceivers", &transceivers);
  for (i = 0; transceivers && i < transceivers->len; i++) {
    GstWebRTCRTPTransceiver *t =
        g_array_index (transceivers, GstWebRTCRTPTransceiver *, i);
    GstCaps *prefs = NULL;

    g_object_get (t, "codec-preferences", &prefs, NULL);
    if (prefs && !gst_caps_is_empty (prefs)) {
      const gchar *media =
          gst_structure_get_string (gst_caps_get_structure (prefs, 0),
          "media");
      if (g_strcmp0 (media, "video") == 0)
        have_video = TRUE;
      else if (g_strcmp0 (media, "audio") == 0)
        have_audio = TRUE;
    }
    gst_clear_caps (&prefs);
    if (have_src)
      g_object_set (t, "direction",
          GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV, NULL);
  }
  if (transceivers)
    g_array_unref (transceivers);

  if (have_src) {
    const gchar *kinds[] = { "video", "audio" };
    gboolean have[] = { have_video, have_audio };

    for (i = 0; i < G_N_ELEMENTS (kinds); i++) {
      GstWebRTCRTPTransceiver *t = NULL;
      GstCaps *caps;

      if (have[i])
        continue;
      caps = gst_lets_chat_codec_receivable_rtp_caps (kinds[i]);
      g_signal_emit_by_name (self->webrtcbin, "add-transceiver",
          GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, caps, &t);
      gst_caps_unref (caps);
      gst_clear_object (&t);
    }
  }
}

/* What a webrtcbin promise belongs to: replies from a webrtcbin that has
 * since been replaced are dropped. */
typedef struct
{
  GstLetsChatSession *self;
  guint generation;
  gboolean is_offer;
  GstPromise *promise;          /* the reply, once there */
} PromiseContext;

static PromiseContext *
promise_context_new (GstLetsChatSession * self, gboolean is_offer)
{
  PromiseContext *c = g_new0 (PromiseContext, 1);

  c->self = gst_object_ref (self);
  c->generation = self->generation;
  c->is_offer = is_offer;
  return c;
}

static void
promise_context_free (gpointer data)
{
  PromiseContext *c = data;

  gst_object_unref (c->self);
  if (c->promise)
    gst_promise_unref (c->promise);
  g_free (c);
}

/* webrtcbin answers promises on its own thread: move to ours. The change
 * function's user data is freed with the promise, so hand a copy over. */
static void
on_promise (GstPromise * promise, PromiseContext * c, GSourceFunc func)
{
  PromiseContext *r = g_new0 (PromiseContext, 1);

  *r = *c;
  gst_object_ref (r->self);
  r->promise = gst_promise_ref (promise);
  g_main_context_invoke_full (c->self->context, G_PRIORITY_DEFAULT, func, r,
      promise_context_free);
}

static GstPromise *
session_new_promise (GstLetsChatSession * self, gboolean is_offer,
    GstPromiseChangeFunc func)
{
  return gst_promise_new_with_change_func (func,
      promise_context_new (self, is_offer), promise_context_free);
}

static GstWebRTCSessionDescription *
promise_take_description (PromiseContext * r)
{
  const GstStructure *reply;
  GstWebRTCSessionDescription *desc = NULL;
  GError *error = NULL;

  if (r->generation != r->self->generation)
    return NULL;                /* from a peer connection that is gone */
  if (gst_promise_wait (r->promise) != GST_PROMISE_RESULT_REPLIED)
    return NULL;
  reply = gst_promise_get_reply (r->promise);
  if (!reply)
    return NULL;
  if (gst_structure_get (reply, "error", G_TYPE_ERROR, &error, NULL)) {
    session_error (r->self, STREAM, FAILED,
        ("Could not negotiate the call with the other party"),
        ("%s", error->message));
    g_error_free (error);
    return NULL;
  }
  gst_structure_get (reply, r->is_offer ? "offer" : "answer",
      GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, NULL);
  return desc;
}

/* Whether the answer lets this stream be sent: it can refuse it (the other
 * party only sends, or has no codec for it). webrtcbin never takes media
 * on the sink pad of a transceiver that does not send: a relay linked
 * there would block the sink's streaming thread for good (and with it
 * EOS), so such a stream stays dropped at the relay. Read from the answer
 * itself: webrtcbin 1.22's transceiver current-direction does not follow
 * it. Called with pc_lock held. */
static gboolean
send_stream_is_sent (GstLetsChatSession * self, SendStream * stream)
{
  GstWebRTCRTPTransceiver *t = NULL;
  GstWebRTCSessionDescription *answer = NULL;
  const GstSDPMedia *media;
  gboolean sent = FALSE;
  guint mline = G_MAXUINT;

  g_object_get (stream->webrtc_pad, "transceiver", &t, NULL);
  if (t) {
    g_object_get (t, "mlineindex", &mline, NULL);
    gst_object_unref (t);
  }
  /* Our answer when we answered, the other party's when we offered. */
  g_object_get (self->webrtcbin, self->offerer ? "current-remote-description"
      : "current-local-description", &answer, NULL);
  if (answer && mline < gst_sdp_message_medias_len (answer->sdp)) {
    media = gst_sdp_message_get_media (answer->sdp, mline);
    if (gst_sdp_media_get_port (media) == 0)
      sent = FALSE;
    else if (gst_sdp_media_get_attribute_val (media, "inactive"))
      sent = FALSE;
    else if (gst_sdp_media_get_attribute_val (media, "sendonly"))
      sent = !self->offerer;
    else if (gst_sdp_media_get_attribute_val (media, "recvonly"))
      sent = self->offerer;
    else
      sent = TRUE;
  }
  if (answer)
    gst_webrtc_session_description_free (answer);
  GST_INFO_OBJECT (self, "%s stream (m-line %u): %s",
      stream->codec->encoding_name, mline,
      sent ? "sent" : "not taken by the other party");
  return sent;
}

/* Session thread, once both descriptions are applied: webrtcbin has set up
 * what it sends with, so the send streams can go in. Before this,
 * webrtcbin would hold a buffer on its sink pad (blocking the pipeline's
 * streaming thread) until negotiation ends, which may be never. */
static gboolean
session_on_negotiated (gpointer data)
{
  PromiseContext *r = data;
  GstLetsChatSession *self = r->self;
  GList *l;

  if (r->generation != self->generation)
    return G_SOURCE_REMOVE;
  g_mutex_lock (&self->pc_lock);
  self->negotiated = TRUE;
  for (l = self->send_streams; l; l = l->next) {
    SendStream *stream = l->data;

    if (stream->webrtc_pad && send_stream_is_sent (self, stream))
      gst_lets_chat_relay_attach (stream->relay, stream->webrtc_pad);
  }
  g_mutex_unlock (&self->pc_lock);
  return G_SOURCE_REMOVE;
}

static void
on_negotiated (GstPromise * promise, gpointer user_data)
{
  on_promise (promise, user_data, session_on_negotiated);
}

static gboolean
session_on_description_created (gpointer data)
{
  PromiseContext *r = data;
  GstLetsChatSession *self = r->self;
  GstWebRTCSessionDescription *desc = promise_take_description (r);

  if (!desc)
    return G_SOURCE_REMOVE;
  if (r->is_offer) {
    g_signal_emit_by_name (self->webrtcbin, "set-local-description", desc,
        NULL);
  } else {
    /* Our answer applied, the call is negotiated. */
    GstPromise *promise = gst_promise_new_with_change_func (on_negotiated,
        promise_context_new (self, FALSE), promise_context_free);

    g_signal_emit_by_name (self->webrtcbin, "set-local-description", desc,
        promise);
    gst_promise_unref (promise);
  }
  if (self->client)
    session_send_sdp (self, desc);
  gst_webrtc_session_description_free (desc);
  return G_SOURCE_REMOVE;
}

static void
on_description_created (GstPromise * promise, gpointer user_data)
{
  on_promise (promise, user_data, session_on_description_created);
}

static void
session_flush_candidates (GstLetsChatSession * self)
{
  JsonObject *ice;

  while ((ice = g_queue_pop_head (&self->pending_candidates))) {
    const gchar *cand = json_object_get_string_member (ice, "candidate");
    guint mline = json_object_get_int_member (ice, "sdpMLineIndex");

    g_signal_emit_by_name (self->webrtcbin, "add-ice-candidate", mline, cand);
    json_object_unref (ice);
  }
}

static gboolean
session_on_remote_offer_set (gpointer data)
{
  PromiseContext *r = data;
  GstLetsChatSession *self = r->self;
  GstPromise *promise;

  if (r->generation != self->generation)
    return G_SOURCE_REMOVE;
  self->remote_set = TRUE;
  session_flush_candidates (self);
  promise = session_new_promise (self, FALSE, on_description_created);
  g_signal_emit_by_name (self->webrtcbin, "create-answer", NULL, promise);
  gst_promise_unref (promise);
  return G_SOURCE_REMOVE;
}

static void
on_remote_offer_set (GstPromise * promise, gpointer user_data)
{
  on_promise (promise, user_data, session_on_remote_offer_set);
}

/* An offer's m-lines are matched to our transceivers in order, kind by
 * kind: the formats of the first m-line of @kind not yet taken (@used has
 * a flag per m-line), as caps in the offer's order; NULL if none is left. */
#define OFFER_MAX_MEDIA 64

static GstCaps *
offer_take_media (GstWebRTCSessionDescription * offer, gboolean * used,
    const gchar * kind)
{
  guint m;

  for (m = 0; m < gst_sdp_message_medias_len (offer->sdp)
      && m < OFFER_MAX_MEDIA; m++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (offer->sdp, m);

    if (used[m] || g_strcmp0 (gst_sdp_media_get_media (media), kind))
      continue;
    used[m] = TRUE;
    return gst_lets_chat_codec_receivable_caps_from_offer (media);
  }
  return NULL;
}

/* The receive-only transceivers take the formats of the offer's m-line of
 * their kind, in the offer's order and with its payload types: webrtcbin
 * 1.22 cannot answer other payload types, and the offerer's first choice is
 * what it means to send. */
static void
session_receive_as_offered (GstLetsChatSession * self,
    GstWebRTCSessionDescription * offer)
{
  GArray *transceivers = NULL;
  gboolean used[OFFER_MAX_MEDIA] = { FALSE };
  guint i;

  g_signal_emit_by_name (self->webrtcbin, "get-transceivers", &transceivers);
  for (i = 0; transceivers && i < transceivers->len; i++) {
    GstWebRTCRTPTransceiver *t =
        g_array_index (transceivers, GstWebRTCRTPTransceiver *, i);
    GstWebRTCRTPTransceiverDirection direction;
    GstCaps *prefs = NULL, *caps = NULL;
    const gchar *kind;

    g_object_get (t, "direction", &direction, "codec-preferences", &prefs,
        NULL);
    if (direction == GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY && prefs
        && !gst_caps_is_empty (prefs)) {
      kind = gst_structure_get_string (gst_caps_get_structure (prefs, 0),
          "media");
      caps = offer_take_media (offer, used, kind);
      if (caps) {
        GST_DEBUG_OBJECT (self, "receiving %s as offered: %" GST_PTR_FORMAT,
            kind, caps);
        g_object_set (t, "codec-preferences", caps, NULL);
        gst_caps_unref (caps);
      }
    }
    gst_clear_caps (&prefs);
  }
  if (transceivers)
    g_array_unref (transceivers);
}

/* Answering, each stream we send takes the payload type the offer gives
 * its codec (a browser puts H264 at 108, say): webrtcbin 1.22 cannot
 * answer another one. The payloader follows, at its next buffer. This
 * works because no caps have reached webrtcbin's pad yet (the relay links
 * only once the call is negotiated): webrtcbin 1.22 would answer from
 * caps its pad received rather than from the codec preferences. */
/* Session thread, no lock held: @stream encodes to @codec from now on, if
 * its sink can rebuild the chain. The transceiver offers @codec. */
static gboolean
session_switch_send_codec (GstLetsChatSession * self, SendStream * stream,
    const GstLetsChatCodec * codec)
{
  GstWebRTCRTPTransceiver *t = NULL;
  GstPad *upstream;
  GstCaps *caps;

  if (!stream->switch_codec || stream->codec == codec)
    return stream->codec == codec;
  GST_INFO_OBJECT (self, "switching a stream from %s to %s",
      stream->codec->encoding_name, codec->encoding_name);
  upstream = stream->switch_codec (stream->switch_data, codec);
  if (!upstream)
    return FALSE;
  gst_lets_chat_relay_set_upstream (stream->relay, upstream);
  g_mutex_lock (&self->pc_lock);
  gst_object_replace ((GstObject **) & stream->upstream, GST_OBJECT (upstream));
  stream->codec = codec;
  if (stream->webrtc_pad) {
    g_object_get (stream->webrtc_pad, "transceiver", &t, NULL);
    caps = gst_lets_chat_codec_rtp_caps (codec);
    g_object_set (t, "codec-preferences", caps, NULL);
    gst_caps_unref (caps);
    gst_object_unref (t);
  }
  g_mutex_unlock (&self->pc_lock);
  gst_object_unref (upstream);
  return TRUE;
}

/* Offering: every stream the sink encodes goes back to the codec its
 * properties chose (an earlier answer may have switched it). */
static void
session_send_preferred_codecs (GstLetsChatSession * self)
{
  GList *l, *streams;

  g_mutex_lock (&self->pc_lock);
  streams = g_list_copy (self->send_streams);
  g_mutex_unlock (&self->pc_lock);
  for (l = streams; l; l = l->next) {
    SendStream *stream = l->data;

    session_switch_send_codec (self, stream, stream->preferred);
  }
  g_list_free (streams);
}

/* Answering: a stream the sink encodes takes the codec the application
 * chose (video-codec) if the offer has it, or else the first codec of its
 * m-line that letschat can send: the offerer's preference. */
static const GstLetsChatCodec *
offered_codec_to_send (SendStream * stream, GstCaps * offered)
{
  const GstLetsChatCodec *wanted = NULL;
  guint i;

  for (i = 0; offered && i < gst_caps_get_size (offered); i++) {
    GstCaps *one = gst_caps_copy_nth (offered, i);
    const GstLetsChatCodec *codec = gst_lets_chat_codec_for_caps (one);

    gst_caps_unref (one);
    if (!wanted)
      wanted = codec;
    if (codec && stream->chosen && codec == stream->preferred)
      return codec;
  }
  return wanted;
}

/* The offer's format for @codec (with the offer's payload type), or NULL. */
static GstCaps *
offered_caps_for_codec (GstCaps * offered, const GstLetsChatCodec * codec)
{
  guint i;

  for (i = 0; offered && i < gst_caps_get_size (offered); i++) {
    GstCaps *one = gst_caps_copy_nth (offered, i);

    if (gst_lets_chat_codec_for_caps (one) == codec)
      return one;
    gst_caps_unref (one);
  }
  return NULL;
}

static void
session_send_as_offered (GstLetsChatSession * self,
    GstWebRTCSessionDescription * offer)
{
  gboolean used[OFFER_MAX_MEDIA] = { FALSE };
  GString *missing = g_string_new (NULL);
  GList *l, *streams;

  /* A copy: switching codec waits for the stream's thread, without lock. */
  g_mutex_lock (&self->pc_lock);
  streams = g_list_copy (self->send_streams);
  g_mutex_unlock (&self->pc_lock);
  for (l = streams; l; l = l->next) {
    SendStream *stream = l->data;
    GstCaps *offered, *prefs;
    GstWebRTCRTPTransceiver *t = NULL;
    const GstLetsChatCodec *wanted;
    gint pt;

    offered = offer_take_media (offer, used, stream->codec->media);
    wanted = offered_codec_to_send (stream, offered);
    if (wanted && stream->switch_codec)
      session_switch_send_codec (self, stream, wanted);
    prefs = offered_caps_for_codec (offered, stream->codec);
    gst_clear_caps (&offered);
    if (!prefs || !stream->webrtc_pad) {
      g_string_append_printf (missing, "%s%s", missing->len ? ", " : "",
          stream->codec->encoding_name);
      gst_clear_caps (&prefs);
      continue;
    }
    gst_structure_get_int (gst_caps_get_structure (prefs, 0), "payload", &pt);
    /* The stream says its own profile-level-id (x264's 42c01f for the
     * browser's 42e01f, the same profile): naming one here would fail. */
    gst_structure_remove_field (gst_caps_get_structure (prefs, 0),
        "profile-level-id");
    GST_DEBUG_OBJECT (self, "sending %s as offered: %" GST_PTR_FORMAT,
        stream->codec->encoding_name, prefs);
    g_mutex_lock (&self->pc_lock);
    g_object_get (stream->webrtc_pad, "transceiver", &t, NULL);
    g_object_set (t, "codec-preferences", prefs, NULL);
    gst_object_unref (t);
    send_stream_set_payload_type (stream, pt);
    g_mutex_unlock (&self->pc_lock);
    gst_caps_unref (prefs);
  }
  g_list_free (streams);

  if (missing->len) {
    GstElement *host = session_get_host (self);

    if (host) {
      GST_ELEMENT_WARNING (host, STREAM, CODEC_NOT_FOUND,
          ("The other party does not take %s: that stream is not sent. "
              "Choose a codec both parties have (video-codec, or what the "
              "pipeline feeds letschatsink).", missing->str), (NULL));
      gst_object_unref (host);
    }
  }
  g_string_free (missing, TRUE);
}

static void
session_maybe_negotiate (GstLetsChatSession * self)
{
  guint holds;
  GstPromise *promise;

  GST_OBJECT_LOCK (self);
  holds = self->holds;
  GST_OBJECT_UNLOCK (self);

  if (!self->peer_id || holds > 0) {
    GST_DEBUG_OBJECT (self, "not negotiating yet: peer %s, %u pads without "
        "caps", self->peer_id, holds);
    return;
  }

  if (self->offerer && !self->offer_made) {
    self->offer_made = TRUE;
    session_send_preferred_codecs (self);
    session_setup_transceivers (self);
    session_create_chat_channel (self);
    GST_INFO_OBJECT (self, "creating the offer for %s", self->peer_id);
    promise = session_new_promise (self, TRUE, on_description_created);
    g_signal_emit_by_name (self->webrtcbin, "create-offer", NULL, promise);
    gst_promise_unref (promise);
  } else if (!self->offerer && self->pending_offer) {
    GstWebRTCSessionDescription *offer = self->pending_offer;

    self->pending_offer = NULL;
    session_setup_transceivers (self);
    session_receive_as_offered (self, offer);
    session_send_as_offered (self, offer);
    GST_INFO_OBJECT (self, "answering the offer of %s", self->peer_id);
    promise = session_new_promise (self, FALSE, on_remote_offer_set);
    g_signal_emit_by_name (self->webrtcbin, "set-remote-description", offer,
        promise);
    gst_promise_unref (promise);
    gst_webrtc_session_description_free (offer);
  }
}

static gboolean
session_release_hold_cb (gpointer data)
{
  session_maybe_join (data);
  session_maybe_negotiate (data);
  return G_SOURCE_REMOVE;
}

/* ---------------------------------------------------------------------- */
/* Text chat (session thread)                                              */

/* Every element of the party emits chat-received: the application may
 * hold either. The bus hears it once. */
static void
session_chat_received (const gchar * text, gpointer user_data)
{
  GstLetsChatSession *self = user_data;
  GstElement *elements[2];
  guint i;

  GST_OBJECT_LOCK (self);
  elements[0] = self->sink ? gst_object_ref (self->sink) : NULL;
  elements[1] = self->src ? gst_object_ref (self->src) : NULL;
  GST_OBJECT_UNLOCK (self);

  session_post (self, gst_structure_new ("letschat/chat",
          "from", G_TYPE_STRING, self->peer_id,
          "from-name", G_TYPE_STRING, self->peer_name ? self->peer_name : "",
          "text", G_TYPE_STRING, text, NULL));
  for (i = 0; i < G_N_ELEMENTS (elements); i++) {
    if (!elements[i])
      continue;
    g_signal_emit_by_name (elements[i], "chat-received", self->peer_id, text);
    gst_object_unref (elements[i]);
  }
}

static void
session_chat_problem (const gchar * sentence, gpointer user_data)
{
  GstElement *host = session_get_host (user_data);

  if (host) {
    GST_ELEMENT_WARNING (host, STREAM, FAILED, ("%s", sentence), (NULL));
    gst_object_unref (host);
  }
}

static const GstLetsChatTextChatCallbacks chat_callbacks = {
  session_chat_received,
  session_chat_problem,
};

/* A new other party, or none (@with_peer FALSE): a new chat. */
static void
session_reset_chat (GstLetsChatSession * self, gboolean with_peer)
{
  GstLetsChatTextChat *old;

  g_mutex_lock (&self->pc_lock);
  old = self->chat;
  self->chat = with_peer ?
      gst_lets_chat_text_chat_new (self->context, &chat_callbacks, self) : NULL;
  g_mutex_unlock (&self->pc_lock);
  if (old)
    gst_lets_chat_text_chat_close (old);
}

static void
session_set_chat_channel (GstLetsChatSession * self,
    GstWebRTCDataChannel * channel)
{
  GstLetsChatTextChat *chat = NULL;

  g_mutex_lock (&self->pc_lock);
  if (self->chat)
    chat = gst_lets_chat_text_chat_ref (self->chat);
  g_mutex_unlock (&self->pc_lock);
  if (chat) {
    gst_lets_chat_text_chat_set_channel (chat, channel);
    gst_lets_chat_text_chat_unref (chat);
  }
}

/* The offerer opens the chat channel, before its offer so that the offer
 * carries it (docs/protocol.md). */
static void
session_create_chat_channel (GstLetsChatSession * self)
{
  GstWebRTCDataChannel *channel = NULL;

  g_signal_emit_by_name (self->webrtcbin, "create-data-channel",
      GST_LETS_CHAT_TEXT_CHAT_LABEL, NULL, &channel);
  if (!channel) {
    GST_WARNING_OBJECT (self, "could not create the chat channel");
    return;
  }
  session_set_chat_channel (self, channel);
  gst_object_unref (channel);
}

/* ---------------------------------------------------------------------- */
/* Room events (session thread)                                            */

static void
session_set_peer (GstLetsChatSession * self, const gchar * id,
    const gchar * name)
{
  g_free (self->peer_id);
  self->peer_id = g_strdup (id);
  g_free (self->peer_name);
  self->peer_name = g_strdup (name ? name : "");
  self->peer_joined_time = gst_util_get_timestamp ();
  session_reset_chat (self, TRUE);
  session_stop_gaps (self);
  session_post (self, gst_structure_new ("letschat/peer-joined",
          "peer-id", G_TYPE_STRING, id,
          "peer-name", G_TYPE_STRING, name ? name : "", NULL));
}

static void
on_welcome (LetsChatClient * client, const gchar * id, const gchar * room,
    const gchar * peer_id, const gchar * peer_name, JsonNode * ice_servers,
    GstLetsChatSession * self)
{
  gboolean again = self->my_id != NULL;

  GST_INFO_OBJECT (self, "%s room %s as %s, %s", again ? "back in" : "joined",
      room, id, peer_id ? "the other party is here" : "alone");
  g_free (self->my_id);
  self->my_id = g_strdup (id);
  g_clear_pointer (&self->server_ice_servers, json_node_unref);
  self->server_ice_servers = ice_servers ? json_node_copy (ice_servers) : NULL;
  session_apply_server_ice_servers (self, self->webrtcbin);
  session_post (self, gst_structure_new (again ? "letschat/server-reconnected"
          : "letschat/joined", "id", G_TYPE_STRING, id, "room",
          G_TYPE_STRING, room, NULL));

  if (peer_id && g_strcmp0 (peer_id, self->peer_id) == 0) {
    /* Both came back to the server; the call never stopped. */
    self->peer_unconfirmed = FALSE;
    return;
  }
  if (peer_id) {
    if (self->peer_id)
      session_restart_call (self, "peer-changed");
    self->offerer = TRUE;
    session_set_peer (self, peer_id, peer_name);
    session_maybe_negotiate (self);
  } else if (self->peer_id) {
    self->peer_unconfirmed = TRUE;
  }
}

/* The newcomer offers. But a party coming back to the room server may
 * believe its call with us is still up, and not offer; so if no offer
 * comes, we make one (a glare is settled in session_handle_sdp). */
#define OFFER_WAIT_MS 3000

static gboolean
session_offer_wait_cb (gpointer data)
{
  GstLetsChatSession *self = data;

  g_clear_pointer (&self->offer_wait, g_source_unref);
  if (!self->peer_id || self->remote_set || self->pending_offer ||
      self->offer_made)
    return G_SOURCE_REMOVE;
  GST_INFO_OBJECT (self, "no offer from %s: offering", self->peer_id);
  self->offerer = TRUE;
  session_maybe_negotiate (self);
  return G_SOURCE_REMOVE;
}

static void
session_cancel_offer_wait (GstLetsChatSession * self)
{
  if (self->offer_wait) {
    g_source_destroy (self->offer_wait);
    g_clear_pointer (&self->offer_wait, g_source_unref);
  }
}

static void
session_wait_for_offer (GstLetsChatSession * self)
{
  session_cancel_offer_wait (self);
  self->offer_wait = g_timeout_source_new (OFFER_WAIT_MS);
  g_source_set_callback (self->offer_wait, session_offer_wait_cb, self, NULL);
  g_source_attach (self->offer_wait, self->context);
}

static void
on_peer_joined (LetsChatClient * client, const gchar * peer_id,
    const gchar * peer_name, GstLetsChatSession * self)
{
  if (g_strcmp0 (peer_id, self->peer_id) == 0) {
    GST_INFO_OBJECT (self, "%s is back on the room server", peer_id);
    self->peer_unconfirmed = FALSE;
    return;
  }
  GST_INFO_OBJECT (self, "%s joined: waiting for its offer", peer_id);
  if (self->peer_id)
    session_restart_call (self, "peer-changed");
  self->offerer = FALSE;
  session_set_peer (self, peer_id, peer_name);
  session_wait_for_offer (self);
}

static void
on_peer_left (LetsChatClient * client, const gchar * peer_id,
    GstLetsChatSession * self)
{
  GST_INFO_OBJECT (self, "%s left the room", peer_id);
  g_clear_pointer (&self->peer_id, g_free);
  session_reset_chat (self, FALSE);
  self->peer_unconfirmed = FALSE;
  session_cancel_offer_wait (self);
  session_post (self, gst_structure_new ("letschat/peer-left",
          "peer-id", G_TYPE_STRING, peer_id, NULL));
  /* The pipeline goes on: a fresh peer connection waits for the next
   * party, and the src's pads stay, filled with gaps meanwhile. */
  session_restart_call (self, "peer-left");
  session_start_gaps (self);
}

static void
session_handle_sdp (GstLetsChatSession * self, JsonObject * sdp)
{
  const gchar *type = json_object_get_string_member (sdp, "type");
  const gchar *text = json_object_get_string_member (sdp, "sdp");
  GstSDPMessage *msg = NULL;
  GstWebRTCSessionDescription *desc;

  if (gst_sdp_message_new_from_text (text, &msg) != GST_SDP_OK) {
    GstElement *host = session_get_host (self);
    if (host) {
      GST_ELEMENT_WARNING (host, STREAM, DECODE,
          ("The other party sent a session description that cannot be "
              "read; ignored"), ("%s", text));
      gst_object_unref (host);
    }
    gst_sdp_message_free (msg);
    return;
  }
  GST_DEBUG_OBJECT (self, "received %s:\n%s", type, text);
  if (g_str_equal (type, "offer")) {
    session_cancel_offer_wait (self);
    /* Both offered at once: the party with the greater id keeps its offer,
     * the other one answers. */
    if (self->offer_made && !self->remote_set &&
        g_strcmp0 (self->my_id, self->peer_id) > 0) {
      GST_INFO_OBJECT (self, "both offered: ours stands");
      gst_sdp_message_free (msg);
      return;
    }
    /* An offer on top of a negotiated call (or of our own offer): the other
     * party started over. Start over too. */
    if (self->remote_set || self->offer_made)
      session_restart_call (self, "new-offer");
    desc = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_OFFER, msg);
    if (self->pending_offer)
      gst_webrtc_session_description_free (self->pending_offer);
    self->pending_offer = desc;
    self->offerer = FALSE;
    session_maybe_negotiate (self);
  } else {
    GstPromise *promise = gst_promise_new_with_change_func (on_negotiated,
        promise_context_new (self, FALSE), promise_context_free);

    desc = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_ANSWER, msg);
    g_signal_emit_by_name (self->webrtcbin, "set-remote-description", desc,
        promise);
    gst_promise_unref (promise);
    gst_webrtc_session_description_free (desc);
    self->remote_set = TRUE;
    session_flush_candidates (self);
  }
}

static void
on_signal (LetsChatClient * client, const gchar * from, JsonNode * data,
    GstLetsChatSession * self)
{
  JsonObject *obj = json_node_get_object (data);
  JsonNode *ice;

  if (json_object_has_member (obj, "sdp")) {
    session_handle_sdp (self, json_object_get_object_member (obj, "sdp"));
    return;
  }
  ice = json_object_get_member (obj, "ice");
  if (!ice || JSON_NODE_HOLDS_NULL (ice))
    return;                     /* end of candidates: nothing to do */
  if (!*json_object_get_string_member_with_default (json_node_get_object
          (ice), "candidate", ""))
    return;                     /* browsers' empty end-of-candidates one */
  /* webrtcbin needs the remote description before any remote candidate. */
  g_queue_push_tail (&self->pending_candidates,
      json_object_ref (json_node_get_object (ice)));
  if (self->remote_set)
    session_flush_candidates (self);
}

static void
on_server_error (LetsChatClient * client, const gchar * code,
    const gchar * message, GstLetsChatSession * self)
{
  const gchar *room = self->settings.room;

  if (g_str_equal (code, LETSCHAT_ERROR_ROOM_FULL)) {
    session_error (self, RESOURCE, BUSY,
        ("Room '%s' is full: it already holds two parties. Choose another "
            "room, or wait until one of them leaves.", room),
        ("server said: %s", message));
  } else if (g_str_equal (code, LETSCHAT_ERROR_UNAUTHORIZED)) {
    session_error (self, RESOURCE, NOT_AUTHORIZED,
        ("Room '%s' is protected by another secret: set the secret property "
            "to the room's secret.", room), ("server said: %s", message));
  } else if (!self->my_id) {
    session_error (self, RESOURCE, SETTINGS,
        ("The room server refused to let this party join room '%s': %s",
            room, message), ("error code %s", code));
  } else {
    GstElement *host = session_get_host (self);
    if (host) {
      GST_ELEMENT_WARNING (host, RESOURCE, WRITE,
          ("The room server refused a message: %s", message),
          ("error code %s", code));
      gst_object_unref (host);
    }
  }
}

static void session_schedule_reconnect (GstLetsChatSession * self);

static void
on_closed (LetsChatClient * client, const GError * error,
    GstLetsChatSession * self)
{
  self->connected = FALSE;
  if (!error)
    return;
  if (!self->my_id) {
    session_error (self, RESOURCE, READ,
        ("The room server at %s closed the connection before this party "
            "could join", self->settings.server_url), ("%s", error->message));
  } else if (self->settings.reconnect) {
    GST_WARNING_OBJECT (self, "lost the room server: %s", error->message);
    session_post (self, gst_structure_new ("letschat/server-lost",
            "reason", G_TYPE_STRING, error->message, NULL));
    session_schedule_reconnect (self);
  } else {
    GstElement *host = session_get_host (self);
    if (host) {
      GST_ELEMENT_WARNING (host, RESOURCE, READ,
          ("Lost the connection to the room server at %s; media already "
              "flowing continues", self->settings.server_url),
          ("%s", error->message));
      gst_object_unref (host);
    }
  }
}

/* A party joins when it can negotiate at once: the other party may be
 * waiting, and call setup counts from the join. So it waits for its sink
 * pads to know their caps (the media has started), but never more than
 * JOIN_WAIT_MS: a source that does not start is no reason to stay out of
 * the room. */
#define JOIN_WAIT_MS 1000

static gboolean
session_join_wait_cb (gpointer data)
{
  GstLetsChatSession *self = data;

  g_clear_pointer (&self->join_wait, g_source_unref);
  self->join_waited = TRUE;
  session_maybe_join (self);
  return G_SOURCE_REMOVE;
}

static void
session_cancel_join_wait (GstLetsChatSession * self)
{
  if (self->join_wait) {
    g_source_destroy (self->join_wait);
    g_clear_pointer (&self->join_wait, g_source_unref);
  }
}

static void
session_maybe_join (GstLetsChatSession * self)
{
  gboolean started;
  guint holds;

  GST_OBJECT_LOCK (self);
  started = self->started;
  holds = self->holds;
  GST_OBJECT_UNLOCK (self);

  if (!started || !self->connected || self->join_sent)
    return;
  if (holds > 0 && !self->join_waited) {
    if (!self->join_wait) {
      GST_DEBUG_OBJECT (self, "waiting for %u pads to know their caps "
          "before joining", holds);
      self->join_wait = g_timeout_source_new (JOIN_WAIT_MS);
      g_source_set_callback (self->join_wait, session_join_wait_cb, self, NULL);
      g_source_attach (self->join_wait, self->context);
    }
    return;
  }
  session_cancel_join_wait (self);
  self->join_sent = TRUE;
  ensure_dtls_certificate ();
  GST_INFO_OBJECT (self, "joining room %s", self->settings.room);
  /* After a reconnection, ask for the id we had: the other party then
   * knows it is us, and the call goes on. */
  letschat_client_join_as (self->client, self->settings.room,
      self->settings.secret, self->settings.display_name, self->my_id);
}

static void
on_connected (GObject * source, GAsyncResult * result, gpointer user_data)
{
  GstLetsChatSession *self = user_data;
  GError *error = NULL;

  if (!letschat_client_connect_finish (LETSCHAT_CLIENT (source), result,
          &error)) {
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      /* stopping */
    } else if (self->my_id && self->settings.reconnect) {
      GST_DEBUG_OBJECT (self, "room server still away: %s", error->message);
      session_schedule_reconnect (self);
    } else if (error->domain == G_TLS_ERROR)
      /* names the certificate problem and what to do about it */
      session_error (self, RESOURCE, OPEN_READ, ("%s", error->message), (NULL));
    else
      session_error (self, RESOURCE, OPEN_READ,
          ("Could not connect to the letschat room server at %s. Start "
              "letschat-server there, set server-url to where it runs, or "
              "set serve=true on one party.", self->settings.server_url),
          ("%s", error->message));
    g_error_free (error);
  } else {
    GST_INFO_OBJECT (self, "connected to %s", self->settings.server_url);
    self->connected = TRUE;
    self->reconnect_delay = 0;
    session_maybe_join (self);
  }
  gst_object_unref (self);
}

static gboolean
session_connect_cb (gpointer data)
{
  GstLetsChatSession *self = data;

  self->client = letschat_client_new ();
  g_signal_connect (self->client, "welcome", G_CALLBACK (on_welcome), self);
  g_signal_connect (self->client, "peer-joined", G_CALLBACK (on_peer_joined),
      self);
  g_signal_connect (self->client, "peer-left", G_CALLBACK (on_peer_left), self);
  g_signal_connect (self->client, "signal", G_CALLBACK (on_signal), self);
  g_signal_connect (self->client, "server-error",
      G_CALLBACK (on_server_error), self);
  g_signal_connect (self->client, "closed", G_CALLBACK (on_closed), self);
  if (self->settings.tls_ca_file) {
    GError *error = NULL;

    if (!letschat_client_set_tls_ca_file (self->client,
            self->settings.tls_ca_file, &error)) {
      session_error (self, RESOURCE, OPEN_READ, ("%s", error->message), (NULL));
      g_error_free (error);
      return G_SOURCE_REMOVE;
    }
  }
  if (self->settings.insecure_tls) {
    GstElement *host = session_get_host (self);

    letschat_client_set_insecure_tls (self->client, TRUE);
    if (host && !self->my_id)
      GST_ELEMENT_WARNING (host, RESOURCE, SETTINGS,
          ("insecure-tls is on: any certificate is accepted from %s, so "
              "anybody on the network path can read and change the "
              "signalling. Use tls-ca-file instead.",
              self->settings.server_url), (NULL));
    g_clear_object (&host);
  }
  letschat_client_connect_async (self->client, self->settings.server_url,
      self->settings.connect_timeout * 1000, self->cancellable,
      on_connected, gst_object_ref (self));
  return G_SOURCE_REMOVE;
}

static void
session_drop_client (GstLetsChatSession * self)
{
  if (!self->client)
    return;
  g_signal_handlers_disconnect_by_data (self->client, self);
  letschat_client_close (self->client);
  g_clear_object (&self->client);
}

static gboolean
session_reconnect_cb (gpointer data)
{
  GstLetsChatSession *self = data;

  g_clear_pointer (&self->reconnect_source, g_source_unref);
  GST_INFO_OBJECT (self, "reconnecting to %s", self->settings.server_url);
  session_drop_client (self);
  self->connected = FALSE;
  self->join_sent = FALSE;
  session_connect_cb (self);
  return G_SOURCE_REMOVE;
}

/* Backoff: 250 ms, 500 ms, then every 1 s, so that a server that comes
 * back is rejoined within about a second, at little cost while it is
 * away. */
static void
session_schedule_reconnect (GstLetsChatSession * self)
{
  gboolean stopped;

  GST_OBJECT_LOCK (self);
  stopped = self->stopped;
  GST_OBJECT_UNLOCK (self);
  if (stopped || self->reconnect_source)
    return;
  self->reconnect_delay = self->reconnect_delay ?
      MIN (self->reconnect_delay * 2, 1000) : 250;
  self->reconnect_source = g_timeout_source_new (self->reconnect_delay);
  g_source_set_callback (self->reconnect_source, session_reconnect_cb, self,
      NULL);
  g_source_attach (self->reconnect_source, self->context);
}

static gboolean
session_start_cb (gpointer data)
{
  GstLetsChatSession *self = data;

  if (self->settings.media_timeout > 0 && !self->media_watch) {
    self->media_watch = g_timeout_source_new_seconds (1);
    g_source_set_callback (self->media_watch, session_media_watch_cb, self,
        NULL);
    g_source_attach (self->media_watch, self->context);
  }
  session_maybe_join (self);
  return G_SOURCE_REMOVE;
}

static gboolean
session_disconnect_cb (gpointer data)
{
  GstLetsChatSession *self = data;

  g_cancellable_cancel (self->cancellable);
  session_cancel_join_wait (self);
  if (self->reconnect_source) {
    g_source_destroy (self->reconnect_source);
    g_clear_pointer (&self->reconnect_source, g_source_unref);
  }
  session_cancel_offer_wait (self);
  if (self->media_watch) {
    g_source_destroy (self->media_watch);
    g_clear_pointer (&self->media_watch, g_source_unref);
  }
  if (self->client && self->join_sent)
    letschat_client_leave (self->client);
  session_reset_chat (self, FALSE);
  session_drop_client (self);
  g_main_loop_quit (self->loop);
  return G_SOURCE_REMOVE;
}

/* ---------------------------------------------------------------------- */
/* webrtcbin callbacks (webrtcbin's threads)                               */

typedef struct
{
  GstLetsChatSession *self;
  guint generation;
  guint mline;
  gchar *candidate;             /* NULL: end of candidates */
} LocalCandidate;

static guint
webrtc_generation (GstElement * webrtc)
{
  return GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (webrtc),
          GENERATION_KEY));
}

static void
local_candidate_free (gpointer data)
{
  LocalCandidate *c = data;

  gst_object_unref (c->self);
  g_free (c->candidate);
  g_free (c);
}

/* The a=mid of m-line @mline of the local description, or NULL. */
static gchar *
session_local_mid (GstLetsChatSession * self, guint mline)
{
  GstWebRTCSessionDescription *local = NULL;
  gchar *mid = NULL;

  g_object_get (self->webrtcbin, "local-description", &local, NULL);
  if (local && mline < gst_sdp_message_medias_len (local->sdp))
    mid = g_strdup (gst_sdp_media_get_attribute_val
        (gst_sdp_message_get_media (local->sdp, mline), "mid"));
  if (local)
    gst_webrtc_session_description_free (local);
  return mid;
}

static gboolean
session_send_candidate_cb (gpointer data)
{
  LocalCandidate *c = data;
  GstLetsChatSession *self = c->self;
  JsonObject *obj = json_object_new ();
  JsonNode *node = json_node_new (JSON_NODE_OBJECT);

  if (!self->client || c->generation != self->generation)
    goto out;
  if (c->candidate) {
    JsonObject *ice = json_object_new ();
    gchar *mid = session_local_mid (self, c->mline);

    json_object_set_string_member (ice, "candidate", c->candidate);
    json_object_set_int_member (ice, "sdpMLineIndex", c->mline);
    GST_LOG_OBJECT (self, "local candidate, m-line %u, mid %s: %s", c->mline,
        GST_STR_NULL (mid), c->candidate);
    /* Browsers match candidates by mid: the one of that m-line in our
     * description; null (the index alone) if it cannot be known. */
    if (mid)
      json_object_set_string_member (ice, "sdpMid", mid);
    else
      json_object_set_null_member (ice, "sdpMid");
    json_object_set_object_member (obj, "ice", ice);
    g_free (mid);
  } else {
    json_object_set_null_member (obj, "ice");
  }
  json_node_take_object (node, obj);
  obj = NULL;
  letschat_client_send_signal (self->client, node);
out:
  if (obj)
    json_object_unref (obj);
  json_node_unref (node);
  return G_SOURCE_REMOVE;
}

static void
session_queue_candidate (GstLetsChatSession * self, GstElement * webrtc,
    guint mline, const gchar * candidate)
{
  LocalCandidate *c = g_new0 (LocalCandidate, 1);

  c->self = gst_object_ref (self);
  c->generation = webrtc_generation (webrtc);
  c->mline = mline;
  c->candidate = g_strdup (candidate);
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT,
      session_send_candidate_cb, c, local_candidate_free);
}

static void
on_ice_candidate (GstElement * webrtc, guint mline, const gchar * candidate,
    GstLetsChatSession * self)
{
  session_queue_candidate (self, webrtc, mline, candidate);
}

static void
on_ice_gathering_state (GstElement * webrtc, GParamSpec * pspec,
    GstLetsChatSession * self)
{
  GstWebRTCICEGatheringState state;

  g_object_get (webrtc, "ice-gathering-state", &state, NULL);
  if (state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
    session_queue_candidate (self, webrtc, 0, NULL);
}

typedef struct
{
  GstLetsChatSession *self;
  guint generation;
} GenerationRef;

static void
generation_ref_free (gpointer data)
{
  GenerationRef *g = data;

  gst_object_unref (g->self);
  g_free (g);
}

/* ICE or DTLS failed while the other party is still in the room: a new
 * peer connection, negotiated through the room as at the start. */
static gboolean
session_connection_failed_cb (gpointer data)
{
  GenerationRef *g = data;
  GstLetsChatSession *self = g->self;

  if (g->generation != self->generation || !self->peer_id)
    return G_SOURCE_REMOVE;
  if (self->peer_unconfirmed) {
    /* It never came back to the room server: it is gone. */
    gchar *gone = g_strdup (self->peer_id);

    on_peer_left (self->client, gone, self);
    g_free (gone);
    return G_SOURCE_REMOVE;
  }
  GST_WARNING_OBJECT (self, "the peer connection failed: starting over");
  session_restart_call (self, "connection-failed");
  self->offerer = TRUE;
  session_maybe_negotiate (self);
  return G_SOURCE_REMOVE;
}

/* Session thread: the connection is up (ICE and DTLS). Whatever was sent
 * before this was dropped by webrtcbin's SRTP encoder, the first keyframe
 * too; a new one now is the other party's first picture, one frame
 * interval away, rather than a keyframe request (RTCP PLI) round trip
 * later. */
static gboolean
session_connected_cb (gpointer data)
{
  GenerationRef *g = data;
  GstLetsChatSession *self = g->self;
  GList *l;

  if (g->generation != self->generation)
    return G_SOURCE_REMOVE;
  g_mutex_lock (&self->pc_lock);
  for (l = self->send_streams; self->negotiated && l; l = l->next)
    gst_lets_chat_relay_request_keyframe (((SendStream *) l->data)->relay);
  g_mutex_unlock (&self->pc_lock);
  return G_SOURCE_REMOVE;
}

static void
on_connection_state (GstElement * webrtc, GParamSpec * pspec,
    GstLetsChatSession * self)
{
  GstWebRTCPeerConnectionState state;
  GEnumClass *klass;
  GEnumValue *value;

  g_object_get (webrtc, "connection-state", &state, NULL);
  klass = g_type_class_ref (GST_TYPE_WEBRTC_PEER_CONNECTION_STATE);
  value = g_enum_get_value (klass, state);
  GST_INFO_OBJECT (self, "connection state: %s", value->value_nick);
  session_post (self, gst_structure_new ("letschat/connection-state",
          "state", G_TYPE_STRING, value->value_nick, NULL));
  g_type_class_unref (klass);

  if (state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED ||
      state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED) {
    GenerationRef *g = g_new0 (GenerationRef, 1);

    g->self = gst_object_ref (self);
    g->generation = webrtc_generation (webrtc);
    g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT,
        state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED ?
        session_connection_failed_cb : session_connected_cb, g,
        generation_ref_free);
  }
}

static GstPadProbeReturn
on_media (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstLetsChatSession *self = user_data;

  self->last_media_us = g_get_monotonic_time ();
  g_atomic_int_set (&self->media_seen, 1);
  return GST_PAD_PROBE_OK;
}

/* Media had been flowing and stopped for media-timeout: the peer connection
 * is dead even if ICE has not said so yet. Only once media arrived on this
 * connection, so that a party that sends nothing is not restarted over and
 * over. */
static gboolean
session_media_watch_cb (gpointer data)
{
  GstLetsChatSession *self = data;
  gint64 silent_us;

  if (!self->peer_id || !g_atomic_int_get (&self->media_seen))
    return G_SOURCE_CONTINUE;
  silent_us = g_get_monotonic_time () - self->last_media_us;
  if (silent_us < (gint64) self->settings.media_timeout * G_USEC_PER_SEC)
    return G_SOURCE_CONTINUE;
  GST_WARNING_OBJECT (self, "no media for %u s: starting over",
      self->settings.media_timeout);
  session_restart_call (self, "no-media");
  /* The other party may see nothing wrong: we offer (a glare, if it also
   * started over, is settled in session_handle_sdp). */
  self->offerer = TRUE;
  session_maybe_negotiate (self);
  return G_SOURCE_CONTINUE;
}

/* A stream from the other party: letschatsrc builds its chain and pad.
 * Without a src the party only sends, so nothing should arrive; if
 * something does, it is dropped inside the host rather than left
 * unlinked (which would stop webrtcbin's streaming thread). */
static void
on_webrtc_pad_added (GstElement * webrtc, GstPad * pad,
    GstLetsChatSession * self)
{
  GstElement *src = NULL, *host = NULL;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST, on_media, self, NULL);

  GST_OBJECT_LOCK (self);
  if (self->src)
    src = gst_object_ref (self->src);
  else if (self->host)
    host = gst_object_ref (self->host);
  GST_OBJECT_UNLOCK (self);

  if (src) {
    gst_lets_chat_src_add_stream (GST_LETS_CHAT_SRC (src), pad,
        webrtc_generation (webrtc), self->peer_joined_time);
    gst_object_unref (src);
  } else if (host) {
    GstElement *fakesink = gst_element_factory_make ("fakesink", NULL);
    GstPad *sinkpad;

    g_object_set (fakesink, "async", FALSE, "sync", FALSE, NULL);
    gst_bin_add (GST_BIN (host), fakesink);
    sinkpad = gst_element_get_static_pad (fakesink, "sink");
    gst_pad_link (pad, sinkpad);
    gst_object_unref (sinkpad);
    gst_element_sync_state_with_parent (fakesink);
    gst_object_unref (host);
  }
}

/* ---------------------------------------------------------------------- */
/* Life cycle                                                              */

/* webrtcbin's thread: the other party opened a data channel. The chat
 * takes it here and now, not on the session thread: its first message may
 * come right behind it. */
static void
on_webrtc_data_channel (GstElement * webrtc, GstWebRTCDataChannel * channel,
    GstLetsChatSession * self)
{
  GstLetsChatTextChat *chat = NULL;
  gchar *label = NULL;

  g_object_get (channel, "label", &label, NULL);
  if (g_strcmp0 (label, GST_LETS_CHAT_TEXT_CHAT_LABEL) != 0) {
    GST_INFO_OBJECT (self, "ignoring data channel '%s'", label);
    g_free (label);
    return;
  }
  g_free (label);
  g_mutex_lock (&self->pc_lock);
  if (self->chat && webrtc_generation (webrtc) == self->generation)
    chat = gst_lets_chat_text_chat_ref (self->chat);
  g_mutex_unlock (&self->pc_lock);
  if (chat) {
    gst_lets_chat_text_chat_set_channel (chat, channel);
    gst_lets_chat_text_chat_unref (chat);
  }
}

static gpointer
session_thread (gpointer data)
{
  GstLetsChatSession *self = data;

  g_main_context_push_thread_default (self->context);
  g_main_loop_run (self->loop);
  g_main_context_pop_thread_default (self->context);
  return NULL;
}

/* libnice's agent, tuned. No UPnP port mapping: libnice would multicast
 * SSDP discovery to the local network and ask the router to open ports,
 * which nobody asked for (a STUN or TURN server does that job properly
 * when configured). */
static void
webrtcbin_tune_ice (GstElement * webrtc)
{
  GObject *ice = NULL, *agent = NULL;

  g_object_get (webrtc, "ice-agent", &ice, NULL);
  if (ice && g_object_class_find_property (G_OBJECT_GET_CLASS (ice), "agent"))
    g_object_get (ice, "agent", &agent, NULL);
  if (agent && g_object_class_find_property (G_OBJECT_GET_CLASS (agent),
          "upnp"))
    g_object_set (agent, "upnp", FALSE, NULL);
  /* Connectivity checks every 5 ms (RFC 8445's lowest pacing) instead of
   * libnice's 20: a two-party call has few candidate pairs, and ICE took
   * 64 ms of a 180 ms call setup on loopback with 20, 18 to 30 ms with 5. */
  if (agent && g_object_class_find_property (G_OBJECT_GET_CLASS (agent),
          "stun-pacing-timer"))
    g_object_set (agent, "stun-pacing-timer", 5, NULL);
  g_clear_object (&agent);
  g_clear_object (&ice);
}

/* rtpjitterbuffer holds a stream's first packet for its whole latency
 * before it lets anything out, even when packets arrive in order: 50 ms
 * of every call's setup. With faststart it starts as soon as a few
 * consecutive packets are in (a keyframe is many), and keeps its latency
 * for reordering afterwards. */
#define JITTERBUFFER_FASTSTART_PACKETS 5

static void
on_new_jitterbuffer (GstElement * rtpbin, GstElement * jitterbuffer,
    guint session, guint ssrc, gpointer user_data)
{
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (jitterbuffer),
          "faststart-min-packets"))
    g_object_set (jitterbuffer, "faststart-min-packets",
        JITTERBUFFER_FASTSTART_PACKETS, NULL);
}

static void
webrtcbin_tune_jitterbuffers (GstElement * webrtc)
{
  GstElement *rtpbin = gst_bin_get_by_name (GST_BIN (webrtc), "rtpbin");

  if (rtpbin) {
    g_signal_connect (rtpbin, "new-jitterbuffer",
        G_CALLBACK (on_new_jitterbuffer), NULL);
    gst_object_unref (rtpbin);
  }
}

/* A new webrtcbin with the party's settings, not yet in any bin. */
static GstElement *
session_make_webrtcbin (GstLetsChatSession * self, GError ** error)
{
  GstElement *webrtc = gst_element_factory_make ("webrtcbin", NULL);
  gchar **t;

  if (!webrtc) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
        "The GStreamer element 'webrtcbin' is missing: install "
        "gstreamer1.0-plugins-bad and gstreamer1.0-nice");
    return NULL;
  }
  /* One transport for every stream, as browsers do: fewer ICE checks,
   * faster setup. */
  gst_util_set_object_arg (G_OBJECT (webrtc), "bundle-policy", "max-bundle");
  webrtcbin_tune_ice (webrtc);
  webrtcbin_tune_jitterbuffers (webrtc);
  g_object_set (webrtc, "latency", self->latency, NULL);
  if (self->settings.stun_server)
    g_object_set (webrtc, "stun-server", self->settings.stun_server, NULL);
  for (t = self->settings.turn_servers; t && *t; t++) {
    gboolean ok = FALSE;
    g_signal_emit_by_name (webrtc, "add-turn-server", *t, &ok);
    if (!ok) {
      g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
          "Invalid TURN server '%s': write it as "
          "turn://user:password@host:port", *t);
      gst_object_unref (gst_object_ref_sink (webrtc));
      return NULL;
    }
  }
  session_apply_server_ice_servers (self, webrtc);
  g_signal_connect (webrtc, "on-ice-candidate",
      G_CALLBACK (on_ice_candidate), self);
  g_signal_connect (webrtc, "notify::ice-gathering-state",
      G_CALLBACK (on_ice_gathering_state), self);
  g_signal_connect (webrtc, "notify::connection-state",
      G_CALLBACK (on_connection_state), self);
  g_signal_connect (webrtc, "pad-added", G_CALLBACK (on_webrtc_pad_added),
      self);
  g_signal_connect (webrtc, "on-data-channel",
      G_CALLBACK (on_webrtc_data_channel), self);
  return webrtc;
}

/* Makes the payloader stamp @pt, renegotiating its caps at its next
 * buffer if that changes anything. */
static void
send_stream_set_payload_type (SendStream * stream, guint pt)
{
  GstElement *payloader = gst_pad_get_parent_element (stream->upstream);
  guint current;

  if (!payloader)
    return;
  g_object_get (payloader, "pt", &current, NULL);
  if (current != pt) {
    g_object_set (payloader, "pt", pt, NULL);
    gst_pad_send_event (stream->upstream, gst_event_new_reconfigure ());
  }
  gst_object_unref (payloader);
}

/* Called with pc_lock held. */
static void
send_stream_attach (SendStream * stream, GstElement * webrtc)
{
  GstWebRTCRTPTransceiver *t = NULL;
  GstCaps *caps;

  if (stream->webrtc_pad) {
    GstElement *old = gst_pad_get_parent_element (stream->webrtc_pad);

    gst_lets_chat_relay_attach (stream->relay, NULL);
    if (old) {
      gst_element_release_request_pad (old, stream->webrtc_pad);
      gst_object_unref (old);
    }
    gst_clear_object (&stream->webrtc_pad);
  }
  if (!webrtc)
    return;

  stream->webrtc_pad = gst_element_request_pad_simple (webrtc, "sink_%u");
  g_object_get (stream->webrtc_pad, "transceiver", &t, NULL);
  caps = gst_lets_chat_codec_rtp_caps (stream->codec);
  g_object_set (t, "codec-preferences", caps, "direction",
      GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY, NULL);
  gst_caps_unref (caps);
  gst_object_unref (t);
  /* An earlier answer may have changed it. */
  send_stream_set_payload_type (stream, stream->codec->payload_type);
  /* The relay links to the pad once the call is negotiated
   * (session_on_negotiated); until then it drops what comes. */
}

/* Makes @webrtc the party's peer connection: in the host bin, running
 * with the pipeline, fed by every send stream. Returns the one it
 * replaces, for the caller to dispose of. */
static GstElement *
session_install_webrtcbin (GstLetsChatSession * self, GstElement * webrtc)
{
  GstElement *old, *host = session_get_host (self);
  GList *l;

  if (!host) {
    gst_object_unref (gst_object_ref_sink (webrtc));
    return NULL;
  }
  g_object_set_data (G_OBJECT (webrtc), GENERATION_KEY,
      GUINT_TO_POINTER (self->generation + 1));
  gst_bin_add (GST_BIN (host), webrtc);
  /* webrtcbin holds network sinks (nicesink) that never see an EOS when the
   * party only receives; a letschatsrc hosting it must not count as a sink,
   * or the pipeline would wait for that EOS forever. */
  if (GST_IS_LETS_CHAT_SRC (host)) {
    GST_OBJECT_FLAG_UNSET (webrtc, GST_ELEMENT_FLAG_SINK);
    GST_OBJECT_FLAG_UNSET (host, GST_ELEMENT_FLAG_SINK);
  }
  gst_element_sync_state_with_parent (webrtc);

  g_mutex_lock (&self->pc_lock);
  old = self->webrtcbin;
  self->webrtcbin = webrtc;
  self->generation++;
  for (l = self->send_streams; l; l = l->next)
    send_stream_attach (l->data, webrtc);
  g_mutex_unlock (&self->pc_lock);

  gst_object_unref (host);
  return old;
}

static void
session_dispose_webrtcbin (GstLetsChatSession * self, GstElement * webrtc)
{
  GstObject *parent;

  if (!webrtc)
    return;
  g_signal_handlers_disconnect_by_data (webrtc, self);
  /* The pipeline may be changing state right now: keep it from setting
   * this webrtcbin back to PAUSED while we take it down. */
  gst_element_set_locked_state (webrtc, TRUE);
  gst_element_set_state (webrtc, GST_STATE_NULL);
  parent = gst_object_get_parent (GST_OBJECT (webrtc));
  if (parent) {
    gst_bin_remove (GST_BIN (parent), webrtc);
    gst_object_unref (parent);
  }
}

/* Session thread: drop the peer connection and set up a fresh one, keeping
 * everything the elements see (pads, chains) in place. */
static void
session_restart_call (GstLetsChatSession * self, const gchar * reason)
{
  GError *error = NULL;
  GstElement *webrtc, *old;
  gboolean stopped;

  GST_OBJECT_LOCK (self);
  stopped = self->stopped;
  GST_OBJECT_UNLOCK (self);
  if (stopped)
    return;

  GST_INFO_OBJECT (self, "new peer connection: %s", reason);
  session_post (self, gst_structure_new ("letschat/call-reset",
          "reason", G_TYPE_STRING, reason, NULL));

  self->transceivers_ready = FALSE;
  self->offer_made = FALSE;
  self->remote_set = FALSE;
  g_mutex_lock (&self->pc_lock);
  self->negotiated = FALSE;
  g_mutex_unlock (&self->pc_lock);
  g_atomic_int_set (&self->media_seen, 0);
  g_clear_pointer (&self->pending_offer, gst_webrtc_session_description_free);
  g_queue_clear_full (&self->pending_candidates,
      (GDestroyNotify) json_object_unref);
  session_set_chat_channel (self, NULL);

  webrtc = session_make_webrtcbin (self, &error);
  if (!webrtc) {
    session_error (self, CORE, FAILED, ("Could not set up a new peer "
            "connection: %s", error->message), (NULL));
    g_error_free (error);
    return;
  }
  old = session_install_webrtcbin (self, webrtc);
  session_dispose_webrtcbin (self, old);
}

/* While the party is alone, the src's pads carry gap events, so that
 * mixers and muxers downstream go on rather than wait. */
#define GAP_INTERVAL (100 * GST_MSECOND)

static gboolean
session_push_gaps_cb (gpointer data)
{
  GstLetsChatSession *self = data;
  GstElement *src = NULL;

  GST_OBJECT_LOCK (self);
  if (self->src)
    src = gst_object_ref (self->src);
  GST_OBJECT_UNLOCK (self);
  if (src) {
    gst_lets_chat_src_push_gap (GST_LETS_CHAT_SRC (src), GAP_INTERVAL);
    gst_object_unref (src);
  }
  return G_SOURCE_CONTINUE;
}

static void
session_start_gaps (GstLetsChatSession * self)
{
  if (self->gap_source)
    return;
  self->gap_source = g_timeout_source_new (GAP_INTERVAL / GST_MSECOND);
  g_source_set_callback (self->gap_source, session_push_gaps_cb, self, NULL);
  g_source_attach (self->gap_source, self->context);
}

static void
session_stop_gaps (GstLetsChatSession * self)
{
  if (!self->gap_source)
    return;
  g_source_destroy (self->gap_source);
  g_clear_pointer (&self->gap_source, g_source_unref);
}

static gpointer
find_toplevel (GstElement * element)
{
  GstObject *obj = GST_OBJECT (element), *parent;
  gpointer top = element;

  /* The pipeline is only a key here: a party is per pipeline. */
  while ((parent = gst_object_get_parent (obj))) {
    if (obj != GST_OBJECT (element))
      gst_object_unref (obj);
    obj = parent;
    top = parent;
  }
  if (obj != GST_OBJECT (element))
    gst_object_unref (obj);
  return top;
}

static GstLetsChatSession *
session_new (GstElement * element, gpointer toplevel,
    const GstLetsChatSettings * settings, GError ** error)
{
  GstLetsChatSession *self = g_object_new (GST_TYPE_LETS_CHAT_SESSION, NULL);
  GstElement *webrtc;

  gst_object_ref_sink (self);
  self->toplevel = toplevel;
  gst_lets_chat_settings_copy (&self->settings, settings);

  if (settings->serve) {
    self->served = gst_lets_chat_serve_acquire (settings->server_url,
        settings->tls_cert_file, settings->tls_key_file, error);
    if (!self->served)
      goto failed;
  }
  webrtc = session_make_webrtcbin (self, error);
  if (!webrtc)
    goto failed;
  self->host = element;
  session_install_webrtcbin (self, webrtc);

  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->cancellable = g_cancellable_new ();
  self->thread = g_thread_new ("letschat-session", session_thread, self);
  g_main_context_invoke (self->context, session_connect_cb, self);
  return self;

failed:
  gst_object_unref (self);
  return NULL;
}

/* webrtcbin's DTLS elements make a certificate (an RSA key) the first time
 * one is created in a process, and share it afterwards: 190 to 320 ms on
 * these machines, which used to be spent inside the first call's
 * negotiation (create-offer waited for it). The party makes it before it
 * joins the room, that is before it tells the other party it is ready:
 * call setup then starts with the key there. On the session thread, which
 * is always joined before the process can end (a thread of its own could
 * still be loading the DTLS plugin at exit). */
static void
ensure_dtls_certificate (void)
{
  static gsize made = 0;

  if (g_once_init_enter (&made)) {
    GstElement *dtlsdec = gst_element_factory_make ("dtlsdec", NULL);

    if (dtlsdec)
      gst_object_unref (gst_object_ref_sink (dtlsdec));
    g_once_init_leave (&made, 1);
  }
}

GstLetsChatSession *
gst_lets_chat_session_acquire (GstElement * element, GstLetsChatRole role,
    const GstLetsChatSettings * settings, GError ** error)
{
  GstLetsChatSession *self = NULL;
  gpointer toplevel = find_toplevel (element);
  GList *l;

  g_mutex_lock (&registry_lock);
  for (l = registry; l; l = l->next) {
    GstLetsChatSession *s = l->data;

    if (s->toplevel == toplevel
        && g_strcmp0 (s->settings.server_url, settings->server_url) == 0
        && g_strcmp0 (s->settings.room, settings->room) == 0) {
      GST_OBJECT_LOCK (s);
      if ((role == GST_LETS_CHAT_ROLE_SINK && !s->sink) ||
          (role == GST_LETS_CHAT_ROLE_SRC && !s->src))
        self = gst_object_ref (s);
      GST_OBJECT_UNLOCK (s);
      if (self)
        break;
    }
  }
  if (!self) {
    self = session_new (element, toplevel, settings, error);
    if (self)
      registry = g_list_prepend (registry, self);
  }
  if (self) {
    GST_OBJECT_LOCK (self);
    if (role == GST_LETS_CHAT_ROLE_SINK)
      self->sink = element;
    else
      self->src = element;
    GST_OBJECT_UNLOCK (self);
    GST_INFO_OBJECT (self, "%s joins the party for room %s",
        GST_ELEMENT_NAME (element), settings->room);
  }
  g_mutex_unlock (&registry_lock);
  return self;
}

void
gst_lets_chat_session_start (GstLetsChatSession * self)
{
  GST_OBJECT_LOCK (self);
  self->started = TRUE;
  self->stopped = FALSE;
  GST_OBJECT_UNLOCK (self);
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT,
      session_start_cb, gst_object_ref (self), gst_object_unref);
}

typedef struct
{
  GstLetsChatSession *self;
  GMutex lock;
  GCond cond;
  gboolean done;
} SyncCall;

/* Leaves the room, on the session thread, before the caller goes on. */
static gboolean
session_stop_cb (gpointer data)
{
  SyncCall *call = data;
  GstLetsChatSession *self = call->self;

  session_stop_gaps (self);
  session_cancel_offer_wait (self);
  session_cancel_join_wait (self);
  if (self->media_watch) {
    g_source_destroy (self->media_watch);
    g_clear_pointer (&self->media_watch, g_source_unref);
  }
  if (self->client && self->join_sent)
    letschat_client_leave (self->client);
  self->join_sent = FALSE;
  g_clear_pointer (&self->peer_id, g_free);
  session_reset_chat (self, FALSE);

  g_mutex_lock (&call->lock);
  call->done = TRUE;
  g_cond_signal (&call->cond);
  g_mutex_unlock (&call->lock);
  return G_SOURCE_REMOVE;
}

void
gst_lets_chat_session_stop (GstLetsChatSession * self)
{
  SyncCall call = { self, };

  GST_OBJECT_LOCK (self);
  if (self->stopped || !self->thread) {
    GST_OBJECT_UNLOCK (self);
    return;
  }
  self->stopped = TRUE;
  self->started = FALSE;
  GST_OBJECT_UNLOCK (self);

  g_mutex_init (&call.lock);
  g_cond_init (&call.cond);
  g_main_context_invoke (self->context, session_stop_cb, &call);
  g_mutex_lock (&call.lock);
  while (!call.done)
    g_cond_wait (&call.cond, &call.lock);
  g_mutex_unlock (&call.lock);
  g_mutex_clear (&call.lock);
  g_cond_clear (&call.cond);
}

void
gst_lets_chat_session_release (GstLetsChatSession * self, GstElement * element)
{
  gboolean last;

  g_mutex_lock (&registry_lock);
  GST_OBJECT_LOCK (self);
  if (self->sink == element)
    self->sink = NULL;
  if (self->src == element)
    self->src = NULL;
  last = !self->sink && !self->src;
  if (last) {
    self->host = NULL;
    registry = g_list_remove (registry, self);
  }
  GST_OBJECT_UNLOCK (self);
  g_mutex_unlock (&registry_lock);

  if (last) {
    GstElement *webrtc;

    g_main_context_invoke (self->context, session_disconnect_cb, self);
    g_thread_join (self->thread);
    self->thread = NULL;
    session_stop_gaps (self);
    g_mutex_lock (&self->pc_lock);
    webrtc = self->webrtcbin;
    self->webrtcbin = NULL;
    g_mutex_unlock (&self->pc_lock);
    session_dispose_webrtcbin (self, webrtc);
  }
  gst_object_unref (self);
}

void
gst_lets_chat_session_hold_negotiation (GstLetsChatSession * self)
{
  GST_OBJECT_LOCK (self);
  self->holds++;
  GST_OBJECT_UNLOCK (self);
}

void
gst_lets_chat_session_release_negotiation (GstLetsChatSession * self)
{
  GST_OBJECT_LOCK (self);
  g_assert (self->holds > 0);
  self->holds--;
  GST_OBJECT_UNLOCK (self);
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT,
      session_release_hold_cb, gst_object_ref (self), gst_object_unref);
}

gpointer
gst_lets_chat_session_add_send_stream (GstLetsChatSession * self,
    GstPad * upstream, const GstLetsChatCodec * codec)
{
  SendStream *stream = g_new0 (SendStream, 1);

  stream->relay = gst_lets_chat_relay_new (upstream);
  stream->upstream = gst_object_ref (upstream);
  stream->codec = codec;
  stream->preferred = codec;
  g_mutex_lock (&self->pc_lock);
  self->send_streams = g_list_append (self->send_streams, stream);
  if (self->webrtcbin)
    send_stream_attach (stream, self->webrtcbin);
  g_mutex_unlock (&self->pc_lock);
  return stream;
}

void
gst_lets_chat_session_set_send_stream_switchable (GstLetsChatSession * self,
    gpointer handle, GstLetsChatSwitchCodecFunc func, gpointer user_data,
    gboolean chosen)
{
  SendStream *stream = handle;

  g_mutex_lock (&self->pc_lock);
  stream->switch_codec = func;
  stream->switch_data = user_data;
  stream->chosen = chosen;
  g_mutex_unlock (&self->pc_lock);
}

void
gst_lets_chat_session_remove_send_stream (GstLetsChatSession * self,
    gpointer handle)
{
  SendStream *stream = handle;

  g_mutex_lock (&self->pc_lock);
  self->send_streams = g_list_remove (self->send_streams, stream);
  send_stream_attach (stream, NULL);
  g_mutex_unlock (&self->pc_lock);
  gst_lets_chat_relay_free (stream->relay);
  gst_object_unref (stream->upstream);
  g_free (stream);
}

gboolean
gst_lets_chat_session_send_chat (GstLetsChatSession * self,
    const gchar * text, GError ** error)
{
  GstLetsChatTextChat *chat = NULL;
  gchar *why;
  gboolean ok;

  g_mutex_lock (&self->pc_lock);
  if (self->chat)
    chat = gst_lets_chat_text_chat_ref (self->chat);
  g_mutex_unlock (&self->pc_lock);

  if (!chat) {
    /* Bad text is worth saying first: it would not go later either. */
    why = gst_lets_chat_text_chat_check (text);
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE,
        "The chat message was not sent: %s", why ? why :
        "nobody else is in the room yet");
    g_free (why);
    return FALSE;
  }
  ok = gst_lets_chat_text_chat_send (chat, text, error);
  gst_lets_chat_text_chat_unref (chat);
  return ok;
}

GstLetsChatSession *
gst_lets_chat_session_find (GstElement * element)
{
  GstLetsChatSession *found = NULL;
  GList *l;

  g_mutex_lock (&registry_lock);
  for (l = registry; l && !found; l = l->next) {
    GstLetsChatSession *session = l->data;

    GST_OBJECT_LOCK (session);
    if (session->sink == element || session->src == element)
      found = gst_object_ref (session);
    GST_OBJECT_UNLOCK (session);
  }
  g_mutex_unlock (&registry_lock);
  return found;
}

void
gst_lets_chat_session_set_latency (GstLetsChatSession * self, guint latency)
{
  g_mutex_lock (&self->pc_lock);
  self->latency = latency;
  if (self->webrtcbin)
    g_object_set (self->webrtcbin, "latency", latency, NULL);
  g_mutex_unlock (&self->pc_lock);
}

static void
gst_lets_chat_session_finalize (GObject * object)
{
  GstLetsChatSession *self = GST_LETS_CHAT_SESSION (object);

  g_assert (self->thread == NULL);
  g_clear_pointer (&self->served, gst_lets_chat_serve_release);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_object (&self->cancellable);
  g_assert (self->webrtcbin == NULL && self->send_streams == NULL);
  g_clear_pointer (&self->server_ice_servers, json_node_unref);
  g_mutex_clear (&self->pc_lock);
  g_queue_clear_full (&self->pending_candidates,
      (GDestroyNotify) json_object_unref);
  if (self->pending_offer)
    gst_webrtc_session_description_free (self->pending_offer);
  g_free (self->my_id);
  g_free (self->peer_id);
  g_free (self->peer_name);
  g_assert (self->chat == NULL);
  gst_lets_chat_settings_clear (&self->settings);
  G_OBJECT_CLASS (gst_lets_chat_session_parent_class)->finalize (object);
}

static void
gst_lets_chat_session_class_init (GstLetsChatSessionClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = gst_lets_chat_session_finalize;
  GST_DEBUG_CATEGORY_INIT (gst_lets_chat_session_debug, "letschatsession", 0,
      "letschat call session (one party: signalling + webrtcbin)");
}

static void
gst_lets_chat_session_init (GstLetsChatSession * self)
{
  g_queue_init (&self->pending_candidates);
  g_mutex_init (&self->pc_lock);
  /* webrtcbin's own default until a letschatsrc sets its latency. */
  self->latency = 200;
}
