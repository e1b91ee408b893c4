#!/usr/bin/env bash
# The media half of the benchmark (issue 6, items 1-3): call setup, glass-to-
# glass latency and CPU of a two-way 1280x720@30 VP8 call on loopback,
# letschat beside a webrtc-sendrecv-style baseline, in the same run.
#
#   bench/media.sh [--quick] [--calls N] [--seconds S] [--out FILE]
#
# Every call is a fresh build/bench/letschat-media-bench process holding
# both parties (see bench/media-bench.c for what is measured and how), so
# a DTLS certificate or anything else made by one call never helps the
# next; letschat and baseline calls alternate so that a busy moment of the
# machine falls on both. bench/media-report.py turns the runs into the
# "media" section of the results JSON and prints letschat vs baseline.
set -euo pipefail
cd "$(dirname "$0")/.."

calls=20 seconds=30 out="" quick=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) calls=5 seconds=10 quick=-quick ;;
    --calls) calls=$2; shift ;;
    --seconds) seconds=$2; shift ;;
    --out) out=$2; shift ;;
    *) echo "usage: $0 [--quick] [--calls N] [--seconds S] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done
build=${LETSCHAT_BUILD:-build}
out=${out:-bench/results/$(date -u +%Y-%m-%d)-$(hostname)$quick.json}
bench=$build/bench/letschat-media-bench
export GST_PLUGIN_PATH=$PWD/$build/gst/letschat
[ -x "$bench" ] || { echo "build first: ninja -C $build" >&2; exit 1; }

runs=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$runs"
}
trap cleanup EXIT

"$build/ext/server/letschat-server" --port 0 >"$runs/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 50); do
  url=$(grep -o 'ws://[^ ]*' "$runs/server.log" || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "letschat-server did not start" >&2; exit 1; }

one() { # name, args...
  local name=$1; shift
  if ! timeout 120 "$bench" --server "$url" "$@" >"$runs/$name.json" 2>"$runs/$name.err"; then
    echo "  $name failed: $(tail -n 3 "$runs/$name.err" | tr '\n' ' ')" >&2
  fi
}

echo "DTLS certificate, made by a process's first dtlsdec (5 processes)"
for i in $(seq 5); do "$bench" --dtls-certificate >"$runs/dtls-$i.json" 2>/dev/null || true; done

echo "Call setup: $calls calls each, 1280x720@30 VP8, loopback"
for i in $(seq "$calls"); do
  one "setup-letschat-$i" --impl letschat
  one "setup-baseline-$i" --impl baseline
  printf '  %d/%d\r' "$i" "$calls"
done
echo

echo "Glass-to-glass and CPU: ${seconds} s of a two-way call each"
one media-letschat --impl letschat --seconds "$seconds"
one media-baseline --impl baseline --seconds "$seconds"
one media-baseline-same-encoder --impl baseline --encoder letschat --seconds "$seconds"

/usr/bin/python3 bench/media-report.py "$runs" "$out" --calls "$calls" --seconds "$seconds"
