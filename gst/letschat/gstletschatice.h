/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

G_BEGIN_DECLS

/* What ICE found on one peer connection, counted on the session thread:
 * candidates by type (host, srflx, prflx, relay), ours and the other
 * party's. */
    typedef struct
{
  guint local[4];
  guint remote[4];
  gboolean pair_reported;       /* letschat/candidate-pair posted */
} GstLetsChatIceTally;

void gst_lets_chat_ice_tally_add (GstLetsChatIceTally * tally,
    const gchar * candidate, gboolean local);

/* The TURN servers this party uses: its own turn-servers when it set any
 * STUN or TURN server, else the room server's (webrtcbin URIs, with
 * credentials). A new array, maybe empty. */
gchar **gst_lets_chat_ice_turn_uris_in_use (gchar ** user_turn_servers,
    const gchar * user_stun_server, gchar ** server_ice_uris);

/* A warning's text when gathering ended without a relay candidate although
 * @turn_uris were given: which servers, and what to check. Names hosts,
 * ports and transports, never a credential. */
gchar *gst_lets_chat_ice_no_relay_text (gchar ** turn_uris);

/* A warning's text for an ICE failure: what was tried, and what to do. */
gchar *gst_lets_chat_ice_failure_text (const GstLetsChatIceTally * tally,
    gchar ** turn_uris, const gchar * peer);

/* From webrtcbin's get-stats reply: a "letschat/candidate-pair" structure
 * naming the pair the call uses (local-type, remote-type: host, srflx,
 * prflx or relay; local-address, local-port, remote-address, remote-port,
 * protocol: udp or tcp; relay-protocol: udp, tcp or tls when local-type is
 * relay), or NULL when no pair is selected yet. */
GstStructure *gst_lets_chat_ice_selected_pair (const GstStructure * stats);

G_END_DECLS
