/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/* Every message of the room protocol is parsed and built here, so that the
 * client and the server can never disagree on a name or a rule
 * (docs/protocol.md is the reference). */

#include "letschat-protocol.h"
#include "letschat-json-strict.h"

#include <string.h>

/* Our messages nest at most four levels ({"data": {"ice": {...}}}); json-glib
 * 1.6 parses recursively without a depth limit, so a frame of a few ten
 * thousand '[' would overflow the stack. letschat-json-strict refuses deep
 * input (and everything that is not plain RFC 8259 JSON) before json-glib
 * sees it. */
#define MAX_NESTING_DEPTH LETSCHAT_PROTOCOL_MAX_NESTING

GQuark
letschat_protocol_error_quark (void)
{
  return g_quark_from_static_string ("letschat-protocol-error-quark");
}

static const gchar *const error_codes[] = {
  [LETSCHAT_PROTOCOL_ERROR_BAD_REQUEST] = LETSCHAT_ERROR_BAD_REQUEST,
  [LETSCHAT_PROTOCOL_ERROR_ROOM_FULL] = LETSCHAT_ERROR_ROOM_FULL,
  [LETSCHAT_PROTOCOL_ERROR_UNAUTHORIZED] = LETSCHAT_ERROR_UNAUTHORIZED,
  [LETSCHAT_PROTOCOL_ERROR_TOO_LARGE] = LETSCHAT_ERROR_TOO_LARGE,
  [LETSCHAT_PROTOCOL_ERROR_RATE_LIMITED] = LETSCHAT_ERROR_RATE_LIMITED,
  [LETSCHAT_PROTOCOL_ERROR_NOT_JOINED] = LETSCHAT_ERROR_NOT_JOINED,
  [LETSCHAT_PROTOCOL_ERROR_ALREADY_JOINED] = LETSCHAT_ERROR_ALREADY_JOINED,
  [LETSCHAT_PROTOCOL_ERROR_UNAVAILABLE] = LETSCHAT_ERROR_UNAVAILABLE,
};

const gchar *
letschat_protocol_error_to_code (LetsChatProtocolError error)
{
  if ((guint) error >= G_N_ELEMENTS (error_codes))
    return LETSCHAT_ERROR_BAD_REQUEST;
  return error_codes[error];
}

gboolean
letschat_protocol_room_name_is_valid (const gchar * room)
{
  gsize len;
  const gchar *p;

  if (room == NULL)
    return FALSE;

  len = strlen (room);
  if (len < 1 || len > LETSCHAT_ROOM_NAME_MAX)
    return FALSE;

  for (p = room; *p; p++) {
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '.' && *p != '-')
      return FALSE;
  }
  return TRUE;
}

static gboolean
bad_request (GError ** error, const gchar * format, ...)
{
  va_list args;
  gchar *message;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error_literal (error, LETSCHAT_PROTOCOL_ERROR,
      LETSCHAT_PROTOCOL_ERROR_BAD_REQUEST, message);
  g_free (message);
  return FALSE;
}

gchar *
letschat_protocol_quote_prefix (const gchar * text, guint max_chars)
{
  const gchar *end = text;
  g_autofree gchar *prefix = NULL;
  gchar *escaped;
  guint n = 0;

  if (text == NULL)
    return g_strdup ("");
  /* callers hand in validated UTF-8; stop at anything else anyway */
  while (*end && n < max_chars) {
    gunichar c = g_utf8_get_char_validated (end, -1);

    if (c == (gunichar) - 1 || c == (gunichar) - 2)
      break;
    end = g_utf8_next_char (end);
    n++;
  }
  prefix = g_strndup (text, end - text);
  /* escapes quotes, backslashes, control and non-ASCII bytes: a log line
   * stays one line of ASCII */
  escaped = g_strescape (prefix, NULL);
  if (*end) {
    gchar *cut = g_strconcat (escaped, "...", NULL);

    g_free (escaped);
    escaped = cut;
  }
  return escaped;
}

