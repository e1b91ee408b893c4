/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LETSCHAT_SERVER_LOG_DOMAIN "letschat-server"

typedef enum
{
  LETSCHAT_SERVER_LOG_TEXT,
  LETSCHAT_SERVER_LOG_JSON,
} LetsChatServerLogFormat;

/* "text" or "json" (--log-format); FALSE for anything else. */
gboolean letschat_server_log_format_from_string (const gchar * name,
    LetsChatServerLogFormat * format);

/* Installs the log writer: the server's own lines (domain
 * "letschat-server") go to standard output, one per line, as text
 * ("<UTC time> <message>") or as one JSON object. Other domains keep
 * GLib's default treatment. */
void letschat_server_log_setup (LetsChatServerLogFormat format);

/* The lines printed once the server listens: where parties connect (the
 * first line), then where the page is (a log line: event "page"). */
void letschat_server_log_listening (const gchar * ws_url,
    const gchar * page_url, const gchar * page_note);

G_END_DECLS
