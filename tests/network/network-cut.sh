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

# shellcheck source=tests/network/netns.sh
. "$(dirname "$0")/netns.sh"

netns_host_pair cut 10.77
start_room_server -- --host "$host_ip" --ping-interval 1 --ping-timeout 4

gst-launch-1.0 -v -m letschatsrc room=cut server-url="$url" ! video/x-raw ! \
  fakesink silent=false >"$logs/receiver.log" 2>&1 & pids+=($!)
ip netns exec "$ns" gst-launch-1.0 -m videotestsrc is-live=true ! \
  video/x-raw,width=320,height=240,framerate=30/1 ! \
  letschatsink room=cut server-url="$url" >"$logs/sender.log" 2>&1 & pids+=($!)

wait_for 60 have_frames 30 || fail "no call before the cut ($(frames) frames)"
echo "call up: $(frames) frames; cutting the link for 12 s"
ip link set "$veth_out" down
sleep 12
before=$(frames)
ip link set "$veth_out" up
echo "link back after 12 s ($before frames so far)"
start=$(date +%s)
wait_for 60 have_frames $(( before + 60 )) || fail "the call did not come back ($(frames) frames)"
echo "the call came back $(( $(date +%s) - start )) s after the link: $(frames) frames"
grep -o "letschat/[a-z-]*" "$logs/receiver.log" | sort | uniq -c | sed 's/^/  receiver: /'
grep -o "letschat/[a-z-]*" "$logs/sender.log" | sort | uniq -c | sed 's/^/  sender: /'
grep -q "ERROR" "$logs/receiver.log" && fail "the receiver posted an error"
grep -q "ERROR" "$logs/sender.log" && fail "the sender posted an error"
echo "PASS"
