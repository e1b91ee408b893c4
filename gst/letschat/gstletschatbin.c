/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The base of letschatsink and letschatsrc (see the header): settings,
 * session life cycle, chat signals, message filter. It builds no media
 * chain and adds no pad: the subclasses do, in their hooks.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstletschatbin.h"
#include "gstletschaturi.h"
#include "letschat-protocol.h"

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_bin_debug);
#define GST_CAT_DEFAULT gst_lets_chat_bin_debug

typedef struct
{
  /* Protected by the object lock */
  GstLetsChatSettings settings;

  /* Only changed in state changes */
  GstLetsChatSession *session;
} GstLetsChatBinPrivate;

#define gst_lets_chat_bin_parent_class parent_class
G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (GstLetsChatBin, gst_lets_chat_bin,
    GST_TYPE_BIN);

#define PRIV(self) \
  ((GstLetsChatBinPrivate *) gst_lets_chat_bin_get_instance_private (self))

GstLetsChatSession *
gst_lets_chat_bin_get_session (GstLetsChatBin * self)
{
  return PRIV (self)->session;
}

gboolean
gst_lets_chat_bin_can_set_property (GstLetsChatBin * self, GParamSpec * pspec)
{
  if ((pspec->flags & GST_PARAM_MUTABLE_READY) &&
      GST_STATE (self) > GST_STATE_READY) {
    GST_WARNING_OBJECT (self, "property '%s' can only be changed in the "
        "NULL or READY state; ignored", pspec->name);
    return FALSE;
  }
  return TRUE;
}

static gboolean
server_url_is_valid (const gchar * url)
{
  g_autoptr (GUri) uri = NULL;

  if (!g_str_has_prefix (url, "ws://") && !g_str_has_prefix (url, "wss://"))
    return FALSE;
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  return uri && g_uri_get_host (uri) && *g_uri_get_host (uri);
}

/* server-url: one URL, or the nodes of a cluster separated by commas. The
 * error names the URL at fault, which in a list of five is not obvious. */
static gboolean
bin_check_server_urls (GstLetsChatBin * self,
    const GstLetsChatSettings * settings)
{
  g_auto (GStrv) urls = gst_lets_chat_settings_server_urls (settings);
  guint i, n = g_strv_length (urls);

  for (i = 0; i < n; i++) {
    if (server_url_is_valid (urls[i]))
      continue;
    if (n == 1)
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Invalid server-url '%s': it must be a ws:// or wss:// URL, "
              "e.g. ws://127.0.0.1:8443/ws", urls[i]), (NULL));
    else if (!*urls[i])
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Invalid server-url '%s': URL %u of %u is empty (two commas in "
              "a row, or one at an end). List the nodes as ws:// or wss:// "
              "URLs separated by single commas, e.g. "
              "ws://node1:8443/ws,ws://node2:8443/ws", settings->server_url,
              i + 1, n), (NULL));
    else
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("Invalid URL '%s' in server-url (URL %u of %u): each must be a "
              "ws:// or wss:// URL, separated by commas, e.g. "
              "ws://node1:8443/ws,ws://node2:8443/ws", urls[i], i + 1, n),
          ("server-url is '%s'", settings->server_url));
    return FALSE;
  }
  if (settings->serve && n > 1) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("serve=true hosts one room server in this process, but server-url "
            "lists %u: '%s'. Give serve=true a single URL, or drop "
            "serve=true to join the nodes listed", n, settings->server_url),
        (NULL));
    return FALSE;
  }
  return TRUE;
}

/* Posts an error and returns FALSE if the settings cannot make a party. */
static gboolean
bin_check_settings (GstLetsChatBin * self, const GstLetsChatSettings * settings)
{
  if (settings->signaller)
    return TRUE;                /* the application's signalling */
  if (settings->strangers && settings->room && *settings->room) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Both room='%s' and strangers=true are set: drop room to talk to "
            "strangers, or drop strangers=true to join room '%s'",
            settings->room, settings->room), (NULL));
    return FALSE;
  }
  if (!settings->strangers && (!settings->room || !*settings->room)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("No room set: set the room property to the name of the room to "
            "join, e.g. room=myroom (or strangers=true to be paired with a "
            "stranger)"), (NULL));
    return FALSE;
  }
  if (settings->room && !letschat_protocol_room_name_is_valid (settings->room)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Invalid room name '%s': use 1 to %d letters, digits, '_', '.' or "
            "'-'", settings->room, LETSCHAT_ROOM_NAME_MAX), (NULL));
    return FALSE;
  }
  return bin_check_server_urls (self, settings);
}

