/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The call with the other party, on the session thread: what the
 * signaller says (joined, peer-joined/left, candidates, errors), the peer
 * connections made and replaced under it (gstletschatpeerconnection.c),
 * webrtcbin's callbacks brought to the session thread, the chat, and the
 * watch for media that stopped. It does not make offers or answers
 * (gstletschatnegotiation.c) and builds no media chain.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstletschatsessionprivate.h"
#include "gstletschatroom.h"

#define GST_CAT_DEFAULT gst_lets_chat_session_debug

/* ---------------------------------------------------------------------- */
/* The current peer connection (session thread)                            */

GstElement *
session_webrtcbin (GstLetsChatSession * self)
{
  return gst_lets_chat_peer_connection_get_webrtcbin (self->pc);
}

GstLetsChatNegotiationState *
session_state (GstLetsChatSession * self)
{
  return gst_lets_chat_peer_connection_state (self->pc);
}

typedef struct
{
  guint mline;
  gchar *candidate;             /* NULL: end of candidates */
} LocalCandidate;

static void
local_candidate_free (gpointer data)
{
  LocalCandidate *c = data;

  g_free (c->candidate);
  g_free (c);
}

/* The a=mid of m-line @mline of the local description, or NULL. */
static gchar *
session_local_mid (GstLetsChatSession * self, guint mline)
{
  GstWebRTCSessionDescription *local = NULL;
  gchar *mid = NULL;

  g_object_get (session_webrtcbin (self), "local-description", &local, NULL);
  if (local && mline < gst_sdp_message_medias_len (local->sdp))
    mid = g_strdup (gst_sdp_media_get_attribute_val
        (gst_sdp_message_get_media (local->sdp, mline), "mid"));
  if (local)
    gst_webrtc_session_description_free (local);
  return mid;
}

/* The TURN servers of this party (a new array, maybe empty). */
static gchar **
session_turn_uris (GstLetsChatSession * self)
{
  return gst_lets_chat_ice_turn_uris_in_use (self->settings.turn_servers,
      self->settings.stun_server, self->server_ice_uris);
}

/* Gathering is over: a TURN server that gave no relay address is said at
 * once, not only when a call that needs it fails. */
static void
session_check_relay (GstLetsChatSession * self)
{
  g_auto (GStrv) turn_uris = session_turn_uris (self);
  GstLetsChatIceTally *tally =
      gst_lets_chat_peer_connection_ice_tally (self->pc);
  g_autofree gchar *text = NULL;

  if (turn_uris[0] == NULL || tally->local[3] > 0)
    return;
  text = gst_lets_chat_ice_no_relay_text (turn_uris);
  GST_WARNING_OBJECT (self, "%s", text);
  session_warning (self, RESOURCE, OPEN_READ_WRITE, ("%s", text),
      ("ICE gathering ended with %u host, %u server-reflexive and no relay "
          "candidates", tally->local[0], tally->local[1]));
}

static void
session_send_candidate (GstLetsChatSession * self, gpointer data)
{
  LocalCandidate *c = data;
  g_autofree gchar *mid = NULL;

  if (c->candidate)
    gst_lets_chat_ice_tally_add (gst_lets_chat_peer_connection_ice_tally
        (self->pc), c->candidate, TRUE);
  else
    session_check_relay (self);
  if (!self->signaller)
    return;
  if (c->candidate) {
    /* Browsers match candidates by mid: the one of that m-line in our
     * description; null (the index alone) if it cannot be known. */
    mid = session_local_mid (self, c->mline);
    GST_LOG_OBJECT (self, "local candidate, m-line %u, mid %s: %s", c->mline,
        GST_STR_NULL (mid), c->candidate);
  }
  gst_lets_chat_signaller_send_candidate (self->signaller, c->mline, mid,
      c->candidate);
}

