#!/usr/bin/env bash
# A call across a real (virtual) network that breaks and comes back.
#
#   netns "sender" (10.77.N.2) --veth-- host (10.77.N.1): letschat-server, receiver
#
# The sender (gst-launch-1.0 in its own network namespace) calls the
# receiver; the link is brought down for 12 s (longer than the server's
# ping timeout, so the server drops the sender), then up again. The call
# must come back by itself: frames arrive again at the receiver.
# Needs root (network namespaces); everything is removed on exit.
set -u
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: network namespaces need root"; exit 77
fi
: "${LETSCHAT_SERVER:?}" "${GST_PLUGIN_PATH:?}"

n=$(( ($$ % 200) + 20 ))
ns="letschat-cut-$$"; veth_in="lcc$$i"; veth_out="lcc$$o"
host_ip="10.77.$n.1"; ns_ip="10.77.$n.2"
logs=$(mktemp -d)
pids=()

cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  ip netns del "$ns" 2>/dev/null
  ip link del "$veth_out" 2>/dev/null
  rm -rf "$logs"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$logs"/*.log; do echo "--- $f"; grep -v "chain\|qos\|last-message" "$f" | tail -15; done; exit 1; }

ip netns add "$ns" || fail "cannot create a network namespace"
ip link add "$veth_out" type veth peer name "$veth_in" netns "$ns"
ip addr add "$host_ip/24" dev "$veth_out"; ip link set "$veth_out" up
ip -n "$ns" addr add "$ns_ip/24" dev "$veth_in"
ip -n "$ns" link set "$veth_in" up; ip -n "$ns" link set lo up

"$LETSCHAT_SERVER" --host "$host_ip" --port 0 --ping-interval 1 \
  --ping-timeout 4 >"$logs/server.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do
  url=$(sed -n 's/^letschat-server listening on //p' "$logs/server.log")
  [ -n "$url" ] && break; sleep 0.1
done
[ -n "$url" ] || fail "the server did not start"

gst-launch-1.0 -v -m letschatsrc room=cut server-url="$url" ! video/x-raw ! \
  fakesink silent=false >"$logs/receiver.log" 2>&1 & pids+=($!)
ip netns exec "$ns" gst-launch-1.0 -m videotestsrc is-live=true ! \
  video/x-raw,width=320,height=240,framerate=30/1 ! \
  letschatsink room=cut server-url="$url" >"$logs/sender.log" 2>&1 & pids+=($!)

frames() { grep -c "chain" "$logs/receiver.log"; }
wait_frames() {  # wait_frames MIN SECONDS
  local deadline=$(( $(date +%s) + $2 ))
  while [ "$(frames)" -lt "$1" ]; do
    [ "$(date +%s)" -gt "$deadline" ] && return 1
    sleep 0.2
  done
}

wait_frames 30 60 || fail "no call before the cut ($(frames) frames)"
echo "call up: $(frames) frames; cutting the link for 12 s"
ip link set "$veth_out" down
sleep 12
before=$(frames)
ip link set "$veth_out" up
echo "link back after 12 s ($before frames so far)"
start=$(date +%s)
wait_frames $(( before + 60 )) 60 || fail "the call did not come back ($(frames) frames)"
echo "the call came back $(( $(date +%s) - start )) s after the link: $(frames) frames"
grep -o "letschat/[a-z-]*" "$logs/receiver.log" | sort | uniq -c | sed 's/^/  receiver: /'
grep -o "letschat/[a-z-]*" "$logs/sender.log" | sort | uniq -c | sed 's/^/  sender: /'
grep -q "ERROR" "$logs/receiver.log" && fail "the receiver posted an error"
grep -q "ERROR" "$logs/sender.log" && fail "the sender posted an error"
echo "PASS"
