/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * One stream the party sends, from the payloader to whichever webrtcbin
 * is current (see the header). It owns the relay and the stream's send
 * transceiver; it never negotiates (gstletschatnegotiation.c picks its
 * format) and never touches the sink's elements except through the
 * switch-codec function the sink gave it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/rtp/rtp.h>
#include <gst/sdp/sdp.h>

#include "gstletschatsendstream.h"

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_send_stream_debug);
#define GST_CAT_DEFAULT gst_lets_chat_send_stream_debug

struct _GstLetsChatSendStream
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
  /* Announced in every description (a=ssrc with msid) and stamped by the
   * payloader: stacks that route a BUNDLE by announced SSRC (pion) find
   * the stream by it. The same for every peer connection. */
  guint32 ssrc;
};

#define MID_EXTENSION_URI GST_RTP_HDREXT_BASE "sdes:mid"

GstLetsChatSendStream *
gst_lets_chat_send_stream_new (GstPad * upstream,
    const GstLetsChatCodec * codec)
{
  GstLetsChatSendStream *stream = g_new0 (GstLetsChatSendStream, 1);
  static gsize debug = 0;

  if (g_once_init_enter (&debug)) {
    GST_DEBUG_CATEGORY_INIT (gst_lets_chat_send_stream_debug,
        "letschatsendstream", 0, "letschat send stream (payloader to call)");
    g_once_init_leave (&debug, 1);
  }
  stream->relay = gst_lets_chat_relay_new (upstream);
  stream->upstream = gst_object_ref (upstream);
  stream->codec = codec;
  stream->preferred = codec;
  stream->ssrc = g_random_int ();
  return stream;
}

GstPad *
gst_lets_chat_send_stream_get_upstream (GstLetsChatSendStream * stream)
{
  return gst_object_ref (stream->upstream);
}

void
gst_lets_chat_send_stream_free (GstLetsChatSendStream * stream)
{
  gst_lets_chat_send_stream_attach (stream, NULL);
  gst_lets_chat_relay_free (stream->relay);
  gst_object_unref (stream->upstream);
  g_free (stream);
}

const GstLetsChatCodec *
gst_lets_chat_send_stream_get_codec (GstLetsChatSendStream * stream)
{
  return stream->codec;
}

void
gst_lets_chat_send_stream_set_switchable (GstLetsChatSendStream * stream,
    GstLetsChatSwitchCodecFunc func, gpointer user_data, gboolean chosen)
{
  stream->switch_codec = func;
  stream->switch_data = user_data;
  stream->chosen = chosen;
}

gboolean
gst_lets_chat_send_stream_is_switchable (GstLetsChatSendStream * stream)
{
  return stream->switch_codec != NULL;
}

gboolean
gst_lets_chat_send_stream_is_chosen (GstLetsChatSendStream * stream)
{
  return stream->chosen;
}

const GstLetsChatCodec *
gst_lets_chat_send_stream_get_preferred (GstLetsChatSendStream * stream)
{
  return stream->preferred;
}

/* Makes the payloader stamp @pt and the stream's SSRC, renegotiating its
 * caps at its next buffer if that changes anything. */
static void
send_stream_set_payload_type (GstLetsChatSendStream * stream, guint pt)
{
  GstElement *payloader = gst_pad_get_parent_element (stream->upstream);
  guint current_pt, current_ssrc;

  if (!payloader)
    return;
  g_object_get (payloader, "pt", &current_pt, "ssrc", &current_ssrc, NULL);
  if (current_pt != pt || current_ssrc != stream->ssrc) {
    g_object_set (payloader, "pt", pt, "ssrc", stream->ssrc, NULL);
    gst_pad_send_event (stream->upstream, gst_event_new_reconfigure ());
  }
  gst_object_unref (payloader);
}

/* What the transceiver offers or answers: @caps, with the SSRC that the
 * description announces. */
static GstCaps *
send_stream_describe (GstLetsChatSendStream * stream, const GstCaps * caps)
{
  GstCaps *described = gst_caps_copy (caps);

  gst_caps_set_simple (described, "ssrc", G_TYPE_UINT, stream->ssrc, NULL);
  return described;
}