static const gchar *
node_type_name (JsonNode * node)
{
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return "null";
  if (JSON_NODE_HOLDS_OBJECT (node))
    return "an object";
  if (JSON_NODE_HOLDS_ARRAY (node))
    return "an array";
  switch (json_node_get_value_type (node)) {
    case G_TYPE_STRING:
      return "a string";
    case G_TYPE_BOOLEAN:
      return "a boolean";
    default:
      return "a number";
  }
}

static gboolean
node_is_string (JsonNode * node)
{
  return JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_STRING;
}

static gboolean
node_is_integer (JsonNode * node)
{
  return JSON_NODE_HOLDS_VALUE (node)
      && json_node_get_value_type (node) == G_TYPE_INT64;
}

/* Reads the string member @name of @object into @out (borrowed). A missing
 * member is an error only if @required; a null member is accepted (as NULL)
 * only if @nullable. */
static gboolean
get_string (JsonObject * object, const gchar * where, const gchar * name,
    gboolean required, gboolean nullable, const gchar ** out, GError ** error)
{
  JsonNode *node = json_object_get_member (object, name);

  *out = NULL;
  if (node == NULL) {
    if (required)
      return bad_request (error, "The %s has no \"%s\" (a string).", where,
          name);
    return TRUE;
  }
  if (nullable && JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!node_is_string (node))
    return bad_request (error, "The %s's \"%s\" must be a string, not %s.",
        where, name, node_type_name (node));

  *out = json_node_get_string (node);
  if (!g_utf8_validate (*out, -1, NULL))
    return bad_request (error, "The %s's \"%s\" is not valid UTF-8.", where,
        name);
  return TRUE;
}

static gboolean
validate_display_name (const gchar * name, const gchar * where, GError ** error)
{
  if (name != NULL && g_utf8_strlen (name, -1) > LETSCHAT_DISPLAY_NAME_MAX)
    return bad_request (error,
        "The %s's \"name\" is longer than %d characters.", where,
        LETSCHAT_DISPLAY_NAME_MAX);
  return TRUE;
}

static gboolean
validate_sdp (JsonNode * node, GError ** error)
{
  JsonObject *sdp;
  const gchar *type, *text;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return bad_request (error,
        "The signal's \"sdp\" must be an object, not %s.",
        node_type_name (node));
  sdp = json_node_get_object (node);

  if (!get_string (sdp, "signal's sdp", "type", TRUE, FALSE, &type, error))
    return FALSE;
  if (g_strcmp0 (type, "offer") != 0 && g_strcmp0 (type, "answer") != 0)
    return bad_request (error,
        "The signal's sdp \"type\" must be \"offer\" or \"answer\".");
  if (!get_string (sdp, "signal's sdp", "sdp", TRUE, FALSE, &text, error))
    return FALSE;
  return TRUE;
}

static gboolean
validate_ice (JsonNode * node, GError ** error)
{
  JsonObject *ice;
  JsonNode *index;
  const gchar *str;

  /* null marks the end of candidates */
  if (JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (node))
    return bad_request (error,
        "The signal's \"ice\" must be an object or null, not %s.",
        node_type_name (node));
  ice = json_node_get_object (node);

  if (!get_string (ice, "signal's ice", "candidate", TRUE, FALSE, &str, error))
    return FALSE;

  index = json_object_get_member (ice, "sdpMLineIndex");
  if (index == NULL || !node_is_integer (index)
      || json_node_get_int (index) < 0 || json_node_get_int (index) > G_MAXINT)
    return bad_request (error,
        "The signal's ice needs \"sdpMLineIndex\", a whole number >= 0.");

  /* Browsers may send a null sdpMid: it is optional. */
  if (!get_string (ice, "signal's ice", "sdpMid", FALSE, TRUE, &str, error))
    return FALSE;
  return TRUE;
}