static void
pc_ice_candidate (guint generation, guint mline,
    const gchar * candidate, gpointer user_data)
{
  LocalCandidate *c = g_new0 (LocalCandidate, 1);

  c->mline = mline;
  c->candidate = g_strdup (candidate);
  session_invoke_if_current (user_data,
      generation, session_send_candidate, c, local_candidate_free);
}

static void session_wait_for_offer (GstLetsChatSession * self);

/* ICE or DTLS failed, or an element inside webrtcbin failed, while the
 * other party is still in the room: a new peer connection, negotiated
 * through the room as at the start. */
void
session_connection_failed (GstLetsChatSession * self, gpointer data)
{
  if (!self->peer_id) {
    /* Nobody to call again: a fresh one waits for the next party. */
    session_restart_call (self, "connection-failed");
    return;
  }
  if (self->peer_unconfirmed) {
    /* It never came back to the room server: it is gone. */
    gchar *gone = g_strdup (self->peer_id);

    on_peer_left (self->signaller, gone, self);
    g_free (gone);
    return;
  }
  GST_WARNING_OBJECT (self, "the peer connection failed: starting over");
  session_restart_call (self, "connection-failed");
  if (data == SESSION_BROKEN_INSIDE) {
    /* An element of the old webrtcbin failed: mostly the chat's SCTP
     * association aborted by a browser that hangs up, whose leave is on
     * its way. Offer only if it is still there and silent after a while,
     * rather than offer to a party that is going. */
    self->offerer = FALSE;
    session_wait_for_offer (self);
    return;
  }
  self->offerer = TRUE;
  session_maybe_negotiate (self);
}

/* ICE found no path: say what was tried and what would help (the call
 * then starts over, in session_connection_failed). */
static void
session_ice_failed (GstLetsChatSession * self, gpointer data)
{
  GstWebRTCICEConnectionState ice_state;
  g_auto (GStrv) turn_uris = NULL;
  g_autofree gchar *text = NULL;
  g_autofree gchar *peer = NULL;

  g_object_get (session_webrtcbin (self), "ice-connection-state", &ice_state,
      NULL);
  if (ice_state != GST_WEBRTC_ICE_CONNECTION_STATE_FAILED)
    return;
  turn_uris = session_turn_uris (self);
  peer = self->peer_name
      && self->peer_name[0] ? g_strdup_printf ("%s (%s)", self->peer_name,
      GST_STR_NULL (self->peer_id)) : g_strdup_printf ("the other party %s",
      GST_STR_NULL (self->peer_id));
  text =
      gst_lets_chat_ice_failure_text (gst_lets_chat_peer_connection_ice_tally
      (self->pc), turn_uris, peer);
  GST_WARNING_OBJECT (self, "%s", text);
  session_warning (self, RESOURCE, OPEN_READ_WRITE, ("%s", text),
      ("ICE connection state: failed"));
}

/* Which candidate pair the call uses, from webrtcbin's stats: relay means
 * the media goes through the TURN server. */
static void
session_on_stats (GstLetsChatSession * self, gpointer data)
{
  GstPromise *promise = data;
  const GstStructure *stats;
  GstStructure *pair = NULL;
  GstLetsChatIceTally *tally =
      gst_lets_chat_peer_connection_ice_tally (self->pc);

  if (tally->pair_reported)
    return;
  if (gst_promise_wait (promise) == GST_PROMISE_RESULT_REPLIED
      && (stats = gst_promise_get_reply (promise)))
    pair = gst_lets_chat_ice_selected_pair (stats);
  if (pair == NULL) {
    GST_INFO_OBJECT (self, "no selected candidate pair in the stats");
    return;
  }
  GST_INFO_OBJECT (self, "selected pair: %" GST_PTR_FORMAT, pair);
  tally->pair_reported = TRUE;
  session_post (self, pair);
}

/* webrtcbin lists the selected pair in its stats only for its pads with a
 * transport: a sending party's at once, a receiving party's once the
 * other party's media has made its first pad. So it is asked at both. */
