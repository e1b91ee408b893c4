/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/*
 * Which codecs letschat speaks and the elements for each: encoder,
 * payloader, depayloader, decoder, and the caps that name a codec in
 * webrtcbin's transceivers and in offers. It chooses no codec for a call
 * (gstletschatnegotiation.c does) and touches no running pipeline.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <gst/video/video.h>

#include "gstletschatcodecs.h"
#include "gstletschatladder.h"
#include "gstletschatkeyframerequests.h"
#include "gstletschatcongestion.h"

/* Payload types follow what browsers commonly use, so an offer from a
 * letschat party reads like one from a browser. */
static const GstLetsChatCodec codecs[] = {
  {"VP8", "video", 90000, 96, "video/x-vp8", "video/x-raw"},
  {"VP9", "video", 90000, 98, "video/x-vp9", "video/x-raw"},
  {"H264", "video", 90000, 102, "video/x-h264", "video/x-raw"},
  {"OPUS", "audio", 48000, 111, "audio/x-opus", "audio/x-raw"},
};

#define CODEC_VP8 (&codecs[0])
#define CODEC_VP9 (&codecs[1])
#define CODEC_H264 (&codecs[2])
#define CODEC_OPUS (&codecs[3])

#define MID_EXTMAP_ID 4
#define MID_EXTMAP_URI "urn:ietf:params:rtp-hdrext:sdes:mid"
/* Transport-wide sequence numbers (rtphdrexttwcc), with the id Chromium
 * uses: the receiver's rtpsession reports each packet's arrival in
 * transport-cc feedback, which the sender's congestion control reads
 * (gstletschatcongestion.c). */
#define TWCC_EXTMAP_ID 3
#define TWCC_EXTMAP_URI \
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

GType
gst_lets_chat_video_codec_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_LETS_CHAT_VIDEO_CODEC_VP8, "VP8", "vp8"},
    {GST_LETS_CHAT_VIDEO_CODEC_VP9, "VP9", "vp9"},
    {GST_LETS_CHAT_VIDEO_CODEC_H264,
        "H.264 constrained baseline (what browsers accept)", "h264"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstLetsChatVideoCodec", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

const GstLetsChatCodec *
gst_lets_chat_codec_for_video (GstLetsChatVideoCodec codec)
{
  switch (codec) {
    case GST_LETS_CHAT_VIDEO_CODEC_VP9:
      return CODEC_VP9;
    case GST_LETS_CHAT_VIDEO_CODEC_H264:
      return CODEC_H264;
    case GST_LETS_CHAT_VIDEO_CODEC_VP8:
    default:
      return CODEC_VP8;
  }
}

const GstLetsChatCodec *
gst_lets_chat_codec_opus (void)
{
  return CODEC_OPUS;
}

const GstLetsChatCodec *
gst_lets_chat_codec_for_caps (const GstCaps * caps)
{
  const GstStructure *s;
  const gchar *name;
  guint i;

  if (!caps || gst_caps_is_empty (caps) || gst_caps_is_any (caps))
    return NULL;
  s = gst_caps_get_structure (caps, 0);
  name = gst_structure_get_name (s);

  for (i = 0; i < G_N_ELEMENTS (codecs); i++) {
    if (g_str_equal (name, "application/x-rtp")) {
      const gchar *enc = gst_structure_get_string (s, "encoding-name");
      if (enc && g_ascii_strcasecmp (enc, codecs[i].encoding_name) == 0)
        return &codecs[i];
    } else if (g_str_equal (name, codecs[i].encoded_caps)) {
      return &codecs[i];
    }
  }
  return NULL;
}

GstCaps *
gst_lets_chat_codec_rtp_caps (const GstLetsChatCodec * codec)
{
  GstCaps *caps = gst_caps_new_simple ("application/x-rtp",
      "media", G_TYPE_STRING, codec->media,
      "encoding-name", G_TYPE_STRING, codec->encoding_name,
      "payload", G_TYPE_INT, codec->payload_type,
      "clock-rate", G_TYPE_INT, codec->clock_rate, NULL);

  /* What Chromium and Safari decode: constrained baseline, packetization
   * mode 1. No profile-level-id: webrtcbin advertises it from the stream. */
  if (codec == CODEC_H264)
    gst_caps_set_simple (caps, "packetization-mode", G_TYPE_STRING, "1",
        "profile", G_TYPE_STRING, "constrained-baseline", NULL);
  if (codec == CODEC_OPUS)
    gst_caps_set_simple (caps, "encoding-params", G_TYPE_STRING, "2", NULL);
  /* Our offers name the MID header extension (RFC 8843), with the id
   * browsers use, so that the answerer can route our packets by mid. */
  gst_caps_set_simple (caps, "extmap-" G_STRINGIFY (MID_EXTMAP_ID),
      G_TYPE_STRING, MID_EXTMAP_URI, "extmap-" G_STRINGIFY (TWCC_EXTMAP_ID),
      G_TYPE_STRING, TWCC_EXTMAP_URI, NULL);
  return caps;
}

/* The id @media gives the header extension @uri, or 0. */
static guint
media_extmap_id (const GstSDPMedia * media, const gchar * uri)
{
  guint i;

  for (i = 0; i < gst_sdp_media_attributes_len (media); i++) {
    const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, i);
    gchar **parts;
    guint id = 0;

    if (!g_str_equal (attr->key, "extmap") || !attr->value)
      continue;
    parts = g_strsplit (attr->value, " ", 3);
    if (parts[0] && parts[1] && g_str_equal (parts[1], uri))
      id = (guint) g_ascii_strtoull (parts[0], NULL, 10);
    g_strfreev (parts);
    if (id > 0 && id < 256)
      return id;
  }
  return 0;
}

