/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* A validating scan of RFC 8259 JSON, run on every client message before
 * json-glib sees it.
 *
 * json-glib 1.6 (Debian 12) has no strict mode: its GScanner-based parser
 * takes 'single-quoted' strings, comments, C escapes such as "\333" (which
 * become invalid UTF-8), numbers too large for 64 bits (which wrap) or for
 * a double (written back as "inf.0"), and cuts strings at "\u0000". It
 * also parses recursively without a depth limit. Whatever it accepts the
 * room server relays, re-serialized, to the other party: so what reaches
 * json-glib must be JSON that it reads exactly as written, and shallow.
 *
 * Beyond RFC 8259 this refuses, because json-glib would not keep them:
 * "\u0000" in strings, escapes of lone surrogates, integers outside 64
 * bits, and numbers whose value is not a finite double. Bytes that are not
 * UTF-8 (RFC 8259 section 8.1) are refused too.
 *
 * This file must not build nodes: json-glib parses, this only says yes or
 * no (a scan of a 64 KiB frame costs about what one copy of it does). */

#include "letschat-json-strict.h"

#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <math.h>

typedef struct
{
  const guchar *text;
  gsize length;
  gsize pos;
  guint max_depth;
  const gchar *error;           /* what is wrong, at pos */
} Scan;

static gboolean scan_value (Scan * s, guint depth);

static gboolean
fail (Scan * s, const gchar * what)
{
  if (s->error == NULL)
    s->error = what;
  return FALSE;
}

static gint
peek (Scan * s)
{
  return s->pos < s->length ? s->text[s->pos] : -1;
}

/* RFC 8259: ws = *( %x20 / %x09 / %x0A / %x0D ) */
static void
skip_whitespace (Scan * s)
{
  while (s->pos < s->length) {
    guchar c = s->text[s->pos];

    if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
      return;
    s->pos++;
  }
}

static gboolean
scan_literal (Scan * s, const gchar * word)
{
  gsize n = strlen (word);

  if (s->length - s->pos < n || memcmp (s->text + s->pos, word, n) != 0)
    return fail (s, "an unknown word (only true, false and null are JSON)");
  s->pos += n;
  return TRUE;
}

