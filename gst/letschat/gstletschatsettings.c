/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/*
 * The properties letschatsink and letschatsrc share (see the header): one
 * place for their names, blurbs, defaults and copies. It validates nothing
 * (GstLetsChatBin checks settings at NULL->READY) and does no I/O.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstletschatsettings.h"
#include "gstletschatsignaller.h"

/* Properties that identify the party can only change while the element is
 * stopped: a running party is one WebSocket and one peer connection. */
#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | \
    GST_PARAM_MUTABLE_READY)

void
gst_lets_chat_settings_install (GObjectClass * klass)
{
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_SERVER_URL,
      g_param_spec_string ("server-url", "Server URL",
          "WebSocket URL of the letschat room server (ws:// or wss://), or "
          "the URLs of several nodes of one cluster separated by commas "
          "(ws://node1:8443/ws,ws://node2:8443/ws): the party connects to "
          "the first that answers and, when its node goes away, moves to "
          "the next one in turn and rejoins the room as the same party "
          "while the call goes on (reconnect=true; serve=true and a "
          "letschat:// URI name a single server). A sink and a src with the "
          "same server-url and room in one pipeline are one party of the "
          "call", GST_LETS_CHAT_DEFAULT_SERVER_URL, PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_ROOM,
      g_param_spec_string ("room", "Room",
          "Name of the room to join (1 to 64 of A-Z a-z 0-9 _ . -); a room "
          "holds two parties. Required, unless strangers=true", NULL,
          PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_SECRET,
      g_param_spec_string ("secret", "Secret",
          "Room secret: the first party into an empty room sets it, later "
          "parties must present the same one", NULL, PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_DISPLAY_NAME,
      g_param_spec_string ("display-name", "Display name",
          "Name shown to the other party (at most 64 characters)", NULL,
          PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_STUN_SERVER,
      g_param_spec_string ("stun-server", "STUN server",
          "STUN server as stun://host:port. None by default, so no packet "
          "goes to any outside host unless asked; the room server's "
          "ice_servers are used when neither this nor turn-servers is set",
          NULL, PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_TURN_SERVERS,
      gst_param_spec_array ("turn-servers", "TURN servers",
          "TURN servers as turn://user:password@host:port (turns:// for "
          "TLS), optionally with ?transport=udp or ?transport=tcp (TURN over "
          "TCP, for networks that drop UDP); browser style turn:user:"
          "password@host:port is taken too, e.g. turn-servers='<\"turn://"
          "u:p@turn.example.org:3478\", \"turn://u:p@turn.example.org:3478"
          "?transport=tcp\">'. None by default: the room server's "
          "ice_servers (e.g. its short-lived TURN credentials) are used "
          "when neither this nor stun-server is set",
          g_param_spec_string ("turn-server", "TURN server",
              "A TURN server URI", NULL,
              G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS), PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_SERVE,
      g_param_spec_boolean ("serve", "Serve",
          "Host the room server in this process at the host and port of "
          "server-url, so the other party can join without a separate "
          "letschat-server", FALSE, PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_CONNECT_TIMEOUT,
      g_param_spec_uint ("connect-timeout", "Connect timeout",
          "Seconds to wait for the room server to answer before posting an "
          "error (0: wait for the operating system's own timeout)", 0, 3600,
          GST_LETS_CHAT_DEFAULT_CONNECT_TIMEOUT, PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_RECONNECT,
      g_param_spec_boolean ("reconnect", "Reconnect",
          "When the connection to the room server is lost, keep the call "
          "going and reconnect: first after 250 ms, then doubling up to "
          "every 1 s, until it answers; rejoin the room as the same party",
          TRUE, PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_TLS_CA_FILE,
      g_param_spec_string ("tls-ca-file", "TLS CA file",
          "PEM file of the certificate(s) to trust for a wss:// server-url "
          "(its self-signed certificate or private CA) instead of the "
          "system's CA store", NULL, PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_INSECURE_TLS,
      g_param_spec_boolean ("insecure-tls", "Insecure TLS",
          "Accept any certificate from a wss:// server. For tests only: "
          "anybody on the network path can then read and change the "
          "signalling (use tls-ca-file instead)", FALSE, PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_TLS_CERT_FILE,
      g_param_spec_string ("tls-cert-file", "TLS certificate file",
          "With serve=true and a wss:// server-url: the PEM certificate the "
          "hosted room server presents", NULL, PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_TLS_KEY_FILE,
      g_param_spec_string ("tls-key-file", "TLS key file",
          "With serve=true and a wss:// server-url: the PEM private key of "
          "tls-cert-file", NULL, PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_MEDIA_TIMEOUT,
      g_param_spec_uint ("media-timeout", "Media timeout",
          "Seconds without any media from the other party, after media had "
          "been flowing, before the peer connection counts as dead and a new "
          "one is negotiated through the room (0: never)", 0, 3600,
          GST_LETS_CHAT_DEFAULT_MEDIA_TIMEOUT, PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_SIGNALLER,
      g_param_spec_object ("signaller", "Signaller",
          "The application's own signalling (an object implementing "
          "GstLetsChatSignaller) instead of the letschat room server: "
          "server-url, room, secret and the TLS settings are then unused. "
          "A sink and a src with the same signaller are one party",
          GST_TYPE_LETS_CHAT_SIGNALLER, PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_STRANGERS,
      g_param_spec_boolean ("strangers", "Strangers",
          "Talk to strangers: leave room unset, and the room server pairs "
          "this party with whoever else waits (first come, first served); "
          "letschat/joined names the room it made. The next-stranger action "
          "signal leaves the current stranger for the next one, and when the "
          "stranger leaves, the party queues again by itself. The pads stay "
          "across strangers", FALSE, PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_STATS_INTERVAL,
      g_param_spec_uint ("stats-interval", "Statistics interval",
          "Milliseconds between two letschat/stats messages on the bus, each "
          "a copy of the stats property (0: none; the stats property is "
          "then refreshed every second)", 0, 3600000,
          GST_LETS_CHAT_DEFAULT_STATS_INTERVAL, PARAM_FLAGS));
  g_object_class_install_property (klass,
      GST_LETS_CHAT_PROP_DO_RETRANSMISSION,
      g_param_spec_boolean ("do-retransmission", "Do retransmission",
          "Offer and answer NACK and RTX on video: the receiver asks for "
          "lost packets again and the sender resends them (a party's sink "
          "and src share it)", TRUE, PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_DO_FEC,
      g_param_spec_boolean ("do-fec", "Do FEC",
          "Offer and answer forward error correction on video (ULPFEC "
          "packets in RED, about 10 % more bits): a lost packet can be "
          "rebuilt without asking for it again, at the cost of a little "
          "picture. Off by default: at 3 % and 10 % random loss it did not "
          "decode more frames than retransmission alone (docs/networks.md). "
          "A party's sink and src share it", FALSE, PARAM_FLAGS));
  g_object_class_install_property (klass, GST_LETS_CHAT_PROP_STATS,
      g_param_spec_boxed ("stats", "Statistics",
          "The call's quality, refreshed every stats-interval ms: per stream "
          "(send-video, send-audio, receive-video, receive-audio) its codec, "
          "ssrc, width, height, frames, frame-rate, packets, bytes, bitrate "
          "(bit/s), packets-lost, fraction-lost, jitter (s), nacks, plis, "
          "firs, retransmitted-packets (and round-trip-time when sending); "
          "for the call round-trip-time (s), target-bitrate and "
          "available-bandwidth (bit/s, what the congestion control aims at "
          "and estimates), local-/remote-candidate-type (host, srflx, prflx, "
          "relay), local-/remote-address and candidate-protocol (udp, tcp) "
          "of the selected candidate pair, receive-latency (ms, the "
          "receiving jitter buffers' latency, see max-latency), remb-bitrate "
          "(bit/s, what letschat, receiving, last told in a REMB a sender "
          "that asked for REMB and not transport-cc; 0: none). See "
          "docs/stats.md",
          GST_TYPE_STRUCTURE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
}

/* A cluster's nodes are a comma-separated list in server-url rather than a
 * property of their own (server-urls): a gst-launch line stays short, a
 * sink and a src still find each other by one string, and what takes one
 * server (serve=true, the letschat:// URI) keeps its one property; a comma
 * cannot appear in a ws:// URL's host or port anyway. */
GStrv
gst_lets_chat_settings_server_urls (const GstLetsChatSettings * s)
{
  gchar **urls = g_strsplit (s->server_url, ",", -1);
  gchar **u;

  for (u = urls; *u; u++)
    g_strstrip (*u);
  return urls;
}

void
gst_lets_chat_settings_init (GstLetsChatSettings * s)
{
  memset (s, 0, sizeof (*s));
  s->server_url = g_strdup (GST_LETS_CHAT_DEFAULT_SERVER_URL);
  s->connect_timeout = GST_LETS_CHAT_DEFAULT_CONNECT_TIMEOUT;
  s->reconnect = TRUE;
  s->media_timeout = GST_LETS_CHAT_DEFAULT_MEDIA_TIMEOUT;
  s->stats_interval = GST_LETS_CHAT_DEFAULT_STATS_INTERVAL;
  s->do_retransmission = TRUE;
}

void
gst_lets_chat_settings_clear (GstLetsChatSettings * s)
{
  g_clear_pointer (&s->server_url, g_free);
  g_clear_pointer (&s->room, g_free);
  g_clear_pointer (&s->secret, g_free);
  g_clear_pointer (&s->display_name, g_free);
  g_clear_pointer (&s->stun_server, g_free);
  g_clear_pointer (&s->turn_servers, g_strfreev);
  g_clear_pointer (&s->tls_ca_file, g_free);
  g_clear_pointer (&s->tls_cert_file, g_free);
  g_clear_pointer (&s->tls_key_file, g_free);
  g_clear_object (&s->signaller);
}

void
gst_lets_chat_settings_copy (GstLetsChatSettings * dest,
    const GstLetsChatSettings * src)
{
  gst_lets_chat_settings_clear (dest);
  *dest = *src;
  dest->server_url = g_strdup (src->server_url);
  dest->room = g_strdup (src->room);
  dest->secret = g_strdup (src->secret);
  dest->display_name = g_strdup (src->display_name);
  dest->stun_server = g_strdup (src->stun_server);
  dest->turn_servers = g_strdupv (src->turn_servers);
  dest->tls_ca_file = g_strdup (src->tls_ca_file);
  dest->tls_cert_file = g_strdup (src->tls_cert_file);
  dest->tls_key_file = g_strdup (src->tls_key_file);
  dest->signaller = src->signaller ? g_object_ref (src->signaller) : NULL;
}

static void
replace_string (gchar ** field, const GValue * value)
{
  g_free (*field);
  *field = g_value_dup_string (value);
}

gboolean
gst_lets_chat_settings_set_property (GstLetsChatSettings * s, guint prop_id,
    const GValue * value)
{
  switch (prop_id) {
    case GST_LETS_CHAT_PROP_SERVER_URL:
      replace_string (&s->server_url, value);
      if (!s->server_url)
        s->server_url = g_strdup (GST_LETS_CHAT_DEFAULT_SERVER_URL);
      break;
    case GST_LETS_CHAT_PROP_ROOM:
      replace_string (&s->room, value);
      break;
    case GST_LETS_CHAT_PROP_SECRET:
      replace_string (&s->secret, value);
      break;
    case GST_LETS_CHAT_PROP_DISPLAY_NAME:
      replace_string (&s->display_name, value);
      break;
    case GST_LETS_CHAT_PROP_STUN_SERVER:
      replace_string (&s->stun_server, value);
      break;
    case GST_LETS_CHAT_PROP_TURN_SERVERS:{
      guint i, n = gst_value_array_get_size (value);

      g_strfreev (s->turn_servers);
      s->turn_servers = g_new0 (gchar *, n + 1);
      for (i = 0; i < n; i++)
        s->turn_servers[i] =
            g_value_dup_string (gst_value_array_get_value (value, i));
      break;
    }
    case GST_LETS_CHAT_PROP_SERVE:
      s->serve = g_value_get_boolean (value);
      break;
    case GST_LETS_CHAT_PROP_CONNECT_TIMEOUT:
      s->connect_timeout = g_value_get_uint (value);
      break;
    case GST_LETS_CHAT_PROP_RECONNECT:
      s->reconnect = g_value_get_boolean (value);
      break;
    case GST_LETS_CHAT_PROP_MEDIA_TIMEOUT:
      s->media_timeout = g_value_get_uint (value);
      break;
    case GST_LETS_CHAT_PROP_TLS_CA_FILE:
      replace_string (&s->tls_ca_file, value);
      break;
    case GST_LETS_CHAT_PROP_INSECURE_TLS:
      s->insecure_tls = g_value_get_boolean (value);
      break;
    case GST_LETS_CHAT_PROP_TLS_CERT_FILE:
      replace_string (&s->tls_cert_file, value);
      break;
    case GST_LETS_CHAT_PROP_TLS_KEY_FILE:
      replace_string (&s->tls_key_file, value);
      break;
    case GST_LETS_CHAT_PROP_SIGNALLER:
      g_clear_object (&s->signaller);
      s->signaller = g_value_dup_object (value);
      break;
    case GST_LETS_CHAT_PROP_STRANGERS:
      s->strangers = g_value_get_boolean (value);
      break;
    case GST_LETS_CHAT_PROP_STATS_INTERVAL:
      s->stats_interval = g_value_get_uint (value);
      break;
    case GST_LETS_CHAT_PROP_DO_RETRANSMISSION:
      s->do_retransmission = g_value_get_boolean (value);
      break;
    case GST_LETS_CHAT_PROP_DO_FEC:
      s->do_fec = g_value_get_boolean (value);
      break;
    default:
      return FALSE;
  }
  return TRUE;
}

gboolean
gst_lets_chat_settings_get_property (GstLetsChatSettings * s, guint prop_id,
    GValue * value)
{
  switch (prop_id) {
    case GST_LETS_CHAT_PROP_SERVER_URL:
      g_value_set_string (value, s->server_url);
      break;
    case GST_LETS_CHAT_PROP_ROOM:
      g_value_set_string (value, s->room);
      break;
    case GST_LETS_CHAT_PROP_SECRET:
      g_value_set_string (value, s->secret);
      break;
    case GST_LETS_CHAT_PROP_DISPLAY_NAME:
      g_value_set_string (value, s->display_name);
      break;
    case GST_LETS_CHAT_PROP_STUN_SERVER:
      g_value_set_string (value, s->stun_server);
      break;
    case GST_LETS_CHAT_PROP_TURN_SERVERS:{
      gchar **t;

      for (t = s->turn_servers; t && *t; t++) {
        GValue v = G_VALUE_INIT;

        g_value_init (&v, G_TYPE_STRING);
        g_value_set_string (&v, *t);
        gst_value_array_append_and_take_value (value, &v);
      }
      break;
    }
    case GST_LETS_CHAT_PROP_SERVE:
      g_value_set_boolean (value, s->serve);
      break;
    case GST_LETS_CHAT_PROP_CONNECT_TIMEOUT:
      g_value_set_uint (value, s->connect_timeout);
      break;
    case GST_LETS_CHAT_PROP_RECONNECT:
      g_value_set_boolean (value, s->reconnect);
      break;
    case GST_LETS_CHAT_PROP_MEDIA_TIMEOUT:
      g_value_set_uint (value, s->media_timeout);
      break;
    case GST_LETS_CHAT_PROP_TLS_CA_FILE:
      g_value_set_string (value, s->tls_ca_file);
      break;
    case GST_LETS_CHAT_PROP_INSECURE_TLS:
      g_value_set_boolean (value, s->insecure_tls);
      break;
    case GST_LETS_CHAT_PROP_TLS_CERT_FILE:
      g_value_set_string (value, s->tls_cert_file);
      break;
    case GST_LETS_CHAT_PROP_TLS_KEY_FILE:
      g_value_set_string (value, s->tls_key_file);
      break;
    case GST_LETS_CHAT_PROP_SIGNALLER:
      g_value_set_object (value, s->signaller);
      break;
    case GST_LETS_CHAT_PROP_STRANGERS:
      g_value_set_boolean (value, s->strangers);
      break;
    case GST_LETS_CHAT_PROP_STATS_INTERVAL:
      g_value_set_uint (value, s->stats_interval);
      break;
    case GST_LETS_CHAT_PROP_DO_RETRANSMISSION:
      g_value_set_boolean (value, s->do_retransmission);
      break;
    case GST_LETS_CHAT_PROP_DO_FEC:
      g_value_set_boolean (value, s->do_fec);
      break;
    default:
      return FALSE;
  }
  return TRUE;
}

/* Names of the properties @mine sets (to something else than the default)
 * that differ from @party's, as a user would write them ("display-name,
 * secret"), or NULL: values the party would silently lose. A property
 * left at its default on @mine loses nothing (serve=true on the sink
 * only, say). server-url, room and signaller are not compared: they are
 * what makes two elements one party. */
gchar *
gst_lets_chat_settings_differences (const GstLetsChatSettings * party,
    const GstLetsChatSettings * mine)
{
  GstLetsChatSettings def;
  GString *names = g_string_new (NULL);
  gchar *party_turn = party->turn_servers ?
      g_strjoinv (" ", party->turn_servers) : NULL;
  gchar *my_turn = mine->turn_servers && mine->turn_servers[0] ?
      g_strjoinv (" ", mine->turn_servers) : NULL;

  gst_lets_chat_settings_init (&def);
#define LOST(field, differ, name) \
  if (differ (mine->field, def.field) && differ (mine->field, party->field)) \
    g_string_append_printf (names, "%s%s", names->len ? ", " : "", name)
#define STR_DIFFER(a, b) (g_strcmp0 (a, b) != 0)
#define VAL_DIFFER(a, b) ((a) != (b))
  LOST (secret, STR_DIFFER, "secret");
  LOST (display_name, STR_DIFFER, "display-name");
  LOST (stun_server, STR_DIFFER, "stun-server");
  if (my_turn && g_strcmp0 (my_turn, party_turn))
    g_string_append_printf (names, "%s%s", names->len ? ", " : "",
        "turn-servers");
  LOST (serve, VAL_DIFFER, "serve");
  LOST (connect_timeout, VAL_DIFFER, "connect-timeout");
  LOST (reconnect, VAL_DIFFER, "reconnect");
  LOST (media_timeout, VAL_DIFFER, "media-timeout");
  LOST (tls_ca_file, STR_DIFFER, "tls-ca-file");
  LOST (insecure_tls, VAL_DIFFER, "insecure-tls");
  LOST (stats_interval, VAL_DIFFER, "stats-interval");
  LOST (do_retransmission, VAL_DIFFER, "do-retransmission");
  LOST (do_fec, VAL_DIFFER, "do-fec");
#undef LOST
#undef STR_DIFFER
#undef VAL_DIFFER
  gst_lets_chat_settings_clear (&def);
  g_free (party_turn);
  g_free (my_turn);
  return g_string_free (names, names->len == 0);
}
