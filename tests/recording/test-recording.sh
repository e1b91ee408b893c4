#!/usr/bin/env bash
# Real calls recorded to real files: a sender and a recorder as separate
# gst-launch-1.0 processes (so that either can be killed), a real
# letschat-server process, real webrtcbin. Each case ends the call one way
# and checks the file as a user would: gst-discoverer-1.0 (GstDiscoverer)
# finds the expected tracks, every frame decodes without error, the video
# lasts as long as it was recorded (within 5 %), and a frame taken to PNG
# shows the SMPTE test bars, not a grey or green frame. The recorder lines
# are the recipes of docs/recording.md, as written there.
#
# Usage: test-recording.sh CASE, one of
#   vp8 | h264              other party, encoded passthrough, Ctrl-C
#   sender-leaves | sender-killed | server-killed    other endings
#   recorder-killed         the recorder gets SIGKILL: what is on disk plays
#   reencode                other party decoded, re-encoded to Theora/Vorbis
#   whole-call | whole-call-left | whole-call-alone   the whole call as one
#                           gst-launch-1.0 line, Ctrl-C with the other party
#                           there / gone / never there
#   record-call             examples/record-call, both parties
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

# A second party that sends the bars and a tone and receives too (without
# decoding), as a person in a call does.
start_party() {
  gst-launch-1.0 -m videotestsrc is-live=true pattern=smpte ! \
    video/x-raw,width=320,height=240,framerate=30/1 ! \
    letschatsink name=s room=rec server-url="$url" \
    audiotestsrc is-live=true wave=ticks ! s. \
    letschatsrc name=r room=rec server-url="$url" \
    r. ! video/x-vp8 ! fakesink r. ! audio/x-opus ! fakesink \
    >"$work/sender.log" 2>&1 &
  sender=$!; pids+=($sender)
  wait_log "$work/sender.log" "letschat/joined" 30
}

short_ok=0 # how much shorter than its wall-clock time the file may be (s)
if [ "${case_name#whole-call}" != "$case_name" ]; then
  # The whole call in one gst-launch-1.0 line (docs/recording.md): the
  # local streams encoded once and teed to the call and the file, the other
  # party's streams as they arrive; 4 tracks (2 when nobody came).
  [ $case_name = whole-call-alone ] || start_party
  out="$work/call.mkv"
  unbounded="max-size-buffers=0 max-size-bytes=0 max-size-time=0"
  gst-launch-1.0 -e -m letschatsink name=s room=rec server-url="$url" \
    letschatsrc name=r room=rec server-url="$url" \
    matroskamux name=m streamable=true ! filesink location="$out" \
    videotestsrc is-live=true pattern=smpte ! \
    video/x-raw,width=320,height=240,framerate=30/1 ! \
    vp8enc deadline=1 lag-in-frames=0 cpu-used=8 threads=1 end-usage=cbr \
    target-bitrate=1000000 keyframe-max-dist=60 error-resilient=1 ! \
    tee name=vt vt. ! queue leaky=downstream ! s. \
    vt. ! queue $unbounded ! m.video_0 \
    audiotestsrc is-live=true wave=ticks ! audioconvert ! audioresample ! \
    opusenc audio-type=restricted-lowdelay ! \
    tee name=at at. ! queue leaky=downstream ! s. \
    at. ! queue $unbounded ! m.audio_0 \
    r. ! video/x-vp8 ! queue $unbounded ! m.video_1 \
    r. ! audio/x-opus ! queue $unbounded ! m.audio_1 \
    >"$work/recorder.log" 2>&1 &
  recorder=$!; pids+=($recorder)
  # The local tracks start when the pipeline plays.
  wait_log "$work/recorder.log" "Setting pipeline to PLAYING" 30
  t0=$(date +%s.%N)
  if [ $case_name != whole-call-alone ]; then
    wait_log "$work/recorder.log" "letschat/stream-started, pad=(string)video_0" 40
    wait_log "$work/recorder.log" "letschat/stream-started, pad=(string)audio_0" 40
  fi
  sleep 5
  if [ $case_name = whole-call-left ]; then
    kill -INT $sender; wait_exit $sender 20
    wait_log "$work/recorder.log" "letschat/peer-left" 20
    sleep 3
  fi
  kill -0 $recorder 2>/dev/null || fail "the recorder stopped by itself"
  kill -INT $recorder
  t1=$(date +%s.%N)
  wait_exit $recorder 30 || fail "the recorder failed"
  grep -q "letschat/stream-ended, pad=(string)video_0, reason=(string)eos" \
    "$work/recorder.log" || fail "no letschat/stream-ended for video_0"
  want_tracks="video:2 audio:2"
  # Nobody came: letschatsrc's video_0 and audio_0 carried only the EOS
  # that let the muxer finish; the file has the local tracks.
  [ $case_name = whole-call-alone ] && want_tracks="video:1 audio:1"
