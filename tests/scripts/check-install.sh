#!/usr/bin/env bash
# `meson install` into a DESTDIR, then what was installed is used from
# there: gst-inspect-1.0 finds the plugin, the installed letschat-server
# starts with the installed configuration file and answers /healthz, the
# man page renders, the systemd unit points at the installed program and
# configuration. And the plugin's directory is GStreamer's own when the
# prefix is /usr (README: `meson setup --prefix=/usr`).
set -euo pipefail
top=${1:?usage: check-install.sh SOURCE_ROOT BUILD_ROOT}
build=${2:?usage: check-install.sh SOURCE_ROOT BUILD_ROOT}
dest=$(mktemp -d)
server_pid=
cleanup() {
  [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
  rm -rf "$dest"
}
trap cleanup EXIT

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet

# Where this build installs (its prefix, /usr/local unless set up otherwise).
eval "$(meson introspect "$build" --buildoptions | /usr/bin/python3 -c '
import json, sys
opts = {o["name"]: o["value"] for o in json.load(sys.stdin)}
for name in ("prefix", "libdir", "bindir", "mandir", "sysconfdir"):
    print(f"{name}={opts[name]!r}")
')"
abs() { case $1 in /*) echo "$1" ;; *) echo "$prefix/$1" ;; esac; }
plugindir=$(abs "$libdir")/gstreamer-1.0
confdir=$(abs "$sysconfdir")/letschat

# With --prefix=/usr the plugin lands exactly where Debian's GStreamer looks.
system_plugins=$(pkg-config --variable=pluginsdir gstreamer-1.0)
if [ "/usr/$libdir/gstreamer-1.0" != "$system_plugins" ]; then
  echo "with --prefix=/usr the plugin would go to /usr/$libdir/gstreamer-1.0, but GStreamer looks in $system_plugins"
  exit 1
fi

# The plugin, from the DESTDIR only (not the build tree the suite sets).
[ -f "$dest$plugindir/libgstletschat.so" ] || { echo "no plugin in $dest$plugindir"; ls -R "$dest"; exit 1; }
GST_PLUGIN_PATH="$dest$plugindir" GST_REGISTRY="$dest/registry.bin" \
  gst-inspect-1.0 letschat > "$dest/inspect.txt"
grep -q "Filename *$dest$plugindir/libgstletschat.so" "$dest/inspect.txt" \
  || { cat "$dest/inspect.txt"; echo "gst-inspect-1.0 did not load the installed plugin"; exit 1; }
GST_PLUGIN_PATH="$dest$plugindir" GST_REGISTRY="$dest/registry.bin" \
  gst-inspect-1.0 letschatsink > "$dest/inspect-sink.txt"
grep -q "Long-name" "$dest/inspect-sink.txt"
echo "gst-inspect-1.0 loads $plugindir/libgstletschat.so from the DESTDIR"

# The installed server, with the installed configuration (every key of it
# commented out: the defaults), on a free port.
server="$dest$(abs "$bindir")/letschat-server"
[ -f "$dest$confdir/server.conf" ] || { echo "no $confdir/server.conf installed"; exit 1; }
"$server" --config "$dest$confdir/server.conf" --port 0 > "$dest/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
  grep -q "^letschat-server listening on " "$dest/server.log" && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$dest/server.log"; echo "the installed server exited"; exit 1; }
  sleep 0.1
done
port=$(sed -n 's|^letschat-server listening on ws://127.0.0.1:\([0-9]*\)/ws$|\1|p' "$dest/server.log")
[ -n "$port" ] || { cat "$dest/server.log"; echo "no listening line"; exit 1; }
/usr/bin/python3 - "$port" <<'PY'
import json, sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=10) as r:
    health = json.loads(r.read())
assert health["status"] == "ok", health
print("the installed letschat-server answers /healthz:", health)
PY
kill -TERM "$server_pid"
wait "$server_pid"
server_pid=

# The man page renders, and lists the options (made from --help).
man_page="$dest$(abs "$mandir")/man1/letschat-server.1"
MANWIDTH=100 man -l "$man_page" > "$dest/man.txt" 2>"$dest/man.err"
for want in "letschat-server - room server" "--config=FILE" "--metrics-allow=CIDR" "/healthz"; do
  grep -qF -- "$want" "$dest/man.txt" || { cat "$dest/man.txt" "$dest/man.err"; echo "man letschat-server lacks: $want"; exit 1; }
done
echo "man -l $(abs "$mandir")/man1/letschat-server.1 renders"

# The unit starts the installed program with the installed configuration.
unit="$dest$prefix/lib/systemd/system/letschat-server.service"
grep -qx "ExecStart=$(abs "$bindir")/letschat-server --config $confdir/server.conf" "$unit" \
  || { cat "$unit"; echo "the unit's ExecStart is not the installed program and configuration"; exit 1; }
grep -qx "DynamicUser=yes" "$unit"
if command -v systemd-analyze >/dev/null; then
  # systemd checks the unit against its own rules; the program and the man
  # page are looked for where they were installed.
  sed "s|^ExecStart=[^ ]*|ExecStart=$server|" "$unit" > "$dest/letschat-server.service"
  MANPATH="$dest$(abs "$mandir")" systemd-analyze verify "$dest/letschat-server.service"
  echo "systemd-analyze verify: the unit is valid"
else
  echo "systemd-analyze is not installed: the unit's syntax is not checked"
fi
echo "meson install puts the plugin, the server, its configuration, man page and unit in place"
