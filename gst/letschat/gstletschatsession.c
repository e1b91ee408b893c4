/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * One party of a call: what its elements share. It owns the party's
 * registry entry, its thread, its signaller (the room, GstLetsChatRoom, or
 * the application's), the current peer connection and the send streams,
 * and is the API the elements call. The call itself runs in
 * gstletschatcall.c and the offer/answer exchange in
 * gstletschatnegotiation.c, on this file's thread. It must not build media
 * chains (the elements do) nor post from a lock.
 *
 *   letschatsink --send streams--\              /--receiver funcs--> letschatsrc
 *                                v              |
 *               +------------------ session ----------------------+
 *               |  peer connection (webrtcbin, in the host bin)    |
 *               |      ^ offer/answer/ICE    | pad-added          |
 *               |      |                     v                    |
 *               |  session thread (GMainContext) -- signaller --------> room
 *               +-------------------------------------------------+   server
 *
 * Threads: everything that talks to the signaller, and every webrtcbin
 * action the negotiation makes, runs on the session's own thread. Work
 * arriving from webrtcbin's threads (promises, ICE candidates, state
 * changes) is handed to it with session_invoke_if_current(), which drops
 * it if its peer connection has since been replaced. No letschat lock is
 * held across a call into webrtcbin except pc_lock around request pads and
 * relay links, which webrtcbin never calls back under.
 *
 * Joining: the party joins (signaller start) once every sink pad knows its
 * codec, or after JOIN_WAIT_MS, with the DTLS certificate made.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstletschatsessionprivate.h"
#include "gstletschatroom.h"

GST_DEBUG_CATEGORY (gst_lets_chat_session_debug);
#define GST_CAT_DEFAULT gst_lets_chat_session_debug


G_DEFINE_TYPE (GstLetsChatSession, gst_lets_chat_session, GST_TYPE_OBJECT);

static GMutex registry_lock;
static GList *registry;         /* of GstLetsChatSession, no refs */

static void ensure_dtls_certificate (void);
static void session_maybe_join (GstLetsChatSession * self);
static void session_cancel_join_wait (GstLetsChatSession * self);

/* ---------------------------------------------------------------------- */
/* Bus messages, always posted with no lock held.                          */

GstElement *
session_get_host (GstLetsChatSession * self)
{
  GstElement *host;

  GST_OBJECT_LOCK (self);
  host = self->host ? gst_object_ref (self->host) : NULL;
  GST_OBJECT_UNLOCK (self);
  return host;
}

void
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

/* ---------------------------------------------------------------------- */
/* Work for the session thread, if its peer connection is still current    */


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

void
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

GstPromise *
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
GError *
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

/* A sink pad knows its caps now: maybe the party can join, or offer. */
static gboolean
session_release_hold_cb (gpointer data)
{
  session_maybe_join (data);
  session_maybe_negotiate (data);
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

  if (!started || self->join_sent)
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
  GST_INFO_OBJECT (self, "joining");
  gst_lets_chat_signaller_start (self->signaller);
}

/* Session thread: the party's signalling. The room (the default) starts
 * connecting now, so that the WebSocket is open by the time the party
 * joins. */
static gboolean
session_connect_cb (gpointer data)
{
  GstLetsChatSession *self = data;

  if (self->settings.signaller)
    self->signaller = g_object_ref (GST_LETS_CHAT_SIGNALLER
        (self->settings.signaller));
  else
    self->signaller = GST_LETS_CHAT_SIGNALLER (gst_lets_chat_room_new
        (&self->settings));
  g_signal_connect (self->signaller, "joined", G_CALLBACK (on_joined), self);
  g_signal_connect (self->signaller, "peer-joined",
      G_CALLBACK (on_peer_joined), self);
  g_signal_connect (self->signaller, "peer-left", G_CALLBACK (on_peer_left),
      self);
  g_signal_connect (self->signaller, "description",
      G_CALLBACK (on_description), self);
  g_signal_connect (self->signaller, "candidate", G_CALLBACK (on_candidate),
      self);
  g_signal_connect (self->signaller, "server-lost",
      G_CALLBACK (on_server_lost), self);
  g_signal_connect (self->signaller, "error", G_CALLBACK (on_signaller_error),
      self);
  /* Only now: its errors must find the handlers above. */
  if (GST_IS_LETS_CHAT_ROOM (self->signaller))
    gst_lets_chat_room_connect (GST_LETS_CHAT_ROOM (self->signaller));
  return G_SOURCE_REMOVE;
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
  GstLetsChatNegotiationState *state = session_state (self);

  /* Started again after a stop: the peer connection of the last call is
   * spent, the next one starts afresh. */
  if (state->offer_made || state->remote_set)
    session_restart_call (self, "restarted");
  if (self->settings.media_timeout > 0 && !self->media_watch) {
    self->media_watch = g_timeout_source_new_seconds (1);
    g_source_set_callback (self->media_watch, session_media_watch_cb, self,
        NULL);
    g_source_attach (self->media_watch, self->context);
  }
  /* Started again after a stop, which held the peer connection's stats. */
  if (self->pc)
    gst_lets_chat_peer_connection_resume_stats (self->pc);
  session_start_stats (self);
  session_start_congestion (self);
  session_start_jitterbuffers (self);
  session_maybe_join (self);
  return G_SOURCE_REMOVE;
}

