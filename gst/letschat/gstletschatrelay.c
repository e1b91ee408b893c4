/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/*
 * Where a send chain meets the current webrtcbin (see the header): two
 * parentless pads that stay linked to the payloader while webrtcbins come
 * and go. It decides nothing about the call; the send stream attaches and
 * detaches it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/video/video.h>

#include "gstletschatrelay.h"
#include "gstletschatkeyframerequests.h"

struct _GstLetsChatRelay
{
  GstPad *upstream;             /* the payloader's src pad */
  GstPad *sinkpad;              /* linked to upstream */
  GstPad *srcpad;               /* linked to the current webrtcbin, if any */
  gint warned;                  /* atomic: told the user of a refusal */
};

/* Whatever happens to the peer connection, the sender keeps going: a
 * webrtcbin being torn down answers FLUSHING, NOT_LINKED or EOS, and any
 * of them handed back would stop the live source for good. A webrtcbin
 * that refuses the stream (NOT_NEGOTIATED, ERROR) is a problem nobody
 * else reports (nothing inside webrtcbin posts it): the user hears of it
 * once per peer connection, as a warning, and the source still goes on. */
static GstFlowReturn
relay_chain (GstPad * pad, GstObject * parent, GstBuffer * buffer)
{
  GstLetsChatRelay *relay = gst_pad_get_element_private (pad);
  GstFlowReturn ret = gst_pad_push (relay->srcpad, buffer);

  if (ret == GST_FLOW_OK)
    return ret;
  GST_LOG_OBJECT (pad, "the peer connection answered %s: dropped",
      gst_flow_get_name (ret));
  if ((ret == GST_FLOW_NOT_NEGOTIATED || ret == GST_FLOW_ERROR) &&
      g_atomic_int_compare_and_exchange (&relay->warned, 0, 1)) {
    GstElement *payloader = gst_pad_get_parent_element (relay->upstream);

    if (payloader) {
      GST_ELEMENT_WARNING (payloader, STREAM, FAILED,
          ("The call does not take this stream as it is encoded (%s): the "
              "other party gets none of it. Please report this with the "
              "pipeline and the other party's software.",
              gst_flow_get_name (ret)), (NULL));
      gst_object_unref (payloader);
    }
  }
  return GST_FLOW_OK;
}

static gboolean
relay_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstLetsChatRelay *relay = gst_pad_get_element_private (pad);
  gboolean sticky = GST_EVENT_IS_STICKY (event);
  gboolean ret;

  /* The end of what the pipeline sends is not the end of a peer connection
   * (letschatsink reports it itself); kept as a sticky event it would even
   * end the next peer connection's stream before it starts. */
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS) {
    gst_event_unref (event);
    return TRUE;
  }
  ret = gst_pad_push_event (relay->srcpad, event);
  /* Sticky events are kept on the src pad and sent to the next webrtcbin
   * before its first buffer; that they found no peer now is fine. */
  return sticky ? TRUE : ret;
}

/* With no webrtcbin attached, accept what the payloader makes: the next
 * webrtcbin is set up for the same codec. */
static gboolean
relay_sink_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstLetsChatRelay *relay = gst_pad_get_element_private (pad);
  GstCaps *filter;

  if (gst_pad_peer_query (relay->srcpad, query))
    return TRUE;
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_ACCEPT_CAPS:
      gst_query_set_accept_caps_result (query, TRUE);
      return TRUE;
    case GST_QUERY_CAPS:
      gst_query_parse_caps (query, &filter);
      gst_query_set_caps_result (query, filter ? filter : GST_CAPS_ANY);
      return TRUE;
    default:
      return FALSE;
  }
}

static gboolean
relay_src_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstLetsChatRelay *relay = gst_pad_get_element_private (pad);

  return gst_pad_push_event (relay->sinkpad, event);
}

static gboolean
relay_src_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstLetsChatRelay *relay = gst_pad_get_element_private (pad);

  return gst_pad_peer_query (relay->sinkpad, query);
}

GstLetsChatRelay *
gst_lets_chat_relay_new (GstPad * upstream)
{
  GstLetsChatRelay *relay = g_new0 (GstLetsChatRelay, 1);

  relay->upstream = gst_object_ref (upstream);
  relay->sinkpad = gst_object_ref_sink (gst_pad_new ("relay_sink",
          GST_PAD_SINK));
  relay->srcpad = gst_object_ref_sink (gst_pad_new ("relay_src", GST_PAD_SRC));
  gst_pad_set_element_private (relay->sinkpad, relay);
  gst_pad_set_element_private (relay->srcpad, relay);
  gst_pad_set_chain_function (relay->sinkpad, relay_chain);
  gst_pad_set_event_function (relay->sinkpad, relay_sink_event);
  gst_pad_set_query_function (relay->sinkpad, relay_sink_query);
  gst_pad_set_event_function (relay->srcpad, relay_src_event);
  gst_pad_set_query_function (relay->srcpad, relay_src_query);
  GST_OBJECT_FLAG_SET (relay->sinkpad, GST_PAD_FLAG_PROXY_CAPS |
      GST_PAD_FLAG_PROXY_ALLOCATION);
  gst_pad_set_active (relay->sinkpad, TRUE);
  gst_pad_set_active (relay->srcpad, TRUE);
  /* The pads have no parent element: skip the hierarchy check. */
  gst_pad_link_full (upstream, relay->sinkpad, GST_PAD_LINK_CHECK_NOTHING);
  return relay;
}

void
gst_lets_chat_relay_attach (GstLetsChatRelay * relay, GstPad * webrtc_pad)
{
  GstPad *peer = gst_pad_get_peer (relay->srcpad);

  if (peer) {
    gst_pad_unlink (relay->srcpad, peer);
    gst_object_unref (peer);
  }
  if (webrtc_pad) {
    g_atomic_int_set (&relay->warned, 0);
    gst_pad_link_full (relay->srcpad, webrtc_pad, GST_PAD_LINK_CHECK_NOTHING);
    /* A new peer connection needs a keyframe to start from. */
    gst_lets_chat_relay_request_keyframe (relay);
  }
}

void
gst_lets_chat_relay_request_keyframe (GstLetsChatRelay * relay)
{
  gst_pad_push_event (relay->sinkpad, gst_lets_chat_keyframe_request_new ());
}

void
gst_lets_chat_relay_set_upstream (GstLetsChatRelay * relay, GstPad * upstream)
{
  GstPad *peer = gst_pad_get_peer (relay->sinkpad);

  if (peer) {
    gst_pad_unlink (peer, relay->sinkpad);
    gst_object_unref (peer);
  }
  gst_object_replace ((GstObject **) & relay->upstream, GST_OBJECT (upstream));
  gst_pad_link_full (upstream, relay->sinkpad, GST_PAD_LINK_CHECK_NOTHING);
}

void
gst_lets_chat_relay_free (GstLetsChatRelay * relay)
{
  gst_lets_chat_relay_attach (relay, NULL);
  gst_pad_unlink (relay->upstream, relay->sinkpad);
  gst_pad_set_active (relay->sinkpad, FALSE);
  gst_pad_set_active (relay->srcpad, FALSE);
  gst_object_unref (relay->sinkpad);
  gst_object_unref (relay->srcpad);
  gst_object_unref (relay->upstream);
  g_free (relay);
}
