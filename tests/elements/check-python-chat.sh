#!/usr/bin/env bash
# An application in Python (examples/chat.py, PyGObject) and one in C
# (examples/chat) chat through a real letschat-server: the elements'
# action signal and signal work from Python as from C.
set -u
. "$(dirname "$0")/common.sh"

start_room_server
mkfifo "$work/py.in" "$work/c.in"
# Each program reads its chat lines from a fifo held open by a sleeper.
sleep 60 >"$work/py.in" & pids+=($!)
sleep 60 >"$work/c.in" & pids+=($!)
/usr/bin/python3 "$CHAT_PY" --room pychat --name Py --server-url "$url" \
  <"$work/py.in" >"$work/py.out" 2>&1 &
pids+=($!)
"$CHAT_C" --room pychat --name C --server-url "$url" \
  <"$work/c.in" >"$work/c.out" 2>&1 &
pids+=($!)
wait_for "$work/py.out" "the other party joined (C)" 30
wait_for "$work/c.out" "the other party joined (Py)" 30
echo "from python, ünïcode ✓" >"$work/py.in"
echo "from C" >"$work/c.in"
wait_for "$work/c.out" "chat: Py: from python, ünïcode ✓" 30
wait_for "$work/py.out" "chat: C: from C" 30
echo "PASS: Python and C chatted both ways"
