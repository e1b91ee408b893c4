# shellcheck shell=bash
# How the cluster benchmark starts and stops its processes: one
# redis-server, letschat-server nodes that reach it. Sourced (not run) by
# bench/cluster.sh and by its smoke test bench/cluster-smoke.sh, so that the
# test starts them exactly as the benchmark does.
#
# The sourcing script keeps the PIDs of what it started in the array
# `pids` (start_redis appends to it); work_dir_with_cleanup makes its
# directory and stops them all on exit.

# stop_pids PID...: SIGTERM to each, then wait for each
stop_pids() {
  local p
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

# work_dir_with_cleanup: sets work_dir to a fresh directory; on exit (any
# exit) the processes in pids are stopped and the directory removed
work_dir_with_cleanup() {
  work_dir=$(mktemp -d)
  pids=()
  trap 'stop_pids "${pids[@]}"; rm -rf "$work_dir"' EXIT
}

# healthy URL: /healthz answers 200 (a cluster node: it reaches Redis)
healthy() {
  /usr/bin/python3 -c 'import sys, urllib.request
try:
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    sys.exit(direct.open(sys.argv[1], timeout=5).status != 200)
except OSError:
    sys.exit(1)' "$1"
}

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_redis DIR: a fresh redis-server on a free port, as a cache would run
# (--save '' --appendonly no), its log in DIR/redis.log; returns once it
# answers PING. Sets redis_pid and redis_url, appends to pids; exits the
# script with the log if it does not start.
start_redis() {
  local dir=$1 port try
  for try in 1 2 3; do
    # redis-server --port 0 would not listen on TCP at all: a free port is
    # picked and, should another process take it first, another one
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --logfile "$dir/redis.log" &
    redis_pid=$!
    pids+=("$redis_pid")
    for _ in $(seq 100); do
      [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ] && break
      kill -0 "$redis_pid" 2>/dev/null || break
      sleep 0.1
    done
    if [ "$(redis-cli -p "$port" ping 2>/dev/null)" = PONG ]; then
      redis_url=redis://127.0.0.1:$port
      return
    fi
    kill "$redis_pid" 2>/dev/null || true
  done
  echo "$(basename "$0"): redis-server did not start:" >&2
  cat "$dir/redis.log" >&2
  exit 1
}

# node_url LOG PID TRIES: prints the ws:// URL of the letschat-server PID
# (which logs to LOG) once it answers /healthz with 200 (a cluster node:
# once it reaches Redis; it retries on its own while it does not). Fails
# if PID died, or after TRIES times 0.1 s.
node_url() {
  local log=$1 pid=$2 tries=$3 url health
  for _ in $(seq "$tries"); do
    url=$(grep -o -m1 'ws://[^ ]*' "$log" || true)
    health=http://${url#ws://}
    health=${health%/ws}/healthz
    if [ -n "$url" ] && healthy "$health"; then
      echo "$url"
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
