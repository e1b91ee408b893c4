/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * ICE in words: which candidate pair a call uses (from webrtcbin's stats)
 * and, when no path between the parties works or a TURN server gives no
 * relay, a sentence that says why and what to do. libnice does not tell
 * why a TURN allocation failed, so the texts name what can be known: the
 * servers tried, the candidates seen on both sides, and whether the room
 * server's short-lived credentials had already expired. It posts nothing
 * (the session does) and holds no state but the tally it is handed.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstletschatice.h"
#include "letschat-protocol.h"
#include "letschat-turn-credentials.h"

#include <gst/webrtc/webrtc.h>
#include <string.h>

static const gchar *candidate_types[] = { "host", "srflx", "prflx", "relay" };

void
gst_lets_chat_ice_tally_add (GstLetsChatIceTally * tally,
    const gchar * candidate, gboolean local)
{
  const gchar *typ = candidate ? strstr (candidate, " typ ") : NULL;
  guint i;

  if (typ == NULL)
    return;
  typ += strlen (" typ ");
  for (i = 0; i < G_N_ELEMENTS (candidate_types); i++) {
    gsize len = strlen (candidate_types[i]);

    if (strncmp (typ, candidate_types[i], len) == 0
        && (typ[len] == ' ' || typ[len] == '\0')) {
      (local ? tally->local : tally->remote)[i]++;
      return;
    }
  }
}

gchar **
gst_lets_chat_ice_turn_uris_in_use (gchar ** user_turn_servers,
    const gchar * user_stun_server, gchar ** server_ice_uris)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  gboolean user_set = user_stun_server || (user_turn_servers
      && user_turn_servers[0]);
  gchar **t;
  gchar **out;

  for (t = user_set ? user_turn_servers : server_ice_uris; t && *t; t++) {
    /* as webrtcbin took it (browser style turn: gets its "//") */
    gchar *uri = letschat_protocol_turn_uri_for_webrtcbin (*t, NULL);

    if (uri)
      g_strv_builder_add (builder, uri);
    g_free (uri);
  }
  out = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return out;
}

/* "turn:host:port?transport=tcp": a TURN URI without its credentials. */
static gchar *
turn_uri_public (const gchar * uri, gint64 * expiry)
{
  g_autoptr (GUri) parsed = g_uri_parse (uri, G_URI_FLAGS_HAS_PASSWORD, NULL);

  *expiry = -1;
  if (parsed == NULL || g_uri_get_host (parsed) == NULL)
    return g_strdup ("(an invalid TURN URI)");
  *expiry = letschat_turn_credentials_expiry (g_uri_get_user (parsed));
  return g_strdup_printf ("%s:%s:%d%s%s", g_uri_get_scheme (parsed),
      g_uri_get_host (parsed), g_uri_get_port (parsed) > 0 ?
      g_uri_get_port (parsed) : 3478, g_uri_get_query (parsed) ? "?" : "",
      g_uri_get_query (parsed) ? g_uri_get_query (parsed) : "");
}

/* The servers, comma-separated; @expired_ago set to how many seconds ago
 * the first expired REST credentials ran out, or -1. */
static gchar *
turn_uris_text (gchar ** turn_uris, gint64 * expired_ago)
{
  GString *text = g_string_new (NULL);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gchar **t;

  *expired_ago = -1;
  for (t = turn_uris; t && *t; t++) {
    gint64 expiry;
    g_autofree gchar *uri = turn_uri_public (*t, &expiry);

    g_string_append_printf (text, "%s%s", text->len ? ", " : "", uri);
    if (expiry >= 0 && expiry < now && *expired_ago < 0)
      *expired_ago = now - expiry;
  }
  return g_string_free (text, FALSE);
}

gchar *
gst_lets_chat_ice_no_relay_text (gchar ** turn_uris)
{
  gint64 expired_ago;
  g_autofree gchar *servers = turn_uris_text (turn_uris, &expired_ago);

  if (expired_ago >= 0)
    return g_strdup_printf ("The TURN server (%s) gave no relay address: the "
        "credentials the room server handed out expired %" G_GINT64_FORMAT
        " s ago, and the TURN server refuses expired credentials. Check the "
        "clocks of the room server, the TURN server and this machine, and "
        "give letschat-server a longer --turn-ttl. Calls that need a relay "
        "will fail.", servers, expired_ago);
  return g_strdup_printf ("The TURN server (%s) gave no relay address: it "
      "refused the credentials or could not be reached. Check that its "
      "shared secret (static-auth-secret) matches letschat-server's "
      "--turn-secret, or the user and password in turn-servers, and that "
      "its port is open for this transport. Calls that need a relay will "
      "fail.", servers);
}