static gboolean
session_disconnect_cb (gpointer data)
{
  GstLetsChatSession *self = data;

  session_cancel_join_wait (self);
  session_cancel_offer_wait (self);
  session_stop_media_watch (self);
  session_stop_stats (self);
  session_stop_congestion (self);
  session_stop_jitterbuffers (self);
  if (self->signaller) {
    if (self->join_sent)
      gst_lets_chat_signaller_stop (self->signaller);
    g_signal_handlers_disconnect_by_data (self->signaller, self);
    if (GST_IS_LETS_CHAT_ROOM (self->signaller))
      gst_lets_chat_room_disconnect (GST_LETS_CHAT_ROOM (self->signaller));
    g_clear_object (&self->signaller);
  }
  session_reset_chat (self, FALSE);
  g_main_loop_quit (self->loop);
  return G_SOURCE_REMOVE;
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

    /* One party: the same pipeline, and the same signaller or room. */
    if (s->toplevel == toplevel
        && s->settings.signaller == settings->signaller
        && (settings->signaller
            || (g_strcmp0 (s->settings.server_url, settings->server_url) == 0
                && g_strcmp0 (s->settings.room, settings->room) == 0))) {
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

gchar *
gst_lets_chat_session_describe_ignored_settings (GstLetsChatSession * self,
    GstElement * element, const GstLetsChatSettings * settings)
{
  gchar *names = gst_lets_chat_settings_differences (&self->settings,
      settings);
  GstElement *first;
  gchar *text;

  if (!names)
    return NULL;
  GST_OBJECT_LOCK (self);
  first = self->sink == element ? self->src : self->sink;
  first = first ? gst_object_ref (first) : NULL;
  GST_OBJECT_UNLOCK (self);
  /* The party's settings are those of the element that started first:
   * the room connection and the peer connection exist once per party. */
  text = g_strdup_printf ("%s of %s %s ignored: %s (same room) started this "
      "party first, and a party has one set of settings. Set %s the same on "
      "both elements, or only on %s.", names, GST_ELEMENT_NAME (element),
      strchr (names, ',') ? "are" : "is",
      first ? GST_ELEMENT_NAME (first) : "the other element", names,
      first ? GST_ELEMENT_NAME (first) : "the other element");
  gst_clear_object (&first);
  g_free (names);
  return text;
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
  session_stop_stats (self);
  session_stop_congestion (self);
  session_stop_jitterbuffers (self);
  if (self->signaller && self->join_sent)
    gst_lets_chat_signaller_stop (self->signaller);
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
  GstPromise *last_stats;

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

  /* PAUSED->READY follows, for webrtcbin too: not while it still answers
   * a get-stats (gst_lets_chat_peer_connection_get_stats() says why). */
  g_mutex_lock (&self->pc_lock);
  last_stats = self->pc ?
      gst_lets_chat_peer_connection_hold_stats (self->pc) : NULL;
  g_mutex_unlock (&self->pc_lock);
  if (last_stats) {
    gst_promise_wait (last_stats);
    gst_promise_unref (last_stats);
  }
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
    /* Work that webrtcbin queued for the session thread after it ended
     * (a promise answered on the way down) holds the session: drop it.
     * None runs: the generation has moved on. The context is this thread's
     * default meanwhile, as it was the session thread's: libsoup finishes
     * a cancelled room connection here and asserts that the context it
     * started in is the thread default one. */
    g_main_context_push_thread_default (self->context);
    while (g_main_context_iteration (self->context, FALSE));
    g_main_context_pop_thread_default (self->context);
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
      SESSION_BROKEN_INSIDE, NULL);
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
gst_lets_chat_session_set_latency (GstLetsChatSession * self, guint latency,
    guint max_latency)
{
  g_mutex_lock (&self->pc_lock);
  self->latency = latency;
  self->max_latency = max_latency;
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
  g_clear_pointer (&self->stats, gst_lets_chat_stats_free);
  g_clear_pointer (&self->loop, g_main_loop_unref);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_assert (self->send_streams == NULL);
  g_strfreev (self->server_ice_uris);
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
  self->stats = gst_lets_chat_stats_new ();
  /* webrtcbin's own default until a letschatsrc sets its latency. */
  self->latency = 200;
}