guint
gst_lets_chat_codec_mid_extmap_id (const GstSDPMedia * media)
{
  return media_extmap_id (media, MID_EXTMAP_URI);
}

guint
gst_lets_chat_codec_twcc_extmap_id (const GstSDPMedia * media)
{
  return media_extmap_id (media, TWCC_EXTMAP_URI);
}

/* The header extension @uri with the offer's id @id (none if 0): an
 * answer uses the offer's ids. */
static void
set_offered_extmap (GstStructure * s, guint id, const gchar * uri)
{
  if (id) {
    gchar *field = g_strdup_printf ("extmap-%u", id);

    gst_structure_set (s, field, G_TYPE_STRING, uri, NULL);
    g_free (field);
  }
}

GstCaps *
gst_lets_chat_codec_receivable_rtp_caps (const gchar * media)
{
  GstCaps *caps = gst_caps_new_empty ();
  guint i;

  for (i = 0; i < G_N_ELEMENTS (codecs); i++) {
    GstCaps *one;

    if (!g_str_equal (codecs[i].media, media))
      continue;
    one = gst_lets_chat_codec_rtp_caps (&codecs[i]);
    /* webrtcbin writes no "profile" into an offer, and Chromium reads an
     * H264 without profile-level-id as baseline 1.0, which it will not
     * send: name constrained baseline 3.1, what browsers send. */
    if (&codecs[i] == CODEC_H264)
      gst_caps_set_simple (one, "profile-level-id", G_TYPE_STRING, "42e01f",
          NULL);
    gst_caps_append (caps, one);
  }
  return caps;
}

/* The formats of @media, an m-line of the other party's offer, that we can
 * receive: in the offer's order (the offerer's preference) and with its
 * payload types, which webrtcbin 1.22 needs to answer. H264 only in
 * packetization mode 1. NULL if there is none. */
