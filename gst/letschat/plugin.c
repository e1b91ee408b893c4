/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/*
 * The plugin's entry point: registers letschatsink and letschatsrc.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstletschatelements.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (letschatsink, plugin);
  ret |= GST_ELEMENT_REGISTER (letschatsrc, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, letschat,
    "Two-party WebRTC calls in a pipeline, room signalling included",
    plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
