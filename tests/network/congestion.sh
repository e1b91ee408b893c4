#!/usr/bin/env bash
# What a call does on a bad link (issue 13), across a real (virtual) network:
#
#   netns "sender" (10.78.N.2) --veth-- host (10.78.N.1): letschat-server, receiver
#
#   congestion.sh rate   the sender's egress limited to 500 kbit/s (tc tbf):
#                        the target bitrate the sender's letschat/stats report
#                        falls below 500 kbit/s, and the picture it encodes
#                        gets smaller than the input's 640x480.
#   congestion.sh loss   10 % of the sender's UDP dropped at random (nftables
#                        numgen): the receiver keeps decoding, its
#                        letschat/stats show retransmitted packets, the
#                        sender's the loss the receiver reports, and its
#                        jitter buffer's latency (receive-latency) grows
#                        from letschatsrc's 50 ms to wait for them; with
#                        the loss gone, 10 s on, no count has gone back.
# Needs root (network namespaces); everything is removed on exit. Each case
# waits on what it checks (at most 60 s), never on a fixed time.

# shellcheck source=tests/network/netns.sh
. "$(dirname "$0")/netns.sh"
mode=${1:?usage: congestion.sh rate|loss}

netns_host_pair cc 10.78
start_room_server -- --host "$host_ip"

gst-launch-1.0 -v -m letschatsrc room=cc server-url="$url" ! video/x-raw ! \
  fakesink silent=false >"$logs/receiver.log" 2>&1 & pids+=($!)
# Snow: every frame costs what the encoder is allowed, as a busy camera does.
ip netns exec "$ns" gst-launch-1.0 -m videotestsrc is-live=true pattern=snow ! \
  video/x-raw,width=640,height=480,framerate=30/1 ! \
  letschatsink room=cc server-url="$url" >"$logs/sender.log" 2>&1 & pids+=($!)

# The latest value of FIELD in a log's letschat/stats (nested fields are
# escaped inside their structure's string).
latest() {  # latest LOG FIELD
  grep "letschat/stats" "$1" | tail -1 | grep -o "$2[\\\\]*=[\\\\]*([a-z0-9]*[\\\\]*)[0-9]*" | \
    head -1 | sed 's/.*)//'
}

# Every value of FIELD in a log's letschat/stats, in order.
all_of() {  # all_of LOG FIELD
  grep "letschat/stats" "$1" | while read -r line; do
    echo "$line" | grep -o "$2[\\\\]*=[\\\\]*([a-z0-9]*[\\\\]*)[0-9]*" | head -1 | sed 's/.*)//'
  done
}

wait_for 60 have_frames 30 || fail "no call ($(frames) frames)"
echo "call up: $(frames) frames"

