/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include "gstletschatsettings.h"
#include "gstletschatsignaller.h"

G_BEGIN_DECLS
/* GstLetsChatRoom: the letschat room protocol (docs/protocol.md) as the
 * party's signaller. It owns the WebSocket to letschat-server (a
 * LetsChatClient): connects, joins, relays descriptions and candidates,
 * and comes back by itself when the server goes away (250 ms, 500 ms, then
 * every second), rejoining with the id it had so that the call goes on;
 * with several URLs in server-url (a cluster's nodes) it goes to the next
 * node each time.
 *
 * Made and used on the session's thread (its thread-default main context
 * is where the client lives and where the signals are emitted). */
#define GST_TYPE_LETS_CHAT_ROOM (gst_lets_chat_room_get_type ())
G_DECLARE_FINAL_TYPE (GstLetsChatRoom, gst_lets_chat_room, GST,
    LETS_CHAT_ROOM, GObject);

GstLetsChatRoom *gst_lets_chat_room_new (const GstLetsChatSettings * settings);

/* Starts connecting now, so that the WebSocket is open by the time the
 * party is ready to join (start()). Its errors are signals: connect to
 * them first. */
void gst_lets_chat_room_connect (GstLetsChatRoom * self);

/* The URL of the node (one of server-url's) the room is connected to, or
 * is trying: on its thread only. */
const gchar *gst_lets_chat_room_get_server_url (GstLetsChatRoom * self);

/* Closes the WebSocket for good (READY->NULL). */
void gst_lets_chat_room_disconnect (GstLetsChatRoom * self);

G_END_DECLS
