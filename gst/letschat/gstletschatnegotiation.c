/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * Where the content of an offer and an answer is decided: which
 * transceivers exist, which codec and payload type each stream uses, and
 * how a standard description that webrtcbin 1.22 would refuse is made
 * acceptable. It never sends anything and never posts to the bus: the
 * session does both.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstletschatnegotiation.h"
#include "gstletschatsessionprivate.h"
#include "gstletschatsendclockrates.h"
#include "gstletschatremb.h"

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_negotiation_debug);
#define GST_CAT_DEFAULT gst_lets_chat_negotiation_debug

static void
ensure_debug_category (void)
{
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    GST_DEBUG_CATEGORY_INIT (gst_lets_chat_negotiation_debug,
        "letschatnegotiation", 0, "letschat offers and answers");
    g_once_init_leave (&done, 1);
  }
}

/* ---------------------------------------------------------------------- */
/* The other party's descriptions                                          */

/* The value of @key on m-line @media, or else at session level. */
static const gchar *
media_or_session_attribute (const GstSDPMessage * sdp,
    const GstSDPMedia * media, const gchar * key)
{
  const gchar *value = gst_sdp_media_get_attribute_val (media, key);

  return value ? value : gst_sdp_message_get_attribute_val (sdp, key);
}

static gint
media_index_of_mid (const GstSDPMessage * sdp, const gchar * mid)
{
  guint i;

  for (i = 0; i < gst_sdp_message_medias_len (sdp); i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (sdp, i);

    if (g_strcmp0 (gst_sdp_media_get_attribute_val (media, "mid"), mid) == 0)
      return i;
  }
  return -1;
}

static void
media_set_attribute (GstSDPMedia * media, const gchar * key,
    const gchar * value)
{
  guint i;

  for (i = 0; i < gst_sdp_media_attributes_len (media); i++) {
    const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, i);

    if (g_str_equal (attr->key, key)) {
      GstSDPAttribute new_attr;

      gst_sdp_attribute_set (&new_attr, key, value);
      gst_sdp_media_replace_attribute (media, i, &new_attr);
      return;
    }
  }
  gst_sdp_media_add_attribute (media, key, value);
}

static guint
media_remove_attributes (GstSDPMedia * media, const gchar * key)
{
  guint i = 0, removed = 0;

  while (i < gst_sdp_media_attributes_len (media)) {
    if (g_str_equal (gst_sdp_media_get_attribute (media, i)->key, key)) {
      gst_sdp_media_remove_attribute (media, i);
      removed++;
    } else {
      i++;
    }
  }
  return removed;
}

/* RFC 8843: the m-lines of a BUNDLE group share the transport of the
 * offerer-tagged m-line, the first of the group. An offerer may still give
 * every m-line ICE credentials and candidates of its own, for an answerer
 * that does not bundle (aiortc does); webrtcbin 1.22 refuses such an offer
 * ("media 1 has different ice-ufrag values in bundle"). Those m-lines
 * take the tagged one's credentials here, and their candidates, which
 * belong to transports the other party drops once the answer bundles, are
 * not used. */
static void
normalise_bundle_group (GstSDPMessage * sdp, const gchar * group,
    GstLetsChatPeerConnection * pc, GString * changes)
{
  gchar **mids = g_strsplit (group + strlen ("BUNDLE"), " ", -1);
  const GstSDPMedia *tagged = NULL;
  const gchar *ufrag = NULL, *pwd = NULL;
  gchar **mid;

  for (mid = mids; *mid; mid++) {
    gint index = **mid ? media_index_of_mid (sdp, *mid) : -1;
    GstSDPMedia *media;
    const gchar *u, *p;
    guint dropped;

    if (index < 0)
      continue;
    media = (GstSDPMedia *) gst_sdp_message_get_media (sdp, index);
    u = media_or_session_attribute (sdp, media, "ice-ufrag");
    p = media_or_session_attribute (sdp, media, "ice-pwd");
    if (!tagged) {
      tagged = media;
      ufrag = u;
      pwd = p;
      continue;
    }
    if (!ufrag || !pwd || (g_strcmp0 (u, ufrag) == 0
            && g_strcmp0 (p, pwd) == 0))
      continue;
    media_set_attribute (media, "ice-ufrag", ufrag);
    media_set_attribute (media, "ice-pwd", pwd);
    dropped = media_remove_attributes (media, "candidate");
    gst_lets_chat_peer_connection_ignore_candidates_of (pc, index);
    g_string_append_printf (changes, "%sm-line %d (mid %s) is in a BUNDLE "
        "group but had ICE credentials of its own: it takes those of mid "
        "%s, and its %u candidates are not used", changes->len ? "; " : "",
        index, *mid, gst_sdp_media_get_attribute_val (tagged, "mid"), dropped);
  }
  g_strfreev (mids);
}