static void
session_report_pair (GstLetsChatSession * self, gpointer data)
{
  GstPromise *stats;

  if (gst_lets_chat_peer_connection_ice_tally (self->pc)->pair_reported)
    return;
  stats = session_new_promise (self, session_on_stats);
  gst_lets_chat_peer_connection_get_stats (self->pc, stats);
  gst_promise_unref (stats);
}

/* Session thread: the connection is up (ICE and DTLS). Whatever was sent
 * before this was dropped by webrtcbin's SRTP encoder, the first keyframe
 * too; a new one now is the other party's first picture, one frame
 * interval away, rather than a keyframe request (RTCP PLI) round trip
 * later. */
static void
session_connected (GstLetsChatSession * self, gpointer data)
{
  GList *l;

  if (!session_state (self)->negotiated)
    return;
  session_report_pair (self, NULL);
  g_mutex_lock (&self->pc_lock);
  for (l = self->send_streams; l; l = l->next)
    gst_lets_chat_send_stream_request_keyframe (l->data);
  g_mutex_unlock (&self->pc_lock);
}

static void
pc_connection_state (guint generation,
    GstWebRTCPeerConnectionState state, gpointer user_data)
{
  GstLetsChatSession *self = user_data;
  GEnumClass *klass = g_type_class_ref (GST_TYPE_WEBRTC_PEER_CONNECTION_STATE);
  GEnumValue *value = g_enum_get_value (klass, state);

  GST_INFO_OBJECT (self, "connection state: %s", value->value_nick);
  session_post (self, gst_structure_new ("letschat/connection-state",
          "state", G_TYPE_STRING, value->value_nick, NULL));
  g_type_class_unref (klass);

  if (state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED) {
    session_invoke_if_current (self, generation, session_ice_failed, NULL,
        NULL);
    session_invoke_if_current (self, generation, session_connection_failed,
        NULL, NULL);
  } else if (state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED)
    session_invoke_if_current (self, generation, session_connected, NULL, NULL);
}

typedef struct
{
  GstLetsChatSession *self;
  guint generation;
} MediaProbe;

static GstPadProbeReturn
on_media (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  MediaProbe *probe = user_data;
  GstLetsChatSession *self = probe->self;

  if (probe->generation == self->generation) {
    self->last_media_us = g_get_monotonic_time ();
    g_atomic_int_set (&self->media_seen, 1);
  }
  return GST_PAD_PROBE_OK;
}

/* The party's letschatsrc (a new ref) and its receiver functions, or
 * NULL: the party only sends. */
static GstElement *
session_get_receiver (GstLetsChatSession * self,
    const GstLetsChatReceiverFuncs ** receiver)
{
  GstElement *src = NULL;

  GST_OBJECT_LOCK (self);
  if (self->src) {
    src = gst_object_ref (self->src);
    *receiver = self->receiver;
  }
  GST_OBJECT_UNLOCK (self);
  return src;
}

/* A stream from the other party: letschatsrc builds its chain and pad.
 * Without a src the party only sends, so nothing should arrive; if
 * something does, it is dropped at webrtcbin's pad rather than left
 * unlinked (which would stop webrtcbin's streaming thread). */
static void
pc_pad_added (guint generation, GstPad * pad, gpointer user_data)
{
  GstLetsChatSession *self = user_data;
  GstElement *src = NULL;
  const GstLetsChatReceiverFuncs *receiver = NULL;
  MediaProbe *probe = g_new0 (MediaProbe, 1);

  /* Not a ref: the session outlives its webrtcbins (release waits for
   * their teardowns). */
  probe->self = self;
  probe->generation = generation;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST, on_media, probe, g_free);

  session_invoke_if_current (self, generation, session_report_pair, NULL, NULL);
  src = session_get_receiver (self, &receiver);
  if (src) {
    receiver->add_stream (src, pad, probe->generation, self->peer_joined_time);
    gst_object_unref (src);
  } else {
    gst_lets_chat_peer_connection_drop_stream (pad);
  }
}