/* The error for a party that could not start. */
static void
bin_post_start_error (GstLetsChatBin * self,
    const GstLetsChatSettings * settings, const GError * error)
{
  if (error->domain == GST_CORE_ERROR)
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN, ("%s", error->message),
        (NULL));
  else if (error->domain == GST_RESOURCE_ERROR)
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error->message),
        (NULL));
  else if (settings->serve)
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ_WRITE,
        ("%s. Is another server already using that port? Change the port "
            "in server-url, or drop serve=true and join that server.",
            error->message), (NULL));
  else
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error->message),
        (NULL));
}

static gboolean
gst_lets_chat_bin_start (GstLetsChatBin * self)
{
  GstLetsChatBinClass *klass = GST_LETS_CHAT_BIN_GET_CLASS (self);
  GstLetsChatBinPrivate *priv = PRIV (self);
  GstLetsChatSettings settings = { 0, };
  GstLetsChatSession *session;
  GError *error = NULL;
  gchar *ignored;
  gboolean ok = FALSE;

  GST_OBJECT_LOCK (self);
  gst_lets_chat_settings_copy (&settings, &priv->settings);
  GST_OBJECT_UNLOCK (self);

  if (!bin_check_settings (self, &settings))
    goto out;
  session = gst_lets_chat_session_acquire (GST_ELEMENT (self), klass->role,
      &settings, klass->receiver, &error);
  GST_OBJECT_LOCK (self);
  priv->session = session;
  GST_OBJECT_UNLOCK (self);
  if (!session) {
    bin_post_start_error (self, &settings, error);
    g_error_free (error);
    goto out;
  }
  ignored = gst_lets_chat_session_describe_ignored_settings (session,
      GST_ELEMENT (self), &settings);
  if (ignored) {
    /* A two-way party's second element: its own values would be silently
     * lost otherwise (display-name on the letschatsrc, say). */
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("%s", ignored), (NULL));
    g_free (ignored);
  }
  ok = klass->started ? klass->started (self) : TRUE;
out:
  gst_lets_chat_settings_clear (&settings);
  return ok;
}

static void
gst_lets_chat_bin_stop (GstLetsChatBin * self)
{
  GstLetsChatBinClass *klass = GST_LETS_CHAT_BIN_GET_CLASS (self);
  GstLetsChatBinPrivate *priv = PRIV (self);
  GstLetsChatSession *session;

  if (!priv->session)
    return;
  if (klass->stopping)
    klass->stopping (self);
  GST_OBJECT_LOCK (self);
  session = priv->session;
  priv->session = NULL;
  GST_OBJECT_UNLOCK (self);
  gst_lets_chat_session_release (session, GST_ELEMENT (self));
  if (klass->stopped)
    klass->stopped (self);
}

static GstStateChangeReturn
gst_lets_chat_bin_change_state (GstElement * element, GstStateChange transition)
{
  GstLetsChatBin *self = GST_LETS_CHAT_BIN (element);
  GstLetsChatBinClass *klass = GST_LETS_CHAT_BIN_GET_CLASS (self);
  GstLetsChatBinPrivate *priv = PRIV (self);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!gst_lets_chat_bin_start (self)) {
        gst_lets_chat_bin_stop (self);
        return GST_STATE_CHANGE_FAILURE;
      }
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      /* Joins when every element of the party has attached, so that the
       * offer or answer carries all of the party's streams. */
      if (klass->joining)
        klass->joining (self);
      gst_lets_chat_session_start (priv->session);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* Symmetric with the join: the call changes no more, so the pipeline
       * can stop without webrtcbins coming and going under it. */
      gst_lets_chat_session_stop (priv->session);
      break;
    default:
      break;
  }

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE)
    return ret;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      /* Live: the other party's media cannot preroll. */
      if (klass->role == GST_LETS_CHAT_ROLE_SRC)
        ret = GST_STATE_CHANGE_NO_PREROLL;
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:
      gst_lets_chat_bin_stop (self);
      break;
    default:
      break;
  }
  return ret;
}

