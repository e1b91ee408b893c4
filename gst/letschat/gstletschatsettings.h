/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
/* The properties letschatsink and letschatsrc share: where the room is and
 * how to reach the other party. Both elements install them through
 * gst_lets_chat_settings_install() so that names, blurbs and defaults can
 * never drift apart. */
#define GST_LETS_CHAT_DEFAULT_SERVER_URL "ws://127.0.0.1:8443/ws"
#define GST_LETS_CHAT_DEFAULT_CONNECT_TIMEOUT 10
#define GST_LETS_CHAT_DEFAULT_MEDIA_TIMEOUT 10
#define GST_LETS_CHAT_DEFAULT_STATS_INTERVAL 1000
    typedef struct
{
  gchar *server_url;
  gchar *room;
  gchar *secret;
  gchar *display_name;
  gchar *stun_server;
  GStrv turn_servers;
  gboolean serve;
  guint connect_timeout;        /* seconds */
  gboolean reconnect;
  guint media_timeout;          /* seconds, 0: off */
  gchar *tls_ca_file;
  gboolean insecure_tls;
  gchar *tls_cert_file;         /* serve=true with wss:// */
  gchar *tls_key_file;
  GObject *signaller;           /* a GstLetsChatSignaller, or NULL: the room */
  gboolean strangers;           /* no room: paired with a stranger */
  guint stats_interval;         /* ms between letschat/stats, 0: none */
  gboolean do_retransmission;   /* NACK and RTX on video */
  gboolean do_fec;              /* ULPFEC in RED on video */
} GstLetsChatSettings;

enum
{
  GST_LETS_CHAT_PROP_SERVER_URL = 1,
  GST_LETS_CHAT_PROP_ROOM,
  GST_LETS_CHAT_PROP_SECRET,
  GST_LETS_CHAT_PROP_DISPLAY_NAME,
  GST_LETS_CHAT_PROP_STUN_SERVER,
  GST_LETS_CHAT_PROP_TURN_SERVERS,
  GST_LETS_CHAT_PROP_SERVE,
  GST_LETS_CHAT_PROP_CONNECT_TIMEOUT,
  GST_LETS_CHAT_PROP_RECONNECT,
  GST_LETS_CHAT_PROP_MEDIA_TIMEOUT,
  GST_LETS_CHAT_PROP_TLS_CA_FILE,
  GST_LETS_CHAT_PROP_INSECURE_TLS,
  GST_LETS_CHAT_PROP_TLS_CERT_FILE,
  GST_LETS_CHAT_PROP_TLS_KEY_FILE,
  GST_LETS_CHAT_PROP_SIGNALLER,
  GST_LETS_CHAT_PROP_STRANGERS,
  GST_LETS_CHAT_PROP_STATS_INTERVAL,
  GST_LETS_CHAT_PROP_DO_RETRANSMISSION,
  GST_LETS_CHAT_PROP_DO_FEC,
  /* Read-only, answered by the bin from the session. */
  GST_LETS_CHAT_PROP_STATS,
  /* Element-specific properties are numbered from here. */
  GST_LETS_CHAT_PROP_LAST
};

void gst_lets_chat_settings_install (GObjectClass * klass);
void gst_lets_chat_settings_init (GstLetsChatSettings * settings);
void gst_lets_chat_settings_clear (GstLetsChatSettings * settings);
void gst_lets_chat_settings_copy (GstLetsChatSettings * dest,
    const GstLetsChatSettings * src);
/* Call with the object lock held. Return FALSE if @prop_id is not one of
 * the shared properties. */
gboolean gst_lets_chat_settings_set_property (GstLetsChatSettings * settings,
    guint prop_id, const GValue * value);
gboolean gst_lets_chat_settings_get_property (GstLetsChatSettings * settings,
    guint prop_id, GValue * value);
/* The URLs in server-url: one, or a cluster's nodes separated by commas,
 * in order, spaces around each removed. Empty ones are kept, so that the
 * check of the settings can name them. */
GStrv gst_lets_chat_settings_server_urls (const GstLetsChatSettings * settings);
/* The shared properties @mine sets that differ from @party's (which a
 * party of two elements would lose), comma-separated, or NULL. */
gchar *gst_lets_chat_settings_differences (const GstLetsChatSettings * party,
    const GstLetsChatSettings * mine);

G_END_DECLS
