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