/* What webrtcbin posts reaches the application only if the session says
 * so (gst_lets_chat_session_handle_message()): a peer connection that
 * fails or is over never ends the pipeline. */
static void
gst_lets_chat_bin_handle_message (GstBin * bin, GstMessage * message)
{
  GstLetsChatBinPrivate *priv = PRIV (GST_LETS_CHAT_BIN (bin));
  GstLetsChatSession *session;
  gboolean handled = FALSE;

  /* Any thread; READY->NULL drops the session under the same lock. */
  GST_OBJECT_LOCK (bin);
  session = priv->session ? gst_object_ref (priv->session) : NULL;
  GST_OBJECT_UNLOCK (bin);

  if (session) {
    handled = gst_lets_chat_session_handle_message (session, message);
    gst_object_unref (session);
  }
  if (handled)
    gst_message_unref (message);
  else
    GST_BIN_CLASS (parent_class)->handle_message (bin, message);
}

/* Warnings, not errors: a chat message that cannot go is the user's to
 * hear about, and no reason to stop the call. */
static gboolean
gst_lets_chat_bin_send_chat (GstLetsChatBin * self, const gchar * text)
{
  GstLetsChatSession *session = gst_lets_chat_session_find (GST_ELEMENT (self));
  GError *error = NULL;
  gboolean ok;

  if (!session) {
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE,
        ("The chat message was not sent: %s is not in a room yet (set the "
            "pipeline to PLAYING first)", GST_ELEMENT_NAME (self)), (NULL));
    return FALSE;
  }
  ok = gst_lets_chat_session_send_chat (session, text, &error);
  if (!ok) {
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE, ("%s", error->message), (NULL));
    g_error_free (error);
  }
  gst_object_unref (session);
  return ok;
}

/* ---------------------------------------------------------------------- */
/* letschat:// URIs                                                        */

static const gchar *const *
bin_uri_get_protocols (GType type)
{
  return gst_lets_chat_uri_protocols;
}

static gchar *
bin_uri_get_uri (GstURIHandler * handler)
{
  GstLetsChatBin *self = GST_LETS_CHAT_BIN (handler);
  gchar *uri;

  GST_OBJECT_LOCK (self);
  uri = gst_lets_chat_uri_build (&PRIV (self)->settings);
  GST_OBJECT_UNLOCK (self);
  return uri;
}

static gboolean
bin_uri_set_uri (GstURIHandler * handler, const gchar * uri, GError ** error)
{
  GstLetsChatBin *self = GST_LETS_CHAT_BIN (handler);
  GstLetsChatSettings *settings = &PRIV (self)->settings;
  gchar *server_url, *room, *secret, *display_name;

  if (!gst_lets_chat_uri_parse (uri, &server_url, &room, &secret,
          &display_name, error))
    return FALSE;
  GST_OBJECT_LOCK (self);
  if (GST_STATE (self) > GST_STATE_READY) {
    GST_OBJECT_UNLOCK (self);
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_STATE,
        "The URI of %s can only change in the NULL or READY state",
        GST_ELEMENT_NAME (self));
    g_free (server_url);
    g_free (room);
    g_free (secret);
    g_free (display_name);
    return FALSE;
  }
  /* The URI says all of where the party meets: what it leaves out (a
   * secret, a name) is unset, not kept from before. */
  g_free (settings->server_url);
  settings->server_url = server_url;
  g_free (settings->room);
  settings->room = room;
  g_free (settings->secret);
  settings->secret = secret;
  g_free (settings->display_name);
  settings->display_name = display_name;
  GST_OBJECT_UNLOCK (self);

  g_object_notify (G_OBJECT (self), "server-url");
  g_object_notify (G_OBJECT (self), "room");
  g_object_notify (G_OBJECT (self), "secret");
  g_object_notify (G_OBJECT (self), "display-name");
  return TRUE;
}

static GstURIType
bin_uri_get_type_src (GType type)
{
  return GST_URI_SRC;
}

static GstURIType
bin_uri_get_type_sink (GType type)
{
  return GST_URI_SINK;
}