gchar *
gst_lets_chat_ice_failure_text (const GstLetsChatIceTally * tally,
    gchar ** turn_uris, const gchar * peer)
{
  guint n_local = 0, n_remote = 0, i;
  gint64 expired_ago;
  g_autofree gchar *servers = turn_uris_text (turn_uris, &expired_ago);
  g_autofree gchar *tried = NULL;

  for (i = 0; i < G_N_ELEMENTS (candidate_types); i++) {
    n_local += tally->local[i];
    n_remote += tally->remote[i];
  }
  tried = g_strdup_printf ("%u local candidates (%u relayed) and %u of "
      "theirs (%u relayed)", n_local, tally->local[3], n_remote,
      tally->remote[3]);

  if (turn_uris == NULL || turn_uris[0] == NULL)
    return g_strdup_printf ("No network path to %s worked (ICE failed after "
        "trying %s) and no TURN server was given. Parties behind NATs or "
        "firewalls that block direct UDP need a relay: run a TURN server "
        "and give it to letschat-server (--turn-secret, --turn-uri) or to "
        "both parties (turn-servers). The call starts over.", peer, tried);
  if (tally->local[3] == 0 && tally->remote[3] == 0)
    return g_strdup_printf ("No network path to %s worked (ICE failed after "
        "trying %s): the TURN server (%s) gave neither party a relay "
        "address. %s The call starts over.", peer, tried, servers,
        expired_ago >= 0 ? "Its credentials from the room server had "
        "expired: check the clocks and --turn-ttl." : "Check that it is "
        "reachable from both parties and accepts their credentials.");
  return g_strdup_printf ("No network path to %s worked (ICE failed after "
      "trying %s), not even through the TURN server (%s). Check that the "
      "TURN server can reach both parties' relay addresses (its "
      "relay-ip, min-port..max-port open in its firewall). The call starts "
      "over.", peer, tried, servers);
}

/* Field @field of the stats entry named @id, as a string; NULL if
 * missing. */
static const gchar *
stats_string (const GstStructure * stats, const gchar * id, const gchar * field)
{
  const GValue *v = id ? gst_structure_get_value (stats, id) : NULL;

  if (v == NULL || !GST_VALUE_HOLDS_STRUCTURE (v))
    return NULL;
  return gst_structure_get_string (gst_value_get_structure (v), field);
}

static guint
stats_uint (const GstStructure * stats, const gchar * id, const gchar * field)
{
  const GValue *v = id ? gst_structure_get_value (stats, id) : NULL;
  guint value = 0;

  if (v && GST_VALUE_HOLDS_STRUCTURE (v))
    gst_structure_get_uint (gst_value_get_structure (v), field, &value);
  return value;
}

GstStructure *
gst_lets_chat_ice_selected_pair (const GstStructure * stats)
{
  guint i, n = gst_structure_n_fields (stats);

  for (i = 0; i < n; i++) {
    const gchar *name = gst_structure_nth_field_name (stats, i);
    const GValue *v = gst_structure_get_value (stats, name);
    const GstStructure *pair;
    GstWebRTCStatsType type;
    const gchar *local, *remote, *relay_protocol;
    GstStructure *out;

    if (!GST_VALUE_HOLDS_STRUCTURE (v))
      continue;
    pair = gst_value_get_structure (v);
    if (!gst_structure_get (pair, "type", GST_TYPE_WEBRTC_STATS_TYPE, &type,
            NULL) || type != GST_WEBRTC_STATS_CANDIDATE_PAIR)
      continue;
    local = gst_structure_get_string (pair, "local-candidate-id");
    remote = gst_structure_get_string (pair, "remote-candidate-id");
    if (!local || !remote || !stats_string (stats, local, "candidate-type"))
      continue;

    out = gst_structure_new ("letschat/candidate-pair",
        "local-type", G_TYPE_STRING,
        stats_string (stats, local, "candidate-type"),
        "remote-type", G_TYPE_STRING,
        GST_STR_NULL (stats_string (stats, remote, "candidate-type")),
        "local-address", G_TYPE_STRING,
        GST_STR_NULL (stats_string (stats, local, "address")),
        "local-port", G_TYPE_UINT, stats_uint (stats, local, "port"),
        "remote-address", G_TYPE_STRING,
        GST_STR_NULL (stats_string (stats, remote, "address")),
        "remote-port", G_TYPE_UINT, stats_uint (stats, remote, "port"),
        "protocol", G_TYPE_STRING,
        GST_STR_NULL (stats_string (stats, local, "protocol")), NULL);
    relay_protocol = stats_string (stats, local, "relay-protocol");
    /* libnice says "none" when it does not know */
    if (relay_protocol && g_strcmp0 (relay_protocol, "none") != 0)
      gst_structure_set (out, "relay-protocol", G_TYPE_STRING, relay_protocol,
          NULL);
    return out;
  }
  return NULL;
}