gboolean
letschat_protocol_signal_data_is_valid (JsonNode * data, GError ** error)
{
  JsonObject *object;
  JsonNode *member;

  if (data == NULL || !JSON_NODE_HOLDS_OBJECT (data))
    return bad_request (error,
        "The signal's \"data\" must be an object, not %s.",
        node_type_name (data));
  object = json_node_get_object (data);

  if (json_object_get_size (object) != 1)
    return bad_request (error,
        "The signal's \"data\" must hold exactly one of \"sdp\" or \"ice\".");

  if ((member = json_object_get_member (object, "sdp")))
    return validate_sdp (member, error);
  if ((member = json_object_get_member (object, "ice")))
    return validate_ice (member, error);

  return bad_request (error,
      "The signal's \"data\" must hold exactly one of \"sdp\" or \"ice\".");
}

static gboolean
parse_join (LetsChatMessage * msg, JsonObject * object, GError ** error)
{
  JsonNode *version;

  if (!get_string (object, "join", "room", FALSE, FALSE, &msg->room, error)
      || !get_string (object, "join", "secret", FALSE, FALSE, &msg->secret,
          error)
      || !get_string (object, "join", "name", FALSE, TRUE, &msg->name, error)
      || !get_string (object, "join", "id", FALSE, FALSE, &msg->id, error))
    return FALSE;

  if (msg->id != NULL && !letschat_protocol_party_id_is_valid (msg->id))
    return bad_request (error,
        "The id must be one this server gave: %d lowercase hex digits",
        LETSCHAT_PARTY_ID_LENGTH);

  if (msg->room != NULL && msg->room[0] == '\0')
    msg->room = NULL;
  if (msg->room != NULL && !letschat_protocol_room_name_is_valid (msg->room))
    return bad_request (error,
        "The room name must be 1 to %d characters among A-Z a-z 0-9 _ . -",
        LETSCHAT_ROOM_NAME_MAX);

  if (!validate_display_name (msg->name, "join", error))
    return FALSE;

  version = json_object_get_member (object, "version");
  if (version != NULL && (!node_is_integer (version)
          || json_node_get_int (version) != LETSCHAT_PROTOCOL_VERSION))
    return bad_request (error,
        "This server speaks protocol version %d only.",
        LETSCHAT_PROTOCOL_VERSION);

  return TRUE;
}

static gboolean
parse_signal (LetsChatMessage * msg, JsonObject * object,
    LetsChatProtocolDirection direction, GError ** error)
{
  msg->data = json_object_get_member (object, "data");
  if (msg->data == NULL)
    return bad_request (error, "The signal has no \"data\" (an object).");
  if (!letschat_protocol_signal_data_is_valid (msg->data, error))
    return FALSE;

  if (direction == LETSCHAT_PROTOCOL_FROM_SERVER)
    return get_string (object, "signal", "from", TRUE, FALSE, &msg->from,
        error);
  return TRUE;
}

/* {id, name?} as found in welcome.peers, peer-joined.peer, peer-left.peer */
static gboolean
parse_peer (JsonNode * node, const gchar * where, const gchar ** id,
    const gchar ** name, GError ** error)
{
  JsonObject *peer;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return bad_request (error, "A peer in the %s must be an object.", where);
  peer = json_node_get_object (node);
  if (!get_string (peer, where, "id", TRUE, FALSE, id, error))
    return FALSE;
  if (name && !get_string (peer, where, "name", FALSE, TRUE, name, error))
    return FALSE;
  return TRUE;
}

