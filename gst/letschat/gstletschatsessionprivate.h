/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

/* The party's state, shared by the three files that run it on the session
 * thread, and by nothing else:
 *
 *   gstletschatsession.c      the party: registry, thread, join, the API
 *                             the elements call, the message filter
 *   gstletschatcall.c         the call with the other party: room events,
 *                             peer connections made and replaced, chat,
 *                             media watch and gaps
 *   gstletschatnegotiation.c  the offer/answer exchange (and what offers
 *                             and answers contain)
 */
#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>
#include <gst/sdp/sdp.h>

#include "gstletschatsession.h"
#include "gstletschatpeerconnection.h"
#include "gstletschatsendstream.h"
#include "gstletschatserve.h"
#include "gstletschatsignaller.h"
#include "gstletschatstats.h"
#include "gstletschatcongestion.h"
#include "gstletschattextchat.h"

G_BEGIN_DECLS GST_DEBUG_CATEGORY_EXTERN (gst_lets_chat_session_debug);

struct _GstLetsChatSession
{
  GstObject parent;

  /* What identifies the party: set once, read without lock. */
  gpointer toplevel;            /* key only, never dereferenced */
  GstLetsChatSettings settings;

  /* Protected by the object lock. */
  GstElement *host;             /* bin holding webrtcbin (weak) */
  GstElement *sink;             /* weak */
  GstElement *src;              /* weak */
  const GstLetsChatReceiverFuncs *receiver;     /* the src's */
  guint holds;
  gboolean started;
  gboolean stopped;             /* left the room: no more call changes */

  /* The current peer connection, replaced on the session thread when the
   * other party leaves or the connection fails. pc_lock guards the pointer
   * and the send streams against the elements' threads. */
  GMutex pc_lock;
  GstLetsChatPeerConnection *pc;
  GList *send_streams;          /* of GstLetsChatSendStream */
  guint generation;             /* of the current peer connection */
  guint latency;
  /* How far the jitter buffers' latency may follow retransmission up
   * (letschatsrc's max-latency; <= latency: fixed). */
  guint max_latency;
  GstLetsChatTeardowns *teardowns;
  GstLetsChatServeHandle *served;
  /* Text chat with the current other party; NULL while alone. Set on the
   * session thread, read by applications sending chat. */
  GstLetsChatTextChat *chat;

  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;

  /* Only touched on the session thread. */
  /* The room (GstLetsChatRoom), or the application's signaller. */
  GstLetsChatSignaller *signaller;
  gboolean join_sent;
  gchar *my_id;
  gchar *peer_id;
  gchar *peer_name;
  gboolean offerer;
  GstWebRTCSessionDescription *pending_offer;
  GstClockTime peer_joined_time;
  /* Back on the room server after losing it, the other party has not shown
   * up yet: it may be reconnecting too, or gone for good. */
  gboolean peer_unconfirmed;
  GSource *offer_wait;          /* offer ourselves if none comes */
  GSource *join_wait;           /* join even if a sink pad has no caps */
  gboolean join_waited;
  GSource *media_watch;         /* media-timeout, checked once a second */
  gint64 last_media_us;         /* written by streaming threads */
  gint media_seen;              /* atomic: media on this connection */
  gchar **server_ice_uris;      /* from joined, for every new webrtcbin */
  GSource *gap_source;          /* fills the src's pads while alone */
  /* strangers=true: queued again, the next welcome is a first join */
  gboolean stranger_rejoin;
  /* The call's statistics (gstletschatsessionstats.c), collected on this
   * thread by stats_source. */
  GstLetsChatStats *stats;
  GSource *stats_source;
  /* The bitrate controller of what the party encodes (none without a
   * letschatsink), and its tick. */
  GstLetsChatCongestion *congestion;
  GSource *congestion_source;
  /* The receiving jitter buffers' latency follows retransmission
   * (gstletschatjitterbuffers.c); the highest, ms, for the stats. */
  GSource *jitterbuffers_source;
  guint receive_latency;
};

/* Shared by the three files only: G_GNUC_INTERNAL keeps these short names
 * out of the plugin's exported symbols. */

/* Bus messages from the host element, always posted with no lock held. */
G_GNUC_INTERNAL GstElement *session_get_host (GstLetsChatSession * self);
G_GNUC_INTERNAL void session_post (GstLetsChatSession * self, GstStructure * s);

#define session_error(self, domain, code, text, debug) G_STMT_START {   \
    GstElement *__host = session_get_host (self);                       \
    if (__host) {                                                       \
      GST_ELEMENT_ERROR (__host, domain, code, text, debug);            \
      gst_object_unref (__host);                                        \
    }                                                                   \
  } G_STMT_END

#define session_warning(self, domain, code, text, debug) G_STMT_START { \
    GstElement *__host = session_get_host (self);                       \
    if (__host) {                                                       \
      GST_ELEMENT_WARNING (__host, domain, code, text, debug);          \
      gst_object_unref (__host);                                        \
    }                                                                   \
  } G_STMT_END

