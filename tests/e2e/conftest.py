"""Browser fixtures: Debian's Chromium driven by Playwright, inside a private netns."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import in_private_netns, pulseaudio, xvfb

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    # ICE inside the test namespace: allow its addresses, show them instead of mDNS names.
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]

STATS_JS = """
async () => {
  const pc = window.aether && window.aether.pc;
  if (!pc) return null;
  const stats = await pc.getStats();
  const out = {state: pc.connectionState};
  const codecs = {};
  stats.forEach(r => { if (r.type === 'codec') codecs[r.id] = r.mimeType; });
  stats.forEach(r => {
    if (r.type === 'inbound-rtp') {
      out[r.kind] = {
        packetsReceived: r.packetsReceived || 0,
        framesDecoded: r.framesDecoded || 0,
        bytesReceived: r.bytesReceived || 0,
        pliCount: r.pliCount || 0,
        keyFramesDecoded: r.keyFramesDecoded || 0,
        framesDropped: r.framesDropped || 0,
        codec: codecs[r.codecId] || null,
      };
    }
  });
  return out;
}
"""


@pytest.fixture(scope="session", autouse=True)
def _require_netns() -> None:
    if not in_private_netns():
        reason = (
            "end-to-end WebRTC tests need a private network namespace with a non-loopback "
            "address (libnice ignores loopback): run them through scripts/test.sh"
        )
        if os.environ.get("AETHER_REQUIRE_E2E") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory(prefix="aether-chromium-") as _d:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def desktop() -> Iterator[dict[str, str]]:
    """Xvfb + PulseAudio with a tone playing into the default sink; yields the env that
    reaches both (DISPLAY and AETHER_DISPLAY, PULSE_SERVER)."""
    with xvfb(1280, 720) as display, pulseaudio() as pulse_env:
        tone = subprocess.Popen(
            ["gst-launch-1.0", "-q", "audiotestsrc", "is-live=true", "wave=sine", "!", "pulsesink"],
            env={**os.environ, **pulse_env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield {"DISPLAY": display, "AETHER_DISPLAY": display, **pulse_env}
        finally:
            tone.terminate()
            tone.wait(10)


def open_player(browser: Any, url: str, token: str | None = None) -> Any:
    """The player page in a context of its own (background tabs get ~1 fps in headless),
    with the access token in the URL fragment when given; `page.context.close()` ends it."""
    page = browser.new_context().new_page()
    page.goto(f"{url}/" + (f"#token={token}" if token else ""))
    return page


def stats(page: Any) -> Any:
    return page.evaluate(STATS_JS)


def wait_for(page: Any, predicate: Any, timeout: float = 20.0, what: str = "") -> Any:
    """Poll the page's WebRTC stats until predicate(stats) is true; return the stats."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = stats(page)
        if last and predicate(last):
            return last
        page.wait_for_timeout(200)
    raise AssertionError(f"timed out waiting for {what}: last stats {last}")


def decoded(s: Any) -> int:
    return int((s.get("video") or {}).get("framesDecoded", 0))


def audio_packets(s: Any) -> int:
    return int((s.get("audio") or {}).get("packetsReceived", 0))
