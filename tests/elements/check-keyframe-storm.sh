#!/usr/bin/env bash
# A receiver that asks for a keyframe every 20 ms for 2 s (as one losing
# packets does, keyframe-storm-receiver.py): the sender does not answer
# each request with a keyframe, only those that come once the last one
# can have arrived (gstletschatkeyframerequests.c, docs/congestion.md "The
# call's start"), and the receiver goes on decoding through the storm.
set -u
. "$(dirname "$0")/common.sh"
start_room_server

# The sender's log: a line for each keyframe that left its encoder
# (letschatladder:5) and for each request ignored (letschatkeyframes:5).
GST_DEBUG=letschatladder:5,letschatkeyframes:5 GST_DEBUG_NO_COLOR=1 \
  gst-launch-1.0 videotestsrc is-live=true pattern=ball ! \
  video/x-raw,width=320,height=240,framerate=30/1 ! \
  letschatsink room=storm server-url="$url" >"$work/sender.out" 2>&1 &
pids+=($!)
/usr/bin/python3 "$(dirname "$0")/keyframe-storm-receiver.py" "$url" storm \
  >"$work/receiver.out" 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "the receiver exited $rc"
grep -q "storm ended: 100 requests" "$work/receiver.out" || fail "the storm did not happen"

# Keyframes the sender made from the storm's start to its end (its log's
# times are the sender's own; the storm lasts 2 s of 30 fps).
keyframes=$(grep -c "judge_keyframe: a keyframe of" "$work/sender.out")
ignored=$(grep -c "about what was lost before it, ignored" "$work/sender.out")
echo "100 keyframe requests: $ignored ignored, $keyframes keyframes in the whole call"
[ "$ignored" -ge 50 ] || fail "only $ignored of 100 keyframe requests were ignored"
[ "$keyframes" -lt 50 ] || fail "$keyframes keyframes: one for nearly every request"

# The picture went on through the storm and after it.
decoded_at_end=$(grep "^decoded" "$work/receiver.out" | tail -1 | cut -d' ' -f2)
decoded_before=$(grep -B1 "^storm started" "$work/receiver.out" | grep "^decoded" | cut -d' ' -f2)
echo "frames decoded: $decoded_before before the storm, $decoded_at_end in all"
[ $((decoded_at_end - decoded_before)) -ge 60 ] || fail "the picture stalled in the storm"
grep -q "ERROR" "$work/sender.out" && fail "the sender posted an error"
echo PASS
