/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS
/* GstLetsChatSignaller: how a party finds the other party and exchanges
 * descriptions and candidates with it. The elements never know the wire
 * protocol: the letschat room protocol (GstLetsChatRoom, the default) is
 * one implementation; an application can give the elements its own through
 * their `signaller` property (as gst-plugins-rs's Signallable).
 *
 * The session calls the methods on its own thread, and the signaller emits
 * its signals on the main context that was the thread's default when
 * start() was called (the session's): never from another thread.
 *
 *   session --start/stop/send-description/send-candidate--> signaller
 *   session <--joined/peer-joined/peer-left/description/candidate/error--
 *
 * Roles follow the letschat protocol: the party whose "joined" names a
 * peer (the second to arrive) offers; the other waits for the offer. */
#define GST_TYPE_LETS_CHAT_SIGNALLER (gst_lets_chat_signaller_get_type ())
G_DECLARE_INTERFACE (GstLetsChatSignaller, gst_lets_chat_signaller, GST,
    LETS_CHAT_SIGNALLER, GObject);

struct _GstLetsChatSignallerInterface
{
  GTypeInterface parent_iface;

  /* Connect and join; "joined" (or "error") follows. */
  void (*start) (GstLetsChatSignaller * self);
  /* Leave; no more signals after it returns. */
  void (*stop) (GstLetsChatSignaller * self);
  /* @type: "offer" or "answer". */
  void (*send_description) (GstLetsChatSignaller * self, const gchar * type,
      const gchar * sdp);
  /* @candidate NULL: the end of candidates. @mid may be NULL. */
  void (*send_candidate) (GstLetsChatSignaller * self, guint mline,
      const gchar * mid, const gchar * candidate);
};

/* Signals (G_SIGNAL_RUN_LAST, no return value):
 * - "joined" (const gchar *id, const gchar *room, const gchar *peer_id or
 *   NULL, const gchar *peer_name, GStrv ice_server_uris, gboolean again):
 *   in the room (again: back after losing the server); @ice_server_uris
 *   as webrtcbin takes them (stun://, turn://user:pass@...).
 * - "peer-joined" (const gchar *peer_id, const gchar *peer_name)
 * - "peer-left" (const gchar *peer_id)
 * - "description" (const gchar *type, const gchar *sdp)
 * - "candidate" (guint mline, const gchar *candidate)
 * - "server-lost" (const gchar *reason): the signalling went away; the
 *   signaller tries to come back on its own.
 * - "error" (gboolean fatal, GError *error, const gchar *debug): a problem
 *   for the user, in a sentence that says what to do (GST_RESOURCE_ERROR
 *   codes); fatal: the party cannot go on (it could not join). */

void gst_lets_chat_signaller_start (GstLetsChatSignaller * self);
void gst_lets_chat_signaller_stop (GstLetsChatSignaller * self);
void gst_lets_chat_signaller_send_description (GstLetsChatSignaller * self,
    const gchar * type, const gchar * sdp);
void gst_lets_chat_signaller_send_candidate (GstLetsChatSignaller * self,
    guint mline, const gchar * mid, const gchar * candidate);

/* For implementations: emit the signals above. */
void gst_lets_chat_signaller_joined (GstLetsChatSignaller * self,
    const gchar * id, const gchar * room, const gchar * peer_id,
    const gchar * peer_name, gchar ** ice_server_uris, gboolean again);
void gst_lets_chat_signaller_peer_joined (GstLetsChatSignaller * self,
    const gchar * peer_id, const gchar * peer_name);
void gst_lets_chat_signaller_peer_left (GstLetsChatSignaller * self,
    const gchar * peer_id);
void gst_lets_chat_signaller_description (GstLetsChatSignaller * self,
    const gchar * type, const gchar * sdp);
void gst_lets_chat_signaller_candidate (GstLetsChatSignaller * self,
    guint mline, const gchar * candidate);
void gst_lets_chat_signaller_server_lost (GstLetsChatSignaller * self,
    const gchar * reason);
/* @fatal: the party cannot go on (it could not join). */
void gst_lets_chat_signaller_error (GstLetsChatSignaller * self,
    gboolean fatal, GError * error, const gchar * debug);

G_END_DECLS
