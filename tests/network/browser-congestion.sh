#!/usr/bin/env bash
# Chromium sending to letschat through a rate-limited link adapts on the
# transport-wide feedback letschat sends (issue 13):
#
#   netns "page" (10.77.N.2): headless Chromium on the server's page
#        --veth, the page's egress limited to 500 kbit/s once it has ramped up--
#   host (10.77.N.1): letschat-server, a gst-launch-1.0 letschatsrc receiving
#
# The checks are browser-send.mjs's: Chromium's video first climbs over
# 600 kbit/s (it only does on the receiver's feedback), then falls under
# the 500 kbit/s link (getStats). Needs root (network namespaces), node and
# Chromium; everything is removed on exit.
set -u
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: network namespaces need root"; exit 77
fi
: "${LETSCHAT_SERVER:?}" "${GST_PLUGIN_PATH:?}"
here=$(cd "$(dirname "$0")" && pwd)
node=$(command -v node || command -v nodejs) || { echo "FAIL: node not found"; exit 1; }

n=$(( ($$ % 200) + 20 ))
ns="mn-bc-$$"; veth_in="mnbc$$i"; veth_out="mnbc$$o"
host_ip="10.77.$n.1"; ns_ip="10.77.$n.2"
room="bc-$$"
logs=$(mktemp -d)
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  ip link del "$veth_out" 2>/dev/null
  rm -rf "$logs"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$logs"/*.log; do echo "--- $f"; grep -v "last-message\|letschat/stats" "$f" | tail -15; done; exit 1; }

ip netns add "$ns" || fail "cannot create a network namespace"
ip link add "$veth_out" type veth peer name "$veth_in" netns "$ns"
ip addr add "$host_ip/24" dev "$veth_out"; ip link set "$veth_out" up
ip -n "$ns" addr add "$ns_ip/24" dev "$veth_in"
ip -n "$ns" link set "$veth_in" up; ip -n "$ns" link set lo up

"$LETSCHAT_SERVER" --host "$host_ip" --port 0 >"$logs/server.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do
  url=$(sed -n 's/^letschat-server listening on //p' "$logs/server.log")
  [ -n "$url" ] && break; sleep 0.1
done
[ -n "$url" ] || fail "the server did not start"
http=$(echo "$url" | sed 's|^ws://|http://|; s|/ws$||')

gst-launch-1.0 -m letschatsrc name=r room="$room" server-url="$url" \
  r. ! video/x-raw ! fakesink r. ! audio/x-raw ! fakesink \
  >"$logs/receiver.log" 2>&1 & pids+=($!)

ip netns exec "$ns" "$node" "$here/browser-send.mjs" "$http" "$room" "$veth_in" \
  2>&1 | tee "$logs/page.log"
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || fail "the page's checks failed"
grep -q "^ERROR" "$logs/receiver.log" && fail "the receiver posted an error"
echo "PASS"
