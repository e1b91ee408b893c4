#!/usr/bin/python3
# letschat
# Copyright (C) 2026 letschat developers
#
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Text chat with the other party of a letschat room, from Python.

The Python twin of examples/chat.c: each line typed is sent with the
"send-chat" action signal; what the other party types arrives as the
"chat-received" signal (and the letschat/chat bus message) and is printed.

    GST_PLUGIN_PATH=build/gst/letschat examples/chat.py --room demo

Needs Debian's python3-gi and gir1.2-gstreamer-1.0 (run it with
/usr/bin/python3, which has them).
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--room", required=True, help="room to join")
    parser.add_argument("--server-url", default="ws://127.0.0.1:8443/ws",
                        help="room server (default %(default)s)")
    parser.add_argument("--name", default="", help="display name")
    args = parser.parse_args()

    Gst.init(None)
    # A party that only listens to the other's media: the chat works with a
    # letschatsink, a letschatsrc, or both (see docs/protocol.md).
    pipeline = Gst.parse_launch(
        "letschatsrc name=party party. ! fakesink party. ! fakesink")
    party = pipeline.get_by_name("party")
    party.set_property("room", args.room)
    party.set_property("server-url", args.server_url)
    party.set_property("display-name", args.name)
    loop = GLib.MainLoop()

    names = {}  # the other party's id -> its display name

    # Emitted on an internal thread: hand the text to the main loop.
    def on_chat_received(element, sender, text):
        def show():
            print("chat: %s: %s" % (names.get(sender) or sender, text),
                  flush=True)
        GLib.idle_add(show)

    party.connect("chat-received", on_chat_received)

    def on_message(bus, message):
        if message.type == Gst.MessageType.ERROR:
            error, _ = message.parse_error()
            print("chat.py:", error.message, file=sys.stderr)
            loop.quit()
        elif message.type == Gst.MessageType.WARNING:
            error, _ = message.parse_warning()
            print("chat.py: warning:", error.message, file=sys.stderr)
        elif message.type == Gst.MessageType.ELEMENT:
            s = message.get_structure()
            if s.get_name() == "letschat/peer-joined":
                names[s.get_string("peer-id")] = s.get_string("peer-name")
                print("the other party joined (%s)" % s.get_string("peer-name"),
                      flush=True)
        return True

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)

    def on_stdin(channel, condition):
        line = sys.stdin.readline()
        if not line:
            loop.quit()
            return False
        text = line.rstrip("\n")
        # FALSE (and a warning on the bus saying why) if it cannot go.
        if party.emit("send-chat", text):
            print("sent:", text, flush=True)
        return True

    GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()),
                      GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP, on_stdin)
    pipeline.set_state(Gst.State.PLAYING)
    try:
        loop.run()
    finally:
        pipeline.set_state(Gst.State.NULL)


if __name__ == "__main__":
    main()
