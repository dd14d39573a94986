"""The capture source goes away and comes back: the server keeps running, viewers keep
their connection, see the loss, and get frames again without reloading the page."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import decoded, stats, wait_for
from tests.helpers import ServerProcess, _free_display

pytestmark = pytest.mark.e2e


def start_xvfb(number: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        ["Xvfb", f":{number}", "-screen", "0", "320x240x24", "-nolisten", "tcp", "-noreset"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{number}").exists():
        assert proc.poll() is None and time.monotonic() < deadline, f"Xvfb :{number} failed"
        time.sleep(0.05)
    return proc


def stop_xvfb(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(10)


def readiness(server: ServerProcess) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(server.url + "/ready", timeout=5) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_ready(server: ServerProcess, status: int, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        code, body = readiness(server)
        if code == status:
            return body
        assert time.monotonic() < deadline, (status, code, body)
        time.sleep(0.2)


def test_display_that_goes_away_and_comes_back_resumes_the_same_viewer(browser: Any) -> None:
    number = _free_display()
    xvfb = start_xvfb(number)
    args = ("--source", "x11", "--display", f":{number}", "--audio", "none",
            "--width", "320", "--height", "240", "--fps", "15")  # fmt: skip
    page = None
    try:
        with ServerProcess(*args) as server:
            page = browser.new_context().new_page()
            page.goto(server.url + "/")
            wait_for(page, lambda s: decoded(s) > 5, what="frames")
            viewer = page.evaluate("() => window.aether.viewer")

            stop_xvfb(xvfb)  # the X server goes away under the running capture
            lost = wait_ready(server, 503, timeout=15)
            assert lost["reason"] == "video source lost; reopening it", lost
            page.wait_for_function("() => window.aether.status === 'source-lost'", timeout=10_000)
            during = decoded(stats(page))

            xvfb = start_xvfb(number)  # and comes back
            wait_ready(server, 200, timeout=30)
            after = wait_for(page, lambda s: decoded(s) > during + 15, timeout=20, what="frames")
            assert after["state"] == "connected"
            assert page.evaluate("() => window.aether.viewer") == viewer  # same session
            assert page.evaluate("() => window.aether.status") == "playing"
            assert server.proc is not None and server.proc.poll() is None
            out = server.output()
    finally:
        if page is not None:
            page.context.close()
        stop_xvfb(xvfb)
    assert "video source lost" in out and "video source back" in out, out[-2000:]
    assert "Traceback" not in out
