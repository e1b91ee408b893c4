#!/usr/bin/env bash
# examples/call.py --headless (the window's pipeline with fakesinks) holds a
# real two-way call with a gst-launch-1.0 party through a real
# letschat-server: media arrives both ways, the mute command (the Mute
# button's code) works during the call, and hang-up leaves the room (the
# other party gets letschat/peer-left) and ends the program.
set -u
. "$(dirname "$0")/common.sh"

start_room_server
mkfifo "$work/call.in"
sleep 120 >"$work/call.in" & pids+=($!)     # holds the fifo open
/usr/bin/python3 "$CALL_PY" --headless --room pycall --name Python --server-url "$url" \
  <"$work/call.in" >"$work/call.out" 2>&1 &
call=$!
pids+=($call)
gst-launch-1.0 -m videotestsrc is-live=true ! letschatsink name=s room=pycall \
  server-url="$url" display-name=Launch audiotestsrc is-live=true ! s. \
  letschatsrc name=r room=pycall server-url="$url" display-name=Launch \
  r. ! queue ! fakesink async=false r. ! queue ! fakesink async=false \
  >"$work/party.out" 2>&1 &
pids+=($!)
wait_for "$work/call.out" "the other party joined (Launch)" 60
wait_for "$work/call.out" "received 30 video frames and" 60
wait_for "$work/party.out" "letschat/first-frame, pad=(string)video_0" 60
wait_for "$work/party.out" "letschat/first-frame, pad=(string)audio_0" 60
wait_for "$work/party.out" "peer-name=(string)Python" 5
echo mute >"$work/call.in"
wait_for "$work/call.out" "microphone muted" 10
echo hangup >"$work/call.in"
wait_for "$work/call.out" "hung up" 10
wait_for "$work/party.out" "letschat/peer-left" 20
for i in $(seq 100); do kill -0 "$call" 2>/dev/null || break; sleep 0.1; done
kill -0 "$call" 2>/dev/null && fail "call.py still runs 10 s after hangup"
wait "$call" || fail "call.py exited with $?"
grep -qE "^(error|warning):" "$work/call.out" && fail "call.py saw an error or warning"

# The window: gtksink in a GTK window on a virtual display, its Mute and
# Hang up buttons pressed (stdin commands press them).
command -v Xvfb >/dev/null || fail "Xvfb is missing (Debian's xvfb, in scripts/lib/common.sh)"
display=:$((200 + $$ % 500))
Xvfb "$display" -screen 0 1024x768x24 -nolisten tcp >"$work/xvfb.out" 2>&1 &
pids+=($!)
for i in $(seq 100); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done
mkfifo "$work/window.in"
sleep 120 >"$work/window.in" & pids+=($!)
DISPLAY=$display /usr/bin/python3 "$CALL_PY" --room pycall --name Window --audio-sink fakesink \
  --server-url "$url" <"$work/window.in" >"$work/window.out" 2>&1 &
window=$!
pids+=($window)
wait_for "$work/window.out" "the other party joined (Launch)" 60
wait_for "$work/window.out" "received 30 video frames and" 60
echo mute >"$work/window.in"
wait_for "$work/window.out" "microphone muted" 10
echo hangup >"$work/window.in"
wait_for "$work/window.out" "hung up" 10
for i in $(seq 100); do kill -0 "$window" 2>/dev/null || break; sleep 0.1; done
kill -0 "$window" 2>/dev/null && fail "the window still runs 10 s after Hang up"
wait "$window" || fail "call.py (window) exited with $?"
grep -qE "^error:" "$work/window.out" && fail "call.py (window) saw an error"
echo "PASS: call.py held a two-way call, muted, and hung up, headless and in a window"
