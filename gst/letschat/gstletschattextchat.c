/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/*
 * Text chat with the other party over the call's "chat" data channel (see
 * the header): checks, a short queue until the channel opens, delivery to
 * the session's thread. It never posts to the bus (the session does) and
 * owns no peer connection.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstletschattextchat.h"

/* Messages sent before the channel opens wait, but not without end: a
 * person types a few lines while the call connects, not hundreds. */
#define MAX_PENDING 32

struct _GstLetsChatTextChat
{
  gint ref_count;
  GMainContext *context;
  GstLetsChatTextChatCallbacks callbacks;
  gpointer user_data;

  GMutex lock;
  GstWebRTCDataChannel *channel;
  gulong handlers[4];
  guint serial;                 /* of the current channel */
  gboolean open;
  gboolean closed;
  GQueue pending;               /* of gchar *, sent when the channel opens */
};

/* What a channel's signal handlers hold: events of a channel that has
 * since been replaced are dropped. */
typedef struct
{
  GstLetsChatTextChat *chat;
  guint serial;
  gchar *text;                  /* a message received, or */
  gchar *problem;               /* why one was ignored */
} ChannelEvent;

static GstLetsChatTextChat *
text_chat_ref (GstLetsChatTextChat * chat)
{
  g_atomic_int_inc (&chat->ref_count);
  return chat;
}

static void
text_chat_unref (GstLetsChatTextChat * chat)
{
  if (!g_atomic_int_dec_and_test (&chat->ref_count))
    return;
  g_queue_clear_full (&chat->pending, g_free);
  gst_clear_object (&chat->channel);
  g_main_context_unref (chat->context);
  g_mutex_clear (&chat->lock);
  g_free (chat);
}

static ChannelEvent *
channel_event_new (GstLetsChatTextChat * chat, guint serial)
{
  ChannelEvent *e = g_new0 (ChannelEvent, 1);

  e->chat = text_chat_ref (chat);
  e->serial = serial;
  return e;
}

static void
channel_event_free (gpointer data)
{
  ChannelEvent *e = data;

  text_chat_unref (e->chat);
  g_free (e->text);
  g_free (e->problem);
  g_free (e);
}

gchar *
gst_lets_chat_text_chat_check (const gchar * text)
{
  gsize len = text ? strlen (text) : 0;

  if (len == 0)
    return g_strdup ("it is empty");
  if (len > GST_LETS_CHAT_TEXT_CHAT_MAX_BYTES)
    return g_strdup_printf ("it is %" G_GSIZE_FORMAT " bytes long, more "
        "than the %d bytes a chat message may have", len,
        GST_LETS_CHAT_TEXT_CHAT_MAX_BYTES);
  if (!g_utf8_validate (text, len, NULL))
    return g_strdup ("it is not valid UTF-8 text");
  return NULL;
}

static gboolean
send_now (GstWebRTCDataChannel * channel, const gchar * text, GError ** error)
{
  GError *err = NULL;

  if (gst_webrtc_data_channel_send_string_full (channel, text, &err))
    return TRUE;
  g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE,
      "Could not send the chat message: %s", err ? err->message :
      "the data channel refused it");
  g_clear_error (&err);
  return FALSE;
}

/* Context thread: the channel is open; what waited goes out, in order.
 * Under the lock: a send-chat from another thread meanwhile must neither
 * overtake the waiting messages nor join the queue after it was sent.
 * The channel's handlers never take this lock. */
static gboolean
on_open_cb (gpointer data)
{
  ChannelEvent *e = data;
  GstLetsChatTextChat *chat = e->chat;
  GPtrArray *problems = g_ptr_array_new_with_free_func (g_free);
  gchar *text;
  guint i;

  g_mutex_lock (&chat->lock);
  if (!chat->closed && e->serial == chat->serial && chat->channel) {
    while ((text = g_queue_pop_head (&chat->pending))) {
      GError *error = NULL;

      if (!send_now (chat->channel, text, &error)) {
        g_ptr_array_add (problems, g_strdup (error->message));
        g_error_free (error);
      }
      g_free (text);
    }
    chat->open = TRUE;
  }
  g_mutex_unlock (&chat->lock);

  for (i = 0; i < problems->len; i++)
    chat->callbacks.problem (g_ptr_array_index (problems, i), chat->user_data);
  g_ptr_array_unref (problems);
  return G_SOURCE_REMOVE;
}