static gboolean
parse_welcome (LetsChatMessage * msg, JsonObject * object, GError ** error)
{
  JsonArray *peers;
  guint i;

  if (!get_string (object, "welcome", "id", TRUE, FALSE, &msg->id, error)
      || !get_string (object, "welcome", "room", TRUE, FALSE, &msg->room,
          error))
    return FALSE;

  msg->peers = json_object_get_member (object, "peers");
  if (msg->peers == NULL || !JSON_NODE_HOLDS_ARRAY (msg->peers))
    return bad_request (error, "The welcome's \"peers\" must be an array.");
  peers = json_node_get_array (msg->peers);
  for (i = 0; i < json_array_get_length (peers); i++) {
    const gchar *id, *name;

    if (!parse_peer (json_array_get_element (peers, i), "welcome", &id, &name,
            error))
      return FALSE;
    if (i == 0) {
      msg->peer_id = id;
      msg->peer_name = name;
    }
  }

  msg->ice_servers = json_object_get_member (object, "ice_servers");
  if (msg->ice_servers == NULL) {
    /* Older or minimal servers may leave it out: hand out an empty list so
     * that users never see NULL. */
    json_object_set_array_member (object, "ice_servers", json_array_new ());
    msg->ice_servers = json_object_get_member (object, "ice_servers");
  } else if (!JSON_NODE_HOLDS_ARRAY (msg->ice_servers)) {
    return bad_request (error,
        "The welcome's \"ice_servers\" must be an array.");
  }
  return TRUE;
}

static gboolean
parse_peer_member (LetsChatMessage * msg, JsonObject * object,
    const gchar * where, gboolean with_name, GError ** error)
{
  JsonNode *peer = json_object_get_member (object, "peer");

  if (peer == NULL)
    return bad_request (error, "The %s has no \"peer\".", where);
  return parse_peer (peer, where, &msg->peer_id,
      with_name ? &msg->peer_name : NULL, error);
}

static gboolean
parse_error (LetsChatMessage * msg, JsonObject * object, GError ** error)
{
  if (!get_string (object, "error", "code", TRUE, FALSE, &msg->code, error))
    return FALSE;
  if (!get_string (object, "error", "message", FALSE, TRUE, &msg->message,
          error))
    return FALSE;
  if (msg->message == NULL)
    msg->message = msg->code;
  return TRUE;
}

static const struct
{
  const gchar *name;
  LetsChatMessageType type;
  LetsChatProtocolDirection direction;
} message_types[] = {
  {"join", LETSCHAT_MESSAGE_JOIN, LETSCHAT_PROTOCOL_FROM_CLIENT},
  {"signal", LETSCHAT_MESSAGE_SIGNAL, LETSCHAT_PROTOCOL_FROM_CLIENT},
  {"leave", LETSCHAT_MESSAGE_LEAVE, LETSCHAT_PROTOCOL_FROM_CLIENT},
  {"welcome", LETSCHAT_MESSAGE_WELCOME, LETSCHAT_PROTOCOL_FROM_SERVER},
  {"peer-joined", LETSCHAT_MESSAGE_PEER_JOINED, LETSCHAT_PROTOCOL_FROM_SERVER},
  {"peer-left", LETSCHAT_MESSAGE_PEER_LEFT, LETSCHAT_PROTOCOL_FROM_SERVER},
  {"signal", LETSCHAT_MESSAGE_SIGNAL, LETSCHAT_PROTOCOL_FROM_SERVER},
  {"error", LETSCHAT_MESSAGE_ERROR, LETSCHAT_PROTOCOL_FROM_SERVER},
};

LetsChatMessage *
letschat_message_parse (const gchar * text, gssize length,
    LetsChatProtocolDirection direction, GError ** error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  return letschat_message_parse_with (parser, text, length, direction, error);
}

