/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * The signalling interface (see the header): its methods and signals, and
 * nothing of any wire protocol.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstletschatsignaller.h"

G_DEFINE_INTERFACE (GstLetsChatSignaller, gst_lets_chat_signaller,
    G_TYPE_OBJECT);

enum
{
  SIGNAL_JOINED,
  SIGNAL_PEER_JOINED,
  SIGNAL_PEER_LEFT,
  SIGNAL_DESCRIPTION,
  SIGNAL_CANDIDATE,
  SIGNAL_SERVER_LOST,
  SIGNAL_ERROR,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
gst_lets_chat_signaller_default_init (GstLetsChatSignallerInterface * iface)
{
  GType type = G_TYPE_FROM_INTERFACE (iface);

  signals[SIGNAL_JOINED] = g_signal_new ("joined", type, G_SIGNAL_RUN_LAST, 0,
      NULL, NULL, NULL, G_TYPE_NONE, 6, G_TYPE_STRING, G_TYPE_STRING,
      G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRV, G_TYPE_BOOLEAN);
  signals[SIGNAL_PEER_JOINED] = g_signal_new ("peer-joined", type,
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING,
      G_TYPE_STRING);
  signals[SIGNAL_PEER_LEFT] = g_signal_new ("peer-left", type,
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_DESCRIPTION] = g_signal_new ("description", type,
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING,
      G_TYPE_STRING);
  signals[SIGNAL_CANDIDATE] = g_signal_new ("candidate", type,
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_UINT,
      G_TYPE_STRING);
  signals[SIGNAL_SERVER_LOST] = g_signal_new ("server-lost", type,
      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_ERROR] = g_signal_new ("error", type, G_SIGNAL_RUN_LAST, 0,
      NULL, NULL, NULL, G_TYPE_NONE, 3, G_TYPE_BOOLEAN, G_TYPE_ERROR,
      G_TYPE_STRING);
}

void
gst_lets_chat_signaller_start (GstLetsChatSignaller * self)
{
  GST_LETS_CHAT_SIGNALLER_GET_IFACE (self)->start (self);
}

void
gst_lets_chat_signaller_stop (GstLetsChatSignaller * self)
{
  GST_LETS_CHAT_SIGNALLER_GET_IFACE (self)->stop (self);
}

void
gst_lets_chat_signaller_send_description (GstLetsChatSignaller * self,
    const gchar * type, const gchar * sdp)
{
  GST_LETS_CHAT_SIGNALLER_GET_IFACE (self)->send_description (self, type, sdp);
}

void
gst_lets_chat_signaller_send_candidate (GstLetsChatSignaller * self,
    guint mline, const gchar * mid, const gchar * candidate)
{
  GST_LETS_CHAT_SIGNALLER_GET_IFACE (self)->send_candidate (self, mline, mid,
      candidate);
}

void
gst_lets_chat_signaller_joined (GstLetsChatSignaller * self, const gchar * id,
    const gchar * room, const gchar * peer_id, const gchar * peer_name,
    gchar ** ice_server_uris, gboolean again)
{
  g_signal_emit (self, signals[SIGNAL_JOINED], 0, id, room, peer_id,
      peer_name, ice_server_uris, again);
}

void
gst_lets_chat_signaller_peer_joined (GstLetsChatSignaller * self,
    const gchar * peer_id, const gchar * peer_name)
{
  g_signal_emit (self, signals[SIGNAL_PEER_JOINED], 0, peer_id, peer_name);
}

void
gst_lets_chat_signaller_peer_left (GstLetsChatSignaller * self,
    const gchar * peer_id)
{
  g_signal_emit (self, signals[SIGNAL_PEER_LEFT], 0, peer_id);
}

void
gst_lets_chat_signaller_description (GstLetsChatSignaller * self,
    const gchar * type, const gchar * sdp)
{
  g_signal_emit (self, signals[SIGNAL_DESCRIPTION], 0, type, sdp);
}

void
gst_lets_chat_signaller_candidate (GstLetsChatSignaller * self, guint mline,
    const gchar * candidate)
{
  g_signal_emit (self, signals[SIGNAL_CANDIDATE], 0, mline, candidate);
}

void
gst_lets_chat_signaller_server_lost (GstLetsChatSignaller * self,
    const gchar * reason)
{
  g_signal_emit (self, signals[SIGNAL_SERVER_LOST], 0, reason);
}

void
gst_lets_chat_signaller_error (GstLetsChatSignaller * self, gboolean fatal,
    GError * error, const gchar * debug)
{
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, fatal, error, debug);
}
