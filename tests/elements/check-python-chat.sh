#!/usr/bin/env bash
# An application in Python (examples/chat.py, PyGObject) and one in C
# (examples/chat) chat through a real letschat-server: the elements'
# action signal and signal work from Python as from C.
set -u
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$work"/*.out; do echo "== $f"; cat "$f"; done; exit 1; }

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="ws://127.0.0.1:$port/ws"
"$LETSCHAT_SERVER" -p "$port" >"$work/server.out" 2>&1 &
pids+=($!)
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

wait_for() { # file text seconds
  local i
  for i in $(seq $(($3 * 10))); do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "no '$2' in $(basename "$1") after $3 s"
}
wait_for "$work/py.out" "the other party joined (C)" 30
wait_for "$work/c.out" "the other party joined (Py)" 30
echo "from python, ünïcode ✓" >"$work/py.in"
echo "from C" >"$work/c.in"
wait_for "$work/c.out" "chat: Py: from python, ünïcode ✓" 30
wait_for "$work/py.out" "chat: C: from C" 30
echo "PASS: Python and C chatted both ways"
