/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The group of the configuration file that holds the options. */
#define LETSCHAT_SERVER_CONFIG_GROUP "server"

/* The FILE of "--config FILE" or "--config=FILE" in @argv, or NULL. It
 * is looked for before the command line is parsed, so that the command
 * line's own options, parsed afterwards, override the file's. */
const gchar *letschat_server_config_find_in_args (gint argc, gchar ** argv);

/* Loads @file (a GKeyFile) and stores each key of its [server] group as
 * the command line would store the long option of the same name: every
 * entry of @entries is a key, whatever its type, so options added to the
 * table are configurable without more code here. @skip lists long names
 * that are not (NULL-terminated: "config", "version").
 *
 * A key that is no option, a value of the wrong type, another group or a
 * file that cannot be read is an error naming the file and the key. */
gboolean letschat_server_config_load (const gchar * file,
    const GOptionEntry * entries, const gchar * const *skip,
    GError ** error);

G_END_DECLS
