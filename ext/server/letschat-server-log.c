/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* letschat-server's log lines. The room server logs one line per event
 * through g_log (domain "letschat-server"), written as
 *
 *   <event words> key=value key="escaped value" ...[: free text]
 *
 * e.g. `join room=demo id=4f.. addr=127.0.0.1:5000 name="Bob" parties=2`.
 * With --log-format text each goes to standard output after a UTC
 * timestamp, as it is. With --log-format json each becomes one JSON
 * object on one line, for log collectors:
 *
 *   {"time":"2026-..Z","level":"info","event":"join","room":"demo",
 *    "id":"4f..","addr":"..","name":"Bob","parties":"2",
 *    "message":"join room=demo ..."}
 *
 * The fields are read back from the line here, so that the code that logs
 * keeps one plain g_info() per event; the whole line stays in "message". */

#include "letschat-server-log.h"

#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

static LetsChatServerLogFormat log_format = LETSCHAT_SERVER_LOG_TEXT;

gboolean
letschat_server_log_format_from_string (const gchar * name,
    LetsChatServerLogFormat * format)
{
  if (g_strcmp0 (name, "text") == 0)
    *format = LETSCHAT_SERVER_LOG_TEXT;
  else if (g_strcmp0 (name, "json") == 0)
    *format = LETSCHAT_SERVER_LOG_JSON;
  else
    return FALSE;
  return TRUE;
}

static const gchar *
level_name (GLogLevelFlags level)
{
  if (level & G_LOG_LEVEL_ERROR)
    return "error";
  if (level & G_LOG_LEVEL_CRITICAL)
    return "critical";
  if (level & G_LOG_LEVEL_WARNING)
    return "warning";
  if (level & G_LOG_LEVEL_MESSAGE)
    return "message";
  if (level & G_LOG_LEVEL_INFO)
    return "info";
  return "debug";
}

/* A key of a key=value token: a word of lower-case letters, digits, _ and
 * - that starts with a letter. */
static gsize
key_length (const gchar * p)
{
  gsize n = 0;

  if (!g_ascii_islower (*p))
    return 0;
  while (g_ascii_islower (p[n]) || g_ascii_isdigit (p[n]) || p[n] == '_'
      || p[n] == '-')
    n++;
  return p[n] == '=' ? n : 0;
}

/* Adds "event", one member per key=value and "detail" (the text after
 * ": ") for @message to @builder. */
static void
add_fields (JsonBuilder * builder, const gchar * message)
{
  const gchar *p = message;
  GString *event = g_string_new (NULL);
  gsize klen;

  /* the event: the words before the first key=value, e.g. "join" or
   * "refused connection"; anything else that comes first is detail */
  while (*p && key_length (p) == 0) {
    gsize len = strspn (p, "abcdefghijklmnopqrstuvwxyz"
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ-");

    if (len == 0 || (p[len] != ' ' && p[len] != '\0'))
      break;
    if (event->len > 0)
      g_string_append_c (event, ' ');
    g_string_append_len (event, p, len);
    p += len;
    while (*p == ' ')
      p++;
  }
  json_builder_set_member_name (builder, "event");
  json_builder_add_string_value (builder, event->str);
  g_string_free (event, TRUE);

  while (*p && (klen = key_length (p)) > 0) {
    g_autofree gchar *key = g_strndup (p, klen);
    g_autofree gchar *value = NULL;

    p += klen + 1;
    if (*p == '"') {
      /* g_strescape()d by the logger: find the closing quote */
      const gchar *start = ++p;
      g_autofree gchar *raw = NULL;

      while (*p && *p != '"') {
        if (*p == '\\' && p[1])
          p++;
        p++;
      }
      raw = g_strndup (start, p - start);
      value = g_strcompress (raw);
      if (*p == '"')
        p++;
    } else {
      gsize len = strcspn (p, " ");

      /* a value may end the fields with ": detail" */
      if (len > 0 && p[len - 1] == ':')
        len--;
      value = g_strndup (p, len);
      p += len;
    }
    json_builder_set_member_name (builder, key);
    json_builder_add_string_value (builder, value);
    while (*p == ' ')
      p++;
  }

  if (*p == ':')
    p++;
  while (*p == ' ')
    p++;
  if (*p) {
    json_builder_set_member_name (builder, "detail");
    json_builder_add_string_value (builder, p);
  }
}

static void
write_json_line (const gchar * level, const gchar * message,
    const gchar * first_extra, ...)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree gchar *stamp = g_date_time_format (now, "%FT%T.%fZ");
  g_autofree gchar *line = NULL;
  const gchar *key;
  va_list args;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "time");
  json_builder_add_string_value (builder, stamp);
  json_builder_set_member_name (builder, "level");
  json_builder_add_string_value (builder, level);
  if (first_extra == NULL) {
    add_fields (builder, message);
  } else {
    va_start (args, first_extra);
    for (key = first_extra; key; key = va_arg (args, const gchar *))
    {
      json_builder_set_member_name (builder, key);
      json_builder_add_string_value (builder, va_arg (args, const gchar *));
    }
    va_end (args);
  }
  json_builder_set_member_name (builder, "message");
  json_builder_add_string_value (builder, message);
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  line = json_to_string (root, FALSE);
  fprintf (stdout, "%s\n", line);
  fflush (stdout);
}

/* Our own log lines go to stdout, one per line, so that
 * `letschat-server > log` is the whole story. Anything else (warnings
 * from libraries, debug output) keeps GLib's default treatment. */
static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField * fields, gsize n_fields,
    gpointer user_data)
{
  const gchar *domain = NULL, *message = NULL;
  GLogLevelFlags ours = G_LOG_LEVEL_INFO | G_LOG_LEVEL_MESSAGE;
  gsize i;

  for (i = 0; i < n_fields; i++) {
    if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
      domain = fields[i].value;
    else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
      message = fields[i].value;
  }

  /* A JSON log is read by a program: our warnings go into it too */
  if (log_format == LETSCHAT_SERVER_LOG_JSON)
    ours |= G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL;

  if (g_strcmp0 (domain, LETSCHAT_SERVER_LOG_DOMAIN) == 0 && message != NULL
      && (level & ours)) {
    if (log_format == LETSCHAT_SERVER_LOG_JSON) {
      write_json_line (level_name (level), message, NULL);
    } else {
      g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
      g_autofree gchar *stamp = g_date_time_format (now, "%FT%T.%fZ");

      fprintf (stdout, "%s %s\n", stamp, message);
      fflush (stdout);
    }
    return G_LOG_WRITER_HANDLED;
  }

  return g_log_writer_default (level, fields, n_fields, user_data);
}

void
letschat_server_log_setup (LetsChatServerLogFormat format)
{
  log_format = format;
  g_log_set_writer_func (log_writer, NULL, NULL);
}

void
letschat_server_log_listening (const gchar * ws_url, const gchar * page_url,
    const gchar * page_note)
{
  g_autofree gchar *listening =
      g_strdup_printf ("letschat-server listening on %s", ws_url);

  if (log_format == LETSCHAT_SERVER_LOG_JSON) {
    write_json_line ("info", listening, "event", "listening", "url", ws_url,
        NULL);
  } else {
    /* Not timestamped: scripts wait for this first line and take the URL
     * from its end. */
    fprintf (stdout, "%s\n", listening);
    fflush (stdout);
  }
  g_log (LETSCHAT_SERVER_LOG_DOMAIN, G_LOG_LEVEL_INFO, "page url=%s%s%s",
      page_url, page_note ? ": " : "", page_note ? page_note : "");
}
