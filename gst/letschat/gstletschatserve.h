/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* serve=true: the room server hosted inside the pipeline's process. One
 * server per host:port per process, shared by every element that asks for
 * it, running on its own thread so that it keeps answering whatever the
 * pipeline's threads do. */
typedef struct _GstLetsChatServeHandle GstLetsChatServeHandle;

/* Starts (or shares) the server at the host and port of @server_url.
 * A wss:// URL needs @tls_cert_file and @tls_key_file (PEM). Fails if the
 * address cannot be bound or the certificate not be used. */
GstLetsChatServeHandle *gst_lets_chat_serve_acquire (const gchar * server_url,
    const gchar * tls_cert_file, const gchar * tls_key_file, GError ** error);
void gst_lets_chat_serve_release (GstLetsChatServeHandle * handle);

G_END_DECLS