LetsChatMessage *
letschat_message_parse_with (JsonParser * parser, const gchar * text,
    gssize length, LetsChatProtocolDirection direction, GError ** error)
{
  g_autoptr (LetsChatMessage) msg = NULL;
  g_autoptr (GError) json_error = NULL;
  JsonNode *root;
  JsonObject *object;
  const gchar *type = NULL;
  g_autofree gchar *why = NULL;
  gboolean ok = FALSE;
  guint i;

  g_return_val_if_fail (text != NULL, NULL);

  if (length < 0)
    length = strlen (text);

  /* The sentence names what is wrong and where, never the input: it is
   * sent back and logged. */
  if (!letschat_json_is_strict (text, length, MAX_NESTING_DEPTH, &why)) {
    bad_request (error, "The message is not JSON (RFC 8259, at most %d "
        "levels deep): %s.", MAX_NESTING_DEPTH, why);
    return NULL;
  }

  /* After the scan json-glib can only fail for want of memory */
  if (!json_parser_load_from_data (parser, text, length, &json_error)) {
    bad_request (error, "The message could not be parsed.");
    return NULL;
  }

  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    bad_request (error, "The message must be a JSON object, not %s.",
        node_type_name (root));
    return NULL;
  }

  msg = g_new0 (LetsChatMessage, 1);
  msg->root = json_node_ref (root);
  object = json_node_get_object (msg->root);

  if (!get_string (object, "message", "type", TRUE, FALSE, &type, error))
    return NULL;

  for (i = 0; i < G_N_ELEMENTS (message_types); i++) {
    if (message_types[i].direction == direction
        && strcmp (message_types[i].name, type) == 0)
      break;
  }
  if (i == G_N_ELEMENTS (message_types)) {
    g_autofree gchar *quoted = letschat_protocol_quote_prefix (type, 32);

    bad_request (error, "Unknown message type \"%s\".", quoted);
    return NULL;
  }
  msg->type = message_types[i].type;

  switch (msg->type) {
    case LETSCHAT_MESSAGE_JOIN:
      ok = parse_join (msg, object, error);
      break;
    case LETSCHAT_MESSAGE_SIGNAL:
      ok = parse_signal (msg, object, direction, error);
      break;
    case LETSCHAT_MESSAGE_LEAVE:
      ok = TRUE;
      break;
    case LETSCHAT_MESSAGE_WELCOME:
      ok = parse_welcome (msg, object, error);
      break;
    case LETSCHAT_MESSAGE_PEER_JOINED:
      ok = parse_peer_member (msg, object, "peer-joined", TRUE, error);
      break;
    case LETSCHAT_MESSAGE_PEER_LEFT:
      ok = parse_peer_member (msg, object, "peer-left", FALSE, error);
      break;
    case LETSCHAT_MESSAGE_ERROR:
      ok = parse_error (msg, object, error);
      break;
  }

  if (!ok)
    return NULL;
  return g_steal_pointer (&msg);
}

void
letschat_message_free (LetsChatMessage * message)
{
  if (message == NULL)
    return;
  if (message->root)
    json_node_unref (message->root);
  g_free (message);
}

/* Builders */

static JsonBuilder *
begin_message (const gchar * type)
{
  JsonBuilder *builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "type");
  json_builder_add_string_value (builder, type);
  return builder;
}

static gchar *
end_message (JsonBuilder * builder)
{
  JsonNode *root;
  gchar *text;

  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  text = json_to_string (root, FALSE);
  json_node_unref (root);
  g_object_unref (builder);
  return text;
}

static void
add_string (JsonBuilder * builder, const gchar * name, const gchar * value)
{
  json_builder_set_member_name (builder, name);
  if (value)
    json_builder_add_string_value (builder, value);
  else
    json_builder_add_null_value (builder);
}

static void
add_peer (JsonBuilder * builder, const gchar * id, const gchar * name,
    gboolean with_name)
{
  json_builder_begin_object (builder);
  add_string (builder, "id", id);
  if (with_name)
    add_string (builder, "name", name);
  json_builder_end_object (builder);
}

gboolean
letschat_protocol_party_id_is_valid (const gchar * id)
{
  gsize i;

  for (i = 0; id[i]; i++)
    if (!g_ascii_isxdigit (id[i]) || g_ascii_isupper (id[i]))
      return FALSE;
  return i == LETSCHAT_PARTY_ID_LENGTH;
}

gchar *
letschat_protocol_build_join (const gchar * room, const gchar * secret,
    const gchar * name)
{
  return letschat_protocol_build_join_as (room, secret, name, NULL);
}