void
gst_lets_chat_negotiation_normalise (GstSDPMessage * sdp,
    GstLetsChatPeerConnection * pc, GString * changes)
{
  guint i;

  ensure_debug_category ();
  for (i = 0; i < gst_sdp_message_attributes_len (sdp); i++) {
    const GstSDPAttribute *attr = gst_sdp_message_get_attribute (sdp, i);

    if (g_str_equal (attr->key, "group") && attr->value &&
        g_str_has_prefix (attr->value, "BUNDLE "))
      normalise_bundle_group (sdp, attr->value, pc, changes);
  }
  if (changes->len)
    GST_INFO ("the other party's description, normalised: %s", changes->str);
}

/* ---------------------------------------------------------------------- */
/* Transceivers                                                            */

void
gst_lets_chat_negotiation_add_receivers (GstElement * webrtc, gboolean receive)
{
  gboolean have_video = FALSE, have_audio = FALSE;
  GArray *transceivers = NULL;
  guint i;

  g_signal_emit_by_name (webrtc, "get-transceivers", &transceivers);
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
    if (receive)
      g_object_set (t, "direction",
          GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV, NULL);
  }
  if (transceivers)
    g_array_unref (transceivers);

  if (receive) {
    const gchar *kinds[] = { "video", "audio" };
    gboolean have[] = { have_video, have_audio };

    for (i = 0; i < G_N_ELEMENTS (kinds); i++) {
      GstWebRTCRTPTransceiver *t = NULL;
      GstCaps *caps;

      if (have[i])
        continue;
      caps = gst_lets_chat_codec_receivable_rtp_caps (kinds[i]);
      g_signal_emit_by_name (webrtc, "add-transceiver",
          GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY, caps, &t);
      gst_caps_unref (caps);
      gst_clear_object (&t);
    }
  }
}

/* Port 0 rejects an m-line, unless it is bundle-only (RFC 8843: it rides
 * on the BUNDLE's transport; webrtcbin offers all but the first so). */
static gboolean
media_is_rejected (const GstSDPMedia * media)
{
  return gst_sdp_media_get_port (media) == 0 &&
      !gst_sdp_media_get_attribute_val (media, "bundle-only");
}

/* An offer's m-lines are matched to our transceivers in order, kind by
 * kind: the formats of the first m-line of @kind not yet taken (@used has
 * a flag per m-line), as caps in the offer's order; NULL if none is left.
 * Rejected m-lines take no transceiver. */
#define OFFER_MAX_MEDIA 64

static GstCaps *
offer_take_media (GstWebRTCSessionDescription * offer, gboolean * used,
    const gchar * kind)
{
  guint m;

  for (m = 0; m < gst_sdp_message_medias_len (offer->sdp)
      && m < OFFER_MAX_MEDIA; m++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (offer->sdp, m);

    if (used[m] || g_strcmp0 (gst_sdp_media_get_media (media), kind) ||
        media_is_rejected (media))
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
void
gst_lets_chat_negotiation_receive_as_offered (GstElement * webrtc,
    GstWebRTCSessionDescription * offer)
{
  GArray *transceivers = NULL;
  gboolean used[OFFER_MAX_MEDIA] = { FALSE };
  guint i;

  g_signal_emit_by_name (webrtc, "get-transceivers", &transceivers);
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
        GST_DEBUG ("receiving %s as offered: %" GST_PTR_FORMAT, kind, caps);
        g_object_set (t, "codec-preferences", caps, NULL);
        gst_caps_unref (caps);
      }
    }
    gst_clear_caps (&prefs);
  }
  if (transceivers)
    g_array_unref (transceivers);
}

