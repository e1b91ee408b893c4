/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* One party's side of the room protocol: a SoupSession opens the
 * WebSocket, letschat-protocol parses what arrives, and each server message
 * becomes one GObject signal on the client's GMainContext. */

#define G_LOG_DOMAIN "letschat-client"

#include "letschat-client.h"
#include "letschat-protocol.h"

#include <libsoup/soup.h>

/* Offers and answers with many codecs run to a few tens of KiB; a room
 * server refuses more than 64 KiB anyway. */
#define MAX_INCOMING_PAYLOAD_SIZE (1024 * 1024)

struct _LetsChatClient
{
  GObject parent;

  GMainContext *context;
  SoupSession *session;
  SoupWebsocketConnection *ws;
  gchar *url;

  /* while connecting */
  GTask *connect_task;
  GCancellable *connect_cancellable;    /* ours, cancelled by timeout too */
  GCancellable *user_cancellable;
  gulong user_cancel_id;
  GSource *timeout_source;
  guint timeout_ms;
  gboolean timed_out;

  GError *ws_error;             /* last error reported by the socket */

  gboolean insecure_tls;
  GTlsCertificateFlags tls_errors;      /* of the last refused certificate */
  gboolean closing;             /* letschat_client_close() was called */
};

enum
{
  SIGNAL_WELCOME,
  SIGNAL_PEER_JOINED,
  SIGNAL_PEER_LEFT,
  SIGNAL_SIGNAL,
  SIGNAL_SERVER_ERROR,
  SIGNAL_CLOSED,
  N_SIGNALS
};

enum
{
  PROP_0,
  PROP_URL,
  PROP_CONNECTED,
  N_PROPERTIES
};

static guint signals[N_SIGNALS];
static GParamSpec *properties[N_PROPERTIES];

G_DEFINE_TYPE (LetsChatClient, letschat_client, G_TYPE_OBJECT);

static void
send_text (LetsChatClient * self, gchar * text)
{
  if (letschat_client_is_connected (self))
    soup_websocket_connection_send_text (self->ws, text);
  else
    g_debug ("Not connected, dropping %s", text);
  g_free (text);
}

static void
on_message (SoupWebsocketConnection * ws, gint type, GBytes * bytes,
    gpointer user_data)
{
  LetsChatClient *self = user_data;
  g_autoptr (LetsChatMessage) msg = NULL;
  g_autoptr (GError) error = NULL;
  gsize size;
  const gchar *text = g_bytes_get_data (bytes, &size);

  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    g_debug ("Ignoring a binary frame from %s", self->url);
    return;
  }

  /* A server speaking something else is not something our users can act
   * on; the call goes on. */
  msg = letschat_message_parse (text, size, LETSCHAT_PROTOCOL_FROM_SERVER,
      &error);
  if (msg == NULL) {
    g_debug ("Ignoring a message from %s: %s", self->url, error->message);
    return;
  }

  switch (msg->type) {
    case LETSCHAT_MESSAGE_WELCOME:
      g_signal_emit (self, signals[SIGNAL_WELCOME], 0, msg->id, msg->room,
          msg->peer_id, msg->peer_name, msg->ice_servers);
      break;
    case LETSCHAT_MESSAGE_PEER_JOINED:
      g_signal_emit (self, signals[SIGNAL_PEER_JOINED], 0, msg->peer_id,
          msg->peer_name);
      break;
    case LETSCHAT_MESSAGE_PEER_LEFT:
      g_signal_emit (self, signals[SIGNAL_PEER_LEFT], 0, msg->peer_id);
      break;
    case LETSCHAT_MESSAGE_SIGNAL:
      g_signal_emit (self, signals[SIGNAL_SIGNAL], 0, msg->from, msg->data);
      break;
    case LETSCHAT_MESSAGE_ERROR:
      g_signal_emit (self, signals[SIGNAL_SERVER_ERROR], 0, msg->code,
          msg->message);
      break;
    default:
      g_assert_not_reached ();
  }
}

static void
on_ws_error (SoupWebsocketConnection * ws, GError * error, gpointer user_data)
{
  LetsChatClient *self = user_data;

  g_clear_error (&self->ws_error);
  self->ws_error = g_error_copy (error);
}

