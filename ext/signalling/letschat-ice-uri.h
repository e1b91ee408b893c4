/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* An example of each form, for error messages. */
#define LETSCHAT_ICE_URI_EXAMPLES "stun:stun.example.org:3478 or " \
    "turn://user:pass@turn.example.org:3478"

/* Checks that @uri names a STUN or TURN server a party could use:
 * stun:/stuns:/turn:/turns:, then HOST[:PORT] (browser style) or
 * //[USER:PASS@]HOST[:PORT] (GStreamer style), where HOST is an IP address,
 * "localhost" or a host name with a dot, PORT is 1..65535, and the only
 * query is a TURN server's ?transport=udp|tcp.
 *
 * FALSE with a sentence saying what is wrong (with the URI's password
 * replaced by ***)
 * otherwise: a typo in a server's ICE configuration would only show as
 * calls that fail behind NATs, long after the start. */
gboolean letschat_ice_uri_check (const gchar * full_uri, GError ** error);

G_END_DECLS
