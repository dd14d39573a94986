"""A real `aether serve` process: /ready, /stats and /metrics."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers import XVFB_PROCS, ServerProcess, xvfb
from tests.integration.test_server import TEST_SOURCE


def get(url: str, token: str | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read().decode()


def wait_ready(url: str, want: int, timeout: float) -> tuple[float, dict[str, Any]]:
    """Poll /ready until it answers `want`; returns (seconds waited, body)."""
    start = time.monotonic()
    while True:
        status, _, body = get(url + "/ready")
        if status == want:
            return time.monotonic() - start, json.loads(body)
        if time.monotonic() - start > timeout:
            raise AssertionError(f"/ready stayed {status} ({body}) for {timeout} s")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(*TEST_SOURCE) as srv:
        yield srv


def test_ready_while_the_pipeline_plays(server: ServerProcess) -> None:
    status, headers, body = get(server.url + "/ready")
    assert status == 200, body
    state = json.loads(body)
    assert state["ready"] is True and state["pipeline"] == "playing"
    assert 0 <= state["last_frame_age_s"] < 0.5  # 15 fps: a frame every 67 ms
    assert headers["Content-Type"].startswith("application/json")
    assert headers["Cache-Control"] == "no-store"


def test_ready_flips_to_503_when_the_source_freezes_and_back_when_it_returns() -> None:
    with xvfb(320, 240) as display:
        srv = ServerProcess("--source", "x11", "--display", display, "--audio", "none",
                            "--width", "320", "--height", "240", "--fps", "15").start()  # fmt: skip
        xserver = XVFB_PROCS[display]
        try:
            wait_ready(srv.url, 200, 5)
            os.kill(xserver.pid, signal.SIGSTOP)  # the capture now blocks on the X server
            try:
                waited, state = wait_ready(srv.url, 503, 4)
                time.sleep(1.0)  # long enough to be logged; the watchdog's 5 s stay far
            finally:
                os.kill(xserver.pid, signal.SIGCONT)
            assert 1.5 < waited < 3.5
            assert state["ready"] is False and state["pipeline"] == "playing"
            assert state["reason"].startswith("source frozen: no video frame for 2.")
            wait_ready(srv.url, 200, 3)
            time.sleep(0.6)  # one more readiness check, which logs the recovery
            status, _, _ = get(srv.url + "/health")
            assert status == 200
        finally:
            code = srv.stop()
    assert code == 0
    log = srv.output()
    assert "not ready: source frozen: no video frame for" in log
    assert "ready again: video frames are flowing" in log


def test_ready_needs_no_token_even_when_tokens_are_required() -> None:
    with ServerProcess(*TEST_SOURCE, "--tokens", "admin:" + "s" * 24) as srv:
        assert get(srv.url + "/ready")[0] == 200
        assert get(srv.url + "/stats")[0] == 401
