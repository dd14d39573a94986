"""OpenH264: Cisco's software encoder, a second CPU option beside x264.

It only makes Constrained Baseline, which every browser decodes; lighter on CPU than x264
at the cost of quality per bit. In gstreamer1.0-plugins-bad.
"""

from __future__ import annotations

from typing import Any

from aether import gst
from aether.config import Config
from aether.encode.base import h264_caps, raw_chain
from aether.encode.probe import require_elements, test_encode
from aether.errors import ConfigError

FIX = "sudo apt-get install gstreamer1.0-plugins-bad libopenh264-7"


class OpenH264Encoder:
    name = "openh264"

    def __init__(self, config: Config) -> None:
        self.config = config
        self._encoder: Any = None

    def describe(self) -> str:
        c = self.config
        return f"openh264 constrained-baseline {c.width}x{c.height}@{c.fps} {c.bitrate} kbit/s"

    def check(self) -> None:
        if self.config.h264_profile != "constrained-baseline":
            raise ConfigError(
                "h264_profile",
                self.config.h264_profile,
                "constrained-baseline with --encoder openh264 (it makes no other profile)",
            )
        require_elements(self.name, [("openh264enc",)], FIX)
        test_encode(self.elements)

    def elements(self) -> list[Any]:
        c = self.config
        encoder = gst.make(
            "openh264enc",
            "encoder",
            bitrate=c.bitrate * 1000,  # bit/s
            gop_size=max(1, round(c.fps * c.keyframe_interval)),
            complexity="low",
            usage_type="screen",
            rate_control="bitrate",
        )
        self._encoder = encoder
        return [*raw_chain(c.width, c.height, "I420"), encoder, h264_caps("constrained-baseline")]

    def set_bitrate(self, kbps: int) -> None:
        self._encoder.set_property("bitrate", kbps * 1000)