/* Answering: a stream the sink encodes takes the codec the application
 * chose (video-codec) if the offer has it, or else the first codec of its
 * m-line that letschat can send: the offerer's preference. */
static const GstLetsChatCodec *
offered_codec_to_send (GstLetsChatSendStream * stream, GstCaps * offered)
{
  const GstLetsChatCodec *wanted = NULL;
  const GstLetsChatCodec *preferred =
      gst_lets_chat_send_stream_get_preferred (stream);
  guint i;

  for (i = 0; offered && i < gst_caps_get_size (offered); i++) {
    GstCaps *one = gst_caps_copy_nth (offered, i);
    const GstLetsChatCodec *codec = gst_lets_chat_codec_for_caps (one);

    gst_caps_unref (one);
    if (!wanted)
      wanted = codec;
    if (codec && gst_lets_chat_send_stream_is_chosen (stream)
        && codec == preferred)
      return codec;
  }
  return wanted;
}

/* What letschat sends as H.264 is Constrained Baseline (x264enc is told
 * so; pre-encoded input should be). RFC 6184: it can go on a Constrained
 * Baseline or a Baseline format (a superset), and decoders of Main and
 * High decode it too; the offerer's order decides between equals. */
static gint
h264_format_rank (const GstStructure * s)
{
  const gchar *profile = gst_structure_get_string (s, "profile");

  if (!profile || g_str_equal (profile, "constrained-baseline") ||
      g_str_equal (profile, "baseline"))
    return 2;
  if (g_str_equal (profile, "main") || g_str_equal (profile, "high"))
    return 1;
  return 0;
}

/* The offer's format for @codec (with the offer's payload type), or NULL. */
static GstCaps *
offered_caps_for_codec (GstCaps * offered, const GstLetsChatCodec * codec)
{
  GstCaps *best = NULL;
  gint best_rank = -1;
  guint i;

  for (i = 0; offered && i < gst_caps_get_size (offered); i++) {
    GstCaps *one = gst_caps_copy_nth (offered, i);
    gint rank;

    if (gst_lets_chat_codec_for_caps (one) != codec) {
      gst_caps_unref (one);
      continue;
    }
    rank = g_str_equal (codec->encoding_name, "H264") ?
        h264_format_rank (gst_caps_get_structure (one, 0)) : 2;
    if (rank > best_rank) {
      gst_clear_caps (&best);
      best = one;
      best_rank = rank;
    } else {
      gst_caps_unref (one);
    }
  }
  return best;
}

gchar *
gst_lets_chat_negotiation_send_as_offered (GList * streams, GMutex * lock,
    GstWebRTCSessionDescription * offer)
{
  gboolean used[OFFER_MAX_MEDIA] = { FALSE };
  GString *missing = g_string_new (NULL);
  GList *l;

  ensure_debug_category ();
  for (l = streams; l; l = l->next) {
    GstLetsChatSendStream *stream = l->data;
    const GstLetsChatCodec *codec, *wanted;
    GstCaps *offered, *prefs;
    gint pt;

    g_mutex_lock (lock);
    codec = gst_lets_chat_send_stream_get_codec (stream);
    g_mutex_unlock (lock);
    offered = offer_take_media (offer, used, codec->media);
    wanted = offered_codec_to_send (stream, offered);
    /* Switching codec waits for the stream's thread: without lock. */
    if (wanted && gst_lets_chat_send_stream_is_switchable (stream)
        && gst_lets_chat_send_stream_switch_codec (stream, wanted, lock))
      codec = wanted;
    prefs = offered_caps_for_codec (offered, codec);
    gst_clear_caps (&offered);
    if (!prefs) {
      g_string_append_printf (missing, "%s%s", missing->len ? ", " : "",
          codec->encoding_name);
      continue;
    }
    gst_structure_get_int (gst_caps_get_structure (prefs, 0), "payload", &pt);
    GST_DEBUG ("sending %s as offered: %" GST_PTR_FORMAT,
        codec->encoding_name, prefs);
    g_mutex_lock (lock);
    gst_lets_chat_send_stream_set_format (stream, prefs, pt);
    g_mutex_unlock (lock);
    gst_caps_unref (prefs);
  }
  return g_string_free (missing, missing->len == 0);
}

