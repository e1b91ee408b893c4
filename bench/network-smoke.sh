#!/usr/bin/env bash
# Keeps the network benchmark working (meson test --suite bench): one
# scenario of bench/network.py (3 % random loss, nftables numgen on a veth
# between two namespaces), a few seconds, for letschat -> letschat and
# Chromium -> letschat. Each call must connect, frames must decode, and
# letschat's frame numbers must read back; each run must say which
# candidate pair carried the call and that it took the lossy path (the loss
# rule saw its transport's packets: udp or ICE-TCP alike); the results JSON
# and its PNG must be written and nothing (namespaces, processes) left
# behind. No figure is
# checked: timing belongs in ./scripts/bench --network, not in a test on a
# shared machine. Root only (network namespaces): skipped otherwise.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: network namespaces need root"; exit 77
fi
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# every party's log kept, and shown (but its frame lines) on failure
export LETSCHAT_BENCH_KEEP="$dir/logs"
show_logs() {
  for f in "$dir"/logs/*/*.log; do
    echo "--- $f"; grep -v "^stats \|^sent \|^recv \|^send \|^rstats " "$f" | tail -20
  done
}
/usr/bin/python3 "$here/network.py" --seconds 4 --scenarios loss3 \
  --variants letschat,chromium-to-letschat --out "$dir/smoke.json" | tee "$dir/out.txt"
/usr/bin/python3 - "$dir/smoke.json" <<'PY' || { show_logs; exit 1; }
import json, sys
report = json.load(open(sys.argv[1]))
failed = 0
for variant, r in report["scenarios"]["loss3"].items():
    why = r.get("error") or ("no frame decoded" if not r["frames"] else
          "no frame number read back" if variant == "letschat" and not r["readable_frames"] else
          "no send bitrate sampled" if not r["send"] else
          "not the shaped path: %s" % r["path_problem"] if r["path_problem"] else None)
    print("%s: %s" % ("FAILED" if why else "ok", variant) + (": " + why if why else
          " (%d frames, path %s, %s)" % (r["frames"], r["path"], r["loss_counted"])))
    failed += bool(why)
sys.exit(1 if failed else 0)
PY
[ -s "$dir/smoke-loss3.png" ] || { echo "FAILED: no PNG written"; exit 1; }
# the bench's namespaces are mnb<its pid>s/r: none may outlive its process
for ns in $(ip netns list | sed -n 's/^\(mnb[0-9]*[sr]\)\b.*/\1/p'); do
  pid=${ns#mnb}; pid=${pid%?}
  if ! grep -qs network.py "/proc/$pid/cmdline"; then
    echo "FAILED: namespace $ns left behind"; exit 1
  fi
done
echo "nothing left behind"