static gint
hex_value (gint c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* The 4 hex digits after "\u"; -1 if they are not. */
static gint
scan_hex4 (Scan * s)
{
  gint value = 0, i;

  if (s->length - s->pos < 4)
    return -1;
  for (i = 0; i < 4; i++) {
    gint digit = hex_value (s->text[s->pos + i]);

    if (digit < 0)
      return -1;
    value = value * 16 + digit;
  }
  s->pos += 4;
  return value;
}

/* After "\": one of the escapes of RFC 8259 section 7. */
static gboolean
scan_escape (Scan * s)
{
  gint c = peek (s), unit;

  if (c < 0)
    return fail (s, "an unterminated string");
  s->pos++;
  switch (c) {
    case '"':
    case '\\':
    case '/':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
      return TRUE;
    case 'u':
      break;
    default:
      s->pos--;
      return fail (s, "an escape that JSON does not have (only \\\" \\\\ "
          "\\/ \\b \\f \\n \\r \\t and \\uXXXX)");
  }

  unit = scan_hex4 (s);
  if (unit < 0)
    return fail (s, "a \\u escape without 4 hex digits");
  if (unit == 0)
    return fail (s, "\\u0000 (not accepted: it would cut the string)");
  if (unit >= 0xdc00 && unit <= 0xdfff)
    return fail (s, "a lone low surrogate escape");
  if (unit >= 0xd800 && unit <= 0xdbff) {
    /* a high surrogate must be followed by an escaped low one */
    if (s->length - s->pos < 2 || s->text[s->pos] != '\\'
        || s->text[s->pos + 1] != 'u')
      return fail (s, "a lone high surrogate escape");
    s->pos += 2;
    unit = scan_hex4 (s);
    if (unit < 0xdc00 || unit > 0xdfff)
      return fail (s, "a high surrogate escape without its low one");
  }
  return TRUE;
}

/* After the opening quote, up to and including the closing one. */
static gboolean
scan_string (Scan * s)
{
  while (s->pos < s->length) {
    guchar c = s->text[s->pos];
    const gchar *end;

    if (c == '"') {
      s->pos++;
      return TRUE;
    }
    if (c == '\\') {
      s->pos++;
      if (!scan_escape (s))
        return FALSE;
      continue;
    }
    if (c < 0x20)
      return fail (s, "a control character in a string (escape it)");
    if (c < 0x80) {
      s->pos++;
      continue;
    }
    /* one UTF-8 sequence: g_utf8_validate_len refuses overlong forms,
     * surrogates and code points past U+10FFFF */
    {
      gsize n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;

      if (n > s->length - s->pos
          || !g_utf8_validate_len ((const gchar *) s->text + s->pos, n, &end))
        return fail (s, "bytes that are not UTF-8");
      s->pos += n;
    }
  }
  return fail (s, "an unterminated string");
}

/* RFC 8259 section 6:
 * number = [ minus ] int [ frac ] [ exp ], int = zero / ( digit1-9 *DIGIT ) */
static gboolean
scan_number (Scan * s)
{
  gsize start = s->pos;
  gboolean integer = TRUE;
  gchar buffer[64];
  gchar *end = NULL;

  if (peek (s) == '-')
    s->pos++;
  if (peek (s) == '0') {
    s->pos++;
  } else if (peek (s) >= '1' && peek (s) <= '9') {
    while (peek (s) >= '0' && peek (s) <= '9')
      s->pos++;
  } else {
    return fail (s, "a number without digits");
  }
  if (peek (s) >= '0' && peek (s) <= '9')
    return fail (s, "a number with a leading zero");
  if (peek (s) == '.') {
    integer = FALSE;
    s->pos++;
    if (!(peek (s) >= '0' && peek (s) <= '9'))
      return fail (s, "a number without digits after its '.'");
    while (peek (s) >= '0' && peek (s) <= '9')
      s->pos++;
  }
  if (peek (s) == 'e' || peek (s) == 'E') {
    integer = FALSE;
    s->pos++;
    if (peek (s) == '+' || peek (s) == '-')
      s->pos++;
    if (!(peek (s) >= '0' && peek (s) <= '9'))
      return fail (s, "a number without digits in its exponent");
    while (peek (s) >= '0' && peek (s) <= '9')
      s->pos++;
  }

  /* What json-glib would make of it: a gint64, or a double. A number too
   * long for the buffer has more digits than either keeps. */
  if (s->pos - start >= sizeof (buffer)) {
    s->pos = start;
    return fail (s, "a number with more digits than 64 bits or a double keep");
  }
  memcpy (buffer, s->text + start, s->pos - start);
  buffer[s->pos - start] = '\0';
  errno = 0;
  if (integer) {
    g_ascii_strtoll (buffer, &end, 10);
    if (errno == ERANGE) {
      s->pos = start;
      return fail (s, "an integer outside 64 bits");
    }
  } else if (!isfinite (g_ascii_strtod (buffer, &end))) {
    s->pos = start;
    return fail (s, "a number too large for a double");
  }
  return TRUE;
}

static gboolean
scan_container (Scan * s, guint depth, gchar close)
{
  gboolean object = close == '}';

  if (depth >= s->max_depth)
    return fail (s, "nesting deeper than the limit");
  s->pos++;
  skip_whitespace (s);
  if (peek (s) == close) {
    s->pos++;
    return TRUE;
  }
  for (;;) {
    if (object) {
      if (peek (s) != '"')
        return fail (s, "a member name that is not a \"string\"");
      s->pos++;
      if (!scan_string (s))
        return FALSE;
      skip_whitespace (s);
      if (peek (s) != ':')
        return fail (s, "a member name without ':'");
      s->pos++;
    }
    if (!scan_value (s, depth + 1))
      return FALSE;
    skip_whitespace (s);
    if (peek (s) == close) {
      s->pos++;
      return TRUE;
    }
    if (peek (s) != ',')
      return fail (s, object ? "an object member not followed by ',' or '}'"
          : "an array element not followed by ',' or ']'");
    s->pos++;
    skip_whitespace (s);
  }
}

/* @depth: containers around this value */
static gboolean
scan_value (Scan * s, guint depth)
{
  skip_whitespace (s);
  switch (peek (s)) {
    case '{':
      return scan_container (s, depth, '}');
    case '[':
      return scan_container (s, depth, ']');
    case '"':
      s->pos++;
      return scan_string (s);
    case 't':
      return scan_literal (s, "true");
    case 'f':
      return scan_literal (s, "false");
    case 'n':
      return scan_literal (s, "null");
    case '\'':
      return fail (s, "a single-quoted string (JSON strings use \")");
    case '/':
      return fail (s, "a comment (JSON has none)");
    case -1:
      return fail (s, "the end of the text where a value should be");
    default:
      if (peek (s) == '-' || (peek (s) >= '0' && peek (s) <= '9'))
        return scan_number (s);
      return fail (s, "a character that starts no JSON value");
  }
}

gboolean
letschat_json_is_strict (const gchar * text, gsize length, guint max_depth,
    gchar ** why)
{
  Scan s = { (const guchar *) text, length, 0, max_depth, NULL };

  if (scan_value (&s, 0)) {
    skip_whitespace (&s);
    if (s.pos == s.length)
      return TRUE;
    fail (&s, "more text after the JSON value");
  }
  if (why)
    *why = g_strdup_printf ("%s at byte %" G_GSIZE_FORMAT, s.error, s.pos);
  return FALSE;
}