void
gst_lets_chat_bin_uri_handler_init (GstURIHandlerInterface * iface,
    GstURIType type)
{
  iface->get_type = type == GST_URI_SRC ? bin_uri_get_type_src :
      bin_uri_get_type_sink;
  iface->get_protocols = bin_uri_get_protocols;
  iface->get_uri = bin_uri_get_uri;
  iface->set_uri = bin_uri_set_uri;
}

/* Omegle's "Next": an error is a warning here too, the call goes on. */
static gboolean
gst_lets_chat_bin_next_stranger (GstLetsChatBin * self)
{
  GstLetsChatSession *session = gst_lets_chat_session_find (GST_ELEMENT (self));
  GError *error = NULL;
  gboolean ok;

  if (!session) {
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS,
        ("next-stranger was ignored: %s is not talking to anybody yet (set "
            "the pipeline to PLAYING first)", GST_ELEMENT_NAME (self)), (NULL));
    return FALSE;
  }
  ok = gst_lets_chat_session_next_stranger (session, &error);
  if (!ok) {
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("%s", error->message),
        (NULL));
    g_error_free (error);
  }
  gst_object_unref (session);
  return ok;
}

static void
gst_lets_chat_bin_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstLetsChatBin *self = GST_LETS_CHAT_BIN (object);

  GST_OBJECT_LOCK (self);
  if (gst_lets_chat_bin_can_set_property (self, pspec) &&
      !gst_lets_chat_settings_set_property (&PRIV (self)->settings, prop_id,
          value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (self);
}

/* The party's latest statistics; an empty structure outside a session. */
static GstStructure *
gst_lets_chat_bin_get_stats (GstLetsChatBin * self)
{
  GstLetsChatSession *session;
  GstStructure *stats;

  GST_OBJECT_LOCK (self);
  session = PRIV (self)->session ? gst_object_ref (PRIV (self)->session) : NULL;
  GST_OBJECT_UNLOCK (self);
  if (!session)
    return gst_structure_new_empty ("letschat/stats");
  stats = gst_lets_chat_session_get_stats (session);
  gst_object_unref (session);
  return stats;
}

static void
gst_lets_chat_bin_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstLetsChatBin *self = GST_LETS_CHAT_BIN (object);

  if (prop_id == GST_LETS_CHAT_PROP_STATS) {
    g_value_take_boxed (value, gst_lets_chat_bin_get_stats (self));
    return;
  }
  GST_OBJECT_LOCK (self);
  if (!gst_lets_chat_settings_get_property (&PRIV (self)->settings, prop_id,
          value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_lets_chat_bin_finalize (GObject * object)
{
  gst_lets_chat_settings_clear (&PRIV (GST_LETS_CHAT_BIN (object))->settings);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

/* The element messages of a party (fields in brackets, strings unless
 * said), posted by the element of the party that hosts webrtcbin. Keep in
 * step with the SECTION blocks of letschatsink and letschatsrc. */
static const gchar *const room_bus_messages[] = {
  "letschat/joined (id, room, server-url): this party is in the room, "
      "through that room server (one of server-url's)",
  "letschat/peer-joined (peer-id, peer-name): the other party is there",
  "letschat/peer-left (peer-id): the other party left",
  "letschat/connection-state (state: new, connecting, connected, "
      "disconnected, failed or closed): the peer connection's state",
  "letschat/call-reset (reason: peer-left, peer-changed, "
      "connection-failed, new-offer, no-media, negotiation-failed or "
      "restarted): a new peer connection replaced the old one; pads stay",
  "letschat/negotiation-failed (step, error): what the other party sent "
      "could not be used; the party waits for its next offer",
  "letschat/candidate-pair (local-type, remote-type: host, srflx, prflx "
      "or relay; local-address, local-port, remote-address, remote-port, "
      "protocol): the network path the call took",
  "letschat/stats (the stats property's fields: per stream send-video, "
      "send-audio, receive-video, receive-audio, and the call's "
      "round-trip-time, target-bitrate, available-bandwidth and candidate "
      "pair): every stats-interval ms; docs/stats.md",
  "letschat/server-lost (reason, server-url): that room server went "
      "away; media goes on, the element reconnects (to the next of "
      "server-url's nodes)",
  "letschat/server-reconnected (id, room, server-url): back in the room, "
      "as the same party, through that room server",
  "letschat/chat (from, from-name, text): the other party typed a chat "
      "message",
  NULL
};

/* gst-inspect-1.0 prints a value's lines as they are: indent the next
 * ones under the first (its column of values is 27 wide). */
#define MANUAL_NEWLINE "\n                           "

void
gst_lets_chat_bin_class_add_manual (GstElementClass * klass,
    const gchar * const *own_messages)
{
  GString *text = g_string_new (NULL);
  const gchar *const *m;

  for (m = room_bus_messages; *m; m++)
    g_string_append_printf (text, "%s%s", text->len ? MANUAL_NEWLINE : "", *m);
  for (m = own_messages; m && *m; m++)
    g_string_append_printf (text, MANUAL_NEWLINE "%s", *m);
  gst_element_class_add_metadata (klass, "bus-messages", text->str);
  g_string_free (text, TRUE);

  /* gst-inspect-1.0 names a signal's parameters arg0, arg1, ...: GObject
   * keeps only their types. */
  gst_element_class_add_static_metadata (klass, "signal-parameters",
      "chat-received (element, from: the other party's id, text: what it "
      "typed)" MANUAL_NEWLINE "send-chat (element, text: 1 to 4096 bytes "
      "of UTF-8) returns FALSE if it cannot go (a warning says why)");
}

static void
gst_lets_chat_bin_class_init (GstLetsChatBinClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GType type = G_TYPE_FROM_CLASS (klass);

  gobject_class->set_property = gst_lets_chat_bin_set_property;
  gobject_class->get_property = gst_lets_chat_bin_get_property;
  gobject_class->finalize = gst_lets_chat_bin_finalize;
  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_lets_chat_bin_change_state);
  GST_BIN_CLASS (klass)->handle_message =
      GST_DEBUG_FUNCPTR (gst_lets_chat_bin_handle_message);

  gst_lets_chat_settings_install (gobject_class);

  /**
   * GstLetsChatBin::send-chat:
   * @bin: the letschatsink or letschatsrc
   * @text: UTF-8 text, 1 to 4096 bytes
   *
   * Sends @text to the other party's chat. While the call is connecting
   * the message waits and goes out when the chat opens. Returns %FALSE
   * (and posts a warning saying why) if it cannot go: no other party in
   * the room, empty, too long or not UTF-8.
   *
   * Since: 0.1
   */
  g_signal_new_class_handler ("send-chat", type,
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (gst_lets_chat_bin_send_chat), NULL, NULL, NULL,
      G_TYPE_BOOLEAN, 1, G_TYPE_STRING);
  /**
   * GstLetsChatBin::next-stranger:
   * @bin: the letschatsink or letschatsrc of a party with strangers=true
   *
   * Leaves the current stranger (it is told peer-left) and queues for the
   * next one, as Omegle's "Next" button does. The bus then shows
   * `letschat/peer-left`, `letschat/call-reset` (reason `next-stranger`)
   * and `letschat/joined` with the room of the next pair; the pads stay.
   * Returns %FALSE (and posts a warning saying why) without
   * strangers=true or before the party started.
   *
   * Since: 0.1
   */
  g_signal_new_class_handler ("next-stranger", type,
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (gst_lets_chat_bin_next_stranger), NULL, NULL, NULL,
      G_TYPE_BOOLEAN, 0);
  /**
   * GstLetsChatBin::chat-received:
   * @bin: the letschatsink or letschatsrc
   * @from: the other party's id (as in `letschat/peer-joined`)
   * @text: what it typed (valid UTF-8, at most 4096 bytes)
   *
   * The other party sent a chat message. Emitted from an internal thread.
   *
   * Since: 0.1
   */
  g_signal_new ("chat-received", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);

  gst_type_mark_as_plugin_api (type, 0);
  GST_DEBUG_CATEGORY_INIT (gst_lets_chat_bin_debug, "letschatbin", 0,
      "letschat elements' shared base");
}

static void
gst_lets_chat_bin_init (GstLetsChatBin * self)
{
  gst_lets_chat_settings_init (&PRIV (self)->settings);
}
