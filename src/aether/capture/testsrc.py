"""The built-in test pattern: moving colour bars with a running clock drawn on top."""

from __future__ import annotations

from typing import Any

from aether import gst
from aether.config import Config


class TestVideoSource:
    kind = "test"

    def __init__(self, config: Config) -> None:
        self.config = config

    def describe(self) -> str:
        return f"test pattern {self.config.width}x{self.config.height}@{self.config.fps}"

    def elements(self) -> list[Any]:
        c = self.config
        src = gst.make("videotestsrc", "capture", is_live=True, pattern="smpte", horizontal_speed=4)
        caps = gst.make(
            "capsfilter",
            "capture-caps",
            caps=gst.caps(f"video/x-raw,width={c.width},height={c.height},framerate={c.fps}/1"),
        )
        clock = gst.make(
            "timeoverlay",
            "clock",
            time_mode="running-time",
            font_desc=f"Sans Bold {max(12, c.height // 24)}",
            halignment="center",
            valignment="center",
            shaded_background=True,
        )
        return [src, caps, clock]
