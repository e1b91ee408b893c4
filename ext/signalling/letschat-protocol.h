/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS
/* The room protocol's names, in one place (docs/protocol.md). Both the
 * client and the server parse and build messages through this module. */
#define LETSCHAT_PROTOCOL_VERSION 1
#define LETSCHAT_ROOM_NAME_MAX 64
#define LETSCHAT_DISPLAY_NAME_MAX 64
/* Arrays and objects inside each other, at most (the protocol needs 4). */
#define LETSCHAT_PROTOCOL_MAX_NESTING 16
#define LETSCHAT_ERROR_BAD_REQUEST   "bad-request"
#define LETSCHAT_ERROR_ROOM_FULL     "room-full"
#define LETSCHAT_ERROR_UNAUTHORIZED  "unauthorized"
#define LETSCHAT_ERROR_TOO_LARGE     "too-large"
#define LETSCHAT_ERROR_RATE_LIMITED  "rate-limited"
#define LETSCHAT_ERROR_NOT_JOINED    "not-joined"
#define LETSCHAT_ERROR_ALREADY_JOINED "already-joined"
#define LETSCHAT_ERROR_UNAVAILABLE   "unavailable"
/* Party ids: 16 random bytes as lowercase hex. */
#define LETSCHAT_PARTY_ID_LENGTH 32
    gboolean letschat_protocol_party_id_is_valid (const gchar * id);

/* TRUE if @room is 1..64 chars of [A-Za-z0-9_.-]. */
gboolean letschat_protocol_room_name_is_valid (const gchar * room);

/* At most @max_chars characters of @text, escaped (g_strescape: one line
 * of ASCII), with "..." if cut: how client input may appear in a log line
 * or an error message. Free with g_free(). */
gchar *letschat_protocol_quote_prefix (const gchar * text, guint max_chars);

/* Errors of this module and of the room server, one per wire error code
 * (see letschat_protocol_error_to_code()). */
#define LETSCHAT_PROTOCOL_ERROR (letschat_protocol_error_quark ())
GQuark letschat_protocol_error_quark (void);

typedef enum
{
  LETSCHAT_PROTOCOL_ERROR_BAD_REQUEST,
  LETSCHAT_PROTOCOL_ERROR_ROOM_FULL,
  LETSCHAT_PROTOCOL_ERROR_UNAUTHORIZED,
  LETSCHAT_PROTOCOL_ERROR_TOO_LARGE,
  LETSCHAT_PROTOCOL_ERROR_RATE_LIMITED,
  LETSCHAT_PROTOCOL_ERROR_NOT_JOINED,
  LETSCHAT_PROTOCOL_ERROR_ALREADY_JOINED,
  /* --redis: the node cannot reach Redis, which holds the rooms */
  LETSCHAT_PROTOCOL_ERROR_UNAVAILABLE,
} LetsChatProtocolError;

/* The wire `code` of @error, e.g. "bad-request". */
const gchar *letschat_protocol_error_to_code (LetsChatProtocolError error);

/* Who sent the text being parsed: the same `type` ("signal") has different
 * fields in each direction, and each side only accepts its peer's kinds. */
typedef enum
{
  LETSCHAT_PROTOCOL_FROM_CLIENT,
  LETSCHAT_PROTOCOL_FROM_SERVER,
} LetsChatProtocolDirection;

typedef enum
{
  LETSCHAT_MESSAGE_JOIN,
  LETSCHAT_MESSAGE_SIGNAL,
  LETSCHAT_MESSAGE_LEAVE,
  LETSCHAT_MESSAGE_WELCOME,
  LETSCHAT_MESSAGE_PEER_JOINED,
  LETSCHAT_MESSAGE_PEER_LEFT,
  LETSCHAT_MESSAGE_ERROR,
} LetsChatMessageType;

/**
 * LetsChatMessage:
 *
 * One validated message. Every pointer borrows from @root (owned by the
 * message); fields that the message kind does not have are NULL.
 */
typedef struct
{
  LetsChatMessageType type;
  JsonNode *root;

  /* join: @room is NULL for "pair me with a stranger" (absent or ""). */
  const gchar *room;
  const gchar *secret;
  const gchar *name;

  /* signal: @data is the validated "sdp"/"ice" object; @from is only set
   * in the server -> client direction. */
  JsonNode *data;
  const gchar *from;

  /* welcome: this party's @id and @room, @peers (array node),
   * @ice_servers (array node, an empty one if the server sent none).
   * join: @id, if set, is the id this party had before it lost its
   * connection, asked for again so the other party sees it return. */
  const gchar *id;
  JsonNode *peers;
  JsonNode *ice_servers;

  /* welcome (first entry of peers, if any), peer-joined, peer-left. */
  const gchar *peer_id;
  const gchar *peer_name;

  /* error */
  const gchar *code;
  const gchar *message;
} LetsChatMessage;