/* The value of @param in the a=fmtp of payload type @pt, or NULL (free). */
static gchar *
media_fmtp_param (const GstSDPMedia * media, gint pt, const gchar * param)
{
  g_autofree gchar *prefix = g_strdup_printf ("%d ", pt);
  guint i;

  for (i = 0; i < gst_sdp_media_attributes_len (media); i++) {
    const GstSDPAttribute *attr = gst_sdp_media_get_attribute (media, i);
    gchar **params, **p;
    gchar *value = NULL;

    if (!g_str_equal (attr->key, "fmtp") || !attr->value ||
        !g_str_has_prefix (attr->value, prefix))
      continue;
    params = g_strsplit (attr->value + strlen (prefix), ";", -1);
    for (p = params; *p && !value; p++) {
      gchar *name = g_strstrip (*p);

      if (g_str_has_prefix (name, param) && name[strlen (param)] == '=')
        value = g_strdup (name + strlen (param) + 1);
    }
    g_strfreev (params);
    return value;
  }
  return NULL;
}

GstCaps *
gst_lets_chat_codec_receivable_caps_from_offer (const GstSDPMedia * media)
{
  GstCaps *caps = gst_caps_new_empty ();
  guint mid_id = gst_lets_chat_codec_mid_extmap_id (media);
  guint twcc_id = media_extmap_id (media, TWCC_EXTMAP_URI);
  guint i, j;

  for (i = 0; i < gst_sdp_media_formats_len (media); i++) {
    gint pt = (gint) g_ascii_strtoll (gst_sdp_media_get_format (media, i),
        NULL, 10);
    GstCaps *offered = gst_sdp_media_get_caps_from_media (media, pt);
    const GstStructure *s;
    const gchar *enc;

    if (!offered)
      continue;
    s = gst_caps_get_structure (offered, 0);
    enc = gst_structure_get_string (s, "encoding-name");
    for (j = 0; enc && j < G_N_ELEMENTS (codecs); j++) {
      GstCaps *one;
      const gchar *profile;

      if (g_ascii_strcasecmp (enc, codecs[j].encoding_name) != 0
          || !g_str_equal (codecs[j].media, gst_sdp_media_get_media (media)))
        continue;
      if (&codecs[j] == CODEC_H264
          && g_strcmp0 (gst_structure_get_string (s, "packetization-mode"),
              "1") != 0)
        break;
      one = gst_lets_chat_codec_rtp_caps (&codecs[j]);
      gst_caps_set_simple (one, "payload", G_TYPE_INT, pt, NULL);
      /* The MID and TWCC header extensions with the offer's ids, if it
       * has them. */
      gst_structure_remove_fields (gst_caps_get_structure (one, 0),
          "extmap-" G_STRINGIFY (MID_EXTMAP_ID),
          "extmap-" G_STRINGIFY (TWCC_EXTMAP_ID), NULL);
      set_offered_extmap (gst_caps_get_structure (one, 0), mid_id,
          MID_EXTMAP_URI);
      set_offered_extmap (gst_caps_get_structure (one, 0), twcc_id,
          TWCC_EXTMAP_URI);
      /* The offer's own H.264 profile (GstSDP reads profile-level-id into
       * "profile"): webrtcbin matches a transceiver to a format only if
       * they intersect, and Chromium offers Baseline (42001f) before
       * Constrained Baseline (42e01f). */
      if (&codecs[j] == CODEC_H264) {
        GstStructure *one_s = gst_caps_get_structure (one, 0);

        gchar *plid = media_fmtp_param (media, pt, "profile-level-id");

        profile = gst_structure_get_string (s, "profile");
        if (profile)
          gst_structure_set (one_s, "profile", G_TYPE_STRING, profile, NULL);
        else
          gst_structure_remove_field (one_s, "profile");
        /* RFC 6184: the answer keeps the offer's profile-level-id (an
         * answer without one would mean Baseline level 1.0). */
        if (plid)
          gst_structure_set (one_s, "profile-level-id", G_TYPE_STRING, plid,
              NULL);
        g_free (plid);
      }
      gst_caps_append (caps, one);
      break;
    }
    gst_caps_unref (offered);
  }
  if (gst_caps_is_empty (caps))
    gst_clear_caps (&caps);
  return caps;
}

