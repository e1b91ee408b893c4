/* letschat
 * Copyright (C) 2026 letschat developers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "test-party.h"

static void
on_handoff (GstElement * sink, GstBuffer * buf, GstPad * pad, TestParty * p)
{
  g_atomic_int_inc (&p->video_frames);
}

TestParty *
test_party_new (const gchar * name, const gchar * desc)
{
  TestParty *p = g_new0 (TestParty, 1);
  g_autoptr (GError) error = NULL;
  GstElement *sink;

  p->name = name;
  p->resets = g_string_new (NULL);
  p->pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  gst_object_set_name (GST_OBJECT (p->pipeline), name);
  sink = gst_bin_get_by_name (GST_BIN (p->pipeline), "video");
  g_object_set (sink, "signal-handoffs", TRUE, "sync", FALSE, NULL);
  g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), p);
  gst_object_unref (sink);
  g_assert_cmpint (gst_element_set_state (p->pipeline, GST_STATE_PLAYING),
      !=, GST_STATE_CHANGE_FAILURE);
  return p;
}

void
test_party_stop (TestParty * p)
{
  gst_element_set_state (p->pipeline, GST_STATE_NULL);
}

void
test_party_free (TestParty * p)
{
  test_party_stop (p);
  gst_object_unref (p->pipeline);
  g_string_free (p->resets, TRUE);
  g_free (p->id);
  g_free (p->room);
  g_free (p->server_url);
  g_free (p);
}

gint
test_party_frames (TestParty * p)
{
  return g_atomic_int_get (&p->video_frames);
}

void
test_party_poll (TestParty * p)
{
  GstBus *bus = gst_element_get_bus (p->pipeline);
  GstMessage *msg;

  while ((msg = gst_bus_pop (bus))) {
    const GstStructure *s = gst_message_get_structure (msg);

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      g_autoptr (GError) err = NULL;

      gst_message_parse_error (msg, &err, NULL);
      g_error ("%s: ERROR %s", p->name, err->message);
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT
        && g_str_has_prefix (gst_structure_get_name (s), "letschat/")) {
      g_autofree gchar *text = gst_structure_to_string (s);

      g_test_message ("%s: %s", p->name, text);
      if (gst_structure_has_name (s, "letschat/joined")
          || gst_structure_has_name (s, "letschat/server-reconnected")) {
        g_free (p->id);
        g_free (p->room);
        g_free (p->server_url);
        p->id = g_strdup (gst_structure_get_string (s, "id"));
        p->room = g_strdup (gst_structure_get_string (s, "room"));
        p->server_url = g_strdup (gst_structure_get_string (s, "server-url"));
        if (gst_structure_has_name (s, "letschat/joined"))
          p->n_joined++;
        else
          p->n_reconnected++;
      } else if (gst_structure_has_name (s, "letschat/server-lost")) {
        p->n_lost++;
      } else if (gst_structure_has_name (s, "letschat/peer-left")) {
        p->n_peer_left++;
      } else if (gst_structure_has_name (s, "letschat/call-reset")) {
        g_string_append_printf (p->resets, "%s ",
            gst_structure_get_string (s, "reason"));
      }
    }
    gst_message_unref (msg);
  }
  gst_object_unref (bus);
}