static gboolean
on_closed_cb (gpointer data)
{
  ChannelEvent *e = data;
  GstLetsChatTextChat *chat = e->chat;

  g_mutex_lock (&chat->lock);
  if (e->serial == chat->serial)
    chat->open = FALSE;
  g_mutex_unlock (&chat->lock);
  return G_SOURCE_REMOVE;
}

static gboolean
on_message_cb (gpointer data)
{
  ChannelEvent *e = data;
  GstLetsChatTextChat *chat = e->chat;
  gboolean current;

  g_mutex_lock (&chat->lock);
  current = !chat->closed && e->serial == chat->serial;
  g_mutex_unlock (&chat->lock);
  if (!current)
    return G_SOURCE_REMOVE;
  if (e->text)
    chat->callbacks.received (e->text, chat->user_data);
  else
    chat->callbacks.problem (e->problem, chat->user_data);
  return G_SOURCE_REMOVE;
}

static void
post_to_context (ChannelEvent * template, GSourceFunc func, gchar * text,
    gchar * problem)
{
  ChannelEvent *e = channel_event_new (template->chat, template->serial);

  e->text = text;
  e->problem = problem;
  g_main_context_invoke_full (e->chat->context, G_PRIORITY_DEFAULT, func, e,
      channel_event_free);
}

static void
channel_event_closure_free (gpointer data, GClosure * closure)
{
  channel_event_free (data);
}

/* webrtcbin's threads, from here to the next section. */
static void
on_channel_open (GstWebRTCDataChannel * channel, gpointer data)
{
  post_to_context (data, on_open_cb, NULL, NULL);
}

static void
on_channel_close (GstWebRTCDataChannel * channel, gpointer data)
{
  post_to_context (data, on_closed_cb, NULL, NULL);
}

static void
on_channel_error (GstWebRTCDataChannel * channel, GError * error, gpointer data)
{
  post_to_context (data, on_message_cb, NULL,
      g_strdup_printf ("The chat channel failed: %s", error ?
          error->message : "unknown error"));
}

static void
on_channel_string (GstWebRTCDataChannel * channel, const gchar * text,
    gpointer data)
{
  gchar *why = gst_lets_chat_text_chat_check (text);

  if (why) {
    post_to_context (data, on_message_cb, NULL,
        g_strdup_printf ("Ignored a chat message from the other party: %s",
            why));
    g_free (why);
    return;
  }
  post_to_context (data, on_message_cb, g_strdup (text), NULL);
}

/* Binary messages are not chat (docs/protocol.md): ignored, without a
 * word, as the browser client does. */

GstLetsChatTextChat *
gst_lets_chat_text_chat_new (GMainContext * context,
    const GstLetsChatTextChatCallbacks * callbacks, gpointer user_data)
{
  GstLetsChatTextChat *chat = g_new0 (GstLetsChatTextChat, 1);

  chat->ref_count = 1;
  chat->context = g_main_context_ref (context);
  chat->callbacks = *callbacks;
  chat->user_data = user_data;
  g_mutex_init (&chat->lock);
  g_queue_init (&chat->pending);
  return chat;
}

static void
disconnect_channel_locked (GstLetsChatTextChat * chat)
{
  guint i;

  if (!chat->channel)
    return;
  for (i = 0; i < G_N_ELEMENTS (chat->handlers); i++) {
    if (chat->handlers[i])
      g_signal_handler_disconnect (chat->channel, chat->handlers[i]);
    chat->handlers[i] = 0;
  }
  gst_clear_object (&chat->channel);
}

