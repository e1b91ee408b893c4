#!/usr/bin/env bash
# gst-inspect-1.0 is the first manual users read: both elements must load,
# show their pads, and explain every property in a real sentence.
set -u
fail=0
for element in letschatsink letschatsrc; do
  out=$(gst-inspect-1.0 "$element" 2>&1) || { echo "$element does not load:"; echo "$out"; exit 1; }
  for prop in server-url room secret display-name stun-server turn-servers serve connect-timeout stats stats-interval do-retransmission; do
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
done
[ $fail -eq 0 ] && echo "both elements load and document every property and pad"
exit $fail
