#!/usr/bin/env bash
# The cluster benchmark (issue 15, ./scripts/bench --cluster): three
# letschat-server nodes and one redis-server on this machine, the two
# parties of every room on two different nodes (bench/loadgen --url
# URL,URL,URL: room r's first party on node r, its second on node r + 1), so
# that every signal goes from one node to another through Redis; beside it,
# under the very same load in the same run, ONE node without Redis (the
# rooms in the process, as without --redis). Results:
# bench/results/cluster-<UTC time>.json, and a table with the targets.
#
#   bench/cluster.sh [--quick] [--nodes N] [--rounds N] [--only one|cluster]
#                    [--build DIR]
#
# Three kinds of run per set-up, each against fresh processes (a fresh Redis
# too), the set-ups alternating run by run so that a busy moment of the
# machine falls on both; latency and saturate are run --rounds times each
# (default 3, --quick 1) and the round with the median figure is the one
# reported (all are kept in the JSON):
#   ramp      rooms held level by level up to 9,000 (18,000 sockets over
#             all nodes): RSS of the nodes and of Redis, and a fixed-rate
#             probe's latency at each level
#   latency   1,000 rooms cycling join/offer/answer/20 ICE/leave at
#             10,000 messages/s: relay latency p50/p99
#   saturate  the same as fast as the servers answer: messages/s, and the
#             CPU of each process (nodes, Redis, the load generator) and of
#             the whole machine: all of them share its cores
#
# Redis runs as a cache would (--save '' --appendonly no: nothing a node
# keeps there outlives a restart of the cluster anyway, see
# docs/deployment.md). Every process started here is stopped by the trap,
# on every exit. The nodes' limits are raised as in bench/server.sh.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/cluster-processes.sh
. "$top/bench/cluster-processes.sh"
build=$top/build
quick=0
rounds=""
n_nodes=3
only=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --nodes) n_nodes=$2; shift ;;
    --rounds) rounds=$2; shift ;;
    --only) only=$2; shift ;;
    --build) build=$2; shift ;;
    -h|--help) sed -n '2,31p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/cluster.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case $only in
  ""|one|cluster) ;;
  *) echo "bench/cluster.sh: --only one or --only cluster" >&2; exit 2 ;;
esac
[ "$n_nodes" -ge 2 ] 2>/dev/null || { echo "bench/cluster.sh: --nodes must be 2 or more" >&2; exit 2; }

loadgen=$build/bench/loadgen
lcserver=$build/ext/server/letschat-server
[ -x "$loadgen" ] && [ -x "$lcserver" ] || ninja -C "$build" bench/loadgen ext/server/letschat-server >/dev/null
for tool in redis-server redis-cli; do
  command -v $tool >/dev/null || { echo "bench/cluster.sh: $tool is needed (apt-get install redis-server)" >&2; exit 1; }
done

# Every socket is a file: 18,000 of them need more than the usual 1,024.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 19000 ]; then
  echo "bench/cluster.sh: only $(ulimit -n) open files allowed; the ramp stops early" >&2
fi

if [ $quick = 1 ]; then
  levels=250,500,1000; probe_s=2; rooms=1000; duration=5; rounds=${rounds:-1}
else
  levels=500,1000,2000,4000,6000,8000,9000; probe_s=3; rooms=1000; duration=15
  rounds=${rounds:-3}
fi
[ "$rounds" -ge 1 ] 2>/dev/null || { echo "bench/cluster.sh: --rounds must be 1 or more" >&2; exit 2; }

work_dir_with_cleanup
work=$work_dir

# start_node NAME [ARGS...]: one letschat-server; appends to node_pids and
# node_urls once it answers /healthz with 200 (a cluster node: once it
# reaches Redis)
start_node() {
  local name=$1 log=$work/$1.log url pid
  shift
  "$lcserver" --port 0 --max-connections 20000 --max-rooms 10000 \
    --max-per-ip 20000 --max-rooms-per-ip 10000 \
    --connection-rate-per-ip 100000 --connection-burst-per-ip 20000 \
    "$@" >"$log" 2>&1 &
  pid=$!
  pids+=("$pid")
  if ! url=$(node_url "$log" "$pid" 100); then
    echo "bench/cluster.sh: node $name did not start (or not reach Redis):" >&2
    cat "$log" >&2
    exit 1
  fi
  node_pids+=("$pid")
  node_urls+=("$url")
}

# start_set one|cluster
start_set() {
  local i
  node_pids=() node_urls=() redis_pid=""
  if [ "$1" = one ]; then
    start_node one
  else
    start_redis "$work"
    for i in $(seq "$n_nodes"); do
      start_node "node$i" --redis "$redis_url" --node-id "bench-node$i"
    done
  fi
}

# the nodes first: Redis going away under them is not what is measured
stop_set() {
  stop_pids "${node_pids[@]}"
  stop_pids "${pids[@]}"
  pids=()
  rm -f "$work"/node*.log "$work"/one.log
}

# run SET MODE NAME ARGS...: one loadgen run against fresh processes,
# its JSON in $work/NAME.json
run() {
  local set=$1 mode=$2 name=$3 urls pids_list
  shift 3
  start_set "$set"
  urls=$(IFS=,; echo "${node_urls[*]}")
  pids_list=$(IFS=,; echo "${node_pids[*]}")
  echo "== $name (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  cut -d' ' -f1-3 /proc/loadavg >"$work/$name.load-before"
  # loadgen exits 1 when it saw errors: the JSON says which, and the ramp
  # stops at errors on purpose
  "$loadgen" --url "$urls" --server-pid "$pids_list" \
    ${redis_pid:+--redis-pid "$redis_pid"} --mode "$mode" "$@" \
    >"$work/$name.json" || true
  cut -d' ' -f1-3 /proc/loadavg >"$work/$name.load-after"
  # what the nodes said of Redis, if anything went wrong there
  grep -h -E 'redis (lost|:)|seat lost|unavailable' "$work"/node*.log 2>/dev/null | head -5 >&2 || true
  stop_set
}

sets="one cluster"
[ -n "$only" ] && sets=$only
for s in $sets; do
  run "$s" ramp "$s-ramp" --levels "$levels" --probe-rate 2000 \
    --probe-seconds "$probe_s" --max-p99 250 --max-cpu 2
done
for r in $(seq "$rounds"); do
  for s in $sets; do
    run "$s" latency "$s-latency-$r" --rooms "$rooms" --rate 10000 \
      --duration "$duration"
  done
  for s in $sets; do
    run "$s" saturate "$s-saturate-$r" --rooms "$rooms" --duration "$duration"
  done
done

mkdir -p "$top/bench/results"
suffix=""
[ $quick = 1 ] && suffix=-quick
out=$top/bench/results/cluster-$(date -u +%Y%m%dT%H%M%SZ)$suffix.json
/usr/bin/python3 "$top/bench/cluster-report.py" "$work" "$out" "$quick" \
  "$n_nodes" "$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)" "$rounds" $sets
