#!/usr/bin/env bash
# aiortc, a stack letschat does not control, sending to letschat through a
# bad link (issue 13):
#
#   aiortc-send.sh remb-letschat-first|remb-peer-first
#       the namespace's egress limited to 350 kbit/s (tc tbf); letschat or
#       aiortc joins the room first (the second one offers). aiortc asks for
#       goog-remb and not transport-cc, and its sender reads nothing else:
#       its encoder, told 500 kbit/s to start with (aiortc's default, which
#       it keeps without REMB), is told less than the link within 40 s; the
#       receiver's stats show the REMB (remb-bitrate) and video frames still
#       coming.
#   aiortc-send.sh loss
#       10 % of aiortc's UDP dropped at random (nftables numgen): letschat
#       asks for the lost video packets again (nacks in its stats) and keeps
#       decoding.
#
#   netns "aiortc" (10.79.N.2): aiortc-party.py sending video (the ball with
#        noise, so that what it sends follows what it is told) and a tone
#        --veth--
#   host (10.79.N.1): letschat-server, a gst-launch-1.0 letschatsrc receiving
#
# In each the receiver posts no error. Needs root and python3-aiortc.

# shellcheck source=tests/network/netns.sh
. "$(dirname "$0")/netns.sh"
here=$(cd "$(dirname "$0")" && pwd)
party="$here/../interop/aiortc-party.py"
mode=${1:?usage: aiortc-send.sh remb-letschat-first|remb-peer-first|loss}
LINK=350000

/usr/bin/python3 -c 'import aiortc' 2>/dev/null ||
  { echo "SKIP: python3-aiortc is not installed"; exit 77; }

netns_host_pair ar 10.79
room="ar-$$"
start_room_server -- --host "$host_ip"
if [ "$mode" = loss ]; then
  ip netns exec "$ns" nft add table inet aiortc || fail "nft failed"
  ip netns exec "$ns" nft "add chain inet aiortc out { type filter hook output priority 0 ; }"
  # All UDP aiortc sends, IPv4 or IPv6 (ICE may pair link-local addresses).
  ip netns exec "$ns" nft add rule inet aiortc out meta l4proto udp \
    numgen random mod 100 '<' 10 drop
else
  ip netns exec "$ns" tc qdisc add dev "$veth_in" root tbf rate $((LINK / 1000))kbit \
    burst 32kbit latency 400ms || fail "tc tbf failed"
fi

start_receiver() {
  gst-launch-1.0 -m letschatsrc name=r room="$room" server-url="$url" \
    stats-interval=1000 r. ! video/x-raw ! fakesink r. ! audio/x-raw ! fakesink \
    >"$logs/receiver.log" 2>&1 & pids+=($!)
}
start_aiortc() {
  # Its stdin stays open (EOF would hang up): a FIFO this shell holds.
  mkfifo "$logs/aiortc-stdin"
  exec 3<>"$logs/aiortc-stdin"
  ip netns exec "$ns" /usr/bin/python3 "$party" --url "$url" --room "$room" \
    --send 1 --recv 0 --noise 6 <&3 \
    >"$logs/aiortc.log" 2>"$logs/aiortc-diagnostics.log" & pids+=($!)
}
if [ "$mode" != remb-peer-first ]; then
  start_receiver
  wait_for 20 grep -q "letschat/joined" "$logs/receiver.log" || fail "the receiver did not join"
  start_aiortc
else
  start_aiortc
  wait_for 20 grep -q "^joined" "$logs/aiortc.log" || fail "aiortc did not join"
  start_receiver
fi

wait_for 20 grep -q "^connection connected" "$logs/aiortc.log" || fail "aiortc did not connect"
# latest FIELD [STREAM]: FIELD of the receiver's last letschat/stats
# message, within STREAM's structure if given (its fields are escaped)
latest() {
  local line
  line=$(grep "letschat/stats" "$logs/receiver.log" | tail -1)
  [ -n "${2:-}" ] && line=$(echo "$line" | grep -o "$2=(structure)\"[^\"]*\"")
  echo "$line" | grep -o "$1[\\\\]*=[\\\\]*([a-z0-9]*[\\\\]*)[0-9]*" | head -1 | sed 's/.*)//'
}
frames_go_on() {
  frames_before=$(latest frames receive-video)
  sleep 5
  frames_after=$(latest frames receive-video)
  [ -n "$frames_before" ] && [ -n "$frames_after" ] && [ "$frames_after" -gt "$frames_before" ] ||
    fail "no video frames came in 5 s $1 (frames ${frames_before:-?} -> ${frames_after:-?})"
}

if [ "$mode" = loss ]; then
  nacks_sent() { nacks=$(latest nacks receive-video); [ -n "$nacks" ] && [ "$nacks" -gt 0 ]; }
  wait_for 30 nacks_sent || fail "letschat asked for no lost packet again (nacks=${nacks:-none})"
  frames_go_on "under 10 % loss"
  echo "receiver: nacks $nacks, video frames $frames_before -> $frames_after in 5 s under 10 % loss"
else
  targets() { sed -n 's/^send-target //p' "$logs/aiortc.log" | tr '\n' ' '; }
  last_target() { sed -n 's/^send-target //p' "$logs/aiortc.log" | tail -1; }
  under_link() { local t; t=$(last_target); [ -n "$t" ] && [ "$t" -lt $LINK ]; }
  wait_for 40 under_link ||
    fail "aiortc's encoder was not told less than the $LINK bit/s link within 40 s (told: $(targets))"
  echo "aiortc's encoder was told (bit/s, each second): $(targets)"

  # The stats come once a second: the next ones show the REMB.
  remb_under_link() { remb=$(latest remb-bitrate); [ -n "$remb" ] && [ "$remb" -gt 0 ] && [ "$remb" -lt $LINK ]; }
  wait_for 10 remb_under_link ||
    fail "the receiver's stats say remb-bitrate=${remb:-none}, expected a REMB under the link"
  frames_go_on "after the drop"
  echo "receiver: remb-bitrate $remb, video frames $frames_before -> $frames_after in 5 s"
fi
grep -q "^ERROR" "$logs/receiver.log" && fail "the receiver posted an error"
echo "PASS"
