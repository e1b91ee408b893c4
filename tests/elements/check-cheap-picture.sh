#!/usr/bin/env bash
# A sender of a cheap picture (a 1280x720 ball on black, which its encoder
# makes at a fraction of any bitrate) at letschatsink's defaults: the call
# starts at the 300 kbit/s start-bitrate's step (480 pixels wide), and the
# receiver still gets the input's full 1280x720 within 30 s. The target
# grows only with what arrives, so without the ladder's step above the
# bitrate's for a cheap picture it stayed 480x270 (docs/congestion.md,
# "The ladder").
#   check-cheap-picture.sh [PROPERTY=VALUE...]   letschatsink's properties
#       beyond the defaults (congestion-control=none: a fixed bitrate, the
#       picture's size still fitted to it and to the picture's cost)
set -u
. "$(dirname "$0")/common.sh"
start_room_server

gst-launch-1.0 -v letschatsrc room=cheap server-url="$url" ! video/x-raw ! \
  fakesink sync=false >"$work/receiver.out" 2>&1 &
pids+=($!)
wait_for "$work/receiver.out" "Setting pipeline to PLAYING" 10
GST_DEBUG=letschatladder:4 gst-launch-1.0 videotestsrc is-live=true pattern=ball ! \
  video/x-raw,width=1280,height=720,framerate=30/1 ! \
  letschatsink room=cheap server-url="$url" "$@" >"$work/sender.out" 2>&1 &
pids+=($!)

widths() {
  grep "fakesink0.GstPad:sink: caps = " "$work/receiver.out" |
    grep -o "width=(int)[0-9]*" | sed 's/.*)//' | tr '\n' ' '
}
for i in $(seq 300); do
  case " $(widths)" in *" 1280 "*) break ;; esac
  sleep 0.1
done
echo "the receiver's picture widths, in order: $(widths)"
case " $(widths)" in
  *" 1280 "*) ;;
  *) fail "the cheap picture never reached its full width (1280) in 30 s" ;;
esac
grep -q "ERROR" "$work/sender.out" "$work/receiver.out" && fail "an error was posted"
echo PASS