gchar *
letschat_protocol_build_join_as (const gchar * room, const gchar * secret,
    const gchar * name, const gchar * id)
{
  JsonBuilder *builder = begin_message ("join");

  if (room && room[0])
    add_string (builder, "room", room);
  if (secret)
    add_string (builder, "secret", secret);
  if (name)
    add_string (builder, "name", name);
  if (id)
    add_string (builder, "id", id);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, LETSCHAT_PROTOCOL_VERSION);
  return end_message (builder);
}

gchar *
letschat_protocol_build_signal (const gchar * from, JsonNode * data)
{
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  GString *text = g_string_new (NULL);

  g_return_val_if_fail (data != NULL, NULL);

  letschat_protocol_append_signal (text, generator, from, data);
  return g_string_free (text, FALSE);
}

/* Written around the generator's output rather than through a JsonBuilder:
 * this is the one message the server sends for nearly every message it
 * gets, and the validated node is serialized as it is, without a copy. */
void
letschat_protocol_append_signal (GString * text, JsonGenerator * generator,
    const gchar * from, JsonNode * data)
{
  g_return_if_fail (data != NULL);

  g_string_append (text, "{\"type\":\"signal\",");
  if (from) {
    /* json-glib escapes it: "from" is an id, but this must not rely on
     * it */
    g_autoptr (JsonNode) from_node =
        json_node_init_string (json_node_alloc (), from);

    g_string_append (text, "\"from\":");
    json_generator_set_root (generator, from_node);
    json_generator_to_gstring (generator, text);
    json_generator_set_root (generator, NULL);
    g_string_append_c (text, ',');
  }
  g_string_append (text, "\"data\":");
  json_generator_set_root (generator, data);
  json_generator_to_gstring (generator, text);
  json_generator_set_root (generator, NULL);
  g_string_append_c (text, '}');
}

gchar *
letschat_protocol_build_leave (void)
{
  return end_message (begin_message ("leave"));
}

gchar *
letschat_protocol_build_welcome (const gchar * id, const gchar * room,
    const gchar * peer_id, const gchar * peer_name, JsonNode * ice_servers)
{
  JsonBuilder *builder = begin_message ("welcome");

  add_string (builder, "id", id);
  add_string (builder, "room", room);
  json_builder_set_member_name (builder, "peers");
  json_builder_begin_array (builder);
  if (peer_id)
    add_peer (builder, peer_id, peer_name, TRUE);
  json_builder_end_array (builder);

  json_builder_set_member_name (builder, "ice_servers");
  if (ice_servers) {
    json_builder_add_value (builder, json_node_copy (ice_servers));
  } else {
    json_builder_begin_array (builder);
    json_builder_end_array (builder);
  }
  return end_message (builder);
}

gchar *
letschat_protocol_build_peer_joined (const gchar * peer_id,
    const gchar * peer_name)
{
  JsonBuilder *builder = begin_message ("peer-joined");

  json_builder_set_member_name (builder, "peer");
  add_peer (builder, peer_id, peer_name, TRUE);
  return end_message (builder);
}

gchar *
letschat_protocol_build_peer_left (const gchar * peer_id)
{
  JsonBuilder *builder = begin_message ("peer-left");

  json_builder_set_member_name (builder, "peer");
  add_peer (builder, peer_id, NULL, FALSE);
  return end_message (builder);
}

gchar *
letschat_protocol_build_error (const gchar * code, const gchar * message)
{
  JsonBuilder *builder = begin_message ("error");

  add_string (builder, "code", code);
  add_string (builder, "message", message ? message : code);
  return end_message (builder);
}

JsonNode *
letschat_protocol_ice_server_new (const gchar * url, const gchar * username,
    const gchar * credential)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  add_string (builder, "urls", url);
  if (username)
    add_string (builder, "username", username);
  if (credential)
    add_string (builder, "credential", credential);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

