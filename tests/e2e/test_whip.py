"""End to end: `aether serve --whip-url` publishes into a real WHIP ingest (Janus's videoroom
behind Debian's simple-whip-server) and headless Chromium, subscribed in that Janus room
with janus.js, decodes the frames. Also: the ingest goes away and comes back."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import decoded, stats, wait_for
from tests.helpers import ServerProcess
from tests.whip_ingest import ADAPTER_JS, JANUS_JS, ROOM, WHIP_DIR, Ingest, missing, whip_ingest

pytestmark = pytest.mark.e2e

WIDTH, HEIGHT = 640, 360
TOKEN = "whip-e2e-" + os.urandom(6).hex()  # must never show in a log or /stats


@pytest.fixture(scope="module", autouse=True)
def _need_ingest() -> None:
    reason = missing()
    if reason is not None:
        if os.environ.get("AETHER_REQUIRE_E2E") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def ingest() -> Iterator[Ingest]:
    with whip_ingest() as running:
        yield running


def publishing_server(ingest: Ingest, endpoint: str, token: str | None) -> ServerProcess:
    env = {"AETHER_WHIP_TOKEN": token} if token else {}
    return ServerProcess(
        "--source", "test", "--audio", "test",
        "--width", str(WIDTH), "--height", str(HEIGHT), "--fps", "30", "--bitrate", "1500",
        "--whip-url", ingest.endpoint_url(endpoint),
        env=env,
    )  # fmt: skip


def wait_output(server: ServerProcess, text: str, count: int = 1, timeout: float = 30) -> float:
    """Wait until `text` shows `count` times in the server's log; returns the wait (s)."""
    start = time.monotonic()
    while server.output().count(text) < count:
        assert server.proc is not None and server.proc.poll() is None, server.output()
        if time.monotonic() - start > timeout:
            raise AssertionError(f"no {count}x {text!r} in {timeout} s:\n{server.output()}")
        time.sleep(0.1)
    return time.monotonic() - start


def open_viewer(browser: Any, ingest: Ingest) -> Any:
    """Chromium subscribed to the room's publisher, the page served at Janus's origin."""
    files = {
        "index.html": ((WHIP_DIR / "viewer.html").read_text().replace("ROOM", str(ROOM)),
                       "text/html"),
        "janus.js": (JANUS_JS.read_text(), "text/javascript"),
        "adapter.js": (ADAPTER_JS.read_text(), "text/javascript"),
    }  # fmt: skip
    context = browser.new_context()
    page = context.new_page()

    def serve(route: Any) -> None:
        body, content_type = files[route.request.url.rsplit("/", 1)[-1]]
        route.fulfill(body=body, content_type=content_type)

    page.route(f"{ingest.janus_http}/viewer/*", serve)
    page.goto(f"{ingest.janus_http}/viewer/index.html")
    return page


def watch_frames(page: Any) -> None:
    """The page decodes our stream's frames, at our size, and keeps decoding."""
    try:
        first = wait_for(page, lambda s: decoded(s) > 10, timeout=30, what="decoded frames")
    except AssertionError:
        raise AssertionError(f"page error: {page.evaluate('window.aether.error')}") from None
    assert first["video"]["codec"] == "video/H264"
    size = page.evaluate("[document.getElementById('video').videoWidth,"
                         " document.getElementById('video').videoHeight]")  # fmt: skip
    assert size == [WIDTH, HEIGHT]
    page.wait_for_timeout(1500)
    assert decoded(stats(page)) > decoded(first) + 15, "the viewer stopped decoding"


def test_a_janus_viewer_decodes_what_aether_publishes(browser: Any, ingest: Ingest) -> None:
    ingest.create_endpoint("live", token=TOKEN)
    server = publishing_server(ingest, "live", TOKEN)
    started = time.monotonic()
    with server:
        waited = wait_output(server, "publishing: connected")
        print(f"\nWHIP: connected {time.monotonic() - started:.2f} s after start "
              f"({waited:.2f} s after /health answered)")  # fmt: skip
        figures = server.stats()
        publisher = figures["publisher"]
        assert publisher["state"] == "publishing", publisher
        assert publisher["resource"] == f"{ingest.whip_base}/resource/live"  # Location resolved
        assert (publisher["sessions"], publisher["reconnects"]) == (1, 0)
        assert figures["viewers_now"] == 0 and figures["viewers_total"] == 0  # not a viewer
        assert TOKEN not in json.dumps(figures)
        page = open_viewer(browser, ingest)
        try:
            watch_frames(page)
        finally:
            page.context.close()
    log = server.output()
    assert "ended the WHIP session" in log  # DELETE at shutdown
    assert "Terminating WHIP session" in ingest.log("whip")
    assert TOKEN not in log


def test_a_refused_token_is_retried_and_named_in_the_log(ingest: Ingest) -> None:
    ingest.create_endpoint("guarded", token=TOKEN)
    wrong = "not-" + TOKEN
    with publishing_server(ingest, "guarded", wrong) as server:
        wait_output(server, "retrying in", count=2)
        publisher = server.stats()["publisher"]
        assert publisher["state"] in ("waiting", "connecting")
        assert publisher["sessions"] == 0
        assert "HTTP 403" in publisher["last_error"]
        assert "Unauthorized" in publisher["last_error"]  # the start of the server's body
    log = server.output()
    assert "HTTP 403" in log
    assert wrong not in log and TOKEN not in log


def test_publishing_resumes_when_the_ingest_comes_back(browser: Any, ingest: Ingest) -> None:
    ingest.create_endpoint("again")
    with publishing_server(ingest, "again", None) as server:
        wait_output(server, "publishing: connected")
        page = open_viewer(browser, ingest)
        try:
            watch_frames(page)
        finally:
            page.context.close()

        ingest.stop()  # Janus and the WHIP front go away, without a goodbye to us
        stopped = time.monotonic()
        noticed_after = wait_output(server, "retrying in", count=1, timeout=30)
        wait_output(server, "retrying in", count=3, timeout=60)
        noticed = server.output()
        assert "stopped reporting reception" in noticed or "connection failed" in noticed
        assert "cannot reach the ingest" in noticed
        with urllib.request.urlopen(server.url + "/health", timeout=5) as response:
            assert response.status == 200  # still serving
        assert server.stats()["publisher"]["state"] in ("waiting", "connecting")

        ingest.start()
        ingest.create_endpoint("again")
        back = time.monotonic()
        wait_output(server, "publishing: connected", count=2, timeout=60)
        print(f"\nWHIP: loss noticed after {noticed_after:.1f} s; ingest down "
              f"{back - stopped:.1f} s; publishing again {time.monotonic() - back:.2f} s "
              "after it was back")  # fmt: skip
        publisher = server.stats()["publisher"]
        assert publisher["state"] == "publishing"
        assert publisher["reconnects"] == 1
        page = open_viewer(browser, ingest)
        try:
            watch_frames(page)
        finally:
            page.context.close()