case "$mode" in
  rate)
    ip netns exec "$ns" tc qdisc add dev "$veth_in" root tbf rate 500kbit \
      burst 32kbit latency 400ms || fail "tc tbf failed"
    echo "sender's link limited to 500 kbit/s"
    target_under() { local t; t=$(latest "$logs/sender.log" target-bitrate); [ -n "$t" ] && [ "$t" -lt 500000 ]; }
    wait_for 60 target_under || fail "the target bitrate stayed at $(latest "$logs/sender.log" target-bitrate) bit/s"
    echo "target bitrate now $(latest "$logs/sender.log" target-bitrate) bit/s (link 500 kbit/s)"
    # The ladder: a smaller picture rather than mush (docs/congestion.md).
    smaller() { local w; w=$(latest "$logs/sender.log" width); [ -n "$w" ] && [ "$w" -gt 0 ] && [ "$w" -lt 640 ]; }
    wait_for 60 smaller || fail "the sender still encodes $(latest "$logs/sender.log" width) pixels wide through 500 kbit/s"
    echo "the sender now encodes $(latest "$logs/sender.log" width)x$(latest "$logs/sender.log" height)"
    before=$(frames)
    wait_for 60 have_frames $(( before + 30 )) || fail "no frames after adapting ($(frames))"
    ;;
  loss)
    ip netns exec "$ns" nft add table inet mncc || fail "nft failed"
    ip netns exec "$ns" nft "add chain inet mncc out { type filter hook output priority 0 ; }"
    # All UDP the sender sends, IPv4 or IPv6 (ICE often pairs the veth's
    # link-local IPv6 addresses).
    ip netns exec "$ns" nft add rule inet mncc out meta l4proto udp \
      numgen random mod 100 '<' 10 drop
    echo "10 % of the sender's UDP dropped"
    before=$(frames)
    wait_for 60 have_frames $(( before + 90 )) || fail "decoding stopped under loss ($(( $(frames) - before )) frames)"
    echo "$(( $(frames) - before )) frames decoded under loss"
    retransmitted() { local r; r=$(latest "$logs/receiver.log" retransmitted-packets); [ -n "$r" ] && [ "$r" -gt 0 ]; }
    wait_for 60 retransmitted || fail "no retransmitted packets in the receiver's stats"
    echo "receiver's stats: $(latest "$logs/receiver.log" retransmitted-packets) retransmitted packets, $(latest "$logs/receiver.log" nacks) NACKs sent"
    grown() { local l; l=$(latest "$logs/receiver.log" receive-latency); [ -n "$l" ] && [ "$l" -gt 50 ] && [ "$l" -le 300 ]; }
    wait_for 60 grown || fail "the receiver's jitter buffer latency stayed at $(latest "$logs/receiver.log" receive-latency) ms under 10 % loss"
    echo "receiver's jitter buffer latency $(latest "$logs/receiver.log" receive-latency) ms (letschatsrc latency=50, max-latency=300)"
    # The counts are the call's: a quiet spell longer than the 5 s after
    # which rtpsession forgets a silent RTX source takes none of them back.
    sent_rtx() { local r; r=$(latest "$logs/sender.log" retransmitted-packets); [ -n "$r" ] && [ "$r" -gt 0 ]; }
    wait_for 60 sent_rtx || fail "no retransmitted packets in the sender's stats"
    # The receiver's reports reach the sender's stats: the packets that
    # did not arrive the first time (retransmission repairs them later).
    lost_reported() { local r; r=$(latest "$logs/sender.log" packets-lost); [ -n "$r" ] && [ "$r" -gt 0 ]; }
    wait_for 60 lost_reported || fail "the sender's stats show no loss reported by the receiver"
    echo "sender's stats: $(latest "$logs/sender.log" packets-lost) packets lost as the receiver reports"
    ip netns exec "$ns" nft delete table inet mncc || fail "nft failed"
    echo "loss off: sender $(latest "$logs/sender.log" retransmitted-packets), receiver $(latest "$logs/receiver.log" retransmitted-packets) retransmitted packets so far"
    before=$(frames) quiet_since=$SECONDS
    quiet_for_10s() { [ $(( SECONDS - quiet_since )) -ge 10 ] && have_frames $(( before + 150 )); }
    wait_for 60 quiet_for_10s || fail "decoding stopped without loss ($(( $(frames) - before )) frames)"
    for side in sender receiver; do
      counts=$(all_of "$logs/$side.log" retransmitted-packets | tr '\n' ' ')
      echo "$counts" | awk '{ for (i = 2; i <= NF; i++) if ($i < $(i - 1)) exit 1 }' || \
        fail "the $side's retransmitted packets went back during the call: $counts"
    done
    echo "$(( $(frames) - before )) frames ($(( SECONDS - quiet_since )) s) later: sender $(latest "$logs/sender.log" retransmitted-packets), receiver $(latest "$logs/receiver.log" retransmitted-packets) retransmitted packets, never fewer than before"
    ;;
esac
grep -q "ERROR" "$logs/receiver.log" && fail "the receiver posted an error"
grep -q "ERROR" "$logs/sender.log" && fail "the sender posted an error"
echo "PASS"