void
gst_lets_chat_negotiation_send_preferred (GList * streams, GMutex * lock)
{
  GList *l;

  for (l = streams; l; l = l->next)
    gst_lets_chat_send_stream_switch_codec (l->data,
        gst_lets_chat_send_stream_get_preferred (l->data), lock);
}

/* ====================================================================== */
/* The exchange, on the session thread                                    */

/* What follows runs the steps of the offer/answer exchange for the
 * session; it logs in the session's debug category. */
#undef GST_CAT_DEFAULT
#define GST_CAT_DEFAULT gst_lets_chat_session_debug

/* ---------------------------------------------------------------------- */
/* Negotiation (session thread)                                            */

static void
session_send_sdp (GstLetsChatSession * self, GstWebRTCSessionDescription * d)
{
  g_autofree gchar *text = gst_sdp_message_as_text (d->sdp);

  GST_DEBUG_OBJECT (self, "sending %s:\n%s",
      gst_webrtc_sdp_type_to_string (d->type), text);
  gst_lets_chat_signaller_send_description (self->signaller,
      gst_webrtc_sdp_type_to_string (d->type), text);
}

/* Both descriptions are applied: webrtcbin has set up what it sends with,
 * so the send streams can go in (those the answer takes). Before this,
 * webrtcbin would hold a buffer on its sink pad (blocking the pipeline's
 * streaming thread) until negotiation ends, which may be never. */
static void
session_on_negotiated (GstLetsChatSession * self, gpointer data)
{
  GError *error = promise_get_error (data);
  GstWebRTCSessionDescription *answer = NULL, *remote = NULL;
  GList *l;

  if (error) {
    g_object_get (session_webrtcbin (self), self->offerer ?
        "remote-description" : "local-description", &answer, NULL);
    {
      g_autofree gchar *text = description_text (answer);

      session_negotiation_failed (self, self->offerer ?
          "applying its answer" : "applying our answer", error, text);
    }
    g_clear_pointer (&answer, gst_webrtc_session_description_free);
    g_error_free (error);
    return;
  }
  /* Our answer when we answered, the other party's when we offered. */
  g_object_get (session_webrtcbin (self), self->offerer ?
      "current-remote-description" : "current-local-description", &answer,
      NULL);
  session_state (self)->negotiated = TRUE;
  if (answer)
    gst_lets_chat_send_clock_rates_learn (session_webrtcbin (self),
        answer->sdp);
  /* What the other party asked of what it receives: REMB or not. */
  g_object_get (session_webrtcbin (self), "current-remote-description",
      &remote, NULL);
  if (remote)
    gst_lets_chat_remb_learn (session_webrtcbin (self), remote->sdp);
  g_clear_pointer (&remote, gst_webrtc_session_description_free);
  g_mutex_lock (&self->pc_lock);
  for (l = self->send_streams; l; l = l->next)
    gst_lets_chat_send_stream_start (l->data, answer, self->offerer);
  g_mutex_unlock (&self->pc_lock);
  g_clear_pointer (&answer, gst_webrtc_session_description_free);
}

static void
session_on_description_created (GstLetsChatSession * self, gpointer data)
{
  GstPromise *promise = data;
  GError *error = promise_get_error (promise);
  GstWebRTCSessionDescription *desc = NULL;
  const GstStructure *reply;
  GstPromise *applied;

  if (error) {
    session_negotiation_failed (self, self->offerer ? "making our offer" :
        "making our answer", error, NULL);
    g_error_free (error);
    return;
  }
  reply = gst_promise_get_reply (promise);
  gst_structure_get (reply, self->offerer ? "offer" : "answer",
      GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, NULL);
  if (!desc)
    return;
  /* goog-remb, which GStreamer's SDP writer leaves out. */
  if (self->offerer) {
    gst_lets_chat_remb_describe (NULL, desc->sdp);
  } else {
    GstWebRTCSessionDescription *offer = NULL;

    g_object_get (session_webrtcbin (self), "remote-description", &offer, NULL);
    if (offer)
      gst_lets_chat_remb_describe (offer->sdp, desc->sdp);
    g_clear_pointer (&offer, gst_webrtc_session_description_free);
  }
  /* Applying our answer completes the negotiation; our offer waits for
   * the other party's answer. */
  applied = self->offerer ? NULL :
      session_new_promise (self, session_on_negotiated);
  g_signal_emit_by_name (session_webrtcbin (self), "set-local-description",
      desc, applied);
  if (applied)
    gst_promise_unref (applied);
  if (self->signaller)
    session_send_sdp (self, desc);
  gst_webrtc_session_description_free (desc);
}