GstCaps *
gst_lets_chat_codec_all_caps (const gchar * media)
{
  GstCaps *caps = gst_caps_new_empty ();
  guint i;

  gst_caps_append (caps, gst_caps_from_string (g_str_equal (media,
              "video") ? "video/x-raw" : "audio/x-raw"));
  for (i = 0; i < G_N_ELEMENTS (codecs); i++) {
    if (g_str_equal (codecs[i].media, media))
      gst_caps_append (caps, gst_caps_from_string (codecs[i].encoded_caps));
  }
  return caps;
}

static GstElement *
make (const gchar * factory, GError ** error)
{
  GstElement *e = gst_element_factory_make (factory, NULL);

  if (!e && error && !*error)
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
        "The GStreamer element '%s' is missing: install the package that "
        "provides it (on Debian: gstreamer1.0-plugins-good, -bad, -ugly "
        "or -libav)", factory);
  return e;
}

/* The highest-ranked installed element of @klass that handles @caps on the
 * side @direction: used for H.264, where Debian may have x264enc or
 * openh264enc, avdec_h264 or openh264dec. */
static GstElement *
make_best (GstElementFactoryListType type, const gchar * caps_str,
    GstPadDirection direction, GError ** error)
{
  GList *all, *found;
  GstElement *e = NULL;
  GstCaps *caps = gst_caps_from_string (caps_str);

  all = gst_element_factory_list_get_elements (type, GST_RANK_MARGINAL);
  found = gst_element_factory_list_filter (all, caps, direction, FALSE);
  found = g_list_sort (found, gst_plugin_feature_rank_compare_func);
  if (found)
    e = gst_element_factory_create (GST_ELEMENT_FACTORY (found->data), NULL);
  else
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN,
        "No GStreamer element handles %s: install gstreamer1.0-libav or "
        "gstreamer1.0-plugins-ugly", caps_str);
  gst_plugin_feature_list_free (found);
  gst_plugin_feature_list_free (all);
  gst_caps_unref (caps);
  return e;
}

static gboolean
check_made (GList * elements, GError ** error)
{
  GList *l;

  for (l = elements; l; l = l->next)
    if (l->data == NULL)
      return FALSE;
  return error == NULL || *error == NULL;
}

static void
drop_chain (GList * elements)
{
  GList *l;

  for (l = elements; l; l = l->next)
    if (l->data)
      gst_object_unref (gst_object_ref_sink (l->data));
  g_list_free (elements);
}

/* Encoder settings for a call, not for storage: no look-ahead frames, the
 * fastest real-time mode, a keyframe at least every 2 s so that a receiver
 * (or a recording) that starts late does not wait long.
 * The rate control holds to the target within a second, not libvpx's
 * default 6 s buffer, in which a busy picture overshot a 600 kbit/s link
 * for seconds (the link's queue then dropped whole frames); it drops a
 * frame rather than overshoot (dropframe-threshold), and a keyframe may
 * be at most 9 frames' worth of bits (max-intra-bitrate, %), so that a
 * keyframe asked for after a loss does not itself flood the link. The
 * ladder (gstletschatladder.c) reads the drops as "too busy a picture for
 * its size". WebRTC's browsers set libvpx's rate control the same way.
 * libvpx's VP8 encoder busy-waits between its threads: with 2 threads it
 * took 3 times the CPU of 1 thread at 640x480 (1.3 times at 1080p, where 1
 * thread still kept up with 30 fps), and on a loaded 2-core machine the
 * spinning starved the rest of the pipeline. VP9 does not spin. */
