"""x11 capture picks the RandR monitor asked for: checked on the pixels the browser shows."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from Xlib import X
from Xlib import display as xdisplay

from tests.e2e.conftest import decoded, wait_for
from tests.helpers import ServerProcess, xvfb

pytestmark = pytest.mark.e2e

CENTER_PIXEL_JS = """
() => {
  const v = document.getElementById('video');
  const c = document.createElement('canvas');
  c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d');
  g.drawImage(v, 0, 0);
  return Array.from(g.getImageData(c.width / 2, c.height / 2, 1, 1).data.slice(0, 3));
}
"""


def paint(display: str, rects: list[tuple[int, int, int, int, int]]) -> None:
    """Fill rectangles (x, y, w, h, 0xRRGGBB) on the root window."""
    conn = xdisplay.Display(display)
    root = conn.screen().root
    for x, y, w, h, rgb in rects:
        gc = root.create_gc(foreground=rgb, subwindow_mode=X.IncludeInferiors)
        root.fill_rectangle(gc, x, y, w, h)
    conn.sync()
    conn.close()


@pytest.fixture(scope="module")
def two_monitors() -> Iterator[str]:
    with xvfb(1280, 480) as display:
        env = {**os.environ, "DISPLAY": display}
        for spec in ("LEFT 640/0x480/0+0+0", "RIGHT 640/0x480/0+640+0"):
            subprocess.run(["xrandr", "--setmonitor", *spec.split(), "none"], env=env, check=True)
        paint(display, [(0, 0, 640, 480, 0xFF0000), (640, 0, 640, 480, 0x0000FF)])
        yield display


def center_colour(browser: Any, display: str, *args: str) -> tuple[list[int], str]:
    with ServerProcess(
        "--source",
        "x11",
        "--display",
        display,
        "--audio",
        "none",
        "--width",
        "320",
        "--height",
        "240",
        "--fps",
        "15",
        "--bitrate",
        "500",
        *args,
    ) as server:
        page = browser.new_context().new_page()
        try:
            page.goto(server.url + "/")
            wait_for(page, lambda s: decoded(s) > 3, what="frames")
            page.wait_for_timeout(300)
            return page.evaluate(CENTER_PIXEL_JS), server.output()
        finally:
            page.context.close()


def is_red(rgb: list[int]) -> bool:
    return rgb[0] > 180 and rgb[1] < 70 and rgb[2] < 70


def is_blue(rgb: list[int]) -> bool:
    return rgb[2] > 180 and rgb[0] < 70 and rgb[1] < 70


def test_monitor_by_name(browser: Any, two_monitors: str) -> None:
    rgb, log = center_colour(browser, two_monitors, "--monitor", "RIGHT")
    assert is_blue(rgb), rgb
    assert "monitor RIGHT 640x480+640+0" in log


def test_monitor_by_index(browser: Any, two_monitors: str) -> None:
    rgb, _ = center_colour(browser, two_monitors, "--monitor", "0")
    assert is_red(rgb), rgb


def test_region_inside_a_monitor(browser: Any, two_monitors: str) -> None:
    # The right-hand 100 px of LEFT (red) would be captured at the region's centre if the
    # region were taken from the screen origin; relative to RIGHT it is all blue.
    rgb, log = center_colour(browser, two_monitors, "--monitor", "RIGHT", "--region", "200x200+0+0")
    assert is_blue(rgb), rgb
    assert "200x200+640+0" in log


def test_unknown_monitor_lists_the_known_ones(two_monitors: str) -> None:
    code, out = ServerProcess(
        "--source", "x11", "--display", two_monitors, "--audio", "none", "--monitor", "HDMI-9"
    ).run_to_exit()
    assert code == 1
    assert "invalid monitor='HDMI-9'" in out and "0=LEFT, 1=RIGHT" in out
