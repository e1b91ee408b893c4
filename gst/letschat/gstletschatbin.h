/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include "gstletschatsession.h"
#include "gstletschatsettings.h"

G_BEGIN_DECLS
/* GstLetsChatBin: what letschatsink and letschatsrc share, once. The
 * properties of the room (gstletschatsettings.c), the party's session from
 * NULL->READY to READY->NULL, the room joined at READY->PAUSED and left at
 * PAUSED->READY, the chat signals, and the filter that keeps a peer
 * connection's errors from ending the pipeline (handle_message).
 *
 * Abstract: the subclasses say which part of the party they are (role) and
 * add their pads and chains in the hooks below. */
#define GST_TYPE_LETS_CHAT_BIN (gst_lets_chat_bin_get_type ())
G_DECLARE_DERIVABLE_TYPE (GstLetsChatBin, gst_lets_chat_bin, GST,
    LETS_CHAT_BIN, GstBin);

struct _GstLetsChatBinClass
{
  GstBinClass parent_class;

  GstLetsChatRole role;
  /* For GST_LETS_CHAT_ROLE_SRC: how the session hands it streams. */
  const GstLetsChatReceiverFuncs *receiver;

  /* NULL->READY, the session acquired: FALSE fails the state change. */
    gboolean (*started) (GstLetsChatBin * self);
  /* READY->PAUSED, just before the party may join the room. */
  void (*joining) (GstLetsChatBin * self);
  /* READY->NULL, before and after the session is released. */
  void (*stopping) (GstLetsChatBin * self);
  void (*stopped) (GstLetsChatBin * self);
};

/* The party's session between NULL->READY and READY->NULL, else NULL. For
 * the element's own streaming and state-change code. */
GstLetsChatSession *gst_lets_chat_bin_get_session (GstLetsChatBin * self);

/* With the object lock held: FALSE (and a warning) if @pspec cannot be
 * changed in the element's current state (GST_PARAM_MUTABLE_READY). */
gboolean gst_lets_chat_bin_can_set_property (GstLetsChatBin * self,
    GParamSpec * pspec);

/* GstURIHandler for both elements (see gstletschaturi.h): a letschat://
 * URI sets server-url, room, secret and display-name, in NULL or READY. */
void gst_lets_chat_bin_uri_handler_init (GstURIHandlerInterface * iface,
    GstURIType type);

/* In class_init: adds the "Bus-messages" and "Signal-parameters" lines of
 * gst-inspect-1.0's Factory Details (the room's messages, then
 * @own_messages, a NULL-terminated list), since gst-inspect-1.0 shows
 * neither bus messages nor the names of a signal's parameters. */
void gst_lets_chat_bin_class_add_manual (GstElementClass * klass,
    const gchar * const *own_messages);

G_END_DECLS
