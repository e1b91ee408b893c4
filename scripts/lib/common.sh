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
  python3-aiortc python3-websockets  # tests/interop/aiortc-party.py
  golang-go golang-github-pion-webrtc.v3-dev golang-github-gorilla-websocket-dev  # tests/interop/pion-party
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
