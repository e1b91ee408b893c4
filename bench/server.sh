#!/usr/bin/env bash
# The room-server benchmark (issue 6, item 4): bench/loadgen drives
# letschat-server and, under the very same load, the Node.js `ws` baseline
# (bench/node-baseline/server.mjs), and every figure is printed beside the
# baseline's with their ratio. Results: bench/results/server-<UTC time>.json
# and a plot of them beside it (.png, bench/plot-server.py).
#
#   bench/server.sh [--quick] [--only letschat|node] [--build DIR]
#
# Three runs per server, each against a fresh server process:
#   ramp      rooms held level by level up to 9,000 (18,000 sockets): server
#             RSS per socket, and a fixed-rate probe's latency at each level
#   latency   1,000 rooms cycling join/offer/answer/20 ICE/leave at
#             10,000 messages/s: relay latency p50/p99
#   saturate  the same as fast as the server answers: messages/s, and the
#             server's CPU seconds per message (the generator shares the
#             machine's two cores, so both are reported)
#
# Both servers run with their connection limits raised as a deployment
# for this many parties would (--max-connections, --max-rooms,
# --max-per-ip, --max-rooms-per-ip, --connection-rate-per-ip,
# --connection-burst-per-ip: every socket comes from 127.0.0.1); rate limits stay at
# their defaults (50 messages/s per socket, bursts of 200), which the load
# stays under. Log lines go to a file, as a deployment's would.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
quick=0
only=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --only) only=$2; shift ;;
    --build) build=$2; shift ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/server.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

loadgen=$build/bench/loadgen
lcserver=$build/ext/server/letschat-server
[ -x "$loadgen" ] && [ -x "$lcserver" ] || ninja -C "$build" bench/loadgen ext/server/letschat-server >/dev/null
command -v node >/dev/null || { echo "bench/server.sh: node is needed for the baseline" >&2; exit 1; }
[ -d "$top/node_modules/ws" ] || (cd "$top" && npm ci --silent)

# Every socket is a file: 18,000 of them need more than the usual 1,024.
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 19000 ]; then
  echo "bench/server.sh: only $(ulimit -n) open files allowed; the ramp stops early" >&2
fi

if [ $quick = 1 ]; then
  # 1,000 rooms as in the full run: fewer would push each socket past the
  # server's rate limit (50 messages/s) in saturate
  levels=250,500,1000; probe_s=2; rooms=1000; duration=5
else
  levels=500,1000,2000,4000,6000,8000,9000; probe_s=3; rooms=1000; duration=15
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# start_server NAME: starts it, sets server_pid and url
start_server() {
  local log=$work/$1-server.log
  case $1 in
    letschat)
      "$lcserver" --port 0 --max-connections 20000 --max-rooms 10000 \
        --max-per-ip 20000 --max-rooms-per-ip 10000 \
        --connection-rate-per-ip 100000 --connection-burst-per-ip 20000 \
        >"$log" 2>&1 & ;;
    node)
      node "$top/bench/node-baseline/server.mjs" --port 0 >"$log" 2>&1 & ;;
  esac
  server_pid=$!
  url=""
  for _ in $(seq 100); do
    url=$(head -1 "$log" | grep -o 'ws://[^ ]*' || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "bench/server.sh: $1 did not start:" >&2; cat "$log" >&2; exit 1; }
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# run NAME MODE ARGS...: one loadgen run against a fresh server
run() {
  local name=$1 mode=$2
  shift 2
  start_server "$name"
  echo "== $name: $mode" >&2
  # loadgen exits 1 when it saw errors: the JSON says which, and the ramp
  # stops at errors on purpose
  "$loadgen" --url "$url" --server-pid "$server_pid" --mode "$mode" "$@" \
    >"$work/$name-$mode.json" || true
  stop_server
}

