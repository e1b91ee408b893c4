/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS
/* Distinct (address, kind) pairs followed at once; events of others are
 * counted under one shared key. */
#define LETSCHAT_LOG_LIMITER_MAX_ENTRIES 10000
/* Lines of one (address, kind) written at once before one a second. */
#define LETSCHAT_LOG_LIMITER_BURST 5
typedef struct _LetsChatLogLimiter LetsChatLogLimiter;

LetsChatLogLimiter *letschat_log_limiter_new (void);
void letschat_log_limiter_free (LetsChatLogLimiter * limiter);

/* An event of @kind ("connect", "refused"...) from @key (an address key).
 * TRUE if its line may be written now: up to LETSCHAT_LOG_LIMITER_BURST at
 * once, then one a second per (@key, @kind); *n_held then gets how many of the same were not written
 * since the last line. FALSE: it was counted, write nothing. */
gboolean letschat_log_limiter_allow (LetsChatLogLimiter * limiter,
    const gchar * key, const gchar * kind, gint64 now_us, guint * n_held);

/* Writes the line (g_info, domain letschat-server) if
 * letschat_log_limiter_allow() says so, with the count of those held back.
 * A line must hold what happened, never what was sent beyond a short
 * escaped prefix (letschat_protocol_quote_prefix()), never a secret. */
void
letschat_log_limiter_log (LetsChatLogLimiter * limiter,
    const gchar * key, const gchar * kind, const gchar * format, ...)
G_GNUC_PRINTF (4, 5);

/* Once a second: a summary line for each pair whose events were held back
 * over a second ago, and pairs quiet for a while forgotten. */
     void letschat_log_limiter_flush (LetsChatLogLimiter * limiter,
    gint64 now_us);

G_END_DECLS
