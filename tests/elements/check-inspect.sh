#!/usr/bin/env bash
# gst-inspect-1.0 is the first manual users read: both elements must load,
# show their pads, and explain every property in a real sentence.
set -u
fail=0
for element in letschatsink letschatsrc; do
  out=$(gst-inspect-1.0 "$element" 2>&1) || { echo "$element does not load:"; echo "$out"; exit 1; }
  for prop in server-url room secret display-name stun-server turn-servers serve connect-timeout stats stats-interval do-retransmission strangers; do
    # The line after "  name : blurb" style entries: the blurb must be longer than a few words.
    blurb=$(printf '%s\n' "$out" | grep -E "^  $prop +: " | sed -E "s/^  $prop +: //")
    if [ ${#blurb} -lt 30 ]; then
      echo "$element: property '$prop' is missing or its blurb is too short: '$blurb'"; fail=1
    fi
  done
  for pad in video_%u audio_%u; do
    printf '%s\n' "$out" | grep -q "SRC template: '$pad'\|SINK template: '$pad'" \
      || { echo "$element: no pad template $pad"; fail=1; }
  done
done
gst-inspect-1.0 letschatsrc | grep -qE "^  latency +: .{30,}" || { echo "letschatsrc: latency undocumented"; fail=1; }
gst-inspect-1.0 letschatsink | grep -qE "^  video-codec +: .{30,}" || { echo "letschatsink: video-codec undocumented"; fail=1; }
for element in letschatsink letschatsrc; do
  out=$(gst-inspect-1.0 "$element" 2>&1)
  printf '%s\n' "$out" | grep -q '"chat-received" :  void' || { echo "$element: no chat-received signal"; fail=1; }
  printf '%s\n' "$out" | grep -q '"send-chat" :  gboolean' || { echo "$element: no send-chat action"; fail=1; }
  printf '%s\n' "$out" | grep -q '"next-stranger" :  gboolean' || { echo "$element: no next-stranger action"; fail=1; }
done
# Every letschat/* bus message the plugin posts is listed, with its
# fields, in gst-inspect-1.0 (which has no section for bus messages: the
# elements add a Bus-messages line to their Factory Details).
src_dir=${LETSCHAT_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
posted=$(grep -rhoE '"letschat/[a-z-]+"' "$src_dir"/gst/letschat/*.c | tr -d '"' | sort -u)
[ -n "$posted" ] || { echo "found no letschat/* messages in $src_dir/gst/letschat"; fail=1; }
for element in letschatsink letschatsrc; do
  manual=$(gst-inspect-1.0 "$element" | sed -n '/^  Bus-messages/,/^  Signal-parameters/p')
  for name in $posted; do
    case "$element:$name" in
      letschatsink:letschat/first-frame|letschatsink:letschat/stream-*) continue ;;
    esac
    printf '%s\n' "$manual" | grep -qE "$name \(.+\): " || {
      echo "$element: bus message $name (posted in gst/letschat) is not listed with its fields under Bus-messages in gst-inspect-1.0; add it to gstletschatbin.c (or the element's own list)"; fail=1; }
  done
  gst-inspect-1.0 "$element" | grep -qE '^  Signal-parameters +chat-received \(element, from: .*, text: ' \
    || { echo "$element: gst-inspect-1.0 does not name chat-received's parameters"; fail=1; }
done
[ $fail -eq 0 ] && echo "both elements load and document every property, pad, bus message and signal parameter"
exit $fail
