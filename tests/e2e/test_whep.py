"""WHEP end to end: a third-party WHEP client (npm's whip-whep) in Chromium watches the
server through POST /whep, beside a viewer of our own page; both decode."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import audio_packets, decoded, stats, wait_for
from tests.helpers import ServerProcess, free_port

pytestmark = pytest.mark.e2e

CLIENT_DIR = Path(__file__).resolve().parents[1] / "whep"


@pytest.fixture(scope="module")
def client_page() -> Iterator[str]:
    """The WHEP client page, served from another origin than the server (CORS applies)."""
    if not (CLIENT_DIR / "node_modules" / "whip-whep" / "whep.js").exists():
        pytest.fail("tests/whep/node_modules is missing: run scripts/setup.sh --test")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        cwd=CLIENT_DIR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/viewer.html"
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise
            time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="module")
def server(desktop: dict[str, str], client_page: str) -> Iterator[ServerProcess]:
    # Without tokens (loopback), a WHEP POST from another origin must be allowed by name.
    origin = client_page.rsplit("/", 1)[0]
    with ServerProcess(
        "--source", "x11", "--audio", "pulse", "--width", "640", "--height", "360",
        "--fps", "30", "--bitrate", "1500", "--allowed-origins", origin,
        env={**desktop, "AETHER_DISPLAY": desktop["DISPLAY"]},
    ) as srv:  # fmt: skip
        yield srv


def open_whep(browser: Any, page_url: str, endpoint: str, audio: bool = True) -> Any:
    page = browser.new_context().new_page()
    page.goto(f"{page_url}?endpoint={endpoint}&audio={int(audio)}")
    return page


def test_third_party_whep_client_decodes_beside_our_page(
    browser: Any, server: ServerProcess, client_page: str
) -> None:
    whep = open_whep(browser, client_page, server.url + "/whep")
    ours = browser.new_context().new_page()
    ours.goto(server.url + "/")
    try:
        first = wait_for(
            whep,
            lambda s: decoded(s) > 10 and audio_packets(s) > 10,
            what="WHEP video frames and Opus packets",
        )
        assert first["video"]["codec"] == "video/H264"
        assert first["audio"]["codec"].lower() == "audio/opus"
        wait_for(ours, lambda s: decoded(s) > 10, what="our page's frames")
        whep.wait_for_timeout(1500)
        later = stats(whep)
        assert decoded(later) > decoded(first) + 20, "WHEP video stopped decoding"
        kinds = sorted(v["kind"] for v in server.stats()["viewers"])
        assert kinds == ["websocket", "whep"]
        resource = whep.evaluate("window.aether.whep.resourceURL.href")
        assert "/whep/" in resource
    finally:
        whep.evaluate("window.aether.whep.stop()")  # DELETE on the resource
        whep.context.close()
        ours.context.close()
    deadline = time.monotonic() + 10
    while [v["kind"] for v in server.stats()["viewers"]] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server.stats()["viewers"] == [], "DELETE and close did not remove the viewers"
    log = server.output()
    # Chromium numbers H.264 its own way (not our 96): the stream was re-numbered for it.
    assert "payload group for video PT" in log
    assert "WHEP session ended: viewer ended the session (DELETE)" in log


def test_video_only_offer(browser: Any, server: ServerProcess, client_page: str) -> None:
    whep = open_whep(browser, client_page, server.url + "/whep", audio=False)
    try:
        first = wait_for(whep, lambda s: decoded(s) > 10, what="video-only WHEP frames")
        assert "audio" not in first
    finally:
        whep.context.close()


def test_a_vanished_viewer_is_removed(
    browser: Any, server: ServerProcess, client_page: str
) -> None:
    """No DELETE, no DTLS close: its tab crashes. Its RTCP stops, so it goes."""
    deadline = time.monotonic() + 20  # the earlier tests' closed tabs go first
    while server.stats()["viewers"] and time.monotonic() < deadline:
        time.sleep(0.5)
    whep = open_whep(browser, client_page, server.url + "/whep")
    try:
        wait_for(whep, lambda s: decoded(s) > 10, what="WHEP frames")
        assert [v["kind"] for v in server.stats()["viewers"]] == ["whep"]
        with contextlib.suppress(Exception):
            whep.goto("chrome://crash", timeout=2000)
        crashed = time.monotonic()
        while server.stats()["viewers"] and time.monotonic() - crashed < 40:
            time.sleep(0.5)
        gone_after = time.monotonic() - crashed
        left = server.stats()["viewers"]
        assert left == [], f"the vanished WHEP viewer stayed: {left}"
        print(f"vanished WHEP viewer removed after {gone_after:.1f} s")
    finally:
        whep.context.close()
    assert "no RTCP from the viewer for" in server.output()


def test_our_page_watches_through_whep(browser: Any, server: ServerProcess) -> None:
    page = browser.new_context().new_page()
    page.goto(server.url + "/?signal=whep")
    try:
        first = wait_for(page, lambda s: decoded(s) > 10, what="frames through WHEP")
        assert first["video"]["codec"] == "video/H264"
        assert page.evaluate("window.aether.whepResource").startswith(server.url + "/whep/")
        assert page.evaluate("window.aether.ws") is None  # no WebSocket signaling at all
        assert "whep" in [v["kind"] for v in server.stats()["viewers"]]
    finally:
        page.context.close()
