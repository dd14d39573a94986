"""A file as the source: decoded, re-encoded and watched in Chromium."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import decoded, wait_for
from tests.helpers import ServerProcess

pytestmark = pytest.mark.e2e


def make_clip(path: Path, seconds: int = 20) -> None:
    """An H.264 MP4 of a moving ball, the kind of file a user would stream."""
    pipeline = (
        f"videotestsrc num-buffers={seconds * 30} pattern=ball"
        " ! video/x-raw,width=640,height=360,framerate=30/1,format=I420"
        " ! x264enc speed-preset=ultrafast ! video/x-h264,profile=constrained-baseline"
        f" ! mp4mux ! filesink location={path}"
    )
    subprocess.run(["gst-launch-1.0", "-q", *pipeline.split()], check=True, timeout=60)


def watch(browser: Any, server: ServerProcess, settle_ms: int = 0) -> tuple[Any, Any, Any]:
    """Open the player; (stats at the first frames, stats 20 frames later, video size)."""
    page = browser.new_context().new_page()
    try:
        page.goto(server.url + "/")
        first = wait_for(page, lambda s: decoded(s) > 5, what="frames from the file")
        page.wait_for_timeout(settle_ms)
        later = wait_for(page, lambda s: decoded(s) >= decoded(first) + 20, what="more")
        size = page.evaluate("() => [document.querySelector('video').videoWidth,"
                             " document.querySelector('video').videoHeight]")  # fmt: skip
    finally:
        page.context.close()
    return first, later, size


def test_a_video_file_plays_in_the_browser_at_the_configured_size(
    browser: Any, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.mp4"
    make_clip(clip)
    args = ("--source", "url", "--url", str(clip), "--audio", "test",
            "--width", "320", "--height", "180", "--fps", "15", "--bitrate", "400")  # fmt: skip
    with ServerProcess(*args) as server:
        first, later, size = watch(browser, server, settle_ms=2000)
        assert size == [320, 180]
        assert decoded(later) > decoded(first)
        assert "url file://" in server.output()


def test_a_browser_ready_h264_file_is_passed_through_without_re_encoding(
    browser: Any, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.mp4"
    make_clip(clip)
    args = ("--source", "url", "--url", str(clip), "--encoder", "copy", "--audio", "none",
            "--width", "320", "--height", "180")  # fmt: skip
    with ServerProcess(*args) as server:
        first, later, size = watch(browser, server)
        # The file's own size and profile: nothing was decoded, scaled or encoded.
        assert size == [640, 360]
        assert decoded(later) > decoded(first)
        out = server.output()
        assert "encoder copy" in out and "H.264 stream: constrained-baseline" in out
