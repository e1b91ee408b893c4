/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The WebSocket side of a party (see the header): connect, join, welcome,
 * peer-joined/left, relayed signals, reconnection with backoff. It turns
 * the room protocol into GstLetsChatSignaller signals and the session's
 * descriptions and candidates into protocol messages; it knows nothing of
 * webrtcbin and never posts to the bus.
 *
 * server-url may list the nodes of a cluster (comma-separated). Any node
 * takes any party, so the room simply goes round the list:
 *
 *   start:  url[0] --refused--> url[1] --refused--> ... all refused: error
 *   joined on url[i], then lost --> server-lost --> url[i+1] (250 ms later)
 *              --refused--> url[i+2] (500 ms) ... every 1 s, round and round
 *
 * and rejoins with its id wherever it lands, so that the other party (on
 * the same node or another) sees the same party come back.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstletschatroom.h"
#include "letschat-client.h"
#include "letschat-protocol.h"

/* The error code of a node that cannot take joins now (it lost what the
 * cluster's nodes share, docs/protocol.md): another node may. */
#define NODE_UNAVAILABLE "unavailable"

GST_DEBUG_CATEGORY_STATIC (gst_lets_chat_room_debug);
#define GST_CAT_DEFAULT gst_lets_chat_room_debug

struct _GstLetsChatRoom
{
  GObject parent;

  GstLetsChatSettings settings;
  GStrv urls;                   /* server-url's nodes, at least one */
  guint n_urls;
  guint url_index;              /* the node connected to, or tried next */
  /* Before the first join: the nodes that refused so far, and why */
  guint start_failures;
  GString *start_errors;
  gboolean warned_insecure;
  LetsChatClient *client;
  GCancellable *cancellable;
  gboolean connected;
  gboolean connecting;          /* a connect_async under way */
  gboolean joining;             /* start() called, stop() not yet */
  gboolean join_sent;
  gchar *my_id;                 /* to rejoin as the same party */
  /* strangers=true: the room the server made for this pair, rejoined by
   * name after a reconnection (the call goes on) while paired; alone, the
   * party goes back to the queue instead (a room of one joined by name
   * would be an ordinary room nobody is sent to) */
  gchar *stranger_room;
  gboolean stranger_paired;
  /* A join is on its way: what the server relays before its welcome
   * belongs to the room this party just left (a stranger's candidates
   * sent before our leave reached the server). */
  gboolean awaiting_welcome;
  guint reconnect_delay;        /* ms; 0: connected */
  GSource *reconnect_source;
};

static void gst_lets_chat_room_signaller_init (GstLetsChatSignallerInterface *
    iface);

G_DEFINE_TYPE_WITH_CODE (GstLetsChatRoom, gst_lets_chat_room, G_TYPE_OBJECT,
    G_IMPLEMENT_INTERFACE (GST_TYPE_LETS_CHAT_SIGNALLER,
        gst_lets_chat_room_signaller_init));

#define SIGNALLER(self) GST_LETS_CHAT_SIGNALLER (self)

static void room_connect (GstLetsChatRoom * self);

static const gchar *
room_url (GstLetsChatRoom * self)
{
  return self->urls[self->url_index];
}

/* Round robin: with one URL, the same one again. */
static void
room_next_url (GstLetsChatRoom * self)
{
  self->url_index = (self->url_index + 1) % self->n_urls;
}

static void room_schedule_reconnect (GstLetsChatRoom * self);
static void room_connect_later (GstLetsChatRoom * self, guint delay_ms);

static void
room_error (GstLetsChatRoom * self, gboolean fatal, GstResourceError code,
    const gchar * debug, const gchar * format, ...)
G_GNUC_PRINTF (5, 6);

     static void
         room_error (GstLetsChatRoom * self, gboolean fatal,
    GstResourceError code, const gchar * debug, const gchar * format, ...)
{
  GError *error;
  va_list args;

  va_start (args, format);
  error = g_error_new_valist (GST_RESOURCE_ERROR, code, format, args);
  va_end (args);
  gst_lets_chat_signaller_error (SIGNALLER (self), fatal, error, debug);
  g_error_free (error);
}

/* ---------------------------------------------------------------------- */
/* The room server's messages                                              */

