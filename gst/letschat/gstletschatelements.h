/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include "gstletschatsettings.h"

G_BEGIN_DECLS GST_ELEMENT_REGISTER_DECLARE (letschatsink);
GST_ELEMENT_REGISTER_DECLARE (letschatsrc);

/* What both elements do alike, in one place. */
void letschat_element_init (GstPlugin * plugin);

/* Posts an error and returns FALSE if the settings cannot make a party. */
gboolean letschat_check_settings (GstElement * element,
    const GstLetsChatSettings * settings);

/* Posts the error for a party that could not start. */
void letschat_post_start_error (GstElement * element,
    const GstLetsChatSettings * settings, const GError * error);

/* With the object lock held: FALSE (and a warning) if @pspec cannot be
 * changed in the element's current state. */
gboolean letschat_can_set_property (GstElement * element, GParamSpec * pspec);

/* The chat signals, alike on both elements:
 * - "send-chat" (action): gboolean (GstElement *, const gchar *text)
 * - "chat-received": void (GstElement *, const gchar *from, const gchar *text)
 * See docs/protocol.md ("Text chat"). */
void letschat_element_install_chat_signals (GstElementClass * klass);

G_END_DECLS
