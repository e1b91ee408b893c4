#!/usr/bin/env bash
# Keeps the cluster benchmark working (meson test --suite bench): one
# redis-server and two letschat-server nodes (as bench/cluster.sh starts
# them), and bench/loadgen with 10 rooms whose two parties are on different
# nodes for 3 s at 500 messages/s (join, offer, answer, candidates, leave,
# again and again). Every socket must connect, signals must cross to the
# other node, and no error may come back. No figure is checked (how many
# cycles fit in the 3 s is only printed): timing belongs in ./scripts/bench
# --cluster, not in a test on a shared machine.
set -euo pipefail
loadgen=${1:?usage: cluster-smoke.sh LOADGEN SERVER}
server=${2:?usage: cluster-smoke.sh LOADGEN SERVER}
command -v redis-server >/dev/null || { echo "SKIP: redis-server is not installed"; exit 77; }
# shellcheck source=bench/cluster-processes.sh
. "$(dirname "$0")/cluster-processes.sh"
work_dir_with_cleanup
dir=$work_dir

# the nodes start once Redis answers, as bench/cluster.sh starts them (a
# node started first retries on its own: that is tests/server's business)
start_redis "$dir"
urls="" node_pids=""
for n in 1 2; do
  # the benchmark's limits: its rooms come from one address: more than the
  # 10 rooms an address may open by default
  "$server" --port 0 --redis "$redis_url" --node-id "smoke$n" \
    --max-rooms-per-ip 1000 --max-per-ip 1000 >"$dir/node$n.log" 2>&1 &
  pids+=($!)
  # listening, and reaching Redis (/healthz 200)
  url=$(node_url "$dir/node$n.log" "${pids[-1]}" 200) \
    || { echo "FAILED: node $n did not reach Redis"; cat "$dir/node$n.log" "$dir/redis.log"; exit 1; }
  urls=$urls${urls:+,}$url
  node_pids=$node_pids${node_pids:+,}${pids[-1]}
done

if ! "$loadgen" --url "$urls" --server-pid "$node_pids" --redis-pid "$redis_pid" \
    --mode latency --rooms 10 --rate 500 --duration 3 --threads 2 \
    >"$dir/out.json" 2>"$dir/err"; then
  echo "FAILED: loadgen saw errors"; cat "$dir/out.json" "$dir/err" "$dir"/node*.log; exit 1
fi
cat "$dir/out.json"; echo
/usr/bin/python3 - "$dir/out.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
problems = []
if r["nodes"] != 2:
    problems.append("nodes %s, not 2" % r["nodes"])
if r["sockets"] != 20 or r["connect_failed"]:
    problems.append("%d of 20 sockets connected" % r["sockets"])
if r["errors"]:
    problems.append("%d errors" % r["errors"])
if not r["relay_latency"]["samples"]:
    problems.append("no signal relayed across the nodes")
if len(r["server_cpu_s_each"]) != 2:
    problems.append("CPU of %d nodes, not 2" % len(r["server_cpu_s_each"]))
if problems:
    sys.exit("FAILED: " + "; ".join(problems))
print("ok: %d signals relayed across two nodes in %d cycles, no error"
      % (r["relay_latency"]["samples"], r["cycles"]))
PY