/* Work for the session thread, dropped if the peer connection it belongs
 * to (@generation) has been replaced by then; promises whose replies go
 * the same way. */
typedef void (*SessionTaskFunc) (GstLetsChatSession * self, gpointer data);
G_GNUC_INTERNAL void session_invoke_if_current (GstLetsChatSession * self,
    guint generation, SessionTaskFunc func, gpointer data,
    GDestroyNotify destroy);
G_GNUC_INTERNAL GstPromise *session_new_promise (GstLetsChatSession * self,
    SessionTaskFunc func);
G_GNUC_INTERNAL GError *promise_get_error (GstPromise * promise);

/* gstletschatcall.c */
G_GNUC_INTERNAL GstElement *session_webrtcbin (GstLetsChatSession * self);
G_GNUC_INTERNAL GstLetsChatNegotiationState *session_state (GstLetsChatSession *
    self);
G_GNUC_INTERNAL GstLetsChatPeerConnection
    * session_install_peer_connection (GstLetsChatSession * self,
    GError ** error);
G_GNUC_INTERNAL void session_restart_call (GstLetsChatSession * self,
    const gchar * reason);
/* @data: NULL (ICE or DTLS failed) or SESSION_BROKEN_INSIDE (an element
 * inside webrtcbin posted an error). */
#define SESSION_BROKEN_INSIDE GINT_TO_POINTER (1)
G_GNUC_INTERNAL void session_connection_failed (GstLetsChatSession * self,
    gpointer data);
G_GNUC_INTERNAL void session_negotiation_failed (GstLetsChatSession * self,
    const gchar * step, const GError * error, const gchar * sdp);
G_GNUC_INTERNAL gchar *description_text (GstWebRTCSessionDescription * desc);
G_GNUC_INTERNAL void session_reset_chat (GstLetsChatSession * self,
    gboolean with_peer);
G_GNUC_INTERNAL void session_set_chat_channel (GstLetsChatSession * self,
    GstWebRTCDataChannel * channel);

/* gstletschatsessionstats.c (session thread) */
G_GNUC_INTERNAL void session_start_stats (GstLetsChatSession * self);
G_GNUC_INTERNAL void session_stop_stats (GstLetsChatSession * self);
G_GNUC_INTERNAL void session_start_congestion (GstLetsChatSession * self);
G_GNUC_INTERNAL void session_stop_congestion (GstLetsChatSession * self);
G_GNUC_INTERNAL void session_start_jitterbuffers (GstLetsChatSession * self);
G_GNUC_INTERNAL void session_stop_jitterbuffers (GstLetsChatSession * self);
/* What the congestion control reports for the stats. */
G_GNUC_INTERNAL void session_congestion_report (GstLetsChatSession * self,
    GstLetsChatStatsControls * controls);
G_GNUC_INTERNAL void session_create_chat_channel (GstLetsChatSession * self);
G_GNUC_INTERNAL void session_cancel_offer_wait (GstLetsChatSession * self);
G_GNUC_INTERNAL gboolean session_media_watch_cb (gpointer data);
G_GNUC_INTERNAL void session_start_gaps (GstLetsChatSession * self);
G_GNUC_INTERNAL void session_stop_gaps (GstLetsChatSession * self);
G_GNUC_INTERNAL void on_joined (GstLetsChatSignaller * signaller,
    const gchar * id, const gchar * room, const gchar * peer_id,
    const gchar * peer_name, gchar ** ice_server_uris, gboolean again,
    GstLetsChatSession * self);
G_GNUC_INTERNAL void on_peer_joined (GstLetsChatSignaller * signaller,
    const gchar * peer_id, const gchar * peer_name, GstLetsChatSession * self);
G_GNUC_INTERNAL void on_peer_left (GstLetsChatSignaller * signaller,
    const gchar * peer_id, GstLetsChatSession * self);
G_GNUC_INTERNAL void on_candidate (GstLetsChatSignaller * signaller,
    guint mline, const gchar * candidate, GstLetsChatSession * self);
G_GNUC_INTERNAL void on_signaller_error (GstLetsChatSignaller * signaller,
    gboolean fatal, GError * error, const gchar * debug,
    GstLetsChatSession * self);
G_GNUC_INTERNAL void on_server_lost (GstLetsChatSignaller * signaller,
    const gchar * reason, GstLetsChatSession * self);

/* gstletschatstrangers.c */
/* Leaves the current stranger and queues for the next one; @reason goes
 * into letschat/call-reset. */
G_GNUC_INTERNAL void session_next_stranger (GstLetsChatSession * self,
    const gchar * reason);

/* gstletschatnegotiation.c */
G_GNUC_INTERNAL void session_maybe_negotiate (GstLetsChatSession * self);
G_GNUC_INTERNAL void on_description (GstLetsChatSignaller * signaller,
    const gchar * type, const gchar * text, GstLetsChatSession * self);

G_END_DECLS