void
gst_lets_chat_text_chat_set_channel (GstLetsChatTextChat * chat,
    GstWebRTCDataChannel * channel)
{
  GstWebRTCDataChannelState state = GST_WEBRTC_DATA_CHANNEL_STATE_CLOSED;
  ChannelEvent *e;
  guint serial;

  g_mutex_lock (&chat->lock);
  disconnect_channel_locked (chat);
  serial = ++chat->serial;
  chat->open = FALSE;
  if (channel && !chat->closed) {
    chat->channel = gst_object_ref (channel);
    e = channel_event_new (chat, serial);
    chat->handlers[0] = g_signal_connect_data (channel, "on-open",
        G_CALLBACK (on_channel_open), e, channel_event_closure_free, 0);
    chat->handlers[1] = g_signal_connect_data (channel, "on-close",
        G_CALLBACK (on_channel_close), channel_event_new (chat, serial),
        channel_event_closure_free, 0);
    chat->handlers[2] = g_signal_connect_data (channel, "on-error",
        G_CALLBACK (on_channel_error), channel_event_new (chat, serial),
        channel_event_closure_free, 0);
    chat->handlers[3] = g_signal_connect_data (channel, "on-message-string",
        G_CALLBACK (on_channel_string), channel_event_new (chat, serial),
        channel_event_closure_free, 0);
    g_object_get (channel, "ready-state", &state, NULL);
  }
  g_mutex_unlock (&chat->lock);

  /* The answerer gets the channel when it is already open. */
  if (state == GST_WEBRTC_DATA_CHANNEL_STATE_OPEN) {
    ChannelEvent *now = channel_event_new (chat, serial);

    g_main_context_invoke_full (chat->context, G_PRIORITY_DEFAULT,
        on_open_cb, now, channel_event_free);
  }
}

gboolean
gst_lets_chat_text_chat_send (GstLetsChatTextChat * chat, const gchar * text,
    GError ** error)
{
  GstWebRTCDataChannel *channel = NULL;
  gchar *why = gst_lets_chat_text_chat_check (text);
  gboolean ok = TRUE;

  if (why) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "The chat message was not sent: %s", why);
    g_free (why);
    return FALSE;
  }

  g_mutex_lock (&chat->lock);
  if (chat->closed) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE,
        "The chat message was not sent: the other party has left");
    ok = FALSE;
  } else if (chat->open && chat->channel) {
    channel = gst_object_ref (chat->channel);
  } else if (g_queue_get_length (&chat->pending) < MAX_PENDING) {
    g_queue_push_tail (&chat->pending, g_strdup (text));
  } else {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_WRITE,
        "The chat message was not sent: %d messages already wait for the "
        "chat to open", MAX_PENDING);
    ok = FALSE;
  }
  g_mutex_unlock (&chat->lock);

  if (channel) {
    ok = send_now (channel, text, error);
    gst_object_unref (channel);
  }
  return ok;
}

GstLetsChatTextChat *
gst_lets_chat_text_chat_ref (GstLetsChatTextChat * chat)
{
  return text_chat_ref (chat);
}

void
gst_lets_chat_text_chat_unref (GstLetsChatTextChat * chat)
{
  text_chat_unref (chat);
}

void
gst_lets_chat_text_chat_close (GstLetsChatTextChat * chat)
{
  guint undelivered;
  gchar *sentence = NULL;

  g_mutex_lock (&chat->lock);
  chat->closed = TRUE;
  chat->open = FALSE;
  chat->serial++;
  disconnect_channel_locked (chat);
  undelivered = g_queue_get_length (&chat->pending);
  g_queue_clear_full (&chat->pending, g_free);
  g_mutex_unlock (&chat->lock);

  if (undelivered) {
    sentence = g_strdup_printf ("%u chat message%s could not be delivered: "
        "the other party left before the chat opened", undelivered,
        undelivered == 1 ? "" : "s");
    chat->callbacks.problem (sentence, chat->user_data);
    g_free (sentence);
  }
  text_chat_unref (chat);
}
