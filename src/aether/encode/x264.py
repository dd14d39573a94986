"""x264: the CPU encoder that works everywhere, tuned for latency."""

from __future__ import annotations

from typing import Any

from aether import gst
from aether.config import Config
from aether.encode.probe import require_elements, test_encode

FIX = "sudo apt-get install gstreamer1.0-plugins-ugly"

# The coding tools each profile needs. The caps' profile is only a ceiling: with
# speed-preset=ultrafast x264 leaves CABAC and 8x8 transforms off and emits Constrained
# Baseline (SPS 42c01f) even when the caps ask for main or high (and its output caps then
# claim the profile asked for); the SPS is the truth the offer announces (aether.h264).
PROFILE_TOOLS: dict[str, dict[str, bool]] = {
    "constrained-baseline": {},
    "main": {"cabac": True},
    "high": {"cabac": True, "dct8x8": True},
}


class X264Encoder:
    name = "x264"

    def __init__(self, config: Config) -> None:
        self.config = config
        self._encoder: Any = None

    def describe(self) -> str:
        c = self.config
        return f"x264 {c.h264_profile} {c.width}x{c.height}@{c.fps} {c.bitrate} kbit/s"

    def check(self) -> None:
        require_elements(self.name, [("x264enc",)], FIX)
        test_encode(self.elements)

    def set_bitrate(self, kbps: int) -> None:
        self._encoder.set_property("bitrate", kbps)

    def elements(self) -> list[Any]:
        c = self.config
        convert = gst.make("videoconvert", "convert", n_threads=2)
        scale = gst.make("videoscale", "scale")
        raw = gst.make(
            "capsfilter",
            "raw-caps",
            caps=gst.caps(
                f"video/x-raw,format=I420,width={c.width},height={c.height},pixel-aspect-ratio=1/1"
            ),
        )
        encoder = gst.make(
            "x264enc",
            "encoder",
            tune="zerolatency",
            speed_preset="ultrafast",
            bframes=0,
            key_int_max=max(1, round(c.fps * c.keyframe_interval)),
            bitrate=c.bitrate,
            # A VBV of a few frames keeps frame sizes, and so send bursts, even.
            vbv_buf_capacity=max(1, round(1000 / c.fps) * 4),
            # No access unit delimiters: rtph264pay sent each as a packet of its own, one
            # a frame to every viewer (6% of the packets at 4 Mbit/s), carrying nothing
            # a WebRTC receiver uses.
            aud=False,
            **PROFILE_TOOLS[c.h264_profile],
        )
        self._encoder = encoder
        h264 = gst.make(
            "capsfilter", "h264-caps", caps=gst.caps(f"video/x-h264,profile={c.h264_profile}")
        )
        return [convert, scale, raw, encoder, h264]