static void
on_closed (SoupWebsocketConnection * ws, gpointer user_data)
{
  LetsChatClient *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (SoupWebsocketConnection) old = self->ws;

  if (!self->closing) {
    gushort code = soup_websocket_connection_get_close_code (ws);
    const gchar *reason = soup_websocket_connection_get_close_data (ws);

    if (self->ws_error) {
      error = g_error_new (self->ws_error->domain, self->ws_error->code,
          "Connection to %s failed: %s", self->url, self->ws_error->message);
    } else {
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
          "Connection to %s closed by the server (code %u%s%s)", self->url,
          code, reason && *reason ? ": " : "", reason ? reason : "");
    }
  }

  g_signal_handlers_disconnect_by_data (ws, self);
  self->ws = NULL;
  g_clear_error (&self->ws_error);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);
}

static void
connect_cleanup (LetsChatClient * self)
{
  if (self->timeout_source) {
    g_source_destroy (self->timeout_source);
    g_clear_pointer (&self->timeout_source, g_source_unref);
  }
  if (self->user_cancellable) {
    g_cancellable_disconnect (self->user_cancellable, self->user_cancel_id);
    self->user_cancel_id = 0;
    g_clear_object (&self->user_cancellable);
  }
  g_clear_object (&self->connect_cancellable);
}

/* Only called for a certificate that failed validation. */
static gboolean
on_accept_certificate (SoupMessage * msg, GTlsCertificate * cert,
    GTlsCertificateFlags errors, gpointer user_data)
{
  LetsChatClient *self = user_data;

  self->tls_errors = errors;
  if (self->insecure_tls)
    g_warning ("Accepting the invalid TLS certificate of %s because TLS "
        "validation is off: anybody on the network path can read and change "
        "this connection", self->url);
  return self->insecure_tls;
}

/* What went wrong with the certificate, in words, and what to do. */
static gchar *
describe_tls_errors (LetsChatClient * self)
{
  GString *s = g_string_new ("The room server's TLS certificate was refused:");
  GTlsCertificateFlags f = self->tls_errors;

  if (f & G_TLS_CERTIFICATE_UNKNOWN_CA)
    g_string_append (s, " it is not signed by a trusted certificate "
        "authority (self-signed or private CA)");
  if (f & G_TLS_CERTIFICATE_BAD_IDENTITY)
    g_string_append_printf (s, "%s it is not valid for this host name",
        f & G_TLS_CERTIFICATE_UNKNOWN_CA ? ";" : "");
  if (f & G_TLS_CERTIFICATE_EXPIRED)
    g_string_append (s, "; it has expired");
  if (f & G_TLS_CERTIFICATE_NOT_ACTIVATED)
    g_string_append (s, "; it is not valid yet (check the clocks)");
  if (f & G_TLS_CERTIFICATE_REVOKED)
    g_string_append (s, "; it has been revoked");
  if (f & G_TLS_CERTIFICATE_INSECURE)
    g_string_append (s, "; it uses an insecure algorithm");
  if (f & G_TLS_CERTIFICATE_GENERIC_ERROR || f == 0)
    g_string_append (s, "; it could not be verified");
  if (f & G_TLS_CERTIFICATE_UNKNOWN_CA)
    g_string_append (s, ". Set tls-ca-file to the server's certificate (or "
        "its CA) to trust it");
  else if (f & G_TLS_CERTIFICATE_BAD_IDENTITY)
    g_string_append (s, ". Use the host name the certificate was made for "
        "in the URL");
  g_string_append_printf (s, " (%s)", self->url);
  return g_string_free (s, FALSE);
}

static void
on_websocket_connected (GObject * source, GAsyncResult * result,
    gpointer user_data)
{
  LetsChatClient *self = user_data;
  g_autoptr (GTask) task = g_steal_pointer (&self->connect_task);
  g_autoptr (GError) error = NULL;
  SoupWebsocketConnection *ws;
  gboolean timed_out = self->timed_out;
  gboolean user_cancelled = self->user_cancellable
      && g_cancellable_is_cancelled (self->user_cancellable);

  ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result,
      &error);
  connect_cleanup (self);

  if (ws == NULL) {
    if (timed_out) {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
          "Timed out after %u ms connecting to %s", self->timeout_ms,
          self->url);
    } else if (self->tls_errors && !self->insecure_tls) {
      g_autofree gchar *why = describe_tls_errors (self);

      g_task_return_new_error (task, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
          "%s", why);
    } else if (user_cancelled) {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
          "Connecting to %s was cancelled", self->url);
    } else {
      g_task_return_new_error (task, error->domain, error->code,
          "Could not connect to %s: %s", self->url, error->message);
    }
    goto out;
  }

  self->ws = ws;
  soup_websocket_connection_set_max_incoming_payload_size (ws,
      MAX_INCOMING_PAYLOAD_SIZE);
  /* Off by default: the server pings us, and libsoup answers on its own. */
  soup_websocket_connection_set_keepalive_interval (ws, 0);
  g_signal_connect (ws, "message", G_CALLBACK (on_message), self);
  g_signal_connect (ws, "error", G_CALLBACK (on_ws_error), self);
  g_signal_connect (ws, "closed", G_CALLBACK (on_closed), self);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
  g_task_return_boolean (task, TRUE);

