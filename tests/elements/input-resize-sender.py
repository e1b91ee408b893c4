#!/usr/bin/python3
# A sender whose input changes size mid-call (a window being captured is
# resized, a camera renegotiates): 1280x720 smpte, then 320x180 after 6 s,
# into letschatsink with max-bitrate=400000, which keeps the ladder on a
# step narrower than the first input and wider than the second.
# Usage: input-resize-sender.py URL ROOM SECONDS
import sys
import gi
gi.require_version("Gst", "1.0")
from gi.repository import Gst, GLib
Gst.init(None)
url, room, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = Gst.parse_launch(
    "videotestsrc is-live=true pattern=smpte ! capsfilter name=f "
    "caps=video/x-raw,width=1280,height=720,framerate=30/1 ! "
    "letschatsink room=%s server-url=%s max-bitrate=400000" % (room, url))
f = p.get_by_name("f")
def shrink():
    print("input now 320x180", flush=True)
    f.set_property("caps", Gst.Caps.from_string(
        "video/x-raw,width=320,height=180,framerate=30/1"))
    return False
loop = GLib.MainLoop()
GLib.timeout_add_seconds(6, shrink)
GLib.timeout_add_seconds(seconds, loop.quit)
failed = []
def on_msg(bus, m):
    if m.type == Gst.MessageType.ERROR:
        print("ERROR", m.parse_error(), flush=True)
        failed.append(m)
        loop.quit()
bus = p.get_bus(); bus.add_signal_watch(); bus.connect("message", on_msg)
p.set_state(Gst.State.PLAYING)
loop.run()
p.set_state(Gst.State.NULL)
sys.exit(1 if failed else 0)
