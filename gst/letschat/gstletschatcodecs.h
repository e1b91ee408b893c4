/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/sdp/sdp.h>

G_BEGIN_DECLS
/* The codecs letschat sends and receives, and the elements that handle each
 * one: the single place that knows "VP8 is vp8enc + rtpvp8pay on the way out
 * and rtpvp8depay + vp8dec on the way in". */
    typedef enum
{
  GST_LETS_CHAT_VIDEO_CODEC_VP8,
  GST_LETS_CHAT_VIDEO_CODEC_VP9,
  GST_LETS_CHAT_VIDEO_CODEC_H264,
} GstLetsChatVideoCodec;

#define GST_TYPE_LETS_CHAT_VIDEO_CODEC (gst_lets_chat_video_codec_get_type ())
GType gst_lets_chat_video_codec_get_type (void);

typedef struct
{
  const gchar *encoding_name;   /* RTP encoding-name, as in SDP */
  const gchar *media;           /* "video" or "audio" */
  guint clock_rate;
  guint payload_type;           /* what we offer; an answer may change it */
  const gchar *encoded_caps;    /* e.g. "video/x-vp8" */
  const gchar *raw_caps;        /* "video/x-raw" or "audio/x-raw" */
} GstLetsChatCodec;

const GstLetsChatCodec *gst_lets_chat_codec_for_video (GstLetsChatVideoCodec
    codec);
const GstLetsChatCodec *gst_lets_chat_codec_opus (void);
/* Looks a codec up by its encoded caps (video/x-vp8, audio/x-opus, ...) or
 * its RTP caps (application/x-rtp, encoding-name=VP8). NULL if unsupported. */
const GstLetsChatCodec *gst_lets_chat_codec_for_caps (const GstCaps * caps);

/* RTP caps for @codec as webrtcbin's codec-preferences want them. */
GstCaps *gst_lets_chat_codec_rtp_caps (const GstLetsChatCodec * codec);
/* Every codec of @media ("video"/"audio") we can receive, in order of
 * preference, as RTP caps (for a receive-only transceiver). */
GstCaps *gst_lets_chat_codec_receivable_rtp_caps (const gchar * media);
/* Template caps: every raw and encoded format of @media. */
/* The id @media gives the MID header extension (RFC 8843, a=extmap), or 0. */
guint gst_lets_chat_codec_mid_extmap_id (const GstSDPMedia * media);
/* The id @media gives the transport-wide sequence number extension, or 0. */
guint gst_lets_chat_codec_twcc_extmap_id (const GstSDPMedia * media);

GstCaps *gst_lets_chat_codec_receivable_caps_from_offer (const GstSDPMedia *
    media);
GstCaps *gst_lets_chat_codec_all_caps (const gchar * media);

/* Builders of the chains around webrtcbin. Each returns elements still
 * floating, in flow order, for the caller to add to its bin and link. */
/* The capsfilter of a video send chain where the congestion control sets
 * the size and frame rate carries this key as object data. */
#define GST_LETS_CHAT_LADDER_KEY "letschat-ladder"

/* A video encoder starts at @video_bitrate (bit/s). */
GList *gst_lets_chat_codec_make_sender (const GstLetsChatCodec * codec,
    gboolean encode, guint video_bitrate, GError ** error);
GList *gst_lets_chat_codec_make_receiver (const GstLetsChatCodec * codec,
    gboolean decode, GError ** error);

G_END_DECLS
