"""--h264-profile in Chromium: Debian's Chromium offers Constrained Baseline, Baseline and Main
(42e01f, 42001f, 4d001f), so a Main stream plays and a High one is refused with the reason.
Firefox, which offers only Constrained Baseline and Baseline, is in tests/e2e/test_firefox.py.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.conftest import decoded, wait_for
from tests.helpers import ServerProcess

pytestmark = pytest.mark.e2e

ARGS = ("--source", "test", "--audio", "none", "--width", "640", "--height", "360",
        "--fps", "30", "--bitrate", "800")  # fmt: skip


def test_chromium_decodes_a_main_profile_stream(browser: Any) -> None:
    with ServerProcess(*ARGS, "--h264-profile", "main") as server:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(server.url + "/")
            first = wait_for(page, lambda s: decoded(s) > 10, what="Main profile frames")
            assert first["video"]["codec"] == "video/H264"
            page.wait_for_timeout(1000)
            assert decoded(wait_for(page, lambda s: True)) > decoded(first) + 15
            offer = page.evaluate("window.aether.pc.remoteDescription.sdp")
            answer = page.evaluate("window.aether.pc.localDescription.sdp")
        finally:
            context.close()
        log = server.output()
    assert "profile-level-id=4d" in offer  # x264's Main SPS: 4d40xx
    assert "profile-level-id=4d" in answer
    assert "takes H.264 main" in log


def test_chromium_is_told_it_cannot_take_a_high_profile_stream(browser: Any) -> None:
    with ServerProcess(*ARGS, "--h264-profile", "high") as server:
        context = browser.new_context()
        try:
            page = context.new_page()
            page.goto(server.url + "/")
            deadline = time.monotonic() + 20
            while page.evaluate("window.aether.status") != "error":
                assert time.monotonic() < deadline, "no error shown"
                page.wait_for_timeout(200)
            error = page.evaluate("window.aether.lastError")
            shown = page.inner_text("#state")
        finally:
            context.close()
        log = server.output()
    assert error["code"] == "unsupported-codec"
    assert "cannot decode H.264 high level" in error["message"]
    assert "cannot decode H.264 high level" in shown
    assert "cannot take the stream" in log
