#!/usr/bin/python3
# letschat
# Copyright (C) 2026 letschat developers
#
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A two-way letschat call inside an application window, from Python.

One letschatsink and one letschatsrc with the same room are one party: it
sends a camera (here a test pattern unless --video-source says otherwise)
and a microphone, and shows the other party in the window (gtksink), with
buttons to mute the microphone and to hang up.

    GST_PLUGIN_PATH=build/gst/letschat examples/call.py --room demo

--headless runs the same call with no window (fakesinks). Both print what
happens and read "mute", "unmute" and "hangup" lines on stdin, the
buttons' twins (tests/elements/check-python-call.sh drives it so).

Needs Debian's python3-gi, gir1.2-gstreamer-1.0, and for the window
gir1.2-gtk-3.0 and gstreamer1.0-gtk3 (run it with /usr/bin/python3).

      videotestsrc ---------> letschatsink "send" ==> other party
      audiotestsrc -> volume "mic" --^
      other party ==> letschatsrc "recv" -video_0-> queue -> videoconvert -> gtksink
                                         -audio_0-> queue -> audioconvert -> autoaudiosink
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstBase", "1.0")
from gi.repository import GLib, Gst, GstBase  # noqa: E402


class Call:
    """The pipeline of one party, and what the application sees of it."""

    def __init__(self, args, video_sink, audio_sink, say):
        self.say = say                  # where news goes: a label, stdout
        self.video_frames = 0
        self.audio_buffers = 0
        self.reported = False
        # The receiving branches wait for letschatsrc's pads (pad-added).
        self.pipeline = Gst.parse_launch(
            f"{args.video_source} ! video/x-raw,width=640,height=480 ! "
            "queue ! letschatsink name=send "
            f"{args.audio_source} ! volume name=mic ! queue ! send. "
            "letschatsrc name=recv "
            "queue name=vq ! videoconvert ! videoscale ! "
            f"{video_sink} name=vsink "
            "queue name=aq ! audioconvert ! audioresample ! "
            f"{audio_sink} name=asink")
        # Nothing reaches a sink before the other party comes (and a party
        # that sends only video never feeds the audio one): PLAYING must
        # not wait for them (async=false), including the sink that
        # autoaudiosink picks when it starts.
        self.pipeline.iterate_recurse().foreach(
            lambda element: self.no_preroll(None, None, element))
        self.pipeline.connect("deep-element-added", self.no_preroll)
        self.send = self.pipeline.get_by_name("send")
        self.recv = self.pipeline.get_by_name("recv")
        self.mic = self.pipeline.get_by_name("mic")
        # Both elements need the room (and the same server-url): they are
        # one party. display-name and secret are set on both too (a value
        # set on only the second element to start is ignored, with a
        # warning saying so).
        for element in (self.send, self.recv):
            element.set_property("room", args.room)
            element.set_property("server-url", args.server_url)
            if args.name:
                element.set_property("display-name", args.name)
            if args.secret:
                element.set_property("secret", args.secret)
        # letschatsrc adds video_0 and audio_0 when the other party's
        # streams arrive (pad-added, on a streaming thread).
        self.recv.connect("pad-added", self.on_pad_added)
        self.video_sink = self.pipeline.get_by_name("vsink")
        self.video_sink.get_static_pad("sink").add_probe(
            Gst.PadProbeType.BUFFER, self.on_video_buffer)
        self.pipeline.get_by_name("asink").get_static_pad("sink").add_probe(
            Gst.PadProbeType.BUFFER, self.on_audio_buffer)
        self.recv.connect("chat-received", self.on_chat_received)
        bus = self.pipeline.get_bus()
        bus.add_signal_watch()
        bus.connect("message", self.on_message)
        self.peer_names = {}

    @staticmethod
    def no_preroll(bin, sub_bin, element):
        if isinstance(element, GstBase.BaseSink):
            element.set_property("async", False)

    def start(self):
        self.pipeline.set_state(Gst.State.PLAYING)
        return False

    def on_pad_added(self, element, pad):
        queue = self.pipeline.get_by_name(
            "vq" if pad.get_name().startswith("video") else "aq")
        if pad.link(queue.get_static_pad("sink")) != Gst.PadLinkReturn.OK:
            GLib.idle_add(self.say, f"could not show {pad.get_name()}")

    # Streaming threads: count, and report once on the main loop.
    def on_video_buffer(self, pad, info):
        self.video_frames += 1
        self.maybe_report()
        return Gst.PadProbeReturn.OK

    def on_audio_buffer(self, pad, info):
        self.audio_buffers += 1
        self.maybe_report()
        return Gst.PadProbeReturn.OK

    def maybe_report(self):
        if not self.reported and self.video_frames >= 30 and \
                self.audio_buffers >= 10:
            self.reported = True
            GLib.idle_add(self.say, "received %d video frames and %d audio "
                          "buffers" % (self.video_frames, self.audio_buffers))

    def on_chat_received(self, element, sender, text):
        GLib.idle_add(self.say, "chat: %s: %s"
                      % (self.peer_names.get(sender) or sender, text))

    def set_muted(self, muted):
        # volume's mute may change at any time, in any state.
        self.mic.set_property("mute", muted)
        self.say("microphone muted" if muted else "microphone on")

    def hang_up(self):
        # NULL leaves the room: the other party gets letschat/peer-left.
        self.pipeline.set_state(Gst.State.NULL)
        self.say("hung up")

    def on_message(self, bus, message):
        if message.type == Gst.MessageType.ERROR:
            error, _ = message.parse_error()
            self.say("error: " + error.message)
            self.hang_up()
            self.on_end()
        elif message.type == Gst.MessageType.WARNING:
            error, _ = message.parse_warning()
            self.say("warning: " + error.message)
        elif message.type == Gst.MessageType.ELEMENT:
            s = message.get_structure()
            name = s.get_name()
            if name == "letschat/joined":
                self.say("joined room %s" % s.get_string("room"))
            elif name == "letschat/peer-joined":
                self.peer_names[s.get_string("peer-id")] = \
                    s.get_string("peer-name")
                self.say("the other party joined (%s)"
                         % (s.get_string("peer-name") or "no name"))
            elif name == "letschat/peer-left":
                self.say("the other party left")
            elif name == "letschat/connection-state":
                self.say("connection: " + s.get_string("state"))
            elif name == "letschat/first-frame":
                self.say("receiving %s (%s)" % (s.get_string("pad"),
                                                s.get_string("codec")))
        return True

    def on_end(self):
        pass