static void
on_welcome (LetsChatClient * client, const gchar * id, const gchar * room,
    const gchar * peer_id, const gchar * peer_name, JsonNode * ice_servers,
    GstLetsChatRoom * self)
{
  gboolean again = self->my_id != NULL;
  gchar **uris;

  if (!self->joining)
    return;                     /* stopped: no signals after stop() */
  self->awaiting_welcome = FALSE;
  if (self->settings.room == NULL) {
    g_free (self->stranger_room);
    self->stranger_room = g_strdup (room);
    self->stranger_paired = peer_id != NULL;
  }
  uris = letschat_protocol_ice_servers_to_uris (ice_servers);

  g_free (self->my_id);
  self->my_id = g_strdup (id);
  gst_lets_chat_signaller_joined (SIGNALLER (self), id, room, peer_id,
      peer_name, uris, again);
  g_strfreev (uris);
}

static void
on_peer_joined (LetsChatClient * client, const gchar * peer_id,
    const gchar * peer_name, GstLetsChatRoom * self)
{
  if (!self->joining)
    return;                     /* stopped: no signals after stop() */
  if (self->awaiting_welcome)
    return;                     /* news of the room we left */
  self->stranger_paired = TRUE;
  gst_lets_chat_signaller_peer_joined (SIGNALLER (self), peer_id, peer_name);
}

static void
on_peer_left (LetsChatClient * client, const gchar * peer_id,
    GstLetsChatRoom * self)
{
  if (!self->joining)
    return;                     /* stopped: no signals after stop() */
  if (self->awaiting_welcome)
    return;                     /* news of the room we left */
  self->stranger_paired = FALSE;
  gst_lets_chat_signaller_peer_left (SIGNALLER (self), peer_id);
}

