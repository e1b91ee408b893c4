#!/usr/bin/env bash
# The README's first command, ./scripts/demo, end to end but short: it must
# install nothing more (the suite's install list has everything), hold a
# call and record it. Once, `timeoverlay` was missing from the install list
# and the demo failed on every fresh machine while the suite stayed green.
set -euo pipefail
top=${1:?usage: check-demo.sh SOURCE_ROOT BUILD_ROOT}
export LETSCHAT_BUILD=${2:?usage: check-demo.sh SOURCE_ROOT BUILD_ROOT}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export LETSCHAT_DEMO_SECONDS=4
export LETSCHAT_DEMO_OUT="$tmp/call.webm"
# A free port: the demo's room server is in its first party (serve=true).
export LETSCHAT_DEMO_PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cd "$top"
./scripts/demo | tee "$tmp/out"
grep -q "video frames received and recorded" "$tmp/out"
if grep -q "Installing missing Debian packages" "$tmp/out"; then
  echo "the demo installed packages the suite's install list did not: $(grep 'Installing missing' "$tmp/out")"
  exit 1
fi
# The recording plays: its first video frame decodes.
gst-launch-1.0 -q filesrc location="$LETSCHAT_DEMO_OUT" ! matroskademux ! vp8dec ! \
  videoconvert ! pngenc snapshot=true ! filesink location="$tmp/frame.png"
[ -s "$tmp/frame.png" ] || { echo "no frame could be decoded from the recording"; exit 1; }
echo "the demo held a call and its recording decodes"
