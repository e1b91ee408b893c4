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

# shellcheck source=tests/network/netns.sh
. "$(dirname "$0")/netns.sh"
here=$(cd "$(dirname "$0")" && pwd)
node=$(command -v node || command -v nodejs) || { echo "FAIL: node not found"; exit 1; }

netns_host_pair bc 10.77
room="bc-$$"
start_room_server -- --host "$host_ip"
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
