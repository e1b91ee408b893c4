#!/usr/bin/python3
"""A receiver that asks the sender for a keyframe every 20 ms for 2 s, as a
receiver losing packets does (check-keyframe-storm.sh).

    keyframe-storm-receiver.py SERVER_URL ROOM

Prints "decoded N" once a second, "storm started" and "storm ended" around
the requests (each an upstream force-key-unit event, which webrtcbin sends
as RTCP PLI), then keeps decoding for 3 s and exits 0; exits 1 on an
error message.
"""
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstVideo  # noqa: E402

Gst.init(None)
url, room = sys.argv[1], sys.argv[2]
pipeline = Gst.parse_launch(
    f"letschatsrc room={room} server-url={url} ! video/x-raw ! "
    "fakesink name=sink sync=false")
sink_pad = pipeline.get_by_name("sink").get_static_pad("sink")
loop = GLib.MainLoop()
state = {"decoded": 0, "requests": 0, "storm": None, "rc": 0}


def on_buffer(pad, info):
    state["decoded"] += 1
    return Gst.PadProbeReturn.OK


def request():
    sink_pad.push_event(GstVideo.video_event_new_upstream_force_key_unit(
        Gst.CLOCK_TIME_NONE, True, 0))
    state["requests"] += 1
    if state["requests"] < 100:
        return True
    print("storm ended: %d requests" % state["requests"], flush=True)
    GLib.timeout_add(3000, loop.quit)
    return False


def tick():
    print("decoded %d" % state["decoded"], flush=True)
    # Once the call shows its picture, the storm.
    if state["storm"] is None and state["decoded"] >= 30:
        state["storm"] = True
        print("storm started", flush=True)
        GLib.timeout_add(20, request)
    return True


def on_message(bus, message):
    if message.type == Gst.MessageType.ERROR:
        err, debug = message.parse_error()
        print("error: %s (%s)" % (err.message, debug), flush=True)
        state["rc"] = 1
        loop.quit()


sink_pad.add_probe(Gst.PadProbeType.BUFFER, on_buffer)
bus = pipeline.get_bus()
bus.add_signal_watch()
bus.connect("message", on_message)
GLib.timeout_add(1000, tick)
GLib.timeout_add(60000, loop.quit)
pipeline.set_state(Gst.State.PLAYING)
loop.run()
print("decoded %d" % state["decoded"], flush=True)
pipeline.set_state(Gst.State.NULL)
sys.exit(state["rc"] if state["storm"] else 1)
