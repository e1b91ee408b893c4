/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include "gstletschatsettings.h"

G_BEGIN_DECLS
/* letschat:// URIs: one string that names a party's room, for playbin,
 * uridecodebin, gst-play-1.0 and gst_element_make_from_uri().
 *
 *   letschat://HOST[:PORT]/ROOM[?secret=SECRET&name=NAME]
 *
 * joins ROOM on the room server at ws://HOST:PORT/ws (letschats://: at
 * wss://HOST:PORT/ws); PORT defaults to letschat-server's 8443. */
#define GST_LETS_CHAT_URI_DEFAULT_PORT 8443
extern const gchar *const gst_lets_chat_uri_protocols[];

/* Fills @server_url, @room, @secret and @display_name (NULL when the URI
 * has none) from @uri; FALSE and a GST_URI_ERROR_BAD_URI that says what is
 * wrong and what a URI looks like otherwise. */
gboolean gst_lets_chat_uri_parse (const gchar * uri, gchar ** server_url,
    gchar ** room, gchar ** secret, gchar ** display_name, GError ** error);

/* The URI of @settings, or NULL if they cannot be said as one (no room, or
 * a server-url whose path is not /ws). */
gchar *gst_lets_chat_uri_build (const GstLetsChatSettings * settings);

G_END_DECLS
