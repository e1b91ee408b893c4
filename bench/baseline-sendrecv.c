/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The benchmark's baseline: a party written as GStreamer's webrtc-sendrecv
 * example teaches (what a user writes today without letschat), with the
 * room protocol of letschat-server as its signalling.
 *
 *   videotestsrc ! ... ! vp8enc ! rtpvp8pay ! queue ! application/x-rtp,... ! webrtcbin
 *                                                              |
 *                       pad-added -> decodebin -> queue ! videoconvert ! sink
 *
 * Kept as the example has it, on purpose: webrtcbin's defaults (200 ms
 * jitter buffer, its DTLS certificate made when the first transport is,
 * inside the call), no keyframe request of its own, max-bundle, a data
 * channel. Only the signalling differs: the party that joins second offers
 * (the room protocol's rule) instead of the example's "HELLO/SESSION".
 */

#include "baseline-sendrecv.h"

#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>
#include <json-glib/json-glib.h>

#include "letschat-client.h"

struct _BaselineParty
{
  GstElement *pipeline;
  GstElement *webrtc;
  gchar *sink_description;
  BaselineDecodedFunc decoded;
  gpointer user_data;
  GMainContext *context;
  LetsChatClient *client;
  gboolean connected;
  gboolean failed;
  GstClockTime peer_time;
  GObject *channel;
};

typedef struct
{
  BaselineParty *party;
  JsonNode *data;
} Invocation;

static gboolean
send_signal_cb (gpointer data)
{
  Invocation *inv = data;

  letschat_client_send_signal (inv->party->client, inv->data);
  json_node_unref (inv->data);
  g_free (inv);
  return G_SOURCE_REMOVE;
}

/* webrtcbin calls us on its own threads; the client lives on the context. */
static void
send_signal (BaselineParty * party, JsonObject * object)
{
  Invocation *inv = g_new0 (Invocation, 1);

  inv->party = party;
  inv->data = json_node_init_object (json_node_alloc (), object);
  json_object_unref (object);
  g_main_context_invoke (party->context, send_signal_cb, inv);
}

static void
send_sdp (BaselineParty * party, GstWebRTCSessionDescription * desc)
{
  JsonObject *sdp = json_object_new ();
  JsonObject *data = json_object_new ();
  gchar *text = gst_sdp_message_as_text (desc->sdp);

  json_object_set_string_member (sdp, "type",
      desc->type == GST_WEBRTC_SDP_TYPE_OFFER ? "offer" : "answer");
  json_object_set_string_member (sdp, "sdp", text);
  g_free (text);
  json_object_set_object_member (data, "sdp", sdp);
  send_signal (party, data);
}

static void
on_description_created (GstPromise * promise, gpointer user_data)
{
  BaselineParty *party = user_data;
  const GstStructure *reply = gst_promise_get_reply (promise);
  GstWebRTCSessionDescription *desc = NULL;

  if (reply)
    gst_structure_get (reply, "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
        &desc, NULL);
  if (reply && !desc)
    gst_structure_get (reply, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION,
        &desc, NULL);
  gst_promise_unref (promise);
  if (!desc) {
    party->failed = TRUE;
    return;
  }
  g_signal_emit_by_name (party->webrtc, "set-local-description", desc, NULL);
  send_sdp (party, desc);
  gst_webrtc_session_description_free (desc);
}

static void
on_offer_set (GstPromise * promise, gpointer user_data)
{
  BaselineParty *party = user_data;

  gst_promise_unref (promise);
  g_signal_emit_by_name (party->webrtc, "create-answer", NULL,
      gst_promise_new_with_change_func (on_description_created, party, NULL));
}

static void
on_ice_candidate (GstElement * webrtc, guint mline, gchar * candidate,
    BaselineParty * party)
{
  JsonObject *ice = json_object_new ();
  JsonObject *data = json_object_new ();

  json_object_set_string_member (ice, "candidate", candidate);
  json_object_set_int_member (ice, "sdpMLineIndex", mline);
  json_object_set_object_member (data, "ice", ice);
  send_signal (party, data);
}

/* On decodebin's streaming thread, as in the example: the pad must be
 * linked before its first buffer. @decoded must be thread-safe. */
static void
on_decodebin_pad (GstElement * decodebin, GstPad * pad, BaselineParty * party)
{
  GstCaps *caps = gst_pad_get_current_caps (pad);
  GError *error = NULL;
  GstElement *sink;
  GstPad *sinkpad;
  gboolean video;

  if (!caps)
    return;
  video = g_str_has_prefix (gst_structure_get_name (gst_caps_get_structure
          (caps, 0)), "video");
  gst_caps_unref (caps);
  if (!video)
    return;
  sink = gst_parse_bin_from_description (party->sink_description, TRUE, &error);
  if (!sink) {
    g_printerr ("baseline: %s\n", error->message);
    g_error_free (error);
    party->failed = TRUE;
    return;
  }
  gst_bin_add (GST_BIN (party->pipeline), sink);
  sinkpad = gst_element_get_static_pad (sink, "sink");
  gst_pad_link (pad, sinkpad);
  gst_object_unref (sinkpad);
  party->decoded (party, pad, sink, party->user_data);
  gst_element_sync_state_with_parent (sink);
}

static void
on_incoming_stream (GstElement * webrtc, GstPad * pad, BaselineParty * party)
{
  GstElement *decodebin;
  GstPad *sinkpad;

  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  decodebin = gst_element_factory_make ("decodebin", NULL);
  g_signal_connect (decodebin, "pad-added", G_CALLBACK (on_decodebin_pad),
      party);
  gst_bin_add (GST_BIN (party->pipeline), decodebin);
  gst_element_sync_state_with_parent (decodebin);
  sinkpad = gst_element_get_static_pad (decodebin, "sink");
  gst_pad_link (pad, sinkpad);
  gst_object_unref (sinkpad);
}

static void
make_offer (BaselineParty * party)
{
  g_signal_emit_by_name (party->webrtc, "create-offer", NULL,
      gst_promise_new_with_change_func (on_description_created, party, NULL));
}

static void
on_welcome (LetsChatClient * client, const gchar * id, const gchar * room,
    const gchar * peer_id, const gchar * peer_name, JsonNode * ice_servers,
    BaselineParty * party)
{
  if (!peer_id)
    return;
  /* The newcomer offers (PROTOCOL.md, Roles). */
  party->peer_time = gst_util_get_timestamp ();
  make_offer (party);
}

static void
on_peer_joined (LetsChatClient * client, const gchar * peer_id,
    const gchar * peer_name, BaselineParty * party)
{
  party->peer_time = gst_util_get_timestamp ();
}

static void
handle_sdp (BaselineParty * party, JsonObject * sdp)
{
  const gchar *type = json_object_get_string_member_with_default (sdp, "type",
      "");
  const gchar *text = json_object_get_string_member_with_default (sdp, "sdp",
      "");
  GstSDPMessage *msg;
  GstWebRTCSessionDescription *desc;
  gboolean offer = g_strcmp0 (type, "offer") == 0;

  gst_sdp_message_new_from_text (text, &msg);
  desc = gst_webrtc_session_description_new (offer ? GST_WEBRTC_SDP_TYPE_OFFER
      : GST_WEBRTC_SDP_TYPE_ANSWER, msg);
  g_signal_emit_by_name (party->webrtc, "set-remote-description", desc,
      offer ? gst_promise_new_with_change_func (on_offer_set, party,
          NULL) : NULL);
  gst_webrtc_session_description_free (desc);
}

static void
on_signal (LetsChatClient * client, const gchar * from, JsonNode * data,
    BaselineParty * party)
{
  JsonObject *object = json_node_get_object (data);
  JsonObject *ice;

  if (json_object_has_member (object, "sdp")) {
    handle_sdp (party, json_object_get_object_member (object, "sdp"));
  } else if (json_object_has_member (object, "ice") &&
      !json_object_get_null_member (object, "ice")) {
    ice = json_object_get_object_member (object, "ice");
    g_signal_emit_by_name (party->webrtc, "add-ice-candidate",
        (guint) json_object_get_int_member_with_default (ice, "sdpMLineIndex",
            0), json_object_get_string_member_with_default (ice, "candidate",
            ""));
  }
}

static void
on_connected (GObject * source, GAsyncResult * result, gpointer user_data)
{
  BaselineParty *party = user_data;
  GError *error = NULL;

  if (letschat_client_connect_finish (LETSCHAT_CLIENT (source), result, &error)) {
    party->connected = TRUE;
  } else {
    g_printerr ("baseline: %s\n", error->message);
    g_error_free (error);
    party->failed = TRUE;
  }
}

BaselineParty *
baseline_party_new (GstElement * pipeline, const gchar * sink_description,
    BaselineDecodedFunc decoded, gpointer user_data)
{
  BaselineParty *party = g_new0 (BaselineParty, 1);

  party->pipeline = gst_object_ref (pipeline);
  party->webrtc = gst_bin_get_by_name (GST_BIN (pipeline), "sendrecv");
  g_assert (party->webrtc);
  party->sink_description = g_strdup (sink_description);
  party->decoded = decoded;
  party->user_data = user_data;
  party->context = g_main_context_ref_thread_default ();
  party->peer_time = GST_CLOCK_TIME_NONE;
  party->client = letschat_client_new ();
  g_signal_connect (party->client, "welcome", G_CALLBACK (on_welcome), party);
  g_signal_connect (party->client, "peer-joined", G_CALLBACK (on_peer_joined),
      party);
  g_signal_connect (party->client, "signal", G_CALLBACK (on_signal), party);

  g_signal_connect (party->webrtc, "on-ice-candidate",
      G_CALLBACK (on_ice_candidate), party);
  g_signal_connect (party->webrtc, "pad-added",
      G_CALLBACK (on_incoming_stream), party);
  /* As the example: READY, a data channel, then PLAYING. */
  gst_element_set_state (pipeline, GST_STATE_READY);
  g_signal_emit_by_name (party->webrtc, "create-data-channel", "channel", NULL,
      &party->channel);
  return party;
}

void
baseline_party_connect (BaselineParty * party, const gchar * url)
{
  letschat_client_connect_async (party->client, url, 5000, NULL, on_connected,
      party);
}

gboolean
baseline_party_is_connected (BaselineParty * party)
{
  return party->connected;
}

void
baseline_party_join (BaselineParty * party, const gchar * room)
{
  letschat_client_join (party->client, room, NULL, "baseline");
}

GstClockTime
baseline_party_peer_time (BaselineParty * party)
{
  return party->peer_time;
}

gboolean
baseline_party_failed (BaselineParty * party)
{
  return party->failed;
}

void
baseline_party_free (BaselineParty * party)
{
  letschat_client_close (party->client);
  g_signal_handlers_disconnect_by_data (party->webrtc, party);
  g_object_unref (party->client);
  g_clear_object (&party->channel);
  gst_object_unref (party->webrtc);
  gst_object_unref (party->pipeline);
  g_main_context_unref (party->context);
  g_free (party->sink_description);
  g_free (party);
}
