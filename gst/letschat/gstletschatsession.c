/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * One party of a call: what its elements share. It owns the party's
 * thread, its room signalling (a LetsChatClient), its current peer
 * connection (gstletschatpeerconnection.c) and its send streams
 * (gstletschatsendstream.c), and runs the offer/answer exchange, whose
 * content gstletschatnegotiation.c decides. It must not build media
 * chains (the elements do) nor post from a lock.
 *
 *   letschatsink --send streams--\              /--receiver funcs--> letschatsrc
 *                                v              |
 *               +------------------ session ----------------------+
 *               |  peer connection (webrtcbin, in the host bin)    |
 *               |      ^ offer/answer/ICE    | pad-added          |
 *               |      |                     v                    |
 *               |  session thread (GMainContext) -- LetsChatClient ---> room
 *               +-------------------------------------------------+   server
 *
 * Threads: everything that talks to the room server, and every webrtcbin
 * action the negotiation makes, runs on the session's own thread. Work
 * arriving from webrtcbin's threads (promises, ICE candidates, state
 * changes) is handed to it with session_invoke_if_current(), which drops
 * it if its peer connection has since been replaced. No letschat lock is
 * held across a call into webrtcbin except pc_lock around request pads and
 * relay links, which webrtcbin never calls back under.
 *
 * Negotiation: the party that joins second offers (docs/protocol.md). It
 * waits until every sink pad knows its codec ("holds"), so that the offer
 * or the answer carries every stream of the party. A negotiation that
 * fails is never fatal: a warning, a new peer connection, and the party
 * waits for the next offer or the next party.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/webrtc/webrtc.h>
#include <gst/sdp/sdp.h>

#include "gstletschatsession.h"
#include "gstletschatnegotiation.h"
#include "gstletschatpeerconnection.h"
#include "gstletschatsendstream.h"
#include "gstletschatserve.h"
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
  const GstLetsChatReceiverFuncs *receiver;     /* the src's */
  guint holds;
  gboolean started;
  gboolean stopped;             /* left the room: no more call changes */

  /* The current peer connection, replaced on the session thread when the
   * other party leaves or the connection fails. pc_lock guards the pointer
   * and the send streams against the elements' threads. */
  GMutex pc_lock;
  GstLetsChatPeerConnection *pc;
  GList *send_streams;          /* of GstLetsChatSendStream */
  guint generation;             /* of the current peer connection */
  guint latency;
  GstLetsChatTeardowns *teardowns;
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
  GstWebRTCSessionDescription *pending_offer;
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
static void on_peer_left (LetsChatClient * client, const gchar * peer_id,
    GstLetsChatSession * self);

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

#define session_warning(self, domain, code, text, debug) G_STMT_START { \
    GstElement *__host = session_get_host (self);                       \
    if (__host) {                                                       \
      GST_ELEMENT_WARNING (__host, domain, code, text, debug);          \
      gst_object_unref (__host);                                        \
    }                                                                   \
  } G_STMT_END

/* ---------------------------------------------------------------------- */
/* Work for the session thread, if its peer connection is still current    */

/* The one way work from webrtcbin's threads (or from a promise) reaches
 * the session thread: it runs there only if the peer connection it came
 * from is still the current one, like webrtcbin's own task queue. */
typedef void (*SessionTaskFunc) (GstLetsChatSession * self, gpointer data);

typedef struct
{
  GstLetsChatSession *self;
  guint generation;
  SessionTaskFunc func;
  gpointer data;
  GDestroyNotify destroy;
} SessionTask;

static gboolean
session_task_run (gpointer user_data)
{
  SessionTask *task = user_data;

  if (task->generation == task->self->generation)
    task->func (task->self, task->data);
  else
    GST_DEBUG_OBJECT (task->self, "dropping work of peer connection %u",
        task->generation);
  return G_SOURCE_REMOVE;
}

static void
session_task_free (gpointer user_data)
{
  SessionTask *task = user_data;

  if (task->destroy)
    task->destroy (task->data);
  gst_object_unref (task->self);
  g_free (task);
}

