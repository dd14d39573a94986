"""VA-API: Intel and AMD hardware H.264 encoders.

`vah264enc` (the va plugin in gstreamer1.0-plugins-bad) is preferred, `vaapih264enc`
(gstreamer1.0-vaapi) is the older alternative. Both need a VA driver for the GPU and read
access to a render node (/dev/dri/renderD128).
"""

from __future__ import annotations

from typing import Any

from aether.encode.hardware import HardwareEncoder
from aether.encode.probe import set_if_present

FACTORIES = ("vah264enc", "vaapih264enc")
FIX = (
    "a VA-API driver for the GPU (Debian: intel-media-va-driver or mesa-va-drivers) with "
    "gstreamer1.0-plugins-bad (vah264enc) or gstreamer1.0-vaapi, and read access to "
    "/dev/dri/renderD128 (the `render` group); check with `vainfo`"
)


class VaapiEncoder(HardwareEncoder):
    name = "vaapi"
    factories = FACTORIES
    fix = FIX

    def configure(self, encoder: Any) -> None:
        set_if_present(
            encoder,
            bitrate=self.config.bitrate,
            key_int_max=self.gop,  # vah264enc
            keyframe_period=self.gop,  # vaapih264enc
            b_frames=0,
            max_bframes=0,
            target_usage=7,  # fastest
            aud=False,  # no access unit delimiters: a useless packet a frame (x264.py)
        )
        if encoder.find_property("rate-control") is not None:
            encoder.set_property("rate-control", "cbr")
