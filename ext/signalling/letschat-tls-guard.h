/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS
/* TLS 1.2 and 1.3 only, forward-secret key exchanges only (no static RSA),
 * the server's cipher order. */
#define LETSCHAT_TLS_PRIORITY \
  "NORMAL:%COMPAT:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-RSA:%SERVER_PRECEDENCE"
/* TLS handshakes running at once (each takes one of GLib's worker
 * threads), in all and per client key. */
#define LETSCHAT_TLS_HANDSHAKES_MAX 8
#define LETSCHAT_TLS_HANDSHAKES_PER_KEY 2
typedef struct _LetsChatTlsGuard LetsChatTlsGuard;

/* @stream: the TLS connection, handshake done; NULL if it failed or the
 * client went away. */
typedef void (*LetsChatTlsReadyFunc) (GSocketConnection * connection,
    GIOStream * stream, gpointer user_data);

/* Sets the process's GnuTLS priority (G_TLS_GNUTLS_PRIORITY) unless the
 * operator set one: glib-networking reads it once, at its first TLS
 * connection, so call this before any. */
void letschat_tls_guard_init_priority (void);

/* Everything runs in the thread-default context of this call. */
LetsChatTlsGuard *letschat_tls_guard_new (GTlsCertificate * certificate,
    LetsChatTlsReadyFunc func, gpointer user_data);
void letschat_tls_guard_free (LetsChatTlsGuard * guard);

/* Waits (in the server's context, no thread) for @connection's whole
 * ClientHello, then for a handshake slot, then handshakes; calls the ready
 * function once. @key: the client key (letschat_client_key_for_address). */
void letschat_tls_guard_start (LetsChatTlsGuard * guard,
    GSocketConnection * connection, const gchar * key);

guint64 letschat_tls_guard_get_n_waited (LetsChatTlsGuard * guard);

G_END_DECLS