static void
session_invoke_if_current (GstLetsChatSession * self, guint generation,
    SessionTaskFunc func, gpointer data, GDestroyNotify destroy)
{
  SessionTask *task = g_new0 (SessionTask, 1);

  task->self = gst_object_ref (self);
  task->generation = generation;
  task->func = func;
  task->data = data;
  task->destroy = destroy;
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT,
      session_task_run, task, session_task_free);
}

/* A webrtcbin promise whose reply goes to @func on the session thread, if
 * the peer connection is still current. */
typedef struct
{
  GstLetsChatSession *self;
  guint generation;
  SessionTaskFunc func;
} PromiseTarget;

static void
on_promise_replied (GstPromise * promise, gpointer user_data)
{
  PromiseTarget *target = user_data;

  session_invoke_if_current (target->self, target->generation, target->func,
      gst_promise_ref (promise), (GDestroyNotify) gst_promise_unref);
}

static void
promise_target_free (gpointer data)
{
  PromiseTarget *target = data;

  gst_object_unref (target->self);
  g_free (target);
}

static GstPromise *
session_new_promise (GstLetsChatSession * self, SessionTaskFunc func)
{
  PromiseTarget *target = g_new0 (PromiseTarget, 1);

  target->self = gst_object_ref (self);
  target->generation = self->generation;
  target->func = func;
  return gst_promise_new_with_change_func (on_promise_replied, target,
      promise_target_free);
}

/* The error of a replied promise, or NULL. */
static GError *
promise_get_error (GstPromise * promise)
{
  const GstStructure *reply;
  GError *error = NULL;

  if (gst_promise_wait (promise) != GST_PROMISE_RESULT_REPLIED)
    return g_error_new (GST_CORE_ERROR, GST_CORE_ERROR_FAILED,
        "webrtcbin did not answer");
  reply = gst_promise_get_reply (promise);
  if (reply && gst_structure_has_field (reply, "error"))
    gst_structure_get (reply, "error", G_TYPE_ERROR, &error, NULL);
  return error;
}

/* ---------------------------------------------------------------------- */
/* The current peer connection (session thread)                            */

static GstElement *
session_webrtcbin (GstLetsChatSession * self)
{
  return gst_lets_chat_peer_connection_get_webrtcbin (self->pc);
}

static GstLetsChatNegotiationState *
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

static void
session_send_candidate (GstLetsChatSession * self, gpointer data)
{
  LocalCandidate *c = data;
  g_autofree gchar *mid = NULL;
  JsonNode *node;

  if (!self->client)
    return;
  if (c->candidate) {
    /* Browsers match candidates by mid: the one of that m-line in our
     * description; null (the index alone) if it cannot be known. */
    mid = session_local_mid (self, c->mline);
    GST_LOG_OBJECT (self, "local candidate, m-line %u, mid %s: %s", c->mline,
        GST_STR_NULL (mid), c->candidate);
  }
  node = letschat_protocol_ice_data_new (c->candidate, c->mline, mid);
  letschat_client_send_signal (self->client, node);
  json_node_unref (node);
}

static void
pc_ice_candidate (GstLetsChatPeerConnection * pc, guint mline,
    const gchar * candidate, gpointer user_data)
{
  LocalCandidate *c = g_new0 (LocalCandidate, 1);

  c->mline = mline;
  c->candidate = g_strdup (candidate);
  session_invoke_if_current (user_data,
      gst_lets_chat_peer_connection_get_generation (pc),
      session_send_candidate, c, local_candidate_free);
}

/* ICE or DTLS failed, or an element inside webrtcbin failed, while the
 * other party is still in the room: a new peer connection, negotiated
 * through the room as at the start. */
static void
session_connection_failed (GstLetsChatSession * self, gpointer data)
{
  if (!self->peer_id)
    return;
  if (self->peer_unconfirmed) {
    /* It never came back to the room server: it is gone. */
    gchar *gone = g_strdup (self->peer_id);

    on_peer_left (self->client, gone, self);
    g_free (gone);
    return;
  }
  GST_WARNING_OBJECT (self, "the peer connection failed: starting over");
  session_restart_call (self, "connection-failed");
  self->offerer = TRUE;
  session_maybe_negotiate (self);
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
  g_mutex_lock (&self->pc_lock);
  for (l = self->send_streams; l; l = l->next)
    gst_lets_chat_send_stream_request_keyframe (l->data);
  g_mutex_unlock (&self->pc_lock);
}

