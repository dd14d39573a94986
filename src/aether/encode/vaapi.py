"""VA-API: Intel and AMD hardware H.264 encoders.

`vah264enc` (the va plugin in gstreamer1.0-plugins-bad) is preferred, `vaapih264enc`
(gstreamer1.0-vaapi) is the older alternative. Both need a VA driver for the GPU and read
access to a render node (/dev/dri/renderD128).
"""

from __future__ import annotations

from typing import Any

from aether import gst
from aether.config import Config
from aether.encode.base import h264_caps, raw_chain
from aether.encode.probe import require_elements, set_if_present, test_encode

FACTORIES = ("vah264enc", "vaapih264enc")
FIX = (
    "a VA-API driver for the GPU (Debian: intel-media-va-driver or mesa-va-drivers) with "
    "gstreamer1.0-plugins-bad (vah264enc) or gstreamer1.0-vaapi, and read access to "
    "/dev/dri/renderD128 (the `render` group); check with `vainfo`"
)


class VaapiEncoder:
    name = "vaapi"

    def __init__(self, config: Config) -> None:
        self.config = config
        self.factory = FACTORIES[0]
        self._encoder: Any = None

    def describe(self) -> str:
        c = self.config
        size = f"{c.width}x{c.height}@{c.fps}"
        return f"vaapi ({self.factory}) {c.h264_profile} {size} {c.bitrate} kbit/s"

    def check(self) -> None:
        [self.factory] = require_elements(self.name, [FACTORIES], FIX)
        test_encode(self.elements)

    def elements(self) -> list[Any]:
        c = self.config
        encoder = gst.make(self.factory, "encoder")
        gop = max(1, round(c.fps * c.keyframe_interval))
        set_if_present(
            encoder,
            bitrate=c.bitrate,
            key_int_max=gop,  # vah264enc
            keyframe_period=gop,  # vaapih264enc
            b_frames=0,
            max_bframes=0,
            target_usage=7,  # fastest
        )
        if encoder.find_property("rate-control") is not None:
            encoder.set_property("rate-control", "cbr")
        self._encoder = encoder
        return [*raw_chain(c.width, c.height, "NV12"), encoder, h264_caps(c.h264_profile)]

    def set_bitrate(self, kbps: int) -> None:
        self._encoder.set_property("bitrate", kbps)