out:
  /* the extra ref taken in connect_async */
  g_object_unref (self);
}

static gboolean
on_connect_timeout (gpointer user_data)
{
  LetsChatClient *self = user_data;

  self->timed_out = TRUE;
  g_clear_pointer (&self->timeout_source, g_source_unref);
  g_cancellable_cancel (self->connect_cancellable);
  return G_SOURCE_REMOVE;
}

static void
on_user_cancelled (GCancellable * cancellable, gpointer user_data)
{
  GCancellable *ours = user_data;

  g_cancellable_cancel (ours);
}

void
letschat_client_connect_async (LetsChatClient * self, const gchar * url,
    guint timeout_ms, GCancellable * cancellable,
    GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GUri) uri = NULL;

  g_return_if_fail (LETSCHAT_IS_CLIENT (self));
  g_return_if_fail (url != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, letschat_client_connect_async);

  if (self->connect_task || self->ws) {
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_BUSY,
        "Already connected or connecting to %s", self->url);
    return;
  }

  g_free (self->url);
  self->url = g_strdup (url);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_URL]);

  uri = g_uri_parse (url, SOUP_HTTP_URI_FLAGS, &error);
  if (uri == NULL || (g_strcmp0 (g_uri_get_scheme (uri), "ws") != 0
          && g_strcmp0 (g_uri_get_scheme (uri), "wss") != 0)) {
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "Invalid signalling server URL %s: expected ws://host:port/path "
        "or wss://...", url);
    return;
  }
  msg = soup_message_new_from_uri (SOUP_METHOD_GET, uri);
  self->tls_errors = 0;
  g_signal_connect (msg, "accept-certificate",
      G_CALLBACK (on_accept_certificate), self);

  self->connect_task = g_steal_pointer (&task);
  self->closing = FALSE;
  self->timed_out = FALSE;
  self->timeout_ms = timeout_ms;
  self->connect_cancellable = g_cancellable_new ();
  if (cancellable) {
    self->user_cancellable = g_object_ref (cancellable);
    self->user_cancel_id = g_cancellable_connect (cancellable,
        G_CALLBACK (on_user_cancelled), self->connect_cancellable, NULL);
  }
  if (timeout_ms > 0) {
    self->timeout_source = g_timeout_source_new (timeout_ms);
    g_source_set_callback (self->timeout_source, on_connect_timeout, self,
        NULL);
    g_source_attach (self->timeout_source, self->context);
  }

  /* Kept alive until on_websocket_connected() has run. */
  g_object_ref (self);
  soup_session_websocket_connect_async (self->session, msg, NULL, NULL,
      G_PRIORITY_DEFAULT, self->connect_cancellable, on_websocket_connected,
      self);
}

gboolean
letschat_client_set_tls_ca_file (LetsChatClient * self, const gchar * file,
    GError ** error)
{
  g_autoptr (GTlsDatabase) db = NULL;
  g_autoptr (GError) local_error = NULL;
  g_autofree gchar *path = NULL;

  g_return_val_if_fail (LETSCHAT_IS_CLIENT (self), FALSE);

  if (file == NULL) {
    db = g_tls_backend_get_default_database (g_tls_backend_get_default ());
    soup_session_set_tls_database (self->session, db);
    return TRUE;
  }
  /* glib-networking does not find a relative path (gst-launch-1.0 ...
   * tls-ca-file=cert.pem): resolve it against the current directory. */
  path = g_canonicalize_filename (file, NULL);
  db = g_tls_file_database_new (path, &local_error);
  if (db == NULL) {
    g_set_error (error, local_error->domain, local_error->code,
        "Could not read the CA file %s (PEM certificates): %s", file,
        local_error->message);
    return FALSE;
  }
  soup_session_set_tls_database (self->session, db);
  return TRUE;
}

void
letschat_client_set_insecure_tls (LetsChatClient * self, gboolean insecure)
{
  g_return_if_fail (LETSCHAT_IS_CLIENT (self));
  self->insecure_tls = insecure;
}

