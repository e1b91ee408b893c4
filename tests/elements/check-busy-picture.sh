#!/usr/bin/env bash
# A sender of a busy picture (1280x720 snow, which does not fit
# letschatsink's start bitrate): the first frame the receiver decodes is
# already a smaller picture, not a 720p keyframe (1.2 Mbit, more than a
# second of the bitrate) after which the encoder drops every frame for
# most of a second (docs/congestion.md, "The ladder").
#
#   check-busy-picture.sh late-joiner     the sender waits alone in its
#       room, the receiver joins 3 s later: the ladder read the picture
#       while the sender waited
#   check-busy-picture.sh sender-joins    the receiver waits, the sender's
#       pipeline starts the call: its first keyframe is taken down as it
#       comes out of the encoder, before it is sent
set -u
case "${1:-}" in
  late-joiner | sender-joins) order=$1 ;;
  *) echo "usage: $0 late-joiner|sender-joins" >&2; exit 2 ;;
esac
. "$(dirname "$0")/common.sh"
start_room_server

start_sender() {
  GST_DEBUG=letschatladder:4 gst-launch-1.0 videotestsrc is-live=true pattern=snow ! \
    video/x-raw,width=1280,height=720,framerate=30/1 ! \
    letschatsink room=busy server-url="$url" >"$work/sender.out" 2>&1 &
  pids+=($!)
}
start_receiver() {
  gst-launch-1.0 -v letschatsrc room=busy server-url="$url" ! video/x-raw ! \
    fakesink sync=false >"$work/receiver.out" 2>&1 &
  pids+=($!)
}

if [ "$order" = late-joiner ]; then
  start_sender
  # The scenario is a sender that has waited: give it the seconds a person
  # takes to join (the ladder decides within the first one).
  sleep 3
  start_receiver
else
  start_receiver
  for i in $(seq 100); do
    grep -q "Setting pipeline to PLAYING" "$work/receiver.out" && break
    sleep 0.1
  done
  sleep 1
  start_sender
fi

first_caps() { grep -m1 "fakesink0.GstPad:sink: caps = " "$work/receiver.out"; }
for i in $(seq 300); do
  [ -n "$(first_caps)" ] && break
  sleep 0.1
done
caps=$(first_caps)
[ -n "$caps" ] || fail "the receiver decoded nothing in 30 s"
width=$(echo "$caps" | grep -o "width=(int)[0-9]*" | sed 's/.*)//')
echo "the receiver's first frame ($order): ${width} pixels wide (the sender's input: 1280)"
[ "$width" -lt 1280 ] || fail "the receiver's first frame was the busy input's full size: $caps"
grep -q "ERROR" "$work/sender.out" "$work/receiver.out" && fail "an error was posted"
echo PASS
