"""NVENC: NVIDIA's hardware H.264 encoder (nvcodec plugin of gstreamer1.0-plugins-bad).

GStreamer 1.22 has two elements for it, `nvh264enc` (CUDA memory or system memory) and
the newer `nvcudah264enc`; either is used, whichever is installed and works. The nvcodec
plugin only registers them when the NVIDIA driver's CUDA and NVENC libraries load.
"""

from __future__ import annotations

from typing import Any

from aether import gst
from aether.config import Config
from aether.encode.base import h264_caps, raw_chain
from aether.encode.probe import require_elements, set_if_present, test_encode
from aether.errors import ConfigError

FACTORIES = ("nvh264enc", "nvcudah264enc")
FIX = (
    "an NVIDIA GPU with its proprietary driver (Debian: nvidia-driver, libnvidia-encode1 "
    "from non-free) and gstreamer1.0-plugins-bad; check with `gst-inspect-1.0 nvh264enc`"
)
PROFILES = {"constrained-baseline": "baseline", "main": "main", "high": "high"}


class NvencEncoder:
    name = "nvenc"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.factory = FACTORIES[0]
        self._encoder: Any = None

    def describe(self) -> str:
        c = self.config
        size = f"{c.width}x{c.height}@{c.fps}"
        return f"nvenc ({self.factory}) {c.h264_profile} {size} {c.bitrate} kbit/s"

    def check(self) -> None:
        [self.factory] = require_elements(self.name, [FACTORIES], FIX)
        test_encode(self.elements)

    def elements(self) -> list[Any]:
        c = self.config
        if c.h264_profile not in PROFILES:
            raise ConfigError("h264_profile", c.h264_profile, "one of " + ", ".join(PROFILES))
        encoder = gst.make(self.factory, "encoder")
        gop = max(1, round(c.fps * c.keyframe_interval))
        # Both elements: constant bitrate, no B-frames, no look-ahead; each knows some of
        # these by other names, so only the ones present are set.
        set_if_present(
            encoder,
            bitrate=c.bitrate,
            gop_size=gop,
            bframes=0,
            b_frames=0,
            rc_lookahead=0,
            zerolatency=True,
            zero_reorder_delay=True,
        )
        if encoder.find_property("preset") is not None:
            preset = "p1" if self.factory == "nvcudah264enc" else "low-latency-hp"
            encoder.set_property("preset", preset)
        if encoder.find_property("tune") is not None:
            encoder.set_property("tune", "ultra-low-latency")
        if encoder.find_property("rc-mode") is not None:
            encoder.set_property("rc-mode", "cbr")
        self._encoder = encoder
        caps = h264_caps(c.h264_profile)
        return [*raw_chain(c.width, c.height, "NV12"), encoder, caps]

    def set_bitrate(self, kbps: int) -> None:
        self._encoder.set_property("bitrate", kbps)
