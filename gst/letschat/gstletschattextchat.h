/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>

G_BEGIN_DECLS
/* Text chat with the other party (docs/protocol.md, "Text chat"): a WebRTC
 * data channel labelled "chat", one UTF-8 string message per chat message,
 * at most GST_LETS_CHAT_TEXT_CHAT_MAX_BYTES bytes, never empty.
 *
 * A GstLetsChatTextChat lives as long as the other party is in the call.
 * Its channel belongs to one peer connection and is replaced with it; what
 * the application sends before a channel is open waits (a few messages)
 * and goes out when it opens.
 *
 *   send-chat ---> [pending] --open--> data channel "chat" ===> other party
 *   chat-received <-- received() <-- on-message-string <======
 *
 * Callbacks run on the session's GMainContext, never on webrtcbin's
 * threads. */
#define GST_LETS_CHAT_TEXT_CHAT_LABEL "chat"
#define GST_LETS_CHAT_TEXT_CHAT_MAX_BYTES 4096
typedef struct _GstLetsChatTextChat GstLetsChatTextChat;

typedef struct
{
  /* A valid message from the other party. */
  void (*received) (const gchar * text, gpointer user_data);
  /* Something the user should hear about: a message from the other party
   * that was ignored, or messages of ours that could not be delivered. */
  void (*problem) (const gchar * sentence, gpointer user_data);
} GstLetsChatTextChatCallbacks;

/* NULL, or a sentence saying why @text cannot be a chat message (free it). */
gchar *gst_lets_chat_text_chat_check (const gchar * text);

GstLetsChatTextChat *gst_lets_chat_text_chat_new (GMainContext * context,
    const GstLetsChatTextChatCallbacks * callbacks, gpointer user_data);

/* Any thread: the chat goes over @channel from now on (NULL: none until
 * the next peer connection brings one). Call it from webrtcbin's
 * on-data-channel itself: a message may follow the channel at once. */
void gst_lets_chat_text_chat_set_channel (GstLetsChatTextChat * chat,
    GstWebRTCDataChannel * channel);

/* Any thread. FALSE with @error if @text was refused. */
gboolean gst_lets_chat_text_chat_send (GstLetsChatTextChat * chat,
    const gchar * text, GError ** error);

GstLetsChatTextChat *gst_lets_chat_text_chat_ref (GstLetsChatTextChat * chat);
void gst_lets_chat_text_chat_unref (GstLetsChatTextChat * chat);

/* Context thread: the other party is gone. No more callbacks after this;
 * messages still waiting are reported through problem(). Drops the
 * caller's reference. */
void gst_lets_chat_text_chat_close (GstLetsChatTextChat * chat);

G_END_DECLS
