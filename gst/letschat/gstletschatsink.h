/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include "gstletschatbin.h"

G_BEGIN_DECLS

#define GST_TYPE_LETS_CHAT_SINK (gst_lets_chat_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstLetsChatSink, gst_lets_chat_sink, GST, LETS_CHAT_SINK,
    GstLetsChatBin);
G_END_DECLS
