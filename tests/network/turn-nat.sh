#!/usr/bin/env bash
# Calls that can only meet through TURN: two parties, each behind its own
# NAT, a real coturn and letschat-server on the outside network.
#
#   lanA (10.1.0.2)                                        lanB (10.2.0.2)
#   sender: letschatsink                                   receiver: letschatsrc
#       |                                                      |
#   rA  10.1.0.1 | 203.0.113.2    masquerade      rB  10.2.0.1 | 203.0.113.6
#                  \                                          /
#                   wan: 203.0.113.1 (.5): turnserver (coturn), letschat-server;
#                        routes between rA and rB, drops UDP between them;
#                        default route into "void" (see below)
#
# 1. TURN/UDP: the room server hands out short-lived credentials
#    (--turn-secret, --turn-uri); the call works, frames are decoded, and
#    the selected candidate pair (letschat/candidate-pair) says relay.
# 2. No TURN given: the call fails, and the warning says what to do.
# 3. Both LANs drop all UDP: TURN over TCP (?transport=tcp) carries the
#    call, and so does TURN over TLS (turns:, port 5349).
# 4. The room server's clock is two hours behind (libfaketime): its
#    credentials have expired, coturn refuses them, and the warning says so.
#
# Needs root (network namespaces); everything is removed on exit.

# shellcheck source=tests/network/netns.sh
. "$(dirname "$0")/netns.sh"
fail_tail=25
for tool in turnserver nft; do
  if ! command -v "$tool" >/dev/null; then
    echo "SKIP: $tool is missing (./scripts/check installs coturn, nftables, faketime)"
    exit 77
  fi
