#!/usr/bin/env bash
# Set up Aether on Debian 12: system packages (apt), a venv at .venv, the package.
#   scripts/setup.sh          runtime only
#   scripts/setup.sh --test   plus what the test suite needs (Xvfb, PulseAudio, Chromium,
#                             Firefox ESR and puppeteer-core in tests/firefox, ...)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

RUNTIME_PKGS=(
  python3 python3-venv python3-gi
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 gir1.2-gst-plugins-bad-1.0
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-nice gstreamer1.0-x
  gstreamer1.0-libav
)
# coturn: the TURN relay test runs its own turnserver (the package's service is not used).
TEST_PKGS=(xvfb xauth x11-xserver-utils pulseaudio pulseaudio-utils chromium firefox-esr
  iproute2 util-linux coturn
  # Janus for the --rtp-forward tests (each test runs its own instance, never janus.service)
  janus libjs-janus-gateway libjs-webrtc-adapter)

pkgs=("${RUNTIME_PKGS[@]}")
(( want_test )) && pkgs+=("${TEST_PKGS[@]}")
# Node drives Firefox in the tests; any installed node will do, else Debian's.
(( want_test )) && ! command -v node >/dev/null && pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's python3 has python3-gi (PyGObject) already: reuse it through system site packages.
if [[ ! -x .venv/bin/python ]]; then
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
extra=""
(( want_test )) && extra="[test]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extra}"
if (( want_test )) && [[ ! -d tests/firefox/node_modules/puppeteer-core ]]; then
  # puppeteer-core drives Debian's firefox-esr: no browser download.
  echo "setup: npm ci in tests/firefox (puppeteer-core)" >&2
  PUPPETEER_SKIP_DOWNLOAD=1 npm ci --prefix tests/firefox --no-audit --no-fund --loglevel=error
fi
if (( want_test )) && [[ ! -f tests/whep/node_modules/whip-whep/whep.js ]]; then
  # A WHEP client written by others, loaded into Chromium by tests/e2e/test_whep.py.
  echo "setup: npm ci in tests/whep (whip-whep)" >&2
  npm ci --prefix tests/whep --no-audit --no-fund --loglevel=error
fi
if (( want_test )) && [[ ! -d bench/fanout_client/node_modules/@roamhq/wrtc ]]; then
  # libwebrtc viewers in Node: the fan-out bench's clients, and the unconstrained viewer of
  # tests/e2e/test_tiers.py.
  echo "setup: npm ci in bench/fanout_client (@roamhq/wrtc, ws)" >&2
  npm ci --prefix bench/fanout_client --no-audit --no-fund --loglevel=error
fi
WHIP_DIR=tests/whip-server
if (( want_test )) && [[ ! -f $WHIP_DIR/deb/usr/share/simple-whip-server/src/server.js ]]; then
  # Debian's simple-whip-server (a WHIP front for Janus) depends on Debian's nodejs, which
  # conflicts with a Node installed otherwise: unpack its .deb instead of installing it.
  echo "setup: unpacking simple-whip-server into $WHIP_DIR/deb" >&2
  tmp=$(mktemp -d)
  # As root, apt downloads as its sandbox user, which must be able to write there.
  [[ $(id -u) -eq 0 ]] && id _apt >/dev/null 2>&1 && chown _apt "$tmp"
  if ! (cd "$tmp" && apt-get download -qq simple-whip-server 2>/dev/null); then
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update -qq
    (cd "$tmp" && apt-get download -qq simple-whip-server)
  fi
  rm -rf "$WHIP_DIR/deb"
  dpkg-deb -x "$tmp"/simple-whip-server_*.deb "$WHIP_DIR/deb"
  rm -rf "$tmp"
fi
if (( want_test )) && [[ ! -d $WHIP_DIR/node_modules/express ]]; then
  echo "setup: npm ci in $WHIP_DIR (simple-whip-server's dependencies)" >&2
  npm ci --prefix "$WHIP_DIR" --no-audit --no-fund --loglevel=error
fi
echo "setup: ready (.venv/bin/aether)" >&2
