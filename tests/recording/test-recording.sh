#!/usr/bin/env bash
# Real calls recorded to real files: a sender and a recorder as separate
# gst-launch-1.0 processes (so that either can be killed), a real
# letschat-server process, real webrtcbin. Each case ends the call one way
# and checks the file as a user would: gst-discoverer-1.0 (GstDiscoverer)
# finds the expected tracks, every frame decodes without error, the video
# lasts as long as it was recorded (within 5 %), and a frame taken to PNG
# shows the SMPTE test bars, not a grey or green frame.
#
# Usage: test-recording.sh vp8|h264|sender-leaves|sender-killed|server-killed|record-call
set -u
case_name=$1
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; for f in "$work"/*.log; do echo "== $f"; tail -20 "$f"; done; exit 1; }

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
url="ws://127.0.0.1:$port/ws"
"$LETSCHAT_SERVER" -p "$port" >"$work/server.log" 2>&1 &
server=$!; pids+=($server)

calc() { /usr/bin/python3 -c "print($1)"; }
wait_log() { # file pattern seconds
  local i
  for i in $(seq $(($3 * 10))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  fail "no '$2' in $1 after $3 s"
}
wait_exit() { # pid seconds
  local i
  for i in $(seq $(($2 * 10))); do
    kill -0 "$1" 2>/dev/null || { wait "$1"; return $?; }
    sleep 0.1
  done
  fail "process $1 did not finish within $2 s"
}
sleep 1 # listening (its log is block-buffered; the parties retry anyway)

codec=vp8
[ "$case_name" = h264 ] && codec=h264
start_sender() {
  gst-launch-1.0 -m videotestsrc is-live=true pattern=smpte ! \
    video/x-raw,width=320,height=240,framerate=30/1 ! \
    letschatsink name=s room=rec server-url="$url" video-codec=$codec \
    audiotestsrc is-live=true wave=ticks ! s. >"$work/sender.log" 2>&1 &
  sender=$!; pids+=($sender)
  wait_log "$work/sender.log" "letschat/joined" 30
}

if [ "$case_name" = record-call ]; then
  # Two parties, each recording the whole call: 4 tracks per file.
  out="$work/call.mkv"
  "$RECORD_CALL" --room rec --server-url "$url" --output "$work/other.mkv" \
    >"$work/other.log" 2>&1 &
  other=$!; pids+=($other)
  wait_log "$work/other.log" "in room" 30
  "$RECORD_CALL" --room rec --server-url "$url" --output "$out" \
    >"$work/recorder.log" 2>&1 &
  recorder=$!; pids+=($recorder)
  # Its first track (the local video) starts when it starts.
  wait_log "$work/recorder.log" "in room" 30
  t0=$(date +%s.%N)
  wait_log "$work/recorder.log" "recording the other party's video" 40
  wait_log "$work/recorder.log" "recording the other party's audio" 40
  sleep 5
  kill -INT $recorder
  t1=$(date +%s.%N)
  wait_exit $recorder 30 || fail "record-call failed"
  grep -q "recording complete" "$work/recorder.log" || fail "record-call did not finish its file"
  # Only the recorder's file is checked here (see docs/recording.md, limits).
  kill -9 $other
  want_tracks="video:2 audio:2"
else
  start_sender
  out="$work/call.mkv"
  if [ $codec = h264 ]; then
    branch="r. ! video/x-h264 ! queue ! matroskamux name=m ! filesink location=$out"
  else
    branch="r. ! video/x-vp8 ! queue ! webmmux name=m ! filesink location=$out"
  fi
  gst-launch-1.0 -e -m letschatsrc name=r room=rec server-url="$url" \
    $branch r. ! audio/x-opus ! queue ! m.audio_%u >"$work/recorder.log" 2>&1 &
  recorder=$!; pids+=($recorder)
  wait_log "$work/recorder.log" "letschat/stream-started, pad=(string)video_0" 40
  t0=$(date +%s.%N)
  grep -q "stream-started, pad=(string)video_0.*encoded=(boolean)true, keyframe=(boolean)true" \
    "$work/recorder.log" || fail "the recording did not start encoded on a keyframe"
  sleep 5
  case $case_name in
    sender-leaves) kill -INT $sender; wait_exit $sender 20; sleep 3 ;;
    sender-killed) kill -9 $sender; sleep 3 ;;
    server-killed) kill -9 $server; sleep 3 ;;
  esac
  # The sender gone, what was received up to its end counts, not the wait
  # after it; with the server gone media keeps flowing peer to peer.
  t1=$(date +%s.%N)
  case $case_name in sender-*) t1=$(calc "$t1 - 3") ;; esac
  kill -0 $recorder 2>/dev/null || fail "the recorder stopped by itself"
  kill -INT $recorder
  wait_exit $recorder 30 || fail "the recorder failed"
  grep -q "letschat/stream-ended, pad=(string)video_0, reason=(string)eos" \
    "$work/recorder.log" || fail "no letschat/stream-ended for video_0"
  want_tracks="video:1 audio:1"
fi

# The file: tracks and codecs as GstDiscoverer sees them.
disc=$(gst-discoverer-1.0 "$out" 2>&1) || fail "gst-discoverer-1.0: $disc"
echo "$disc" | grep -E "Duration|video #|audio #"
nv=$(echo "$disc" | grep -c "video #")
na=$(echo "$disc" | grep -c "audio #")
[ "video:$nv audio:$na" = "$want_tracks" ] || fail "tracks: video:$nv audio:$na, want $want_tracks"
if [ $case_name = h264 ]; then
  echo "$disc" | grep -q "video #.*H.264" || fail "no H.264 track"
else
  echo "$disc" | grep -q "video #.*VP8" || fail "no VP8 track"
fi
echo "$disc" | grep -q "audio #.*Opus" || fail "no Opus track"

# Every frame decodes, no error; first and last timestamps of each track.
gst-launch-1.0 -v filesrc location="$out" ! matroskademux name=d \
  d.video_0 ! queue ! decodebin ! fakesink name=video silent=false \
  d.audio_0 ! queue ! decodebin ! fakesink name=audio silent=false \
  >"$work/decode.log" 2>&1 || fail "decoding the file failed"
grep -qiE "ERROR|WARNING" "$work/decode.log" && fail "errors while decoding"
frames=$(grep -c "video: last-message = chain" "$work/decode.log")
span() { # sink -> last pts - first pts, in s
  grep "$1: last-message = chain" "$work/decode.log" | grep -o "pts: [0-9:.]*" |
    sed 's/pts: //' | awk -F: 'NR==1{f=$1*3600+$2*60+$3} {l=$1*3600+$2*60+$3} END{printf "%.3f %.3f\n", f, l}'
}
read -r vf vl <<<"$(span video)"
read -r af al <<<"$(span audio)"
wall=$(calc "round($t1 - $t0, 3)")
echo "decoded $frames video frames; video ${vf}..${vl} s, audio ${af}..${al} s; recorded for $wall s of wall clock"
[ "$frames" -ge 60 ] || fail "only $frames video frames decoded"
# Playback speed: the video's timestamps span the wall-clock time it was
# recorded for, within 5 % (plus 0.2 s for how the test samples the clock).
/usr/bin/python3 -c "import sys; v=$vl-$vf; w=$wall; sys.exit(0 if abs(v-w) <= 0.05*w+0.2 else 1)" ||
  fail "the video lasts $(calc "$vl - $vf") s for $wall s of recording"
# A/V sync, coarsely: both tracks start and end together (within 0.5 s).
/usr/bin/python3 -c "import sys; sys.exit(0 if abs($vf-$af) <= 0.5 and abs($vl-$al) <= 0.5 else 1)" ||
  fail "audio and video do not line up"

# A frame to PNG, and back: the SMPTE bars, not a grey or green frame.
gst-launch-1.0 -q filesrc location="$out" ! matroskademux ! decodebin ! videoconvert ! \
  pngenc snapshot=true ! filesink location="$work/frame.png" >"$work/png.log" 2>&1 ||
  fail "could not take a PNG of a frame"
gst-launch-1.0 -q filesrc location="$work/frame.png" ! pngdec ! videoconvert ! videoscale ! \
  video/x-raw,format=RGB,width=320,height=240 ! filesink location="$work/frame.rgb" \
  >>"$work/png.log" 2>&1 || fail "could not read the PNG back"
/usr/bin/python3 - "$work/frame.rgb" <<'PY' || fail "the PNG does not show the test bars"
import sys
data = open(sys.argv[1], "rb").read()
w, h = 320, 240
# The seven SMPTE bars across the top half: grey, yellow, cyan, green,
# magenta, red, blue (full intensity).
bars = [(255,255,255),(255,255,0),(0,255,255),(0,255,0),(255,0,255),(255,0,0),(0,0,255)]
y = h // 3
ok = True
for i, want in enumerate(bars):
    x = int((i + 0.5) * w / 7)
    o = (y * w + x) * 3
    got = tuple(data[o:o+3])
    good = all(abs(a - b) <= 48 for a, b in zip(got, want))
    print("bar %d: %s (want %s)%s" % (i, got, want, "" if good else "  <-- wrong"))
    ok = ok and good
sys.exit(0 if ok else 1)
PY
echo "PASS: $case_name"
