#!/usr/bin/env bash
# Keeps the media benchmark working (meson test --suite bench): one letschat
# call and one baseline call through a real letschat-server, 1 s measured
# each. Both must come up both ways and every frame number must read back
# from the decoded pictures. No figure is checked: timing belongs in
# ./scripts/bench, not in a test on a shared machine.
set -euo pipefail
bench=${1:?usage: media-smoke.sh MEDIA_BENCH SERVER}
server=${2:?usage: media-smoke.sh MEDIA_BENCH SERVER}
dir=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT

"$server" --port 0 >"$dir/server.log" 2>&1 &
pid=$!
url=""
for _ in $(seq 50); do
  url=$(grep -o 'ws://[^ ]*' "$dir/server.log" || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { echo "letschat-server did not start"; exit 1; }

passed=0 failed=0
for impl in letschat baseline; do
  if "$bench" --impl "$impl" --server "$url" --seconds 1 --timeout 20 \
      >"$dir/$impl.json" 2>"$dir/$impl.err" &&
      grep -q '"ok": true' "$dir/$impl.json" &&
      grep -q '"frames_unreadable": 0,' "$dir/$impl.json" &&
      grep -q '"decoded_ms": \[[0-9]' "$dir/$impl.json"; then
    echo "ok: $impl call measured"
    passed=$((passed + 1))
  else
    echo "FAILED: $impl call"; cat "$dir/$impl.json" "$dir/$impl.err"
    failed=$((failed + 1))
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