JsonNode *
letschat_protocol_ice_server_from_uri (const gchar * uri, GError ** error)
{
  g_autoptr (GUri) parsed = NULL;
  g_autofree gchar *url = NULL;
  const gchar *scheme;

  g_return_val_if_fail (uri != NULL, NULL);

  /* Browser style "stun:host:port" / "turn:host:port?transport=tcp" has no
   * "//" and no credentials: hand it out as it is. */
  if ((g_str_has_prefix (uri, "stun:") || g_str_has_prefix (uri, "stuns:")
          || g_str_has_prefix (uri, "turn:")
          || g_str_has_prefix (uri, "turns:")) && !strstr (uri, "//"))
    return letschat_protocol_ice_server_new (uri, NULL, NULL);

  /* GStreamer style "turn://user:pass@host:port" (as webrtcbin's
   * turn-server): split into RTCIceServer {urls, username, credential}. */
  parsed = g_uri_parse (uri, G_URI_FLAGS_HAS_PASSWORD, error);
  if (parsed == NULL)
    return NULL;

  scheme = g_uri_get_scheme (parsed);
  if (g_strcmp0 (scheme, "stun") != 0 && g_strcmp0 (scheme, "stuns") != 0
      && g_strcmp0 (scheme, "turn") != 0 && g_strcmp0 (scheme, "turns") != 0) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "ICE server %s: the scheme must be stun, stuns, turn or turns", uri);
    return NULL;
  }
  if (g_uri_get_host (parsed) == NULL) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "ICE server %s has no host", uri);
    return NULL;
  }

  if (g_uri_get_port (parsed) > 0)
    url = g_strdup_printf ("%s:%s:%d", scheme, g_uri_get_host (parsed),
        g_uri_get_port (parsed));
  else
    url = g_strdup_printf ("%s:%s", scheme, g_uri_get_host (parsed));
  if (g_uri_get_query (parsed)) {
    gchar *with_query = g_strconcat (url, "?", g_uri_get_query (parsed),
        NULL);
    g_free (url);
    url = with_query;
  }
  return letschat_protocol_ice_server_new (url, g_uri_get_user (parsed),
      g_uri_get_password (parsed));
}

static gchar *
ice_url_to_uri (const gchar * url, const gchar * user, const gchar * credential)
{
  gboolean turn = g_str_has_prefix (url, "turn:");
  gboolean turns = g_str_has_prefix (url, "turns:");
  const gchar *rest = strchr (url, ':');
  g_autofree gchar *hostport = NULL;
  const gchar *query = NULL;
  gchar *q;

  if (!rest || (!turn && !turns && !g_str_has_prefix (url, "stun:")))
    return NULL;
  rest++;
  while (*rest == '/')
    rest++;
  hostport = g_strdup (rest);
  if ((q = strchr (hostport, '?'))) {
    *q = '\0';
    query = rest + (q - hostport);
  }
  if (turn || turns) {
    g_autofree gchar *u = g_uri_escape_string (user ? user : "", NULL, TRUE);
    g_autofree gchar *p = g_uri_escape_string (credential ? credential : "",
        NULL, TRUE);

    /* webrtcbin reads "?transport=tcp" (TURN over TCP; turns: is TLS
     * over TCP whatever it says): keep it. */
    return g_strdup_printf ("%s://%s:%s@%s%s", turns ? "turns" : "turn", u,
        p, hostport, query ? query : "");
  }
  return g_strdup_printf ("stun://%s", hostport);
}