static void
send_stream_set_preferences (GstLetsChatSendStream * stream, GstCaps * caps)
{
  GstWebRTCRTPTransceiver *t = NULL;
  GstCaps *described;

  if (!stream->webrtc_pad)
    return;
  g_object_get (stream->webrtc_pad, "transceiver", &t, NULL);
  if (t) {
    described = send_stream_describe (stream, caps);
    g_object_set (t, "codec-preferences", described, NULL);
    gst_caps_unref (described);
    gst_object_unref (t);
  }
}

gboolean
gst_lets_chat_send_stream_switch_codec (GstLetsChatSendStream * stream,
    const GstLetsChatCodec * codec, GMutex * lock)
{
  GstPad *upstream;
  GstCaps *caps;

  if (!stream->switch_codec || stream->codec == codec)
    return stream->codec == codec;
  GST_INFO ("switching a stream from %s to %s", stream->codec->encoding_name,
      codec->encoding_name);
  upstream = stream->switch_codec (stream->switch_data, codec);
  if (!upstream)
    return FALSE;
  gst_lets_chat_relay_set_upstream (stream->relay, upstream);
  g_mutex_lock (lock);
  gst_object_replace ((GstObject **) & stream->upstream, GST_OBJECT (upstream));
  stream->codec = codec;
  caps = gst_lets_chat_codec_rtp_caps (codec);
  send_stream_set_preferences (stream, caps);
  gst_caps_unref (caps);
  g_mutex_unlock (lock);
  gst_object_unref (upstream);
  return TRUE;
}

void
gst_lets_chat_send_stream_attach (GstLetsChatSendStream * stream,
    GstElement * webrtc)
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
  g_object_set (t, "direction", GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDONLY,
      NULL);
  gst_object_unref (t);
  caps = gst_lets_chat_codec_rtp_caps (stream->codec);
  send_stream_set_preferences (stream, caps);
  gst_caps_unref (caps);
  /* An earlier answer may have changed it. */
  send_stream_set_payload_type (stream, stream->codec->payload_type);
}

void
gst_lets_chat_send_stream_set_format (GstLetsChatSendStream * stream,
    GstCaps * prefs, gint pt)
{
  send_stream_set_preferences (stream, prefs);
  send_stream_set_payload_type (stream, pt);
}

/* The m-line of @sdp whose a=mid is @mid, or NULL. */
static const GstSDPMedia *
find_media_by_mid (const GstSDPMessage * sdp, const gchar * mid)
{
  guint i;

  for (i = 0; mid && i < gst_sdp_message_medias_len (sdp); i++) {
    const GstSDPMedia *media = gst_sdp_message_get_media (sdp, i);

    if (g_strcmp0 (gst_sdp_media_get_attribute_val (media, "mid"), mid) == 0)
      return media;
  }
  return NULL;
}

/* The m-line of @answer that the stream's transceiver took, or NULL. */
static const GstSDPMedia *
send_stream_find_media (GstLetsChatSendStream * stream,
    GstWebRTCSessionDescription * answer)
{
  GstWebRTCRTPTransceiver *t = NULL;
  const GstSDPMedia *media = NULL;
  gchar *mid = NULL;

  g_object_get (stream->webrtc_pad, "transceiver", &t, NULL);
  if (t) {
    g_object_get (t, "mid", &mid, NULL);
    gst_object_unref (t);
  }
  if (answer)
    media = find_media_by_mid (answer->sdp, mid);
  g_free (mid);
  return media;
}

/* Whether the answer lets this stream be sent: it can refuse it (the other
 * party only sends, or has no codec for it), or webrtcbin may have found
 * no m-line of the offer for the transceiver at all (then it has no mid).
 * webrtcbin never takes media on the sink pad of a transceiver that does
 * not send: a relay linked there would block the sink's streaming thread
 * for good (and with it EOS), so such a stream stays dropped at the relay.
 * Read from the answer itself: webrtcbin 1.22's transceiver
 * current-direction does not follow it. */
static gboolean
media_lets_us_send (const GstSDPMedia * media, gboolean offerer)
{
  if (!media || gst_sdp_media_get_port (media) == 0)
    return FALSE;
  if (gst_sdp_media_get_attribute_val (media, "inactive"))
    return FALSE;
  if (gst_sdp_media_get_attribute_val (media, "sendonly"))
    return !offerer;
  if (gst_sdp_media_get_attribute_val (media, "recvonly"))
    return offerer;
  return TRUE;
}

