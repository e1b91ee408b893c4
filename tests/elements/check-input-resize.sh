#!/usr/bin/env bash
# The sender's input changes size mid-call, from 1280x720 to 320x180, while
# the ladder's caps ask for 480x270 (made for the first input): the
# receiver gets the new size and frames keep coming. Before, the
# keyframes of videoscale's 480x270 were taken for a larger picture's
# than the new input allowed, each dropped, and the call froze for good.
set -u
. "$(dirname "$0")/common.sh"
start_room_server

gst-launch-1.0 -v letschatsrc room=resize server-url="$url" ! video/x-raw ! \
  identity silent=false ! fakesink sync=false >"$work/receiver.out" 2>&1 &
pids+=($!)
wait_for "$work/receiver.out" "Setting pipeline to PLAYING" 10
GST_DEBUG=letschatladder:4 /usr/bin/python3 "$(dirname "$0")/input-resize-sender.py" \
  "$url" resize 16 >"$work/sender.out" 2>&1 ||
  fail "the sender stopped with an error"
grep -q "input now 320x180" "$work/sender.out" || fail "the sender's input never changed"
after=$(awk '/fakesink0.GstPad:sink: caps = .*width=\(int\)320,/ {seen=1} seen && /identity0:sink\) \(/ {n++} END {print n+0}' \
  "$work/receiver.out")
echo "frames the receiver got at the new size (320x180): $after"
[ "$after" -ge 60 ] || fail "the receiver got $after frames of the new size (at least 60 expected)"
grep -q "ERROR" "$work/sender.out" "$work/receiver.out" && fail "an error was posted"
echo PASS