static void
session_on_remote_offer_set (GstLetsChatSession * self, gpointer data)
{
  GError *error = promise_get_error (data);
  GstPromise *promise;

  if (error) {
    GstWebRTCSessionDescription *offer = NULL;
    g_autofree gchar *text = NULL;

    g_object_get (session_webrtcbin (self), "pending-remote-description",
        &offer, NULL);
    text = description_text (offer);
    session_negotiation_failed (self, "applying its offer", error, text);
    g_clear_pointer (&offer, gst_webrtc_session_description_free);
    g_error_free (error);
    return;
  }
  session_state (self)->remote_set = TRUE;
  gst_lets_chat_peer_connection_flush_candidates (self->pc);
  gst_lets_chat_peer_connection_enable_loss_recovery (session_webrtcbin
      (self), self->settings.do_retransmission, self->settings.do_fec);
  promise = session_new_promise (self, session_on_description_created);
  g_signal_emit_by_name (session_webrtcbin (self), "create-answer", NULL,
      promise);
  gst_promise_unref (promise);
}

static GList *
session_copy_send_streams (GstLetsChatSession * self)
{
  GList *streams;

  g_mutex_lock (&self->pc_lock);
  streams = g_list_copy (self->send_streams);
  g_mutex_unlock (&self->pc_lock);
  return streams;
}

static gboolean
session_has_src (GstLetsChatSession * self)
{
  gboolean have_src;

  GST_OBJECT_LOCK (self);
  have_src = self->src != NULL;
  GST_OBJECT_UNLOCK (self);
  return have_src;
}

static void
session_add_receivers (GstLetsChatSession * self)
{
  GstLetsChatNegotiationState *state = session_state (self);

  if (state->transceivers_ready)
    return;
  state->transceivers_ready = TRUE;
  gst_lets_chat_negotiation_add_receivers (session_webrtcbin (self),
      session_has_src (self));
}

static void
session_offer (GstLetsChatSession * self)
{
  GList *streams = session_copy_send_streams (self);
  GstPromise *promise;

  session_state (self)->offer_made = TRUE;
  gst_lets_chat_negotiation_send_preferred (streams, &self->pc_lock);
  g_list_free (streams);
  session_add_receivers (self);
  session_create_chat_channel (self);
  GST_INFO_OBJECT (self, "creating the offer for %s", self->peer_id);
  gst_lets_chat_peer_connection_enable_loss_recovery (session_webrtcbin
      (self), self->settings.do_retransmission, self->settings.do_fec);
  promise = session_new_promise (self, session_on_description_created);
  g_signal_emit_by_name (session_webrtcbin (self), "create-offer", NULL,
      promise);
  gst_promise_unref (promise);
}

static void
session_answer (GstLetsChatSession * self, GstWebRTCSessionDescription * offer)
{
  GList *streams = session_copy_send_streams (self);
  GstPromise *promise;
  gchar *missing;

  session_add_receivers (self);
  gst_lets_chat_negotiation_receive_as_offered (session_webrtcbin (self),
      offer);
  missing = gst_lets_chat_negotiation_send_as_offered (streams,
      &self->pc_lock, offer);
  g_list_free (streams);
  if (missing) {
    session_warning (self, STREAM, CODEC_NOT_FOUND,
        ("The other party does not take %s: that stream is not sent. "
            "Choose a codec both parties have (video-codec, or what the "
            "pipeline feeds letschatsink).", missing), (NULL));
    g_free (missing);
  }
  GST_INFO_OBJECT (self, "answering the offer of %s", self->peer_id);
  promise = session_new_promise (self, session_on_remote_offer_set);
  g_signal_emit_by_name (session_webrtcbin (self), "set-remote-description",
      offer, promise);
  gst_promise_unref (promise);
}

