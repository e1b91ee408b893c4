#!/usr/bin/env bash
# docs/embedding.md's C and Python programs, taken out of the page as they
# are: each joins a room of a real letschat-server as a two-way party with
# a gst-launch-1.0 party, says hello on the chat (the other party's bus
# shows it), gets 30 frames, and leaves cleanly (the other party gets
# letschat/peer-left).
#   check-embedding.sh SOURCE_ROOT
set -u
doc="$1/docs/embedding.md"
. "$(dirname "$0")/common.sh"

# The first ```c and ```python blocks of the page.
awk '/^```c$/{f=1;next} /^```$/{if(f==1)exit} f==1' "$doc" >"$work/embed.c"
awk '/^```python$/{f=1;next} /^```$/{if(f==1)exit} f==1' "$doc" >"$work/embed.py"
[ -s "$work/embed.c" ] || fail "no C program in $doc"
[ -s "$work/embed.py" ] || fail "no Python program in $doc"
cc "$work/embed.c" -o "$work/embed" $(pkg-config --cflags --libs gstreamer-1.0) \
  >"$work/cc.out" 2>&1 || fail "the C program of $doc does not compile"

start_room_server

run() { # name command...
  local name=$1 room="embed-$1" app
  shift
  gst-launch-1.0 -m videotestsrc is-live=true ! letschatsink name=s room=$room \
    server-url="$url" display-name=Launch audiotestsrc is-live=true ! s. \
    letschatsrc name=r room=$room server-url="$url" display-name=Launch \
    r. ! queue ! fakesink async=false r. ! queue ! fakesink async=false \
    >"$work/party-$name.out" 2>&1 &
  local party=$!
  pids+=($party)
  wait_for "$work/party-$name.out" "letschat/joined" 30
  "$@" "$room" "$url" >"$work/$name.out" 2>&1 &
  app=$!
  pids+=($app)
  wait_for "$work/$name.out" "the other party joined: Launch" 60
  # gst-launch-1.0 -m prints the chat line with its spaces escaped.
  wait_for "$work/party-$name.out" 'text=(string)"hello\ from' 60
  wait_for "$work/$name.out" "30 frames from the other party" 60
  for i in $(seq 150); do kill -0 "$app" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$app" 2>/dev/null && fail "$name still runs 15 s after its 30 frames"
  wait "$app" || fail "$name exited with $?"
  wait_for "$work/party-$name.out" "letschat/peer-left" 20
  grep -q "^error:" "$work/$name.out" && fail "$name printed an error"
  kill "$party"
}
run c "$work/embed"
run python /usr/bin/python3 "$work/embed.py"
echo "PASS: the C and Python programs of docs/embedding.md called, chatted and left"
