#!/usr/bin/env bash
# Every script in scripts/ ends every process it started, however it ends:
# each runs briefly here (to its end, or interrupted with SIGINT or SIGTERM
# once it has started its processes), and afterwards no process carrying
# its marker is left. The marker is an environment variable given to the
# script alone, which everything it starts inherits (/proc/PID/environ).
# Once, ./scripts/soak's EXIT trap stopped half way under `set -e` (exit
# 137) and left its receiving gst-launch-1.0 running.
# Job control: each script runs in its own process group, as from a
# terminal, and does not inherit an ignored SIGINT (bash ignores SIGINT in
# the background jobs of a script without it, and a signal ignored at
# start cannot be trapped). No pipefail: `grep -q` may end a pipe early.
set -um
top=${1:?usage: check-scripts-cleanup.sh SOURCE_ROOT BUILD_ROOT}
build=${2:?usage: check-scripts-cleanup.sh SOURCE_ROOT BUILD_ROOT}
tmp=$(mktemp -d)
failures=0
script_pid=
cleanup() {
  [ -z "$script_pid" ] || kill -KILL "$script_pid" 2>/dev/null
  kill_marked "" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
cd "$top"
# The scripts use the suite's build (up to date: nothing is rebuilt).
export LETSCHAT_BUILD="$build"

# The PIDs (and names) of the processes whose environment holds marker $1
# (every marker of this run when empty).
marked() {
  local environ pid
  # one grep reads every environment (NUL-separated entries)
  for environ in $(grep -lsz "^LETSCHAT_CLEANUP_MARK=$$-$1" /proc/[0-9]*/environ); do
    pid=${environ#/proc/}; pid=${pid%/environ}
    [ "$pid" = "$BASHPID" ] && continue
    echo "$pid $(tr '\0' ' ' 2>/dev/null </proc/$pid/cmdline | cut -c1-200)"
  done
}
kill_marked() { marked "$1" | while read -r pid _; do kill -KILL "$pid" 2>/dev/null; done; }

# run NAME SIGNAL WAIT_FOR SCRIPT ARGS...: starts SCRIPT with marker NAME;
# with a SIGNAL, sends it once a process whose command line matches
# WAIT_FOR carries the marker: SIGINT to the script's whole process group,
# as Ctrl-C in a terminal does, SIGTERM to the script alone, as `kill`
# or a service manager does. Then checks the exit status (130, 143; a run
# to its end may fail, e.g. a call short of frames on a loaded machine,
# but must end by itself) and that no marked process is left.
run() {
  local name=$1 signal=$2 wait_for=$3 expected status i left seen
  shift 3
  # LETSCHAT_CLEANUP_ONLY=REGEX runs only the runs whose name matches
  [[ $name =~ ${LETSCHAT_CLEANUP_ONLY:-.} ]] || return 0
  LETSCHAT_CLEANUP_MARK="$$-$name" "$@" >"$tmp/$name.log" 2>&1 &
  script_pid=$!
  if [ "$signal" != none ]; then
    seen=false
    for ((i = 0; i < 1200; i++)); do
      marked "$name" | grep -q -- "$wait_for" && { seen=true; break; }
      kill -0 "$script_pid" 2>/dev/null || break
      sleep 0.1
    done
    if ! $seen; then
      echo "FAIL $name: never saw \"$wait_for\" start"
      kill -0 "$script_pid" 2>/dev/null || { wait "$script_pid"; echo "(it exited with status $?)"; }
      tail -20 "$tmp/$name.log"
      failures=$((failures + 1)); kill_marked "$name"; script_pid=; return
    fi
    if [ "$signal" = INT ]; then kill -INT -- -"$script_pid"; else kill -TERM "$script_pid"; fi
  fi
  # the script gets 60 s to stop (its own cleanup waits 5 s at most)
  for ((i = 0; i < 600; i++)); do
    kill -0 "$script_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$script_pid" 2>/dev/null; then
    echo "FAIL $name: still running 60 s after $signal"
    failures=$((failures + 1)); kill_marked "$name"; script_pid=; return
  fi
  wait "$script_pid"; status=$?
  script_pid=
  case $signal in INT) expected=130 ;; TERM) expected=143 ;; *) expected=$status ;; esac
  left=$(marked "$name")
  if [ -n "$left" ]; then
    echo "FAIL $name: left running after it exited ($status):"; echo "$left"
    failures=$((failures + 1)); kill_marked "$name"
  elif [ "$status" -ne "$expected" ] || [ "$status" -gt 128 -a "$signal" = none ]; then
    echo "FAIL $name: exit status $status, not $expected"; tail -20 "$tmp/$name.log"
    failures=$((failures + 1))
  else
    echo "ok $name: exit status $status, nothing left running"
  fi
}

# A free port for the demo (its room server is in its first party).
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# soak: one call to its end, then interrupted while its calls run
run soak-end none "" ./scripts/soak 1
run soak-int INT "letschatsrc" ./scripts/soak 3
run soak-term TERM "letschatsrc" ./scripts/soak 3
# demo: interrupted once the second party (the recorder) runs
LETSCHAT_DEMO_PORT=$(free_port) LETSCHAT_DEMO_OUT="$tmp/int.webm" \
  run demo-int INT "letschatsrc" ./scripts/demo
LETSCHAT_DEMO_PORT=$(free_port) LETSCHAT_DEMO_OUT="$tmp/term.webm" \
  run demo-term TERM "letschatsrc" ./scripts/demo
# bench: interrupted once its media benchmark runs a party
run bench-term TERM "gst-launch-1.0\|media-bench\|letschat-server" ./scripts/bench --quick --media-only
# check: interrupted while it builds (a fresh build directory: the suite's
# own must not be tested twice at once)
LETSCHAT_BUILD="$tmp/build-check" run check-term TERM "ninja -C\|cc1\|meson setup" ./scripts/check
# fuzz: its build needs clang; interrupted once it runs, where it can
if [ -x build-fuzz/tests/fuzz/fuzz-room-server ] && [[ fuzz =~ ${LETSCHAT_CLEANUP_ONLY:-.} ]]; then
  run fuzz-int INT "fuzz-room-server" ./scripts/fuzz 30
else
  echo "skip fuzz: build-fuzz/ is not built here (./scripts/fuzz builds it with clang)"
fi

[ "$failures" -eq 0 ] || { echo "$failures script run(s) left processes or failed"; exit 1; }
echo "every script ended every process it started"