void
session_maybe_negotiate (GstLetsChatSession * self)
{
  guint holds;

  GST_OBJECT_LOCK (self);
  holds = self->holds;
  GST_OBJECT_UNLOCK (self);

  if (!self->peer_id || holds > 0 || !self->pc) {
    GST_DEBUG_OBJECT (self, "not negotiating yet: peer %s, %u pads without "
        "caps", self->peer_id, holds);
    return;
  }

  if (self->offerer && !session_state (self)->offer_made) {
    session_offer (self);
  } else if (!self->offerer && self->pending_offer) {
    GstWebRTCSessionDescription *offer = self->pending_offer;

    self->pending_offer = NULL;
    session_answer (self, offer);
    gst_webrtc_session_description_free (offer);
  }
}

/* What the other party sent, normalised for webrtcbin (see
 * gstletschatnegotiation.c); NULL, with a warning, if it cannot be read. */
static GstSDPMessage *
session_read_sdp (GstLetsChatSession * self, const gchar * text)
{
  GstSDPMessage *msg = NULL;
  GString *changes;

  if (gst_sdp_message_new_from_text (text, &msg) != GST_SDP_OK) {
    session_warning (self, STREAM, DECODE,
        ("The other party sent a session description that cannot be "
            "read; ignored"), ("%s", text));
    gst_sdp_message_free (msg);
    return NULL;
  }
  changes = g_string_new (NULL);
  gst_lets_chat_negotiation_normalise (msg, self->pc, changes);
  if (changes->len)
    GST_INFO_OBJECT (self, "the other party's description, adapted for "
        "webrtcbin: %s", changes->str);
  g_string_free (changes, TRUE);
  return msg;
}

void
on_description (GstLetsChatSignaller * signaller, const gchar * type,
    const gchar * text, GstLetsChatSession * self)
{
  GstLetsChatNegotiationState *state = session_state (self);
  GstSDPMessage *msg;
  GstWebRTCSessionDescription *desc;
  GstPromise *promise;

  if (!self->join_sent)
    return;                     /* left the room: late news */

  GST_DEBUG_OBJECT (self, "received %s:\n%s", type, text);
  if (g_str_equal (type, "offer")) {
    session_cancel_offer_wait (self);
    /* Both offered at once: the party with the greater id keeps its offer,
     * the other one answers. */
    if (state->offer_made && !state->remote_set &&
        g_strcmp0 (self->my_id, self->peer_id) > 0) {
      GST_INFO_OBJECT (self, "both offered: ours stands");
      return;
    }
    /* An offer on top of a negotiated call (or of our own offer): the other
     * party started over. Start over too. */
    if (state->remote_set || state->offer_made)
      session_restart_call (self, "new-offer");
    /* Read after a restart: what it notes belongs to the new connection. */
    if (!(msg = session_read_sdp (self, text)))
      return;
    desc = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_OFFER, msg);
    if (self->pending_offer)
      gst_webrtc_session_description_free (self->pending_offer);
    self->pending_offer = desc;
    self->offerer = FALSE;
    session_maybe_negotiate (self);
  } else if (g_str_equal (type, "answer")) {
    if (!state->offer_made || state->remote_set) {
      GST_INFO_OBJECT (self, "an answer to no offer of ours: ignored");
      return;
    }
    if (!(msg = session_read_sdp (self, text)))
      return;
    desc = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_ANSWER, msg);
    promise = session_new_promise (self, session_on_negotiated);
    g_signal_emit_by_name (session_webrtcbin (self), "set-remote-description",
        desc, promise);
    gst_promise_unref (promise);
    gst_webrtc_session_description_free (desc);
    state->remote_set = TRUE;
    gst_lets_chat_peer_connection_flush_candidates (self->pc);
  }
}