def watch_stdin(say, mute, hang_up, eof_hangs_up):
    """Lines on stdin: "mute", "unmute", "hangup" (the buttons' twins, for
    scripts and tests)."""
    def on_stdin(channel, condition):
        line = sys.stdin.readline()
        command = line.strip()
        if not line:
            # The end of stdin: a window started with none stays.
            if eof_hangs_up:
                hang_up()
            return False
        if command == "hangup":
            hang_up()
            return False
        if command in ("mute", "unmute"):
            mute(command == "mute")
        elif command:
            say("unknown command %r (mute, unmute, hangup)" % command)
        return True

    GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()),
                      GLib.PRIORITY_DEFAULT, GLib.IO_IN | GLib.IO_HUP,
                      on_stdin)


def run_headless(args):
    loop = GLib.MainLoop()

    def say(text):
        print(text, flush=True)
        return False

    call = Call(args, "fakesink", "fakesink", say)
    call.on_end = loop.quit

    def hang_up():
        call.hang_up()
        loop.quit()

    watch_stdin(say, call.set_muted, hang_up, True)
    call.start()
    loop.run()


def run_window(args):
    gi.require_version("Gtk", "3.0")
    from gi.repository import Gtk

    if Gst.ElementFactory.find("gtksink") is None:
        sys.exit("call.py: no gtksink: install gstreamer1.0-gtk3 "
                 "(or use --headless)")
    window = Gtk.Window(title="letschat: " + args.room)
    window.set_default_size(800, 600)
    box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=4)
    status = Gtk.Label(label="joining room %s..." % args.room, xalign=0)
    box.pack_start(status, False, False, 0)
    buttons = Gtk.Box(spacing=4)
    mute = Gtk.ToggleButton(label="Mute")
    hang_up = Gtk.Button(label="Hang up")
    buttons.pack_start(mute, False, False, 0)
    buttons.pack_end(hang_up, False, False, 0)
    box.pack_start(buttons, False, False, 0)
    window.add(box)

    def say(text):
        print(text, flush=True)
        status.set_text(text)
        return False

    call = Call(args, "gtksink", args.audio_sink, say)
    # gtksink draws into a widget of its own: the application places it.
    box.pack_start(call.video_sink.get_property("widget"), True, True, 0)
    box.reorder_child(call.video_sink.get_property("widget"), 0)

    def end(*_):
        call.hang_up()
        Gtk.main_quit()

    call.on_end = Gtk.main_quit
    mute.connect("toggled", lambda b: call.set_muted(b.get_active()))
    hang_up.connect("clicked", end)
    window.connect("destroy", end)
    # stdin commands press the buttons.
    watch_stdin(say, mute.set_active, hang_up.clicked, False)
    window.show_all()
    # gtksink does part of its work on GTK's main loop, and waits for it:
    # start once that loop runs.
    GLib.idle_add(call.start)
    Gtk.main()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--room", required=True, help="room to join")
    parser.add_argument("--server-url", default="ws://127.0.0.1:8443/ws",
                        help="room server (default %(default)s)")
    parser.add_argument("--name", default="", help="name the other party sees")
    parser.add_argument("--secret", default="", help="the room's secret")
    parser.add_argument("--video-source",
                        default="videotestsrc is-live=true pattern=ball",
                        help="camera, as a gst-launch-1.0 description "
                        "(e.g. v4l2src; default %(default)s)")
    parser.add_argument("--audio-source",
                        default="audiotestsrc is-live=true wave=ticks",
                        help="microphone (e.g. autoaudiosrc; default "
                        "%(default)s)")
    parser.add_argument("--audio-sink", default="autoaudiosink",
                        help="loudspeaker (default %(default)s)")
    parser.add_argument("--headless", action="store_true",
                        help="no window: fakesinks, news on stdout, "
                        "mute/unmute/hangup on stdin")
    args = parser.parse_args()

    Gst.init(None)
    if args.headless:
        run_headless(args)
    else:
        run_window(args)


if __name__ == "__main__":
    main()