static void
pc_connection_state (GstLetsChatPeerConnection * pc,
    GstWebRTCPeerConnectionState state, gpointer user_data)
{
  GstLetsChatSession *self = user_data;
  GEnumClass *klass = g_type_class_ref (GST_TYPE_WEBRTC_PEER_CONNECTION_STATE);
  GEnumValue *value = g_enum_get_value (klass, state);
  guint generation = gst_lets_chat_peer_connection_get_generation (pc);

  GST_INFO_OBJECT (self, "connection state: %s", value->value_nick);
  session_post (self, gst_structure_new ("letschat/connection-state",
          "state", G_TYPE_STRING, value->value_nick, NULL));
  g_type_class_unref (klass);

  if (state == GST_WEBRTC_PEER_CONNECTION_STATE_FAILED)
    session_invoke_if_current (self, generation, session_connection_failed,
        NULL, NULL);
  else if (state == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED)
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

static GstPadProbeReturn
drop_unwanted (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  return GST_PAD_PROBE_DROP;
}

/* A stream from the other party: letschatsrc builds its chain and pad.
 * Without a src the party only sends, so nothing should arrive; if
 * something does, it is dropped at webrtcbin's pad rather than left
 * unlinked (which would stop webrtcbin's streaming thread). */
static void
pc_pad_added (GstLetsChatPeerConnection * pc, GstPad * pad, gpointer user_data)
{
  GstLetsChatSession *self = user_data;
  GstElement *src = NULL;
  const GstLetsChatReceiverFuncs *receiver = NULL;
  MediaProbe *probe = g_new0 (MediaProbe, 1);

  /* Not a ref: the session outlives its webrtcbins (release waits for
   * their teardowns). */
  probe->self = self;
  probe->generation = gst_lets_chat_peer_connection_get_generation (pc);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_BUFFER_LIST, on_media, probe, g_free);

  GST_OBJECT_LOCK (self);
  if (self->src) {
    src = gst_object_ref (self->src);
    receiver = self->receiver;
  }
  GST_OBJECT_UNLOCK (self);

  if (src) {
    receiver->add_stream (src, pad, probe->generation, self->peer_joined_time);
    gst_object_unref (src);
  } else {
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_DATA_DOWNSTREAM,
        drop_unwanted, NULL, NULL);
  }
}

/* webrtcbin's thread: the other party opened a data channel. The chat
 * takes it here and now, not on the session thread: its first message may
 * come right behind it. */
static void
pc_data_channel (GstLetsChatPeerConnection * pc,
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
  if (self->chat && gst_lets_chat_peer_connection_get_generation (pc) ==
      self->generation)
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
static GstLetsChatPeerConnection *
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
      self->server_ice_servers, latency, self->generation + 1, &pc_callbacks,
      self, error);
  gst_object_unref (host);
  if (!pc)
    return NULL;
  webrtc = gst_lets_chat_peer_connection_get_webrtcbin (pc);

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

/* A new other party, or none (@with_peer FALSE): a new chat. */
static void session_reset_chat (GstLetsChatSession * self, gboolean with_peer);
static void session_set_chat_channel (GstLetsChatSession * self,
    GstWebRTCDataChannel * channel);

/* Session thread: drop the peer connection and set up a fresh one, keeping
 * everything the elements see (pads, chains) in place. */
static void
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
static void
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

static gchar *
description_text (GstWebRTCSessionDescription * desc)
{
  return desc ? gst_sdp_message_as_text (desc->sdp) : NULL;
}

/* ---------------------------------------------------------------------- */
/* Negotiation (session thread)                                            */

static void
session_send_sdp (GstLetsChatSession * self, GstWebRTCSessionDescription * d)
{
  g_autofree gchar *text = gst_sdp_message_as_text (d->sdp);
  JsonNode *node = letschat_protocol_sdp_data_new
      (gst_webrtc_sdp_type_to_string (d->type), text);

  GST_DEBUG_OBJECT (self, "sending %s:\n%s",
      gst_webrtc_sdp_type_to_string (d->type), text);
  letschat_client_send_signal (self->client, node);
  json_node_unref (node);
}

