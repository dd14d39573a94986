"""NVENC: NVIDIA's hardware H.264 encoder (nvcodec plugin of gstreamer1.0-plugins-bad).

GStreamer 1.22 has two elements for it, `nvh264enc` (CUDA memory or system memory) and
the newer `nvcudah264enc`; either is used, whichever is installed and works. The nvcodec
plugin only registers them when the NVIDIA driver's CUDA and NVENC libraries load.
"""

from __future__ import annotations

from typing import Any

from aether.encode.hardware import HardwareEncoder
from aether.encode.probe import set_if_present
from aether.errors import ConfigError

FACTORIES = ("nvh264enc", "nvcudah264enc")
FIX = (
    "an NVIDIA GPU with its proprietary driver (Debian: nvidia-driver, libnvidia-encode1 "
    "from non-free) and gstreamer1.0-plugins-bad; check with `gst-inspect-1.0 nvh264enc`"
)
PROFILES = {"constrained-baseline": "baseline", "main": "main", "high": "high"}


class NvencEncoder(HardwareEncoder):
    name = "nvenc"
    factories = FACTORIES
    fix = FIX

    def configure(self, encoder: Any) -> None:
        c = self.config
        if c.h264_profile not in PROFILES:
            raise ConfigError("h264_profile", c.h264_profile, "one of " + ", ".join(PROFILES))
        # Both elements: constant bitrate, no B-frames, no look-ahead; each knows some of
        # these by other names, so only the ones present are set.
        set_if_present(
            encoder,
            bitrate=c.bitrate,
            gop_size=self.gop,
            bframes=0,
            b_frames=0,
            rc_lookahead=0,
            zerolatency=True,
            zero_reorder_delay=True,
            aud=False,  # no access unit delimiters: a useless packet a frame (x264.py)
        )
        if encoder.find_property("preset") is not None:
            preset = "p1" if self.factory == "nvcudah264enc" else "low-latency-hp"
            encoder.set_property("preset", preset)
        if encoder.find_property("tune") is not None:
            encoder.set_property("tune", "ultra-low-latency")
        if encoder.find_property("rc-mode") is not None:
            encoder.set_property("rc-mode", "cbr")