elif [ "$case_name" = record-call ]; then
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
  # streamable=true: what is on disk is a complete file at every moment,
  # even when the recorder is killed (see docs/recording.md).
  if [ $codec = h264 ]; then
    branch="r. ! video/x-h264 ! queue ! matroskamux name=m streamable=true ! filesink location=$out"
    branch="$branch r. ! audio/x-opus ! queue ! m.audio_%u"
  elif [ $case_name = reencode ]; then
    out="$work/call.ogg"
    branch="r. ! video/x-raw ! queue ! videoconvert ! videorate skip-to-first=true ! video/x-raw,framerate=30/1 ! theoraenc"
    branch="$branch ! oggmux name=m ! filesink location=$out"
    branch="$branch r. ! audio/x-raw ! queue ! audioconvert ! audioresample ! vorbisenc ! m."
  else
    branch="r. ! video/x-vp8 ! queue ! webmmux name=m streamable=true ! filesink location=$out"
    branch="$branch r. ! audio/x-opus ! queue ! m.audio_%u"
  fi
  gst-launch-1.0 -e -m letschatsrc name=r room=rec server-url="$url" \
    $branch >"$work/recorder.log" 2>&1 &
  recorder=$!; pids+=($recorder)
  wait_log "$work/recorder.log" "letschat/stream-started, pad=(string)video_0" 40
  t0=$(date +%s.%N)
  if [ $case_name = reencode ]; then
    grep -q "stream-started, pad=(string)video_0.*encoded=(boolean)false" \
      "$work/recorder.log" || fail "the recording did not start decoded"
  else
    grep -q "stream-started, pad=(string)video_0.*encoded=(boolean)true, keyframe=(boolean)true" \
      "$work/recorder.log" || fail "the recording did not start encoded on a keyframe"
  fi
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
  if [ $case_name = recorder-killed ]; then
    # No EOS, no finalizing: the file is what the muxer had written. The
    # last moments (the cluster being filled, the filesink's buffer) are
    # lost; measured 0.2 to 0.5 s.
    kill -9 $recorder
    wait $recorder 2>/dev/null
    short_ok=1.0
  else
    kill -INT $recorder
    wait_exit $recorder 30 || fail "the recorder failed"
    grep -q "letschat/stream-ended, pad=(string)video_0, reason=(string)eos" \
      "$work/recorder.log" || fail "no letschat/stream-ended for video_0"
  fi
  want_tracks="video:1 audio:1"
fi

# The file: tracks and codecs as GstDiscoverer sees them.
disc=$(gst-discoverer-1.0 "$out" 2>&1) || fail "gst-discoverer-1.0: $disc"
echo "$disc" | grep -E "Duration|video #|audio #"
nv=$(echo "$disc" | grep -c "video #")
na=$(echo "$disc" | grep -c "audio #")
[ "video:$nv audio:$na" = "$want_tracks" ] || fail "tracks: video:$nv audio:$na, want $want_tracks"
case $case_name in
  h264) vcodec=H.264 acodec=Opus ;;
  reencode) vcodec=Theora acodec=Vorbis ;;
  *) vcodec=VP8 acodec=Opus ;;
esac
echo "$disc" | grep -q "video #.*$vcodec" || fail "no $vcodec track"
echo "$disc" | grep -q "audio #.*$acodec" || fail "no $acodec track"

# The demuxer and how to pick a track from it.
demux="matroskademux name=d"; vsel=d.video_0; asel=d.audio_0
case $out in
  *.ogg) demux="oggdemux name=d"; vsel="d. ! video/x-theora"; asel="d. ! audio/x-vorbis" ;;
