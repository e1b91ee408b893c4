/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstletschatelements.h"
#include "letschat-protocol.h"
#include "gstletschatsession.h"

void
letschat_element_init (GstPlugin * plugin)
{
  /* Nothing shared to set up yet: each element registers its own debug
   * category. Kept as the one place for process-wide initialisation. */
}

gboolean
letschat_check_settings (GstElement * element,
    const GstLetsChatSettings * settings)
{
  if (!settings->room || !*settings->room) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
        ("No room set: set the room property to the name of the room to "
            "join, e.g. room=myroom"), (NULL));
    return FALSE;
  }
  if (!letschat_protocol_room_name_is_valid (settings->room)) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
        ("Invalid room name '%s': use 1 to %d letters, digits, '_', '.' or "
            "'-'", settings->room, LETSCHAT_ROOM_NAME_MAX), (NULL));
    return FALSE;
  }
  if (!g_str_has_prefix (settings->server_url, "ws://") &&
      !g_str_has_prefix (settings->server_url, "wss://")) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS,
        ("Invalid server-url '%s': it must start with ws:// or wss://, "
            "e.g. ws://127.0.0.1:8443/ws", settings->server_url), (NULL));
    return FALSE;
  }
  return TRUE;
}

void
letschat_post_start_error (GstElement * element,
    const GstLetsChatSettings * settings, const GError * error)
{
  if (error->domain == GST_CORE_ERROR)
    GST_ELEMENT_ERROR (element, CORE, MISSING_PLUGIN, ("%s", error->message),
        (NULL));
  else if (error->domain == GST_RESOURCE_ERROR)
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS, ("%s", error->message),
        (NULL));
  else if (settings->serve)
    GST_ELEMENT_ERROR (element, RESOURCE, OPEN_READ_WRITE,
        ("%s. Is another server already using that port? Change the port "
            "in server-url, or drop serve=true and join that server.",
            error->message), (NULL));
  else
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS, ("%s", error->message),
        (NULL));
}

gboolean
letschat_can_set_property (GstElement * element, GParamSpec * pspec)
{
  if ((pspec->flags & GST_PARAM_MUTABLE_READY) &&
      GST_STATE (element) > GST_STATE_READY) {
    GST_WARNING_OBJECT (element, "property '%s' can only be changed in the "
        "NULL or READY state; ignored", pspec->name);
    return FALSE;
  }
  return TRUE;
}

/* Warnings, not errors: a chat message that cannot go is the user's to
 * hear about, and no reason to stop the call. */
static gboolean
letschat_element_send_chat (GstElement * element, const gchar * text)
{
  GstLetsChatSession *session = gst_lets_chat_session_find (element);
  GError *error = NULL;
  gboolean ok;

  if (!session) {
    GST_ELEMENT_WARNING (element, RESOURCE, WRITE,
        ("The chat message was not sent: %s is not in a room yet (set the "
            "pipeline to PLAYING first)", GST_ELEMENT_NAME (element)), (NULL));
    return FALSE;
  }
  ok = gst_lets_chat_session_send_chat (session, text, &error);
  if (!ok) {
    GST_ELEMENT_WARNING (element, RESOURCE, WRITE, ("%s", error->message),
        (NULL));
    g_error_free (error);
  }
  gst_object_unref (session);
  return ok;
}

void
letschat_element_install_chat_signals (GstElementClass * klass)
{
  GType type = G_TYPE_FROM_CLASS (klass);

  g_signal_new_class_handler ("send-chat", type,
      G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (letschat_element_send_chat), NULL, NULL, NULL,
      G_TYPE_BOOLEAN, 1, G_TYPE_STRING);
  g_signal_new ("chat-received", type, G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}