/* RFC 8843: each packet names its m-line's mid in the header extension the
 * answer agreed on, so that any stack can route a BUNDLE by MID. The
 * payloader writes it; the mid and the id are those of this peer
 * connection (a browser's offer numbers its m-lines "0", "1"...). */
static void
send_stream_set_mid (GstLetsChatSendStream * stream, const GstSDPMedia * media)
{
  GstElement *payloader = gst_pad_get_parent_element (stream->upstream);
  const gchar *mid = gst_sdp_media_get_attribute_val (media, "mid");
  guint id = gst_lets_chat_codec_mid_extmap_id (media);
  GstRTPHeaderExtension *ext;

  if (!payloader)
    return;
  g_object_set (payloader, "auto-header-extension", FALSE, NULL);
  g_signal_emit_by_name (payloader, "clear-extensions");
  if (id > 0 && mid &&
      (ext = gst_rtp_header_extension_create_from_uri (MID_EXTENSION_URI))) {
    gst_rtp_header_extension_set_id (ext, id);
    g_object_set (ext, "mid", mid, NULL);
    g_signal_emit_by_name (payloader, "add-extension", ext);
    gst_object_unref (ext);
    GST_INFO ("%s stream: mid %s in header extension %u",
        stream->codec->encoding_name, mid, id);
  }
  /* Transport-wide sequence numbers, if the answer took them: the other
   * party reports each packet's arrival (transport-cc), which the
   * congestion control reads (gstletschatcongestion.c). */
  id = gst_lets_chat_codec_twcc_extmap_id (media);
  if (id > 0 && (ext = gst_rtp_header_extension_create_from_uri
          ("http://www.ietf.org/id/"
              "draft-holmer-rmcat-transport-wide-cc-extensions-01"))) {
    gst_rtp_header_extension_set_id (ext, id);
    g_signal_emit_by_name (payloader, "add-extension", ext);
    gst_object_unref (ext);
  }
  gst_object_unref (payloader);
}

/* The offer's H.264 profile in the codec preferences made webrtcbin match
 * the transceiver to the offer's format (a Baseline one, say). With the
 * format settled, the stream says its own profile (Constrained Baseline,
 * a subset of Baseline) through webrtcbin's sink pad: the offer's profile
 * must not stand in its way, or the encoder finds no caps to make. */
static void
send_stream_relax_preferences (GstLetsChatSendStream * stream)
{
  GstWebRTCRTPTransceiver *t = NULL;
  GstCaps *prefs = NULL;

  g_object_get (stream->webrtc_pad, "transceiver", &t, NULL);
  if (!t)
    return;
  g_object_get (t, "codec-preferences", &prefs, NULL);
  if (prefs && !gst_caps_is_empty (prefs)) {
    prefs = gst_caps_make_writable (prefs);
    gst_structure_remove_fields (gst_caps_get_structure (prefs, 0),
        "profile", "profile-level-id", NULL);
    g_object_set (t, "codec-preferences", prefs, NULL);
  }
  gst_clear_caps (&prefs);
  gst_object_unref (t);
}

gboolean
gst_lets_chat_send_stream_start (GstLetsChatSendStream * stream,
    GstWebRTCSessionDescription * answer, gboolean offerer)
{
  const GstSDPMedia *media;
  gboolean sent;

  if (!stream->webrtc_pad)
    return FALSE;
  media = send_stream_find_media (stream, answer);
  sent = media_lets_us_send (media, offerer);
  GST_INFO ("%s stream (mid %s): %s", stream->codec->encoding_name,
      media ? GST_STR_NULL (gst_sdp_media_get_attribute_val (media, "mid")) :
      "none", sent ? "sent" : "not taken by the other party");
  if (!sent)
    return FALSE;
  send_stream_set_mid (stream, media);
  send_stream_relax_preferences (stream);
  gst_lets_chat_relay_attach (stream->relay, stream->webrtc_pad);
  return TRUE;
}

void
gst_lets_chat_send_stream_request_keyframe (GstLetsChatSendStream * stream)
{
  gst_lets_chat_relay_request_keyframe (stream->relay);
}
