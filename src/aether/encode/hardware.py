"""What the GPU encoders share: a choice between element factories (the first installed
one that passes a test encode), NV12 input, the configured profile, bitrate in kbit/s."""

from __future__ import annotations

from typing import Any

from aether import gst
from aether.config import Config
from aether.encode.base import h264_caps, raw_chain
from aether.encode.probe import require_elements, test_encode


class HardwareEncoder:
    name = ""
    factories: tuple[str, ...] = ()
    fix = ""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.factory = self.factories[0]
        self._encoder: Any = None

    def describe(self) -> str:
        c = self.config
        size = f"{c.width}x{c.height}@{c.fps}"
        return f"{self.name} ({self.factory}) {c.h264_profile} {size} {c.bitrate} kbit/s"

    def check(self) -> None:
        [self.factory] = require_elements(self.name, [self.factories], self.fix)
        test_encode(self.elements)

    def configure(self, encoder: Any) -> None:
        """Set the element's bitrate, keyframe interval and low-latency properties."""
        raise NotImplementedError

    def elements(self) -> list[Any]:
        c = self.config
        encoder = gst.make(self.factory, "encoder")
        self.configure(encoder)
        self._encoder = encoder
        return [*raw_chain(c.width, c.height, "NV12"), encoder, h264_caps(c.h264_profile)]

    def set_bitrate(self, kbps: int) -> None:
        self._encoder.set_property("bitrate", kbps)

    @property
    def gop(self) -> int:
        return max(1, round(self.config.fps * self.config.keyframe_interval))