gboolean
letschat_client_connect_finish (LetsChatClient * self, GAsyncResult * result,
    GError ** error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
letschat_client_join (LetsChatClient * self, const gchar * room,
    const gchar * secret, const gchar * name)
{
  letschat_client_join_as (self, room, secret, name, NULL);
}

void
letschat_client_join_as (LetsChatClient * self, const gchar * room,
    const gchar * secret, const gchar * name, const gchar * previous_id)
{
  g_return_if_fail (LETSCHAT_IS_CLIENT (self));
  send_text (self, letschat_protocol_build_join_as (room, secret, name,
          previous_id));
}

void
letschat_client_send_signal (LetsChatClient * self, JsonNode * data)
{
  g_return_if_fail (LETSCHAT_IS_CLIENT (self));
  g_return_if_fail (data != NULL);
  send_text (self, letschat_protocol_build_signal (NULL, data));
}

void
letschat_client_leave (LetsChatClient * self)
{
  g_return_if_fail (LETSCHAT_IS_CLIENT (self));
  send_text (self, letschat_protocol_build_leave ());
}

void
letschat_client_close (LetsChatClient * self)
{
  g_return_if_fail (LETSCHAT_IS_CLIENT (self));

  self->closing = TRUE;
  if (self->connect_cancellable)
    g_cancellable_cancel (self->connect_cancellable);
  if (letschat_client_is_connected (self))
    soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL,
        NULL);
}

gboolean
letschat_client_is_connected (LetsChatClient * self)
{
  g_return_val_if_fail (LETSCHAT_IS_CLIENT (self), FALSE);
  return self->ws != NULL && soup_websocket_connection_get_state (self->ws)
      == SOUP_WEBSOCKET_STATE_OPEN;
}

LetsChatClient *
letschat_client_new (void)
{
  return g_object_new (LETSCHAT_TYPE_CLIENT, NULL);
}

static void
letschat_client_init (LetsChatClient * self)
{
  /* SoupSession binds to the thread-default context at creation: the
   * client is created where it will run. */
  self->context = g_main_context_ref_thread_default ();
  self->session = soup_session_new ();
}

static void
letschat_client_dispose (GObject * object)
{
  LetsChatClient *self = LETSCHAT_CLIENT (object);

  if (self->ws) {
    g_signal_handlers_disconnect_by_data (self->ws, self);
    if (soup_websocket_connection_get_state (self->ws) ==
        SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (self->ws, SOUP_WEBSOCKET_CLOSE_NORMAL,
          NULL);
    g_clear_object (&self->ws);
  }
  if (self->session) {
    soup_session_abort (self->session);
    g_clear_object (&self->session);
  }

  G_OBJECT_CLASS (letschat_client_parent_class)->dispose (object);
}

static void
letschat_client_finalize (GObject * object)
{
  LetsChatClient *self = LETSCHAT_CLIENT (object);

  /* connect_async holds a ref until it finishes, so nothing is pending */
  g_assert (self->connect_task == NULL);
  g_clear_error (&self->ws_error);
  g_free (self->url);
  g_main_context_unref (self->context);

  G_OBJECT_CLASS (letschat_client_parent_class)->finalize (object);
}

static void
letschat_client_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  LetsChatClient *self = LETSCHAT_CLIENT (object);

  switch (prop_id) {
    case PROP_URL:
      g_value_set_string (value, self->url);
      break;
    case PROP_CONNECTED:
      g_value_set_boolean (value, letschat_client_is_connected (self));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
letschat_client_class_init (LetsChatClientClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);

  gobject_class->dispose = letschat_client_dispose;
  gobject_class->finalize = letschat_client_finalize;
  gobject_class->get_property = letschat_client_get_property;

  properties[PROP_URL] = g_param_spec_string ("url", "URL",
      "The signalling server's WebSocket URL given to the last connect "
      "(ws://host:port/ws)", NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_CONNECTED] = g_param_spec_boolean ("connected",
      "Connected", "Whether the WebSocket to the server is open", FALSE,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (gobject_class, N_PROPERTIES, properties);

  signals[SIGNAL_WELCOME] = g_signal_new ("welcome",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 5, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING,
      G_TYPE_STRING, JSON_TYPE_NODE);
  signals[SIGNAL_PEER_JOINED] = g_signal_new ("peer-joined",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_PEER_LEFT] = g_signal_new ("peer-left",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_SIGNAL] = g_signal_new ("signal",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 2, G_TYPE_STRING, JSON_TYPE_NODE);
  signals[SIGNAL_SERVER_ERROR] = g_signal_new ("server-error",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
  signals[SIGNAL_CLOSED] = g_signal_new ("closed",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 1, G_TYPE_ERROR);
}
