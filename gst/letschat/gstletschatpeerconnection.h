/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

#include "gstletschatsettings.h"
#include "gstletschatice.h"

G_BEGIN_DECLS
/* GstLetsChatPeerConnection: ONE webrtcbin, and everything that lives and
 * dies with it: its negotiation state, the remote candidates waiting for
 * a remote description, the m-lines whose candidates are not used.
 *
 * A call outlives its peer connections: when the other party leaves (or
 * the connection fails, or an offer starts over), the session closes this
 * object and makes a new one. Nothing is reset by hand.
 *
 * _new() is where the party's settings and the room server's ICE servers
 * are applied. _close() is where a departed peer's webrtcbin is torn down,
 * in the only order that cannot block or leak an error to the
 * application (docs/architecture.md, "Tearing a peer connection down"):
 *
 *   1. cut the pipeline's threads off: the receive chains of letschatsrc
 *      are unlinked from it (a probe first drops what is in flight), the
 *      caller has already detached the send relays;
 *   2. lock its state and take it out of its bin: from here on nothing it
 *      posts reaches the application, and the pipeline's state changes
 *      pass it by;
 *   3. take it to NULL on a thread of its own, holding no letschat lock
 *      (a streaming thread inside it may need the pipeline to move first),
 *      once the last get-stats asked of it is answered;
 *   4. gst_lets_chat_teardowns_wait_and_free() waits for the teardowns
 *      still running, only at READY->NULL.
 *
 * Callbacks come on webrtcbin's threads and only while the object is open;
 * they carry the connection's generation (never the object, which close()
 * frees while one may be running) for the session to check. */
typedef struct _GstLetsChatPeerConnection GstLetsChatPeerConnection;

typedef struct
{
  /* A local ICE candidate; @candidate NULL: gathering is complete. */
  void (*ice_candidate) (guint generation, guint mline,
      const gchar * candidate, gpointer user_data);
  void (*connection_state) (guint generation,
      GstWebRTCPeerConnectionState state, gpointer user_data);
  /* A stream of the other party (a src pad of webrtcbin). */
  void (*pad_added) (guint generation, GstPad * pad, gpointer user_data);
  void (*data_channel) (guint generation, GstWebRTCDataChannel * channel,
      gpointer user_data);
} GstLetsChatPeerConnectionCallbacks;

/* Makes a webrtcbin with @settings' ICE servers (or, if the user set
 * none, @server_ice_uris, the signaller's, as webrtcbin URIs), adds
 * it to @host and brings it to @host's state. @receive_only_host: @host is
 * a letschatsrc, which must not count as a sink for it. */
GstLetsChatPeerConnection *gst_lets_chat_peer_connection_new (GstElement *
    host, gboolean receive_only_host, const GstLetsChatSettings * settings,
    gchar ** server_ice_uris, guint latency, guint generation,
    const GstLetsChatPeerConnectionCallbacks * callbacks, gpointer user_data,
    GError ** error);

/* The teardowns of one party's peer connections, to wait for. */
typedef struct _GstLetsChatTeardowns GstLetsChatTeardowns;

GstLetsChatTeardowns *gst_lets_chat_teardowns_new (void);
/* Waits until every peer connection closed with @teardowns is at NULL,
 * then drops @teardowns. For READY->NULL. */
void gst_lets_chat_teardowns_wait_and_free (GstLetsChatTeardowns * teardowns);

/* Tears the webrtcbin down (see above) and frees @pc; @teardowns counts
 * it until it is at NULL. Any thread, no letschat lock held. */
void gst_lets_chat_peer_connection_close (GstLetsChatPeerConnection * pc,
    GstLetsChatTeardowns * teardowns);

/* The signaller's ICE servers (the room server's welcome), unless
 * @settings has some: before the first negotiation of @pc. */
void gst_lets_chat_peer_connection_set_server_ice_servers
    (GstLetsChatPeerConnection * pc, const GstLetsChatSettings * settings,
    gchar ** server_ice_uris);

GstElement *gst_lets_chat_peer_connection_get_webrtcbin
    (GstLetsChatPeerConnection * pc);

/* Asks webrtcbin's get-stats, answered to @promise; FALSE (nothing
 * asked, @promise answered with nothing) while the stats are held.
 * Session thread.
 * webrtcbin must not leave PAUSED while it answers one (the .c says
 * why): */
gboolean gst_lets_chat_peer_connection_get_stats (GstLetsChatPeerConnection *
    pc, GstPromise * promise);
/* From now on no get-stats is asked (until _resume_stats()). Returns the
 * last one asked (a ref, or NULL): wait for it with gst_promise_wait()
 * before the webrtcbin leaves PAUSED, holding no letschat lock. Any
 * thread; _close() does it itself. */
GstPromise *gst_lets_chat_peer_connection_hold_stats (GstLetsChatPeerConnection
    * pc);
void gst_lets_chat_peer_connection_resume_stats (GstLetsChatPeerConnection *
    pc);

/* What webrtcbin's src pad @pad carries is dropped from now on, as if
 * delivered (nothing reports not-linked): for a stream nobody receives, or
 * one being cut off. */
void gst_lets_chat_peer_connection_drop_stream (GstPad * pad);

/* NACK and RTX on every video transceiver of @webrtc: call before each
 * create-offer and create-answer. */
void gst_lets_chat_peer_connection_enable_loss_recovery (GstElement * webrtc,
    gboolean nack, gboolean fec);

/* Whether @object is @pc's webrtcbin or inside it. */
gboolean gst_lets_chat_peer_connection_owns (GstLetsChatPeerConnection * pc,
    GstObject * object);

/* The webrtcbin @object is in (or is), if any: a new ref. */
GstElement *gst_lets_chat_peer_connection_find_webrtcbin (GstObject * object);

/* Negotiation state: session thread only. */
typedef struct
{
  gboolean transceivers_ready;  /* receive transceivers added */
  gboolean offer_made;          /* we offered on this connection */
  gboolean remote_set;          /* the remote description is applied */
  gboolean negotiated;          /* both descriptions are applied */
} GstLetsChatNegotiationState;

GstLetsChatNegotiationState
    * gst_lets_chat_peer_connection_state (GstLetsChatPeerConnection * pc);

/* A remote candidate: added at once if the remote description is applied,
 * else kept until gst_lets_chat_peer_connection_flush_candidates(). */
void gst_lets_chat_peer_connection_add_remote_candidate
    (GstLetsChatPeerConnection * pc, guint mline, const gchar * candidate);
void gst_lets_chat_peer_connection_flush_candidates (GstLetsChatPeerConnection
    * pc);

/* The candidates seen on this peer connection (session thread): remote
 * ones are counted here, local ones by the session as it sends them. */
GstLetsChatIceTally *gst_lets_chat_peer_connection_ice_tally
    (GstLetsChatPeerConnection * pc);

/* Candidates for this m-line are not used: it rides on another m-line's
 * transport (BUNDLE), see gstletschatnegotiation.c. */
void gst_lets_chat_peer_connection_ignore_candidates_of
    (GstLetsChatPeerConnection * pc, guint mline);

G_END_DECLS