/* Parses and validates one text frame. On failure returns NULL and sets
 * @error to LETSCHAT_PROTOCOL_ERROR_BAD_REQUEST with a sentence for people
 * saying what is wrong. */
LetsChatMessage *letschat_message_parse (const gchar * text, gssize length,
    LetsChatProtocolDirection direction, GError ** error);
/* The same with a parser kept for many messages (the room server's):
 * making one per message is a good part of the cost of a small one. */
LetsChatMessage *letschat_message_parse_with (JsonParser * parser,
    const gchar * text, gssize length, LetsChatProtocolDirection direction,
    GError ** error);
void letschat_message_free (LetsChatMessage * message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LetsChatMessage, letschat_message_free);

/* TRUE if @data is a valid `signal.data` node: an object holding exactly
 * one member, "sdp" ({type: offer|answer, sdp: string}) or "ice" (null or
 * {candidate: string, sdpMLineIndex: int >= 0, sdpMid?: string|null}). */
gboolean letschat_protocol_signal_data_is_valid (JsonNode * data,
    GError ** error);

/* Builders: each returns one serialized message (a text frame), free with
 * g_free(). NULL arguments are left out (or sent as null where the
 * protocol requires the field). */
gchar *letschat_protocol_build_join_as (const gchar * room,
    const gchar * secret, const gchar * name, const gchar * id);
gchar *letschat_protocol_build_join (const gchar * room, const gchar * secret,
    const gchar * name);
gchar *letschat_protocol_build_signal (const gchar * from, JsonNode * data);
/* The same, appended to @text with a generator kept for many messages. */
void letschat_protocol_append_signal (GString * text,
    JsonGenerator * generator, const gchar * from, JsonNode * data);
gchar *letschat_protocol_build_leave (void);
gchar *letschat_protocol_build_welcome (const gchar * id, const gchar * room,
    const gchar * peer_id, const gchar * peer_name, JsonNode * ice_servers);
gchar *letschat_protocol_build_peer_joined (const gchar * peer_id,
    const gchar * peer_name);
gchar *letschat_protocol_build_peer_left (const gchar * peer_id);
gchar *letschat_protocol_build_error (const gchar * code,
    const gchar * message);

/* An RTCIceServer-like object {urls, username?, credential?}. */
JsonNode *letschat_protocol_ice_server_new (const gchar * url,
    const gchar * username, const gchar * credential);

/* The other way: an ICE server as the room server is told it, browser style
 * ("stun:host:port", "turn:host:port?transport=tcp") or webrtcbin style
 * ("turn://user:pass@host:port"), as an RTCIceServer-like object. NULL
 * with @error set if it is neither. */
JsonNode *letschat_protocol_ice_server_from_uri (const gchar * uri,
    GError ** error);

/* The URIs webrtcbin takes ("stun://host:port",
 * "turn://user:pass@host:port") for an array of RTCIceServer-like objects
 * as `welcome` carries ("stun:host:port", "turn:host:port?transport=udp"
 * with username and credential); entries that are not STUN or TURN are
 * left out. NULL-terminated, free with g_strfreev(); never NULL. */
gchar **letschat_protocol_ice_servers_to_uris (JsonNode * ice_servers);

/* A TURN server as the elements' turn-servers property takes it, in the
 * form webrtcbin's add-turn-server wants: "turn://user:pass@host:port",
 * "turns://..." (TLS), each optionally with "?transport=udp|tcp";
 * browser style "turn:user:pass@host:port?transport=tcp" is taken too.
 * NULL, with an error that says how to write it, when it is none of them. */
gchar *letschat_protocol_turn_uri_for_webrtcbin (const gchar * uri,
    GError ** error);

/* Convenience for building `signal.data` from code. */
JsonNode *letschat_protocol_sdp_data_new (const gchar * type,
    const gchar * sdp);
/* @candidate NULL: end of candidates ({"ice": null}). @sdp_mid may be NULL. */
JsonNode *letschat_protocol_ice_data_new (const gchar * candidate,
    guint sdp_mline_index, const gchar * sdp_mid);

G_END_DECLS