/* The client checked the message against the protocol already. */
static void
on_signal (LetsChatClient * client, const gchar * from, JsonNode * data,
    GstLetsChatRoom * self)
{
  JsonObject *obj = json_node_get_object (data);
  JsonNode *ice;
  JsonObject *ice_obj;
  const gchar *candidate;

  if (!self->joining)
    return;                     /* stopped: no signals after stop() */
  if (self->awaiting_welcome)
    return;                     /* from the party of the room we left */
  if (json_object_has_member (obj, "sdp")) {
    JsonObject *sdp = json_object_get_object_member (obj, "sdp");

    gst_lets_chat_signaller_description (SIGNALLER (self),
        json_object_get_string_member (sdp, "type"),
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
  gst_lets_chat_signaller_candidate (SIGNALLER (self),
      json_object_get_int_member (ice_obj, "sdpMLineIndex"), candidate);
}

static gboolean room_try_next_at_start (GstLetsChatRoom * self,
    const GError * error);

/* The node refused the join with `unavailable`: leave it as if it had gone
 * away, for the next node of server-url (or the same one again, later). */
static void
room_node_unavailable (GstLetsChatRoom * self, const gchar * message)
{
  g_autoptr (GError) error = g_error_new (GST_RESOURCE_ERROR,
      GST_RESOURCE_ERROR_BUSY, "%s cannot take this party now: %s",
      room_url (self), message);

  /* Nothing more from it: it is dropped at the next connection. */
  g_signal_handlers_disconnect_by_data (self->client, self);
  self->connected = FALSE;
  self->join_sent = FALSE;
  if (!self->my_id) {
    if (!room_try_next_at_start (self, error))
      room_error (self, TRUE, GST_RESOURCE_ERROR_BUSY,
          self->start_errors->str, "No room server in server-url (%s) can "
          "take this party now: %s. Try again later, or add a node that "
          "works to server-url.", self->settings.server_url, message);
  } else if (self->settings.reconnect) {
    GST_WARNING_OBJECT (self, "%s", error->message);
    room_next_url (self);
    room_schedule_reconnect (self);
  } else {
    room_error (self, FALSE, GST_RESOURCE_ERROR_BUSY, message,
        "The room server at %s cannot take this party back now; media "
        "already flowing continues", room_url (self));
  }
}

static void
on_server_error (LetsChatClient * client, const gchar * code,
    const gchar * message, GstLetsChatRoom * self)
{
  const gchar *room = self->settings.room ? self->settings.room :
      "(the strangers' queue)";
  g_autofree gchar *debug = NULL;

  if (!self->joining)
    return;                     /* stopped: no signals after stop() */
  if (g_str_equal (code, NODE_UNAVAILABLE) && self->join_sent) {
    room_node_unavailable (self, message);
    return;
  }
  debug = g_strdup_printf ("server said: %s (%s)", message, code);

  /* A refused join leaves nothing to leave: a "leave" at stop would only
   * earn a second, confusing error ("You are not in a room"). */
  if (!self->my_id)
    self->join_sent = FALSE;

  if (g_str_equal (code, LETSCHAT_ERROR_ROOM_FULL))
    room_error (self, TRUE, GST_RESOURCE_ERROR_BUSY, debug,
        "Room '%s' is full: it already holds two parties. Choose another "
        "room, or wait until one of them leaves.", room);
  else if (g_str_equal (code, LETSCHAT_ERROR_UNAUTHORIZED) &&
      (!self->settings.secret || !*self->settings.secret))
    room_error (self, TRUE, GST_RESOURCE_ERROR_NOT_AUTHORIZED, debug,
        "Room '%s' needs a secret: set the secret property to the room's "
        "secret (secret=... on the element, or ?secret=... in a "
        "letschat:// URI).", room);
  else if (g_str_equal (code, LETSCHAT_ERROR_UNAUTHORIZED))
    room_error (self, TRUE, GST_RESOURCE_ERROR_NOT_AUTHORIZED, debug,
        "Room '%s' is protected by another secret: set the secret property "
        "to the room's secret.", room);
  else if (!self->my_id)
    room_error (self, TRUE, GST_RESOURCE_ERROR_SETTINGS, debug,
        "The room server refused to let this party join room '%s': %s",
        room, message);
  else
    room_error (self, FALSE, GST_RESOURCE_ERROR_WRITE, debug,
        "The room server refused a message: %s", message);
}

/* Before the party ever joined, a node that refuses or drops the
 * connection hands over to the next one in the list, until each was tried
 * once. Returns FALSE when none is left (the caller posts the error). */
static gboolean
room_try_next_at_start (GstLetsChatRoom * self, const GError * error)
{
  g_string_append_printf (self->start_errors, "%s%s: %s",
      self->start_errors->len ? "; " : "", room_url (self), error->message);
  if (++self->start_failures >= self->n_urls)
    return FALSE;
  GST_INFO_OBJECT (self, "%s refused (%s): trying %s", room_url (self),
      error->message, self->urls[(self->url_index + 1) % self->n_urls]);
  room_next_url (self);
  /* Not from inside the old client's own callbacks: it is dropped. */
  room_connect_later (self, 0);
  return TRUE;
}

static void
on_closed (LetsChatClient * client, const GError * error,
    GstLetsChatRoom * self)
{
  self->connected = FALSE;
  self->join_sent = FALSE;
  if (!error || !self->joining)
    return;                     /* a stopped room reconnects at start() */
  if (!self->my_id) {
    if (room_try_next_at_start (self, error))
      return;
    room_error (self, TRUE, GST_RESOURCE_ERROR_READ, error->message,
        "The room server at %s closed the connection before this party "
        "could join", room_url (self));
  } else if (self->settings.reconnect) {
    GST_WARNING_OBJECT (self, "lost the room server %s: %s", room_url (self),
        error->message);
    /* Named while it is still the current one: the session tells the
     * application which node went away. */
    gst_lets_chat_signaller_server_lost (SIGNALLER (self), error->message);
    room_next_url (self);
    room_schedule_reconnect (self);
  } else {
    room_error (self, FALSE, GST_RESOURCE_ERROR_READ, error->message,
        "Lost the connection to the room server at %s; media already "
        "flowing continues", room_url (self));
  }
}

/* ---------------------------------------------------------------------- */
/* Connecting, joining, coming back                                        */

static void
room_send_join (GstLetsChatRoom * self)
{
  const gchar *room = self->settings.room ? self->settings.room :
      self->stranger_paired ? self->stranger_room : NULL;

  if (!self->joining || !self->connected || self->join_sent)
    return;
  self->join_sent = TRUE;
  self->awaiting_welcome = TRUE;
  GST_INFO_OBJECT (self, "joining %s", room ? room : "the strangers' queue");
  /* After a reconnection, ask for the id we had: the other party then
   * knows it is us, and the call goes on. A stranger comes back to the
   * room the server made for the pair, by name. */
  letschat_client_join_as (self->client, room, self->settings.secret,
      self->settings.display_name, self->my_id);
}

static void
on_connected (GObject * source, GAsyncResult * result, gpointer user_data)
{
  GstLetsChatRoom *self = user_data;
  GError *error = NULL;

  if (LETSCHAT_CLIENT (source) != self->client) {
    g_object_unref (self);      /* a client dropped since */
    return;
  }
  self->connecting = FALSE;
  if (!letschat_client_connect_finish (LETSCHAT_CLIENT (source), result,
          &error)) {
    if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
      /* disconnecting */
    } else if (!self->joining) {
      /* stopped meanwhile: start() tries again */
    } else if (self->my_id && self->settings.reconnect) {
      GST_DEBUG_OBJECT (self, "room server %s still away: %s",
          room_url (self), error->message);
      room_next_url (self);
      room_schedule_reconnect (self);
    } else if (room_try_next_at_start (self, error)) {
      /* the next node is on its way */
    } else if (self->n_urls > 1) {
      room_error (self, TRUE, GST_RESOURCE_ERROR_OPEN_READ,
          self->start_errors->str, "Could not connect to any of the %u "
          "letschat room servers in server-url (%s). Start letschat-server "
          "on at least one of them, or set server-url to where the nodes "
          "run.", self->n_urls, self->settings.server_url);
    } else if (error->domain == G_TLS_ERROR) {
      /* names the certificate problem and what to do about it */
      room_error (self, TRUE, GST_RESOURCE_ERROR_OPEN_READ, NULL, "%s",
          error->message);
    } else {
      room_error (self, TRUE, GST_RESOURCE_ERROR_OPEN_READ, error->message,
          "Could not connect to the letschat room server at %s. Start "
          "letschat-server there, set server-url to where it runs, or "
          "set serve=true on one party.", room_url (self));
    }
    g_error_free (error);
  } else {
    GST_INFO_OBJECT (self, "connected to %s", room_url (self));
    self->connected = TRUE;
    self->reconnect_delay = 0;
    self->start_failures = 0;
    g_string_truncate (self->start_errors, 0);
    room_send_join (self);
  }
  g_object_unref (self);
}

static void
room_drop_client (GstLetsChatRoom * self)
{
  if (!self->client)
    return;
  g_signal_handlers_disconnect_by_data (self->client, self);
  letschat_client_close (self->client);
  g_clear_object (&self->client);
  self->connected = FALSE;
  self->connecting = FALSE;
  self->join_sent = FALSE;
}

static void
room_connect (GstLetsChatRoom * self)
{
  room_drop_client (self);
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
      room_error (self, TRUE, GST_RESOURCE_ERROR_OPEN_READ, NULL, "%s",
          error->message);
      g_error_free (error);
      return;
    }
  }
  if (self->settings.insecure_tls) {
    letschat_client_set_insecure_tls (self->client, TRUE);
    if (!self->warned_insecure)
      room_error (self, FALSE, GST_RESOURCE_ERROR_SETTINGS, NULL,
          "insecure-tls is on: any certificate is accepted from %s, so "
          "anybody on the network path can read and change the "
          "signalling. Use tls-ca-file instead.", self->settings.server_url);
    self->warned_insecure = TRUE;
  }
  self->connecting = TRUE;
  letschat_client_connect_async (self->client, room_url (self),
      self->settings.connect_timeout * 1000, self->cancellable,
      on_connected, g_object_ref (self));
}