/* Both descriptions are applied: webrtcbin has set up what it sends with,
 * so the send streams can go in (those the answer takes). Before this,
 * webrtcbin would hold a buffer on its sink pad (blocking the pipeline's
 * streaming thread) until negotiation ends, which may be never. */
static void
session_on_negotiated (GstLetsChatSession * self, gpointer data)
{
  GError *error = promise_get_error (data);
  GstWebRTCSessionDescription *answer = NULL;
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
  /* Applying our answer completes the negotiation; our offer waits for
   * the other party's answer. */
  applied = self->offerer ? NULL :
      session_new_promise (self, session_on_negotiated);
  g_signal_emit_by_name (session_webrtcbin (self), "set-local-description",
      desc, applied);
  if (applied)
    gst_promise_unref (applied);
  if (self->client)
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

static void
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
  session_warning (GST_LETS_CHAT_SESSION (user_data), STREAM, FAILED, ("%s",
          sentence), (NULL));
}

static const GstLetsChatTextChatCallbacks chat_callbacks = {
  session_chat_received,
  session_chat_problem,
};

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
  session_post (self, gst_structure_new (again ? "letschat/server-reconnected"
          : "letschat/joined", "id", G_TYPE_STRING, id, "room",
          G_TYPE_STRING, room, NULL));

  if (peer_id && g_strcmp0 (peer_id, self->peer_id) == 0) {
    /* Both came back to the server; the call never stopped. */
    self->peer_unconfirmed = FALSE;
    return;
  }
  gst_lets_chat_peer_connection_set_server_ice_servers (self->pc,
      &self->settings, self->server_ice_servers);
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

