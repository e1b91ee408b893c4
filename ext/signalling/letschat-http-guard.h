/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "letschat-room-server.h"

#include <libsoup/soup.h>

G_BEGIN_DECLS
/* Once self->soup exists: every request's head is checked before libsoup
 * reads a body or calls a handler, and each request and response has the
 * accept guard's deadline. */
void letschat_http_guard_attach (LetsChatRoomServer * self);

/* The socket under a request's connection: kept on its remote address,
 * the object soup_server_message_get_remote_address() returns (libsoup
 * knows no socket for a connection given as a stream). */
GQuark letschat_http_guard_socket_quark (void);
GSocket *letschat_http_guard_socket_of (SoupServerMessage * message);

G_END_DECLS