static gboolean
room_reconnect_cb (gpointer data)
{
  GstLetsChatRoom *self = data;

  g_clear_pointer (&self->reconnect_source, g_source_unref);
  GST_INFO_OBJECT (self, "reconnecting to %s", room_url (self));
  room_connect (self);
  return G_SOURCE_REMOVE;
}

static void
room_connect_later (GstLetsChatRoom * self, guint delay_ms)
{
  if (self->reconnect_source)
    return;
  self->reconnect_source = g_timeout_source_new (delay_ms);
  g_source_set_callback (self->reconnect_source, room_reconnect_cb, self, NULL);
  g_source_attach (self->reconnect_source, g_main_context_get_thread_default
      ());
}

/* Backoff: 250 ms, 500 ms, then every 1 s, so that a server that comes
 * back (or the next node of a cluster) is rejoined within about a second,
 * at little cost while it is away. */
static void
room_schedule_reconnect (GstLetsChatRoom * self)
{
  if (!self->joining || self->reconnect_source)
    return;
  self->reconnect_delay = self->reconnect_delay ?
      MIN (self->reconnect_delay * 2, 1000) : 250;
  room_connect_later (self, self->reconnect_delay);
}

static void
room_cancel_reconnect (GstLetsChatRoom * self)
{
  if (self->reconnect_source) {
    g_source_destroy (self->reconnect_source);
    g_clear_pointer (&self->reconnect_source, g_source_unref);
  }
}