static GstElement *
make_encoder (const GstLetsChatCodec * codec, guint video_bitrate,
    GError ** error)
{
  GstElement *enc = NULL;

  if (codec == CODEC_VP8 || codec == CODEC_VP9) {
    enc = make (codec == CODEC_VP8 ? "vp8enc" : "vp9enc", error);
    if (enc)
      g_object_set (enc, "deadline", (gint64) 1, "lag-in-frames", 0,
          "cpu-used", codec == CODEC_VP8 ? 8 : 7,
          "threads", codec == CODEC_VP8 ? 1 : 2,
          "end-usage", 1 /* cbr */ , "keyframe-max-dist", 60,
          "error-resilient", 1, "buffer-size", 1000,
          "buffer-initial-size", 500, "buffer-optimal-size", 600,
          "overshoot", 15, "dropframe-threshold", 30,
          "max-intra-bitrate", 900, NULL);
  } else if (codec == CODEC_H264) {
    enc = make_best (GST_ELEMENT_FACTORY_TYPE_VIDEO_ENCODER, "video/x-h264",
        GST_PAD_SRC, error);
    if (enc && g_str_has_prefix (GST_OBJECT_NAME (enc), "x264enc"))
      gst_util_set_object_arg (G_OBJECT (enc), "tune", "zerolatency");
    if (enc && g_str_has_prefix (GST_OBJECT_NAME (enc), "x264enc"))
      g_object_set (enc, "speed-preset", 1 /* ultrafast */ , "key-int-max",
          60, NULL);
  } else if (codec == CODEC_OPUS) {
    enc = make ("opusenc", error);
    if (enc)
      gst_util_set_object_arg (G_OBJECT (enc), "audio-type",
          "restricted-lowdelay");
  }
  if (enc && codec != CODEC_OPUS)
    gst_lets_chat_congestion_set_encoder_bitrate (enc, video_bitrate);
  return enc;
}

static GstElement *
make_payloader (const GstLetsChatCodec * codec, GError ** error)
{
  GstElement *pay = NULL;

  if (codec == CODEC_VP8) {
    pay = make ("rtpvp8pay", error);
    /* Chromium plays 15-bit picture ids smoothly; 7-bit ones stutter. */
    if (pay)
      gst_util_set_object_arg (G_OBJECT (pay), "picture-id-mode", "15-bit");
  } else if (codec == CODEC_VP9) {
    pay = make ("rtpvp9pay", error);
  } else if (codec == CODEC_H264) {
    pay = make ("rtph264pay", error);
    /* SPS/PPS with every keyframe: a receiver can join at any keyframe. */
    if (pay)
      g_object_set (pay, "config-interval", -1, "aggregate-mode", 1, NULL);
  } else if (codec == CODEC_OPUS) {
    pay = make ("rtpopuspay", error);
  }
  if (pay)
    g_object_set (pay, "pt", codec->payload_type, NULL);
  return pay;
}

/* Where the congestion control lowers the resolution and then the frame
 * rate when the path takes too little for the input's size
 * (gstletschatladder.c sets the capsfilter's caps; unconstrained until
 * then). videorate only drops frames, never duplicates them. Not for
 * H.264: a size change there means new parameter sets in the middle of the
 * stream, which not every receiver takes. */
static GList *
make_ladder (GError ** error)
{
  GstElement *rate = make ("videorate", error);
  GstElement *filter = make ("capsfilter", error);

  if (rate)
    g_object_set (rate, "drop-only", TRUE, NULL);
  if (filter)
    g_object_set_data (G_OBJECT (filter), GST_LETS_CHAT_LADDER_KEY,
        GINT_TO_POINTER (1));
  return g_list_append (g_list_append (g_list_append (NULL,
              make ("videoscale", error)), rate), filter);
}

