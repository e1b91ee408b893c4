#!/bin/sh
# Builds pion-party (main.go, next to this script) with Debian's Go and its Go
# library packages, in GOPATH mode: no modules, no network.
#
#   build.sh GO OUTPUT WORKDIR
#
# WORKDIR (in the build directory) holds the private GOPATH and GOCACHE.
# Debian installs pion/webrtc v3 at /usr/share/gocode/src/github.com/pion/webrtc
# (its go.mod says "module github.com/pion/webrtc/v3"). Go's "minimal module
# compatibility" would map an import of .../webrtc/v3 onto that directory
# only for code that itself sits in a GOPATH tree with a go.mod, so the
# private GOPATH gets a symlink github.com/pion/webrtc/v3 instead.
set -eu
go=$1 out=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
case $out in /*) ;; *) out=$PWD/$out ;; esac
case $work in /*) ;; *) work=$PWD/$work ;; esac
gocode=/usr/share/gocode
if [ ! -f "$gocode/src/github.com/pion/webrtc/go.mod" ]; then
  echo "pion-party: $gocode/src/github.com/pion/webrtc is missing:" \
    "apt-get install golang-github-pion-webrtc.v3-dev golang-github-gorilla-websocket-dev" >&2
  exit 1
fi
mkdir -p "$work/gopath/src/github.com/pion/webrtc"
ln -sfn "$gocode/src/github.com/pion/webrtc" "$work/gopath/src/github.com/pion/webrtc/v3"
cd "$here"
GO111MODULE=off GOPATH="$work/gopath:$gocode" GOCACHE="$work/gocache" GOPROXY=off GOFLAGS=-buildvcs=false \
  exec "$go" build -o "$out" .