/* webrtcbin's thread: the other party opened a data channel. The chat
 * takes it here and now, not on the session thread: its first message may
 * come right behind it. */
static void
pc_data_channel (guint generation,
    GstWebRTCDataChannel * channel, gpointer user_data)
{
  GstLetsChatSession *self = user_data;
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
  if (self->chat && generation == self->generation)
    chat = gst_lets_chat_text_chat_ref (self->chat);
  g_mutex_unlock (&self->pc_lock);
  if (chat) {
    gst_lets_chat_text_chat_set_channel (chat, channel);
    gst_lets_chat_text_chat_unref (chat);
  }
}

static const GstLetsChatPeerConnectionCallbacks pc_callbacks = {
  pc_ice_candidate,
  pc_connection_state,
  pc_pad_added,
  pc_data_channel,
};

/* Makes a new peer connection the party's current one, every send stream
 * attached; returns the one it replaces, for the caller to close. */
GstLetsChatPeerConnection *
session_install_peer_connection (GstLetsChatSession * self, GError ** error)
{
  GstLetsChatPeerConnection *pc, *old;
  GstElement *host, *webrtc;
  gboolean host_is_src;
  guint latency;
  GList *l;

  GST_OBJECT_LOCK (self);
  host = self->host ? gst_object_ref (self->host) : NULL;
  host_is_src = self->host && self->host == self->src;
  GST_OBJECT_UNLOCK (self);
  if (!host) {
    g_set_error (error, GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
        "the party's elements are gone");
    return NULL;
  }
  g_mutex_lock (&self->pc_lock);
  latency = self->latency;
  g_mutex_unlock (&self->pc_lock);

  pc = gst_lets_chat_peer_connection_new (host, host_is_src, &self->settings,
      self->server_ice_uris, latency, self->generation + 1, &pc_callbacks,
      self, error);
  gst_object_unref (host);
  if (!pc)
    return NULL;
  webrtc = gst_lets_chat_peer_connection_get_webrtcbin (pc);
  /* Before the send streams ask for their pads: frames are counted on
   * every pad. */
  gst_lets_chat_stats_watch_webrtcbin (self->stats, webrtc);

  g_mutex_lock (&self->pc_lock);
  old = self->pc;
  self->pc = pc;
  self->generation++;
  for (l = self->send_streams; l; l = l->next)
    gst_lets_chat_send_stream_attach (l->data, webrtc);
  g_mutex_unlock (&self->pc_lock);
  g_atomic_int_set (&self->media_seen, 0);
  return old;
}

/* Session thread: drop the peer connection and set up a fresh one, keeping
 * everything the elements see (pads, chains) in place. */
void
session_restart_call (GstLetsChatSession * self, const gchar * reason)
{
  GstLetsChatPeerConnection *old;
  GError *error = NULL;
  gboolean stopped;

  GST_OBJECT_LOCK (self);
  stopped = self->stopped;
  GST_OBJECT_UNLOCK (self);
  if (stopped)
    return;

  GST_INFO_OBJECT (self, "new peer connection: %s", reason);
  session_post (self, gst_structure_new ("letschat/call-reset",
          "reason", G_TYPE_STRING, reason, NULL));
  g_clear_pointer (&self->pending_offer, gst_webrtc_session_description_free);
  session_set_chat_channel (self, NULL);

  old = session_install_peer_connection (self, &error);
  if (!old && error) {
    session_error (self, CORE, FAILED, ("Could not set up a new peer "
            "connection: %s", error->message), (NULL));
    g_error_free (error);
    return;
  }
  if (old)
    gst_lets_chat_peer_connection_close (old, self->teardowns);
}

/* A step of the negotiation failed: what the other party sent could not be
 * used (or webrtcbin could not make our side). The call is not over: the
 * application hears why, the peer connection starts afresh, and the party
 * waits for the next offer or the next party. */