done
# libfaketime preloaded into the room server itself (the faketime wrapper
# would run it as a child that outlives a kill of the wrapper).
libfaketime=$(ls /usr/lib/*/faketime/libfaketime.so.1 2>/dev/null | head -1)
if [ -z "$libfaketime" ]; then
  echo "SKIP: libfaketime is missing (./scripts/check installs faketime)"; exit 77
fi
tag="tn$$"
nsA="$tag-lanA"; nsB="$tag-lanB"; nsRA="$tag-rA"; nsRB="$tag-rB"
nsW="$tag-wan"; nsV="$tag-void"
secret="turn-secret-$$-$RANDOM"
certs="$(cd "$(dirname "$0")/../server/certs" && pwd)"

# ----------------------------------------------------------------------
# The networks
netns_add "$nsA" "$nsB" "$nsRA" "$nsRB" "$nsW" "$nsV"
netns_link "$nsA" "${tag}a" 10.1.0.2/24 "$nsRA" "${tag}ai" 10.1.0.1/24
netns_link "$nsB" "${tag}b" 10.2.0.2/24 "$nsRB" "${tag}bi" 10.2.0.1/24
netns_link "$nsRA" "${tag}ao" 203.0.113.2/30 "$nsW" "${tag}wa" 203.0.113.1/30
netns_link "$nsRB" "${tag}bo" 203.0.113.6/30 "$nsW" "${tag}wb" 203.0.113.5/30
# coturn relays checks towards the parties' private host addresses too;
# with no route, sendto() fails with ENETUNREACH and coturn 4.6 closes the
# whole allocation. On the Internet such packets just vanish: here they go
# into a namespace that drops them (it does not forward).
netns_link "$nsW" "${tag}wv" 192.0.2.1/30 "$nsV" "${tag}v" 192.0.2.2/30
ip -n "$nsW" route add default via 192.0.2.2
ip -n "$nsA" route add default via 10.1.0.1
ip -n "$nsB" route add default via 10.2.0.1
ip -n "$nsRA" route add default via 203.0.113.1
ip -n "$nsRB" route add default via 203.0.113.5
ip netns exec "$nsW" sysctl -qw net.ipv4.ip_forward=1
netns_settle

nat() {  # nat ROUTER INSIDE_IF OUTSIDE_IF
  ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1
  ip netns exec "$1" nft -f - <<EOF || fail "nftables in $1"
table ip nat {
  chain post { type nat hook postrouting priority 100 ; oifname "$3" masquerade ; }
}
table ip filter {
  chain forwarding {
    type filter hook forward priority 0 ; policy drop ;
    ct state established,related accept
    iifname "$2" accept
  }
}
EOF
}
nat "$nsRA" "${tag}ai" "${tag}ao"
nat "$nsRB" "${tag}bi" "${tag}bo"
# No direct path between the two NATs: UDP between their outside
# addresses is dropped where it crosses the "Internet".
ip netns exec "$nsW" nft -f - <<EOF || fail "nftables in wan"
table ip wanfilter {
  chain forwarding {
    type filter hook forward priority 0 ;
    ip saddr 203.0.113.2 ip daddr 203.0.113.6 meta l4proto udp drop
    ip saddr 203.0.113.6 ip daddr 203.0.113.2 meta l4proto udp drop
  }
}
EOF

# ----------------------------------------------------------------------
# coturn, with the TURN REST API's shared secret, in the wan namespace
# (port 3478 is free there: the namespace is this test's own).
cat >"$logs/turnserver.conf" <<EOF
listening-ip=203.0.113.1
relay-ip=203.0.113.1
listening-port=3478
min-port=49152
max-port=65535
use-auth-secret
static-auth-secret=$secret
realm=letschat.test
fingerprint
tls-listening-port=5349
cert=$certs/localhost.pem
pkey=$certs/localhost.key
no-dtls
no-cli
no-multicast-peers
userdb=$logs/turndb
pidfile=$logs/turnserver.pid
log-file=stdout
simple-log
EOF
ip netns exec "$nsW" turnserver -c "$logs/turnserver.conf" >"$logs/coturn.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  ip netns exec "$nsW" ss -ltn | grep -q "203.0.113.1:3478" && break; sleep 0.1
done
ip netns exec "$nsW" ss -ltn | grep -q "203.0.113.1:3478" || fail "coturn did not start"
echo "$secret" >"$logs/secret"
ip netns exec "$nsA" timeout 5 bash -c 'exec 3<>/dev/tcp/203.0.113.1/3478' \
  || fail "lanA cannot reach coturn through its NAT"

# ----------------------------------------------------------------------
server_pid=""; party_pids=()
start_server() {  # start_server [PREFIX COMMAND...] -- [letschat-server options]
  local prefix=()
  while [ "$1" != "--" ]; do prefix+=("$1"); shift; done; shift
  start_room_server ip netns exec "$nsW" "${prefix[@]}" -- --host 203.0.113.1 "$@"
}
start_parties() {  # start_parties ROOM
  ip netns exec "$nsB" gst-launch-1.0 -v -m letschatsrc room="$1" server-url="$url" ! \
    video/x-raw ! fakesink silent=false >"$logs/receiver.log" 2>&1 &
  party_pids=($!); pids+=($!)
  ip netns exec "$nsA" gst-launch-1.0 -m videotestsrc is-live=true ! \
    video/x-raw,width=320,height=240,framerate=30/1 ! \
    letschatsink room="$1" server-url="$url" >"$logs/sender.log" 2>&1 &
  party_pids+=($!); pids+=($!)
}
stop_all() {
  local p
  for p in "${party_pids[@]}" $server_pid; do kill -INT "$p" 2>/dev/null; done
  for p in "${party_pids[@]}" $server_pid; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null
  done
  party_pids=(); server_pid=""
}
in_logs() { grep -qh -- "$1" "$logs/sender.log" "$logs/receiver.log"; }
pair_is_relay() {  # pair_is_relay sender|receiver: its call runs through a relay
  grep "letschat/candidate-pair" "$logs/$1.log" | grep -q "type=(string)relay"
}
relayed_call() {  # relayed_call WHAT: frames decoded, both parties on a relay
  wait_for 60 have_frames 30 || fail "no call through $1 ($(frames) frames)"
  wait_for 10 pair_is_relay sender || fail "the sender's selected pair is not a relay"
  wait_for 10 pair_is_relay receiver || fail "the receiver's selected pair is not a relay"
}

# ----------------------------------------------------------------------
echo "== 1. TURN/UDP with short-lived credentials from the room server"
start=$(date +%s)
start_server -- --turn-secret "$logs/secret" --turn-uri turn:203.0.113.1:3478
start_parties turn-udp
relayed_call "TURN/UDP"
grep -h "letschat/candidate-pair" "$logs/sender.log" "$logs/receiver.log" | \
  sed 's/.*letschat/  letschat/'
in_logs "ERROR" && fail "a party posted an error"
grep -q "$secret" "$logs/server.log" && fail "the room server logged the TURN secret"
echo "  $(frames) frames through the relay after $(( $(date +%s) - start )) s"
stop_all

echo "== 2. No TURN server: the call fails, and says what to do"
start=$(date +%s)
start_server --
start_parties no-turn
wait_for 90 in_logs "no TURN server was given" || fail "no warning about the missing TURN server"
grep -h "WARNING" "$logs/sender.log" "$logs/receiver.log" | head -1 | sed 's/^/  /'
grep -h -A1 "No network path" "$logs/receiver.log" | head -2 | sed 's/^/  /'
[ "$(frames)" -eq 0 ] || fail "frames arrived without TURN: the NATs let a direct path through"
echo "  failed as it should, said so after $(( $(date +%s) - start )) s"
stop_all

echo "== 3. All UDP dropped at both LANs: TURN over TCP"
for r in "$nsRA" "$nsRB"; do
  ip netns exec "$r" nft insert rule ip filter forwarding meta l4proto udp drop \
    || fail "cannot drop UDP in $r"
done
start=$(date +%s)
start_server -- --turn-secret "$logs/secret" --turn-uri "turn:203.0.113.1:3478?transport=tcp"
start_parties turn-tcp
relayed_call "TURN/TCP"
grep -h "letschat/candidate-pair" "$logs/sender.log" "$logs/receiver.log" | \
  sed 's/.*letschat/  letschat/'
tcp_to_turn() {
  [ "$(ip netns exec "$nsW" ss -Htn state established '( sport = :3478 )' | wc -l)" -ge 2 ]
}
wait_for 10 tcp_to_turn || fail "the parties hold no TCP connection to coturn"
ip netns exec "$nsW" ss -Htn state established '( sport = :3478 )' | sed 's/^/  TCP to coturn: /'
echo "  $(frames) frames through TURN/TCP after $(( $(date +%s) - start )) s"
stop_all

echo "== 3b. All UDP dropped at both LANs: TURN over TLS (turns:)"
start=$(date +%s)
start_server -- --turn-secret "$logs/secret" --turn-uri "turns:203.0.113.1:5349?transport=tcp"
start_parties turns
relayed_call "TURN over TLS"
tls_to_turn() {
  [ "$(ip netns exec "$nsW" ss -Htn state established '( sport = :5349 )' | wc -l)" -ge 2 ]
}
wait_for 10 tls_to_turn || fail "the parties hold no TLS connection to coturn"
echo "  $(frames) frames through TURN over TLS after $(( $(date +%s) - start )) s"
stop_all
for r in "$nsRA" "$nsRB"; do
  ip netns exec "$r" nft flush chain ip filter forwarding
  ip netns exec "$r" nft add rule ip filter forwarding ct state established,related accept
done
ip netns exec "$nsRA" nft add rule ip filter forwarding iifname "${tag}ai" accept
ip netns exec "$nsRB" nft add rule ip filter forwarding iifname "${tag}bi" accept

echo "== 4. Expired credentials: refused by coturn, and the warning says so"
start=$(date +%s)
lines_before=$(wc -l <"$logs/coturn.log")
start_server env LD_PRELOAD="$libfaketime" FAKETIME=-2h FAKETIME_DONT_FAKE_MONOTONIC=1 -- \
  --turn-secret "$logs/secret" --turn-uri turn:203.0.113.1:3478 --turn-ttl 600
start_parties expired
wait_for 60 in_logs "credentials the room server handed out expired" || \
  fail "no warning about the expired credentials"
grep -h "credentials the room server handed out expired" "$logs/sender.log" | head -1 | \
  sed 's/^/  /'
tail -n +"$lines_before" "$logs/coturn.log" | grep -qi "401\|unauthori[sz]ed\|cannot find credentials\|check_stun_auth" \
  || fail "coturn did not refuse the expired credentials"
tail -n +"$lines_before" "$logs/coturn.log" | grep -i "401\|unauthori[sz]ed\|credentials" | head -2 | \
  sed 's/^/  coturn: /'
echo "  said so after $(( $(date +%s) - start )) s"
stop_all
echo "PASS"
