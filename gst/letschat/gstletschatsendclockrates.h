/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/sdp/sdp.h>

/* rtpsession is told the clock rate of each stream a call sends as soon as
 * the stream begins, so that it never has to ask at a sender report: in
 * GStreamer before 1.22.10 it asks with its lock let go in the middle of a
 * walk of its sources, which the other party's first packets then break
 * (GLib-CRITICAL "g_hash_table_foreach: assertion 'version ==
 * hash_table->version'", the report cut short). The .c says how.
 *
 * What it knows lives on @webrtc (qdata), so a new webrtcbin starts
 * afresh. */

G_BEGIN_DECLS
/* Watches @session, an rtpsession of @webrtc's rtpbin, as it is added:
 * from the first packet of each stream it sends, the session knows the
 * stream's clock rate. */
void gst_lets_chat_send_clock_rates_watch (GstElement * webrtc,
    GstElement * session);

/* The clock rate of each payload type in @sdp (the negotiated answer),
 * which the streams sent from now on use. Any thread. */
void gst_lets_chat_send_clock_rates_learn (GstElement * webrtc,
    const GstSDPMessage * sdp);

G_END_DECLS