servers="letschat node"
[ -n "$only" ] && servers=$only
for s in $servers; do
  # latency "blows up" past 250 ms: the probe's p99 at a level where the
  # server still answers but no call could be set up in time
  # the generator's workers (at nice 10, so the server comes first) may use
  # both cores while holding 18,000 sockets: its own delay is then smaller
  run "$s" ramp --levels "$levels" --probe-rate 2000 --probe-seconds "$probe_s" \
    --max-p99 250 --max-cpu 2
  run "$s" latency --rooms "$rooms" --rate 10000 --duration "$duration"
  run "$s" saturate --rooms "$rooms" --duration "$duration"
done

mkdir -p "$top/bench/results"
suffix=""
[ $quick = 1 ] && suffix=-quick
out=$top/bench/results/server-$(date -u +%Y%m%dT%H%M%SZ)$suffix.json
/usr/bin/python3 - "$work" "$out" "$quick" "$servers" <<'EOF'
import json, os, platform, subprocess, sys
work, out, quick, servers = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4].split()

def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()

res = {"quick": quick, "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
       "kernel": platform.release(),
       "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
       "node_version": subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()}
for s in servers:
    res[s] = {}
    for mode in ("ramp", "latency", "saturate"):
        try:
            res[s][mode] = json.load(open(f"{work}/{s}-{mode}.json"))
        except (OSError, ValueError) as e:
            res[s][mode] = {"failed": str(e)}
json.dump(res, open(out, "w"), indent=1)

def get(s, mode, *keys):
    v = res.get(s, {}).get(mode, {})
    for k in keys:
        v = v.get(k) if isinstance(v, dict) else None
    return v

def per_msg_us(s):
    sat = res.get(s, {}).get("saturate", {})
    n = sat.get("messages_in_per_s", 0) * sat.get("duration_s", 0)
    return 1e6 * sat["server_cpu_s"] / n if n else None

rows = [
    ("max sockets held", lambda s: get(s, "ramp", "max_sockets"), "", "more", ">= 18000"),
    ("server RSS at max, MB", lambda s: (get(s, "ramp", "server_rss_kb_at_max") or 0) / 1024, "", "less", "<= 90"),
    ("RSS per socket, KB", lambda s: get(s, "ramp", "rss_per_socket_kb"), "", "less", "<= 5"),
    ("relay p50 @10k msg/s, ms", lambda s: get(s, "latency", "relay_latency", "p50_ms"), "", "less", ""),
    ("relay p99 @10k msg/s, ms", lambda s: get(s, "latency", "relay_latency", "p99_ms"), "", "less", "<= 5"),
    ("saturation, msg/s in", lambda s: get(s, "saturate", "messages_in_per_s"), "", "more", ">= 2x node"),
    ("server CPU per message, us", per_msg_us, "", "less", ""),
    ("msg/s per server core", lambda s: 1e6 / per_msg_us(s) if per_msg_us(s) else None, "", "more", ">= 2x node"),
]
names = servers
print(f"\nroom server, {res['machine']['cores']} cores {res['machine']['cpu']}; results in {os.path.relpath(out)}")
print(f"{'':30}" + "".join(f"{n:>12}" for n in names) + ("     ratio  target" if len(names) == 2 else ""))
for label, f, _, better, target in rows:
    vals = []
    for n in names:
        try:
            vals.append(f(n))
        except (KeyError, TypeError, ZeroDivisionError):
            vals.append(None)
    line = f"{label:30}" + "".join(f"{v:12.2f}" if isinstance(v, float) else f"{str(v):>12}" for v in vals)
    if len(names) == 2 and all(isinstance(v, (int, float)) and v for v in vals):
        line += f"  {vals[0] / vals[1]:7.2f}x  {target}"
    print(line)
for n in names:
    print(f"{n} ramp stopped: {get(n, 'ramp', 'stopped_because')}; levels (sockets: RSS MB, probe p99 ms): " +
          ", ".join(f"{l['sockets']}: {l['server_rss_kb'] / 1024:.0f}, {l['probe_latency']['p99_ms']:.1f}"
                    for l in get(n, 'ramp', 'levels') or []))
EOF
# the PNG beside the JSON, as scripts/bench draws the media's
/usr/bin/python3 "$top/bench/plot-server.py" "$out" "${out%.json}.png"
echo "plot in $(realpath --relative-to=. "${out%.json}.png")"
