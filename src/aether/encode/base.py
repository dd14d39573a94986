"""The interface every H.264 encoder implements."""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING, Any, Protocol

from aether import gst

if TYPE_CHECKING:
    from aether.config import Config


class VideoEncoder(Protocol):
    name: str
    config: Config

    def elements(self) -> list[Any]:
        """Elements from raw video (any format/size) to H.264 byte-stream, in order.

        The last element's src pad is where keyframe requests are sent.
        """
        ...

    def describe(self) -> str: ...

    def check(self) -> None:
        """Raise StartupError, naming the fix, unless this encoder can run here (its
        elements exist and a test encode through them works)."""
        ...

    def set_bitrate(self, kbps: int) -> None:
        """Take a new target bitrate while running (after elements() made the encoder)."""
        ...


def remade(encoder: VideoEncoder, **changes: Any) -> VideoEncoder:
    """The same kind of encoder, with the element it chose at check(), for a changed
    configuration (e.g. fps=30): its elements() makes new elements from that."""
    fresh = copy.copy(encoder)
    fresh.config = dataclasses.replace(encoder.config, **changes)
    return fresh


def raw_chain(width: int, height: int, video_format: str) -> list[Any]:
    """Convert and scale any raw video to what an encoder takes: format, size, square
    pixels. Shared by the encoders (x264 builds its own, with conversion threads)."""
    return [
        gst.make("videoconvert", "convert", n_threads=2),
        gst.make("videoscale", "scale"),
        gst.make(
            "capsfilter",
            "raw-caps",
            caps=gst.caps(
                f"video/x-raw,format={video_format},width={width},height={height},"
                "pixel-aspect-ratio=1/1"
            ),
        ),
    ]


def h264_caps(profile: str) -> Any:
    """The capsfilter after an encoder: byte-stream H.264 of the configured profile."""
    return gst.make(
        "capsfilter",
        "h264-caps",
        caps=gst.caps(f"video/x-h264,stream-format=byte-stream,profile={profile}"),
    )
