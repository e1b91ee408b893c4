/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS
/* The nodes of a cluster, as the browser page sees them
 * (letschat-server --cluster-url, the room server's cluster-urls): the page
 * reads them at GET /cluster.json, {"servers": ["ws://...", ...]}, and
 * when its room server goes away it comes back to the next one, as the
 * same party (docs/web-client.md). An empty list when none is set: the
 * page then knows only the server it came from.
 *
 * A page served by one node talks to another after a failover, so the
 * origins of the nodes' own pages (http://HOST:PORT of ws://HOST:PORT/ws,
 * https:// of wss://) are accepted at /ws like the server's own page. */
/* NULL when every URL is a ws:// or wss:// URL with a host; otherwise the
 * first that is not (owned by @urls). */
const gchar *letschat_cluster_page_find_bad_url (const gchar * const *urls);

/* TRUE if @origin is the page origin of one of @urls. */
gboolean letschat_cluster_page_origin_is_node (const gchar * const *urls,
    const gchar * origin);

/* Serves GET /cluster.json from *@urls (read at each request: the pointer
 * is the server's field, which may be set after this). */
void letschat_cluster_page_add_handler (SoupServer * soup, GStrv * urls);

G_END_DECLS
