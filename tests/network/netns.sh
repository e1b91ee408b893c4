# shellcheck shell=bash
# Sourced (not run) by the tests of tests/network: network namespaces and
# veth links whose names are unique to the test run, addresses that have
# passed duplicate address detection before anything starts, the room
# server, and one cleanup on every exit path (the test's end, a failure, a
# signal): the test's processes, whatever still runs in its namespaces, the
# namespaces, the host's ends of its veths, the logs.
#
# Sourcing it skips the test (exit 77) without root, checks that meson
# gave it the room server and the plugin, and makes $logs (a fresh
# directory, shown by `fail`) and pids=() (the test appends every process
# it starts). A test may set fail_tail: the lines of each log `fail` shows
# (default 15).

set -u
if [ "$(id -u)" -ne 0 ]; then
  echo "SKIP: network namespaces need root"; exit 77
fi
: "${LETSCHAT_SERVER:?}" "${GST_PLUGIN_PATH:?}"

logs=$(mktemp -d)
pids=()
netns_names=()
netns_host_links=()

netns_cleanup() {
  local p ns link
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for ns in "${netns_names[@]}"; do
    # a child of a test's process (Chromium's, coturn's) may still run there
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  for link in "${netns_host_links[@]}"; do ip link del "$link" 2>/dev/null; done
  rm -rf "$logs"
}
trap netns_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fail MESSAGE: FAIL, the end of every log (but the lines of every frame and
# every stats message: the last two of those on their own), exit 1
fail() {
  local f
  echo "FAIL: $*"
  for f in "$logs"/*.log; do
    echo "--- $f"
    grep -v "chain\|qos\|last-message\|letschat/stats" "$f" | tail -"${fail_tail:-15}"
    grep "letschat/stats" "$f" | tail -2
  done
  exit 1
}

# netns_add NAME...: network namespaces (lo up), deleted on exit
netns_add() {
  local ns
  for ns in "$@"; do
    netns_names+=("$ns")
    ip netns add "$ns" || fail "cannot create network namespace $ns"
    ip -n "$ns" link set lo up
  done
}

# netns_link NS1 IF1 ADDR1 NS2 IF2 ADDR2: a veth pair IF1 (in NS1, with
# ADDR1) -- IF2 (in NS2, with ADDR2), both up; an empty NS is the host's
netns_link() {
  local in1=() in2=()
  [ -z "$1" ] || in1=(netns "$1")
  [ -z "$4" ] || in2=(netns "$4")
  [ -n "$1" ] || netns_host_links+=("$2")
  [ -n "$4" ] || netns_host_links+=("$5")
  ip link add "$2" "${in1[@]}" type veth peer name "$5" "${in2[@]}" || fail "veth $2"
  ip ${1:+-n "$1"} addr add "$3" dev "$2"; ip ${1:+-n "$1"} link set "$2" up
  ip ${4:+-n "$4"} addr add "$6" dev "$5"; ip ${4:+-n "$4"} link set "$5" up
}

# netns_settle: waits until no address of the test's namespaces and veths
# is still "tentative" (IPv6 duplicate address detection, ~2 s after a link
# comes up): ICE started before that sometimes gathers no candidate at all
# (docs/performance.md, bench/network.py)
netns_settle() {
  local deadline=$(( $(date +%s) + 10 )) ns link tentative
  while :; do
    tentative=""
    for ns in "${netns_names[@]}"; do
      ip -n "$ns" -o addr show | grep -q tentative && tentative=$ns
    done
    for link in "${netns_host_links[@]}"; do
      ip -o addr show dev "$link" | grep -q tentative && tentative=$link
    done
    [ -z "$tentative" ] && return 0
    [ "$(date +%s)" -gt "$deadline" ] && fail "addresses of $tentative still tentative after 10 s"
    sleep 0.1
  done
}

# netns_host_pair TAG NET: the layout of a party in a namespace of its own
#
#   netns "$ns" ($ns_ip, on $veth_in) --veth-- host ($host_ip, on $veth_out)
#
# TAG (up to 4 letters) and the test's PID name the namespace and the veth;
# the /24 is the first one of NET.20.0/24 to NET.219.0/24 from the PID on
# that the host has no address in. Returns once the addresses have settled.
netns_host_pair() {
  local tag=$1 net=$2 n i
  ns="lc-$tag-$$"; veth_in="$tag$$i"; veth_out="$tag$$o"
  for (( i = 0; i < 200; i++ )); do
    n=$(( (($$ + i) % 200) + 20 ))
    ip -o addr show | grep -q " $net\.$n\." || break
  done
  host_ip="$net.$n.1"; ns_ip="$net.$n.2"
  netns_add "$ns"
  netns_link "" "$veth_out" "$host_ip/24" "$ns" "$veth_in" "$ns_ip/24"
  netns_settle
}

# start_room_server [PREFIX...] -- [OPTIONS...]: PREFIX... letschat-server
# --port 0 OPTIONS..., its log in $logs/server.log; sets server_pid and,
# once it listens, url (its ws:// URL)
start_room_server() {
  local prefix=()
  while [ "$1" != "--" ]; do prefix+=("$1"); shift; done; shift
  : >"$logs/server.log"
  "${prefix[@]}" "$LETSCHAT_SERVER" --port 0 "$@" >"$logs/server.log" 2>&1 &
  server_pid=$!; pids+=("$server_pid")
  url=""
  for _ in $(seq 100); do
    url=$(sed -n 's/^letschat-server listening on //p' "$logs/server.log")
    [ -n "$url" ] && break; sleep 0.1
  done
  [ -n "$url" ] || fail "the room server did not start"
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds (status 1 if it does
# not within SECONDS)
wait_for() {
  local deadline=$(( $(date +%s) + $1 )); shift
  until "$@"; do
    [ "$(date +%s)" -gt "$deadline" ] && return 1
    sleep 0.2
  done
}

# frames: how many frames the receiver's fakesink (silent=false) has had
frames() { grep -c "chain" "$logs/receiver.log"; }
have_frames() { [ "$(frames)" -ge "$1" ]; }