/* ---------------------------------------------------------------------- */
/* The signaller                                                           */

static void
room_start (GstLetsChatSignaller * signaller)
{
  GstLetsChatRoom *self = GST_LETS_CHAT_ROOM (signaller);

  self->joining = TRUE;
  /* Not connected and not on the way (never started, a connection that
   * failed or closed while stopped, a reconnection stop() cancelled). */
  if (!self->connected && !self->connecting && !self->reconnect_source) {
    /* every node gets its chance again */
    self->start_failures = 0;
    g_string_truncate (self->start_errors, 0);
    room_connect (self);
  }
  room_send_join (self);
}

/* Leaves the room and keeps the socket: the pipeline may start again. */
static void
room_stop (GstLetsChatSignaller * signaller)
{
  GstLetsChatRoom *self = GST_LETS_CHAT_ROOM (signaller);

  self->joining = FALSE;
  g_clear_pointer (&self->stranger_room, g_free);
  self->stranger_paired = FALSE;
  room_cancel_reconnect (self);
  if (self->client && self->join_sent)
    letschat_client_leave (self->client);
  self->join_sent = FALSE;
}

static void
room_send_description (GstLetsChatSignaller * signaller, const gchar * type,
    const gchar * sdp)
{
  GstLetsChatRoom *self = GST_LETS_CHAT_ROOM (signaller);
  JsonNode *node;

  if (!self->client)
    return;
  node = letschat_protocol_sdp_data_new (type, sdp);
  letschat_client_send_signal (self->client, node);
  json_node_unref (node);
}

static void
room_send_candidate (GstLetsChatSignaller * signaller, guint mline,
    const gchar * mid, const gchar * candidate)
{
  GstLetsChatRoom *self = GST_LETS_CHAT_ROOM (signaller);
  JsonNode *node;

  if (!self->client)
    return;
  node = letschat_protocol_ice_data_new (candidate, mline, mid);
  letschat_client_send_signal (self->client, node);
  json_node_unref (node);
}

static void
gst_lets_chat_room_signaller_init (GstLetsChatSignallerInterface * iface)
{
  iface->start = room_start;
  iface->stop = room_stop;
  iface->send_description = room_send_description;
  iface->send_candidate = room_send_candidate;
}

GstLetsChatRoom *
gst_lets_chat_room_new (const GstLetsChatSettings * settings)
{
  GstLetsChatRoom *self = g_object_new (GST_TYPE_LETS_CHAT_ROOM, NULL);

  gst_lets_chat_settings_copy (&self->settings, settings);
  self->urls = gst_lets_chat_settings_server_urls (settings);
  self->n_urls = g_strv_length (self->urls);
  g_assert (self->n_urls > 0);  /* the bin checked each one */
  return self;
}

const gchar *
gst_lets_chat_room_get_server_url (GstLetsChatRoom * self)
{
  return room_url (self);
}

void
gst_lets_chat_room_connect (GstLetsChatRoom * self)
{
  if (!self->client)
    room_connect (self);
}

void
gst_lets_chat_room_disconnect (GstLetsChatRoom * self)
{
  g_cancellable_cancel (self->cancellable);
  room_stop (SIGNALLER (self));
  room_drop_client (self);
}

static void
gst_lets_chat_room_finalize (GObject * object)
{
  GstLetsChatRoom *self = GST_LETS_CHAT_ROOM (object);

  room_cancel_reconnect (self);
  room_drop_client (self);
  g_clear_object (&self->cancellable);
  g_free (self->my_id);
  g_free (self->stranger_room);
  g_strfreev (self->urls);
  g_string_free (self->start_errors, TRUE);
  gst_lets_chat_settings_clear (&self->settings);
  G_OBJECT_CLASS (gst_lets_chat_room_parent_class)->finalize (object);
}

static void
gst_lets_chat_room_class_init (GstLetsChatRoomClass * klass)
{
  G_OBJECT_CLASS (klass)->finalize = gst_lets_chat_room_finalize;
  GST_DEBUG_CATEGORY_INIT (gst_lets_chat_room_debug, "letschatroom", 0,
      "letschat room signalling (WebSocket to letschat-server)");
}

static void
gst_lets_chat_room_init (GstLetsChatRoom * self)
{
  self->cancellable = g_cancellable_new ();
  self->start_errors = g_string_new (NULL);
}