static void
session_handle_sdp (GstLetsChatSession * self, const gchar * type,
    const gchar * text)
{
  GstLetsChatNegotiationState *state = session_state (self);
  GstSDPMessage *msg;
  GstWebRTCSessionDescription *desc;
  GstPromise *promise;

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

static void
on_signal (LetsChatClient * client, const gchar * from, JsonNode * data,
    GstLetsChatSession * self)
{
  JsonObject *obj = json_node_get_object (data);
  JsonNode *ice;
  JsonObject *ice_obj;
  const gchar *candidate;

  if (json_object_has_member (obj, "sdp")) {
    JsonObject *sdp = json_object_get_object_member (obj, "sdp");

    session_handle_sdp (self, json_object_get_string_member (sdp, "type"),
        json_object_get_string_member (sdp, "sdp"));
    return;
  }
  ice = json_object_get_member (obj, "ice");
  if (!ice || JSON_NODE_HOLDS_NULL (ice))
    return;                     /* end of candidates: nothing to do */
  ice_obj = json_node_get_object (ice);
  candidate = json_object_get_string_member_with_default (ice_obj,
      "candidate", "");
  if (!*candidate)
    return;                     /* browsers' empty end-of-candidates one */
  gst_lets_chat_peer_connection_add_remote_candidate (self->pc,
      json_object_get_int_member (ice_obj, "sdpMLineIndex"), candidate);
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
    session_warning (self, RESOURCE, WRITE,
        ("The room server refused a message: %s", message),
        ("error code %s", code));
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
    session_warning (self, RESOURCE, READ,
        ("Lost the connection to the room server at %s; media already "
            "flowing continues", self->settings.server_url),
        ("%s", error->message));
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
    letschat_client_set_insecure_tls (self->client, TRUE);
    if (!self->my_id)
      session_warning (self, RESOURCE, SETTINGS,
          ("insecure-tls is on: any certificate is accepted from %s, so "
              "anybody on the network path can read and change the "
              "signalling. Use tls-ca-file instead.",
              self->settings.server_url), (NULL));
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

static void
session_stop_media_watch (GstLetsChatSession * self)
{
  if (self->media_watch) {
    g_source_destroy (self->media_watch);
    g_clear_pointer (&self->media_watch, g_source_unref);
  }
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
  session_stop_media_watch (self);
  if (self->client && self->join_sent)
    letschat_client_leave (self->client);
  session_reset_chat (self, FALSE);
  session_drop_client (self);
  g_main_loop_quit (self->loop);
  return G_SOURCE_REMOVE;
}

/* ---------------------------------------------------------------------- */
/* Media                                                                   */

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

/* While the party is alone, the src's pads carry gap events, so that
 * mixers and muxers downstream go on rather than wait. */
#define GAP_INTERVAL (100 * GST_MSECOND)

static gboolean
session_push_gaps_cb (gpointer data)
{
  GstLetsChatSession *self = data;
  const GstLetsChatReceiverFuncs *receiver = NULL;
  GstElement *src = NULL;

  GST_OBJECT_LOCK (self);
  if (self->src) {
    src = gst_object_ref (self->src);
    receiver = self->receiver;
  }
  GST_OBJECT_UNLOCK (self);
  if (src) {
    receiver->push_gap (src, GAP_INTERVAL);
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

/* ---------------------------------------------------------------------- */
/* Life cycle                                                              */

static gpointer
session_thread (gpointer data)
{
  GstLetsChatSession *self = data;

  g_main_context_push_thread_default (self->context);
  g_main_loop_run (self->loop);
  g_main_context_pop_thread_default (self->context);
  return NULL;
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
session_new (GstElement * element, GstLetsChatRole role, gpointer toplevel,
    const GstLetsChatSettings * settings, GError ** error)
{
  GstLetsChatSession *self = g_object_new (GST_TYPE_LETS_CHAT_SESSION, NULL);

  gst_object_ref_sink (self);
  self->toplevel = toplevel;
  gst_lets_chat_settings_copy (&self->settings, settings);

  if (settings->serve) {
    self->served = gst_lets_chat_serve_acquire (settings->server_url,
        settings->tls_cert_file, settings->tls_key_file, error);
    if (!self->served)
      goto failed;
  }
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->cancellable = g_cancellable_new ();
  /* The first element to start hosts webrtcbin; whether that is a
   * letschatsrc matters to the peer connection. */
  self->host = element;
  if (role == GST_LETS_CHAT_ROLE_SRC)
    self->src = element;
  session_install_peer_connection (self, error);
  self->src = NULL;
  if (!self->pc)
    goto failed;

  self->thread = g_thread_new ("letschat-session", session_thread, self);
  g_main_context_invoke (self->context, session_connect_cb, self);
  return self;

failed:
  self->host = NULL;
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
    const GstLetsChatSettings * settings,
    const GstLetsChatReceiverFuncs * receiver, GError ** error)
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
    self = session_new (element, role, toplevel, settings, error);
    if (self)
      registry = g_list_prepend (registry, self);
  }
  if (self) {
    GST_OBJECT_LOCK (self);
    if (role == GST_LETS_CHAT_ROLE_SINK) {
      self->sink = element;
    } else {
      self->src = element;
      self->receiver = receiver;
    }
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
  session_stop_media_watch (self);
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
  if (self->src == element) {
    self->src = NULL;
    self->receiver = NULL;
  }
  last = !self->sink && !self->src;
  if (last)
    registry = g_list_remove (registry, self);
  GST_OBJECT_UNLOCK (self);
  g_mutex_unlock (&registry_lock);

  if (last) {
    GstLetsChatPeerConnection *pc;

    g_main_context_invoke (self->context, session_disconnect_cb, self);
    g_thread_join (self->thread);
    self->thread = NULL;
    session_stop_gaps (self);
    g_mutex_lock (&self->pc_lock);
    pc = self->pc;
    self->pc = NULL;
    self->generation++;
    g_mutex_unlock (&self->pc_lock);
    if (pc)
      gst_lets_chat_peer_connection_close (pc, self->teardowns);
    /* READY->NULL: the one place that waits for peer connections to be
     * down, the pipeline's threads being stopped by now. */
    gst_lets_chat_teardowns_wait_and_free (self->teardowns);
    self->teardowns = NULL;
    GST_OBJECT_LOCK (self);
    self->host = NULL;
    GST_OBJECT_UNLOCK (self);
  }
  gst_object_unref (self);
}

/* Messages of a webrtcbin of the party, on their way to the application
 * (from the host bin's handle_message). An ERROR inside the current one
 * (its sctpenc when a browser aborts the chat's SCTP association on
 * hang-up, say) ends that peer connection, not the pipeline: it becomes a
 * warning, and the call starts over. Errors and warnings of a webrtcbin
 * that is no longer current are dropped: that peer connection is over. */
gboolean
gst_lets_chat_session_handle_message (GstLetsChatSession * self,
    GstMessage * message)
{
  GstMessageType type = GST_MESSAGE_TYPE (message);
  GstElement *webrtc;
  gboolean current = FALSE;
  guint generation = 0;
  GError *error = NULL;
  gchar *debug = NULL;

  if (type != GST_MESSAGE_ERROR && type != GST_MESSAGE_WARNING)
    return FALSE;
  webrtc = gst_lets_chat_peer_connection_find_webrtcbin (GST_MESSAGE_SRC
      (message));
  if (!webrtc)
    return FALSE;
  g_mutex_lock (&self->pc_lock);
  if (self->pc && gst_lets_chat_peer_connection_owns (self->pc,
          GST_OBJECT (webrtc))) {
    current = TRUE;
    generation = self->generation;
  }
  g_mutex_unlock (&self->pc_lock);
  gst_object_unref (webrtc);

  if (!current) {
    GST_INFO_OBJECT (self, "dropping %" GST_PTR_FORMAT " of a peer "
        "connection that is over", message);
    return TRUE;
  }
  if (type == GST_MESSAGE_WARNING)
    return FALSE;

  gst_message_parse_error (message, &error, &debug);
  GST_WARNING_OBJECT (self, "the peer connection failed: %s", error->message);
  session_warning (self, STREAM, FAILED,
      ("The peer connection failed (%s): the call starts over when the "
          "other party is still there.", error->message),
      ("%s: %s", GST_MESSAGE_SRC_NAME (message), GST_STR_NULL (debug)));
  session_invoke_if_current (self, generation, session_connection_failed,
      NULL, NULL);
  g_error_free (error);
  g_free (debug);
  return TRUE;
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
  GstLetsChatSendStream *stream = gst_lets_chat_send_stream_new (upstream,
      codec);

  g_mutex_lock (&self->pc_lock);
  self->send_streams = g_list_append (self->send_streams, stream);
  if (self->pc)
    gst_lets_chat_send_stream_attach (stream,
        gst_lets_chat_peer_connection_get_webrtcbin (self->pc));
  g_mutex_unlock (&self->pc_lock);
  return stream;
}

void
gst_lets_chat_session_set_send_stream_switchable (GstLetsChatSession * self,
    gpointer handle, GstLetsChatSwitchCodecFunc func, gpointer user_data,
    gboolean chosen)
{
  g_mutex_lock (&self->pc_lock);
  gst_lets_chat_send_stream_set_switchable (handle, func, user_data, chosen);
  g_mutex_unlock (&self->pc_lock);
}

void
gst_lets_chat_session_remove_send_stream (GstLetsChatSession * self,
    gpointer handle)
{
  g_mutex_lock (&self->pc_lock);
  self->send_streams = g_list_remove (self->send_streams, handle);
  gst_lets_chat_send_stream_free (handle);
  g_mutex_unlock (&self->pc_lock);
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
  if (self->pc)
    g_object_set (gst_lets_chat_peer_connection_get_webrtcbin (self->pc),
        "latency", latency, NULL);
  g_mutex_unlock (&self->pc_lock);
}

static void
gst_lets_chat_session_finalize (GObject * object)
{
  GstLetsChatSession *self = GST_LETS_CHAT_SESSION (object);

  g_assert (self->thread == NULL);
  if (self->pc)                 /* a session that never started */
    gst_lets_chat_peer_connection_close (self->pc, self->teardowns);
  if (self->teardowns)
    gst_lets_chat_teardowns_wait_and_free (self->teardowns);
  g_clear_pointer (&self->served, gst_lets_chat_serve_release);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_object (&self->cancellable);
  g_assert (self->send_streams == NULL);
  g_clear_pointer (&self->server_ice_servers, json_node_unref);
  g_mutex_clear (&self->pc_lock);
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
  g_mutex_init (&self->pc_lock);
  self->teardowns = gst_lets_chat_teardowns_new ();
  /* webrtcbin's own default until a letschatsrc sets its latency. */
  self->latency = 200;
}
