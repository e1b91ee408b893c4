# Sourced by the elements suite's shell tests: a work directory and the
# processes started, both gone on exit; fail MESSAGE prints the tail of
# every $work/*.out and exits 1; start_room_server runs $LETSCHAT_SERVER
# on a free port and sets $url to its WebSocket address; wait_for FILE
# TEXT SECONDS fails unless TEXT shows in FILE within SECONDS.
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$work"/*.out; do echo "== $f"; tail -n 100 "$f"; done; exit 1; }

start_room_server() {
  local port
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  url="ws://127.0.0.1:$port/ws"
  "$LETSCHAT_SERVER" -p "$port" >"$work/server.out" 2>&1 &
  pids+=($!)
}

wait_for() { # file text seconds
  local i
  for i in $(seq $(($3 * 10))); do
    grep -qF -- "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "no '$2' in $(basename "$1") after $3 s"
}