void
session_negotiation_failed (GstLetsChatSession * self, const gchar * step,
    const GError * error, const gchar * sdp)
{
  GST_WARNING_OBJECT (self, "%s failed: %s", step, error->message);
  session_warning (self, STREAM, FAILED,
      ("Could not negotiate the call with %s: %s failed (%s). Waiting for "
          "it to call again, or for the next party.",
          self->peer_name && *self->peer_name ? self->peer_name :
          "the other party", step, error->message),
      ("%s", sdp ? sdp : "(no description)"));
  session_post (self, gst_structure_new ("letschat/negotiation-failed",
          "step", G_TYPE_STRING, step,
          "error", G_TYPE_STRING, error->message, NULL));
  session_restart_call (self, "negotiation-failed");
}

gchar *
description_text (GstWebRTCSessionDescription * desc)
{
  return desc ? gst_sdp_message_as_text (desc->sdp) : NULL;
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
  session_warning (GST_LETS_CHAT_SESSION (user_data), STREAM, FAILED, ("%s",
          sentence), (NULL));
}

static const GstLetsChatTextChatCallbacks chat_callbacks = {
  session_chat_received,
  session_chat_problem,
};

void
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

void
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
void
session_create_chat_channel (GstLetsChatSession * self)
{
  GstWebRTCDataChannel *channel = NULL;

  g_signal_emit_by_name (session_webrtcbin (self), "create-data-channel",
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

/* With the room server (not the application's own signaller), the news of
 * the room says which node it came through: with server-url listing a
 * cluster's nodes, the application sees where the party moved. */
static GstStructure *
session_add_server_url (GstLetsChatSession * self, GstStructure * s)
{
  if (GST_IS_LETS_CHAT_ROOM (self->signaller))
    gst_structure_set (s, "server-url", G_TYPE_STRING,
        gst_lets_chat_room_get_server_url (GST_LETS_CHAT_ROOM
            (self->signaller)), NULL);
  return s;
}

void
on_joined (GstLetsChatSignaller * signaller, const gchar * id,
    const gchar * room, const gchar * peer_id, const gchar * peer_name,
    gchar ** ice_server_uris, gboolean again, GstLetsChatSession * self)
{
  if (!self->join_sent)
    return;                     /* left the room: late news */
  again = (again || self->my_id != NULL) && !self->stranger_rejoin;
  self->stranger_rejoin = FALSE;

  GST_INFO_OBJECT (self, "%s room %s as %s, %s", again ? "back in" : "joined",
      room, id, peer_id ? "the other party is here" : "alone");
  g_free (self->my_id);
  self->my_id = g_strdup (id);
  g_strfreev (self->server_ice_uris);
  self->server_ice_uris = g_strdupv (ice_server_uris);
  session_post (self, session_add_server_url (self,
          gst_structure_new (again ? "letschat/server-reconnected" :
              "letschat/joined", "id", G_TYPE_STRING, id, "room",
              G_TYPE_STRING, room, NULL)));

  if (peer_id && g_strcmp0 (peer_id, self->peer_id) == 0) {
    /* Both came back to the server; the call never stopped. */
    self->peer_unconfirmed = FALSE;
    return;
  }
  gst_lets_chat_peer_connection_set_server_ice_servers (self->pc,
      &self->settings, self->server_ice_uris);
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
  GstLetsChatNegotiationState *state = session_state (self);

  g_clear_pointer (&self->offer_wait, g_source_unref);
  if (!self->peer_id || state->remote_set || self->pending_offer ||
      state->offer_made)
    return G_SOURCE_REMOVE;
  GST_INFO_OBJECT (self, "no offer from %s: offering", self->peer_id);
  self->offerer = TRUE;
  session_maybe_negotiate (self);
  return G_SOURCE_REMOVE;
}

void
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

void
on_peer_joined (GstLetsChatSignaller * signaller, const gchar * peer_id,
    const gchar * peer_name, GstLetsChatSession * self)
{
  if (!self->join_sent)
    return;                     /* left the room: late news */
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

void
on_peer_left (GstLetsChatSignaller * signaller, const gchar * peer_id,
    GstLetsChatSession * self)
{
  GstLetsChatNegotiationState *state = session_state (self);

  if (!self->join_sent)
    return;                     /* left the room: late news */
  GST_INFO_OBJECT (self, "%s left the room", peer_id);
  g_clear_pointer (&self->peer_id, g_free);
  session_reset_chat (self, FALSE);
  self->peer_unconfirmed = FALSE;
  session_cancel_offer_wait (self);
  session_post (self, gst_structure_new ("letschat/peer-left",
          "peer-id", G_TYPE_STRING, peer_id, NULL));
  /* The pipeline goes on: a fresh peer connection waits for the next
   * party, and the src's pads stay, filled with gaps meanwhile. One that
   * is fresh already (made when the old one broke as the party hung up)
   * serves. */
  if (state->offer_made || state->remote_set || self->pending_offer)
    session_restart_call (self, "peer-left");
  session_start_gaps (self);
  /* A stranger who leaves is not coming back: on to the next one. */
  if (self->settings.strangers)
    session_next_stranger (self, "stranger-left");
}

void
on_candidate (GstLetsChatSignaller * signaller, guint mline,
    const gchar * candidate, GstLetsChatSession * self)
{
  if (!self->join_sent)
    return;                     /* left the room: late news */
  gst_lets_chat_peer_connection_add_remote_candidate (self->pc, mline,
      candidate);
}

/* What went wrong with the signalling, said as the signaller wrote it. */
void
on_signaller_error (GstLetsChatSignaller * signaller, gboolean fatal,
    GError * error, const gchar * debug, GstLetsChatSession * self)
{
  GstElement *host = session_get_host (self);

  if (!host)
    return;
  gst_element_message_full (host, fatal ? GST_MESSAGE_ERROR :
      GST_MESSAGE_WARNING, error->domain, error->code,
      g_strdup (error->message), g_strdup (debug), __FILE__, GST_FUNCTION,
      __LINE__);
  gst_object_unref (host);
}

void
on_server_lost (GstLetsChatSignaller * signaller, const gchar * reason,
    GstLetsChatSession * self)
{
  session_post (self, session_add_server_url (self,
          gst_structure_new ("letschat/server-lost", "reason", G_TYPE_STRING,
              reason, NULL)));
}

/* ---------------------------------------------------------------------- */
/* Media                                                                   */

/* Media had been flowing and stopped for media-timeout: the peer connection
 * is dead even if ICE has not said so yet. Only once media arrived on this
 * connection, so that a party that sends nothing is not restarted over and
 * over. */
gboolean
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

/* While the party is alone, the src's pads carry gap events, so that
 * mixers and muxers downstream go on rather than wait. */
#define GAP_INTERVAL (100 * GST_MSECOND)

static gboolean
session_push_gaps_cb (gpointer data)
{
  GstLetsChatSession *self = data;
  const GstLetsChatReceiverFuncs *receiver = NULL;
  GstElement *src = NULL;

  src = session_get_receiver (self, &receiver);
  if (src) {
    receiver->push_gap (src, GAP_INTERVAL);
    gst_object_unref (src);
  }
  return G_SOURCE_CONTINUE;
}

void
session_start_gaps (GstLetsChatSession * self)
{
  if (self->gap_source)
    return;
  self->gap_source = g_timeout_source_new (GAP_INTERVAL / GST_MSECOND);
  g_source_set_callback (self->gap_source, session_push_gaps_cb, self, NULL);
  g_source_attach (self->gap_source, self->context);
}

void
session_stop_gaps (GstLetsChatSession * self)
{
  if (!self->gap_source)
    return;
  g_source_destroy (self->gap_source);
  g_clear_pointer (&self->gap_source, g_source_unref);
}