gchar *
letschat_protocol_turn_uri_for_webrtcbin (const gchar * uri, GError ** error)
{
  g_autoptr (GUri) parsed = NULL;
  g_autofree gchar *with_slashes = NULL;
  const gchar *scheme, *transport = NULL;
  g_autoptr (GHashTable) params = NULL;

  g_return_val_if_fail (uri != NULL, NULL);

  /* Browser style "turn:user:pass@host:port?transport=tcp" is the same
   * URI without the "//" webrtcbin wants. */
  if ((g_str_has_prefix (uri, "turn:") && !g_str_has_prefix (uri, "turn://"))
      || (g_str_has_prefix (uri, "turns:")
          && !g_str_has_prefix (uri, "turns://"))) {
    const gchar *colon = strchr (uri, ':');

    with_slashes = g_strdup_printf ("%.*s://%s", (int) (colon - uri), uri,
        colon + 1);
    uri = with_slashes;
  }
  parsed = g_uri_parse (uri, G_URI_FLAGS_HAS_PASSWORD, NULL);
  scheme = parsed ? g_uri_get_scheme (parsed) : NULL;
  if (parsed == NULL || (g_strcmp0 (scheme, "turn") != 0
          && g_strcmp0 (scheme, "turns") != 0) || !g_uri_get_host (parsed)
      || !g_uri_get_user (parsed) || !g_uri_get_password (parsed)) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "Invalid TURN server '%s': write it as turn://user:password@host:port "
        "(turns:// for TLS), optionally with ?transport=udp or "
        "?transport=tcp", uri);
    return NULL;
  }
  if (g_uri_get_query (parsed)) {
    params = g_uri_parse_params (g_uri_get_query (parsed), -1, "&",
        G_URI_PARAMS_NONE, NULL);
    transport = params ? g_hash_table_lookup (params, "transport") : NULL;
    if (params == NULL || g_hash_table_size (params) != (transport ? 1 : 0)
        || (transport && g_strcmp0 (transport, "udp") != 0
            && g_strcmp0 (transport, "tcp") != 0)) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "Invalid TURN server '%s': the only option it may have is "
          "?transport=udp or ?transport=tcp", uri);
      return NULL;
    }
  }
  return g_strdup (uri);
}

gchar **
letschat_protocol_ice_servers_to_uris (JsonNode * ice_servers)
{
  GStrvBuilder *uris = g_strv_builder_new ();
  JsonArray *arr;
  guint i, j;
  gchar **out;

  arr = ice_servers && JSON_NODE_HOLDS_ARRAY (ice_servers) ?
      json_node_get_array (ice_servers) : NULL;
  for (i = 0; arr && i < json_array_get_length (arr); i++) {
    JsonNode *node = json_array_get_element (arr, i);
    JsonObject *o = JSON_NODE_HOLDS_OBJECT (node) ?
        json_node_get_object (node) : NULL;
    JsonNode *urls = o ? json_object_get_member (o, "urls") : NULL;
    JsonArray *list = NULL;
    const gchar *user, *cred;

    if (!urls)
      continue;
    user = json_object_get_string_member_with_default (o, "username", NULL);
    cred = json_object_get_string_member_with_default (o, "credential", NULL);
    if (JSON_NODE_HOLDS_ARRAY (urls))
      list = json_node_get_array (urls);
    for (j = 0; j < (list ? json_array_get_length (list) : 1); j++) {
      JsonNode *url = list ? json_array_get_element (list, j) : urls;
      gchar *uri;

      if (json_node_get_value_type (url) != G_TYPE_STRING)
        continue;
      uri = ice_url_to_uri (json_node_get_string (url), user, cred);
      if (uri)
        g_strv_builder_add (uris, uri);
      g_free (uri);
    }
  }
  out = g_strv_builder_end (uris);
  g_strv_builder_unref (uris);
  return out;
}

JsonNode *
letschat_protocol_sdp_data_new (const gchar * type, const gchar * sdp)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "sdp");
  json_builder_begin_object (builder);
  add_string (builder, "type", type);
  add_string (builder, "sdp", sdp);
  json_builder_end_object (builder);
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}

JsonNode *
letschat_protocol_ice_data_new (const gchar * candidate,
    guint sdp_mline_index, const gchar * sdp_mid)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "ice");
  if (candidate == NULL) {
    json_builder_add_null_value (builder);
  } else {
    json_builder_begin_object (builder);
    add_string (builder, "candidate", candidate);
    json_builder_set_member_name (builder, "sdpMLineIndex");
    json_builder_add_int_value (builder, sdp_mline_index);
    if (sdp_mid)
      add_string (builder, "sdpMid", sdp_mid);
    json_builder_end_object (builder);
  }
  json_builder_end_object (builder);
  return json_builder_get_root (builder);
}