esac
# Every frame decodes, no error; first and last timestamps of each track.
# Of a whole call, the other party's tracks too. The queues are unbounded:
# a whole call's tracks start up to seconds apart, and every sink must
# preroll before any plays, so a queue that filled first would block the
# demuxer for good. Each buffer reaching a sink is read from basesink's own
# log line, written as the sink takes it: the `-v` notifications of
# fakesink's last-message are coalesced under load (a track then seemed to
# end seconds early, with half its frames, where ffprobe counted them all).
q="queue max-size-buffers=0 max-size-bytes=0 max-size-time=0"
extra=""
case $case_name in whole-call-alone) ;; whole-call*|record-call)
  extra="d.video_1 ! $q ! decodebin ! fakesink name=rvideo
    d.audio_1 ! $q ! decodebin ! fakesink name=raudio" ;;
esac
GST_DEBUG=basesink:5 GST_DEBUG_NO_COLOR=1 GST_DEBUG_FILE="$work/sinks.log" \
  gst-launch-1.0 filesrc location="$out" ! $demux \
  $vsel ! $q ! decodebin ! fakesink name=video \
  $asel ! $q ! decodebin ! fakesink name=audio $extra \
  >"$work/decode.log" 2>&1 || fail "decoding the file failed"
grep -qiE "ERROR|WARNING" "$work/decode.log" && fail "errors while decoding"
buffers() { grep "gst_base_sink_chain_unlocked:<$1> got times start: " "$work/sinks.log"; }
frames=$(buffers video | wc -l)
if [ -n "$extra" ]; then
  rframes=$(buffers rvideo | wc -l)
  echo "decoded $rframes video frames of the other party"
  [ "$rframes" -ge 60 ] || fail "only $rframes video frames of the other party decoded"
fi
span() { # sink -> first and last buffer timestamp, in s
  buffers "$1" | grep -o "start: [0-9:.]*" |
    sed 's/start: //' | awk -F: 'NR==1{f=$1*3600+$2*60+$3} {l=$1*3600+$2*60+$3} END{printf "%.3f %.3f\n", f, l}'
}
read -r vf vl <<<"$(span video)"
read -r af al <<<"$(span audio)"
wall=$(calc "round($t1 - $t0, 3)")
echo "decoded $frames video frames; video ${vf}..${vl} s, audio ${af}..${al} s; recorded for $wall s of wall clock"
[ "$frames" -ge 60 ] || fail "only $frames video frames decoded"
# Playback speed: the video's timestamps span the wall-clock time it was
# recorded for, within 5 % (plus 0.2 s for how the test samples the clock).
/usr/bin/python3 -c "import sys; v=$vl-$vf; w=$wall; sys.exit(0 if -0.05*w-0.2-$short_ok <= v-w <= 0.05*w+0.2 else 1)" ||
  fail "the video lasts $(calc "$vl - $vf") s for $wall s of recording"
# A/V sync, coarsely: both tracks start and end together (within 0.5 s).
/usr/bin/python3 -c "import sys; sys.exit(0 if abs($vf-$af) <= 0.5 and abs($vl-$al) <= 0.5 else 1)" ||
  fail "audio and video do not line up"

# A frame to PNG, and back: the SMPTE bars, not a grey or green frame.
# Of a whole call, the other party's video too.
vsels=("$vsel")
case $case_name in whole-call-alone) ;; whole-call*|record-call) vsels+=(d.video_1) ;; esac
for v in "${vsels[@]}"; do
echo "frame of $v:"
gst-launch-1.0 -q filesrc location="$out" ! $demux $v ! decodebin ! videoconvert ! \
  pngenc snapshot=true ! filesink location="$work/frame.png" >"$work/png.log" 2>&1 ||
  fail "could not take a PNG of a frame"
gst-launch-1.0 -q filesrc location="$work/frame.png" ! pngdec ! videoconvert ! videoscale ! \
  video/x-raw,format=RGB,width=320,height=240 ! filesink location="$work/frame.rgb" \
  >>"$work/png.log" 2>&1 || fail "could not read the PNG back"
/usr/bin/python3 - "$work/frame.rgb" <<'PY' || fail "the PNG of $v does not show the test bars"
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
done
echo "PASS: $case_name"
