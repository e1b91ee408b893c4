/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

/*
 * A party among strangers (strangers=true): the room server pairs it with
 * whoever waits (a `join` without a room, docs/protocol.md), `next-stranger`
 * leaves the current stranger and queues again (Omegle's "Next"), and a
 * stranger who leaves sends the party back to the queue by itself. The
 * pipeline keeps its pads across strangers as across any change of party:
 * the peer connection is replaced, the src's pads stay (gaps meanwhile).
 * Runs on the session thread; it decides nothing about pairing (the room
 * server does) and leaves the wire protocol to the signaller.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstletschatsessionprivate.h"

#define GST_CAT_DEFAULT gst_lets_chat_session_debug

void
session_next_stranger (GstLetsChatSession * self, const gchar * reason)
{
  GstLetsChatNegotiationState *state = session_state (self);
  gchar *left = self->peer_id;
  gboolean stopped;

  GST_OBJECT_LOCK (self);
  stopped = self->stopped;
  GST_OBJECT_UNLOCK (self);
  if (stopped || !self->signaller || !self->join_sent)
    return;

  GST_INFO_OBJECT (self, "to the next stranger (%s), leaving %s", reason,
      GST_STR_NULL (left));
  /* Leave (the room server tells the stranger peer-left) and queue again,
   * back to back: the room server takes both before the stranger can ask
   * for somebody new, so this party keeps its place in line. The welcome
   * that answers is a first join (letschat/joined with the new room), not
   * a reconnection; it is handled on this thread, after what follows. */
  gst_lets_chat_signaller_stop (self->signaller);
  self->stranger_rejoin = TRUE;
  gst_lets_chat_signaller_start (self->signaller);

  session_cancel_offer_wait (self);
  self->peer_id = NULL;
  self->peer_unconfirmed = FALSE;
  session_reset_chat (self, FALSE);
  if (left)
    session_post (self, gst_structure_new ("letschat/peer-left",
            "peer-id", G_TYPE_STRING, left, NULL));
  g_free (left);
  if (state->offer_made || state->remote_set || self->pending_offer)
    session_restart_call (self, reason);
  session_start_gaps (self);
}

static gboolean
session_next_stranger_cb (gpointer data)
{
  session_next_stranger (data, "next-stranger");
  return G_SOURCE_REMOVE;
}

gboolean
gst_lets_chat_session_next_stranger (GstLetsChatSession * self, GError ** error)
{
  if (!self->settings.strangers) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_SETTINGS,
        "next-stranger only works for a party that talks to strangers: set "
        "strangers=true (and no room)");
    return FALSE;
  }
  g_main_context_invoke_full (self->context, G_PRIORITY_DEFAULT,
      session_next_stranger_cb, gst_object_ref (self), gst_object_unref);
  return TRUE;
}
