/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS
/* TRUE if the @length bytes at @text are one RFC 8259 JSON text that
 * json-glib 1.6 reads back exactly as written, nesting arrays and objects
 * at most @max_depth levels. Otherwise FALSE, and @why (if not NULL) gets a
 * sentence saying what is wrong and at which byte, quoting none of the
 * input. See letschat-json-strict.c for what is refused beyond RFC 8259. */
    gboolean letschat_json_is_strict (const gchar * text, gsize length,
    guint max_depth, gchar ** why);

G_END_DECLS