GList *
gst_lets_chat_codec_make_sender (const GstLetsChatCodec * codec,
    gboolean encode, guint video_bitrate, GError ** error)
{
  GList *chain = NULL;
  gboolean video = g_str_equal (codec->media, "video");

  if (encode) {
    GstElement *encoder;

    chain = g_list_append (chain, make (video ? "videoconvert" :
            "audioconvert", error));
    if (!video)
      chain = g_list_append (chain, make ("audioresample", error));
    if (video && codec != CODEC_H264)
      chain = g_list_concat (chain, make_ladder (error));
    encoder = make_encoder (codec, video_bitrate, error);
    if (encoder && video && codec != CODEC_H264)
      gst_lets_chat_ladder_watch (encoder);
    if (encoder && video)
      gst_lets_chat_keyframe_requests_watch (encoder);
    chain = g_list_append (chain, encoder);
  }
  if (codec == CODEC_H264) {
    GstElement *filter = make ("capsfilter", error);

    /* Browsers decode constrained baseline; x264enc must produce it. */
    if (filter && encode) {
      GstCaps *caps =
          gst_caps_from_string ("video/x-h264,profile=constrained-baseline");
      g_object_set (filter, "caps", caps, NULL);
      gst_caps_unref (caps);
    }
    chain = g_list_append (chain, filter);
    chain = g_list_append (chain, make ("h264parse", error));
  }
  chain = g_list_append (chain, make_payloader (codec, error));

  if (!check_made (chain, error)) {
    drop_chain (chain);
    return NULL;
  }
  return chain;
}

static void
set_if_present (GstElement * e, const gchar * property, gboolean value)
{
  if (e && g_object_class_find_property (G_OBJECT_GET_CLASS (e), property))
    g_object_set (e, property, value, NULL);
}

/* A video stream that lost what retransmission could not bring back asks
 * the sender for a keyframe at once (a PLI, which webrtcbin sends when a
 * force-key-unit event goes upstream) instead of waiting for the next
 * periodic one, and shows nothing broken meanwhile: the depayloader drops
 * what follows a loss until a keyframe, the decoder asks again for one
 * when it meets a frame it cannot decode and drops corrupted ones. */
static void
receiver_ask_keyframes (GList * chain)
{
  GList *l;

  for (l = chain; l; l = l->next) {
    GstElement *e = l->data;

    set_if_present (e, "request-keyframe", TRUE);
    set_if_present (e, "wait-for-keyframe", TRUE);
    if (e && GST_IS_VIDEO_DECODER (e)) {
      set_if_present (e, "automatic-request-sync-points", TRUE);
      set_if_present (e, "discard-corrupted-frames", TRUE);
    }
  }
}

GList *
gst_lets_chat_codec_make_receiver (const GstLetsChatCodec * codec,
    gboolean decode, GError ** error)
{
  GList *chain = NULL;

  if (codec == CODEC_VP8) {
    chain = g_list_append (chain, make ("rtpvp8depay", error));
    if (decode)
      chain = g_list_append (chain, make ("vp8dec", error));
  } else if (codec == CODEC_VP9) {
    chain = g_list_append (chain, make ("rtpvp9depay", error));
    if (decode)
      chain = g_list_append (chain, make ("vp9dec", error));
  } else if (codec == CODEC_H264) {
    chain = g_list_append (chain, make ("rtph264depay", error));
    chain = g_list_append (chain, make ("h264parse", error));
    if (decode)
      chain = g_list_append (chain,
          make_best (GST_ELEMENT_FACTORY_TYPE_DECODER |
              GST_ELEMENT_FACTORY_TYPE_MEDIA_VIDEO, "video/x-h264",
              GST_PAD_SINK, error));
  } else if (codec == CODEC_OPUS) {
    chain = g_list_append (chain, make ("rtpopusdepay", error));
    if (decode) {
      chain = g_list_append (chain, make ("opusdec", error));
    } else {
      /* rtpopusdepay says the rate only when the sender's description
       * gives sprop-maxcapturerate (browsers do not); Matroska and WebM
       * muxers need it. Opus is 48 kHz on the wire whatever was captured
       * (RFC 7587). */
      GstElement *filter = make ("capsfilter", error);

      if (filter) {
        GstCaps *caps = gst_caps_from_string ("audio/x-opus,rate=48000");

        g_object_set (filter, "caps", caps, NULL);
        gst_caps_unref (caps);
      }
      chain = g_list_append (chain, filter);
    }
  }

  if (!chain || !check_made (chain, error)) {
    drop_chain (chain);
    return NULL;
  }
  if (g_str_equal (codec->media, "video"))
    receiver_ask_keyframes (chain);
  return chain;
}
