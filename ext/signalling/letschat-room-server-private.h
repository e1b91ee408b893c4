/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "letschat-room-server.h"

G_BEGIN_DECLS

/* For the fuzzer (tests/fuzz/): connections without sockets that go
 * through exactly the per-message code the real sockets use, and a check
 * of what must hold in the server's state whatever the clients sent. */

typedef void (*LetsChatRoomServerSendFunc) (const gchar * text,
    gpointer user_data);

/* NULL when refused by max-connections or max-per-ip. */
gpointer letschat_room_server_open_virtual (LetsChatRoomServer * self,
    const gchar * ip, LetsChatRoomServerSendFunc send_func, gpointer data);
/* One WebSocket message (text or binary frame) from the connection. */
void letschat_room_server_virtual_receive (gpointer conn, gboolean is_text,
    const gchar * data, gsize size);
/* FALSE once the server closed it (e.g. rate limit ignored). */
gboolean letschat_room_server_virtual_is_open (gpointer conn);
/* The connection went away: frees it. */
void letschat_room_server_close_virtual (gpointer conn);

/* FALSE with a sentence in @why when the rooms and connections disagree. */
gboolean letschat_room_server_check_invariants (LetsChatRoomServer * self,
    gchar ** why);

G_END_DECLS
