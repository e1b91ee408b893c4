# Shared by ./scripts/check and ./scripts/demo: install what a fresh Debian 12
# machine is missing, then configure and build. Sourced, not run.

# Debian 12 packages letschat builds, tests and runs with.
LETSCHAT_DEBIAN_PACKAGES=(
  meson ninja-build pkg-config gcc indent
  libglib2.0-dev libsoup-3.0-dev libjson-glib-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-base-apps
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly
  gstreamer1.0-libav gstreamer1.0-nice
  gstreamer1.0-x  # timeoverlay, in scripts/demo
  chromium
  python3-matplotlib  # scripts/bench draws its plot with it
  iproute2 nftables  # tests/network: namespaces, tc tbf, nftables loss
  python3-gi gir1.2-gstreamer-1.0  # examples/chat.py and its test
  gir1.2-gtk-3.0 gstreamer1.0-gtk3 xvfb  # examples/call.py's window (gtksink), tested on Xvfb
  redis-server libhiredis-dev  # #15: rooms across nodes through Redis (tests start their own redis-server)
  man-db  # tests/scripts/check-install.sh renders the man page (man -l)
  python3-aiortc python3-websockets  # tests/interop/aiortc-party.py
  golang-go golang-github-pion-webrtc.v3-dev golang-github-gorilla-websocket-dev  # tests/interop/pion-party
  coturn nftables faketime  # tests/network/turn-nat.sh: a real TURN server behind real NATs
)
# The browser tests run on node with npm (any install of them will do).
command -v node >/dev/null 2>&1 || LETSCHAT_DEBIAN_PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || LETSCHAT_DEBIAN_PACKAGES+=(npm)

letschat_install_deps() {
  local missing=() p
  for p in "${LETSCHAT_DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "Installing missing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
  # playwright-core (tests/browser) and werift (tests/interop), exactly as
  # package-lock.json says; again whenever the lock file changed.
  if ! cmp -s package-lock.json node_modules/.letschat-package-lock.json; then
    echo "Installing the npm packages of package-lock.json"
    npm ci --no-audit --no-fund
    cp package-lock.json node_modules/.letschat-package-lock.json
  fi
}

# Configures (once) and builds into $LETSCHAT_BUILD (default: build/).
letschat_build() {
  LETSCHAT_BUILD=${LETSCHAT_BUILD:-build}
  if [ ! -f "$LETSCHAT_BUILD/build.ninja" ]; then
    meson setup "$LETSCHAT_BUILD" "$@"
  fi
  ninja -C "$LETSCHAT_BUILD"
}

# Every process a script starts ends with it, however the script ends: its
# last command, an error under `set -e`, Ctrl-C (SIGINT) or SIGTERM. A
# script calls `letschat_cleanup_on_exit [FUNCTION]` once: on exit, every
# process below it (children, and theirs: found through /proc, so nothing
# has to be listed by hand) gets SIGTERM, and SIGKILL if still there 5 s
# later; then FUNCTION (the script's own cleanup: files) runs, and the
# script exits with its status (130 after SIGINT, 143 after SIGTERM).
# Long commands run through `letschat_run CMD...`, so that a signal is
# acted on at once rather than after CMD ends (bash runs a trap only
# between commands).
letschat_cleanup_on_exit() {
  LETSCHAT_CLEANUP_FUNCTION=${1:-}
  # Everything started from here on inherits this token: a grandchild
  # whose parent died first (a helper script stopped mid-loop) is no longer
  # below us in /proc's tree, but still carries it.
  LETSCHAT_RUN_TOKEN="$$.$RANDOM$RANDOM"
  export LETSCHAT_RUN_TOKENS="${LETSCHAT_RUN_TOKENS:-}:$LETSCHAT_RUN_TOKEN:"
  trap letschat_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

letschat_run() {
  "$@" &
  wait $!
}

# Sets LETSCHAT_PIDS to the live processes below PID (zombies left out:
# they are gone already). Reads /proc only: no command substitution, so
# no subshell of our own shows up in the list.
letschat_descendants() {
  local root=$1 stat line pid state ppid child
  local -A kids=()
  local -a queue=("$root")
  for stat in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$stat" || continue
    pid=${line%% *}
    line=${line##*) }
    read -r state ppid _ <<<"$line"
    [ "$state" = Z ] && continue
    kids[$ppid]+="$pid "
  done
  LETSCHAT_PIDS=()
  while [ ${#queue[@]} -gt 0 ]; do
    for child in ${kids[${queue[0]}]:-}; do
      LETSCHAT_PIDS+=("$child")
      queue+=("$child")
    done
    queue=("${queue[@]:1}")
  done
  letschat_orphans "$root"
}

# Adds to LETSCHAT_PIDS the live processes outside the tree that carry
# this script's token (see letschat_cleanup_on_exit). bash's own read, no
# command: nothing we start here would carry the token too.
letschat_orphans() {
  local root=$1 environ pid entry known line
  [ -n "${LETSCHAT_RUN_TOKEN:-}" ] || return 0
  known=" $root ${LETSCHAT_PIDS[*]} "
  for environ in /proc/[0-9]*/environ; do
    pid=${environ#/proc/}
    pid=${pid%/environ}
    [[ $known == *" $pid "* ]] && continue
    read -r line 2>/dev/null </proc/$pid/stat || continue
    line=${line##*) }
    [ "${line%% *}" = Z ] && continue
    while IFS= read -r -d '' entry; do
      if [[ $entry == LETSCHAT_RUN_TOKENS=*":$LETSCHAT_RUN_TOKEN:"* ]]; then
        LETSCHAT_PIDS+=("$pid")
        break
      fi
    done 2>/dev/null <"$environ"
  done
}

letschat_stop_descendants() {
  local i
  letschat_descendants $$
  [ ${#LETSCHAT_PIDS[@]} -eq 0 ] && return 0
  kill -TERM "${LETSCHAT_PIDS[@]}" 2>/dev/null
  for ((i = 0; i < 50; i++)); do
    letschat_descendants $$
    [ ${#LETSCHAT_PIDS[@]} -eq 0 ] && return 0
    sleep 0.1
  done
  echo "$(basename "$0"): killing what did not stop on SIGTERM: ${LETSCHAT_PIDS[*]}" >&2
  kill -KILL "${LETSCHAT_PIDS[@]}" 2>/dev/null
  return 0
}

letschat_on_exit() {
  local status=$?
  # Whatever fails from here on must not stop the cleanup half way (a
  # `wait` on a killed process returns 137, which `set -e` would obey).
  set +e
  trap '' INT TERM
  letschat_stop_descendants
  [ -z "${LETSCHAT_CLEANUP_FUNCTION:-}" ] || "$LETSCHAT_CLEANUP_FUNCTION"
  exit "$status"
}
