"""Cameras and capture cards through Video4Linux2 (`--source v4l2 --device /dev/video0`)."""

from __future__ import annotations

import os
import stat
from typing import Any

from aether.capture.decoded import decoding_bin, paced_tail
from aether.config import Config
from aether.errors import SourceUnavailableError

FIX = (
    "connect the camera and pass its node with --device (`aether sources` lists them); "
    "the user needs read access to it (the `video` group)"
)


def check_device(path: str) -> None:
    """Raise SourceUnavailableError unless `path` is a character device we may read."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise SourceUnavailableError(f"no camera device {path}", fix=FIX) from None
    if not stat.S_ISCHR(mode):
        raise SourceUnavailableError(f"{path} is not a device node", fix=FIX)
    if not os.access(path, os.R_OK):
        raise SourceUnavailableError(f"no permission to read {path}", fix=FIX)


class V4l2Source:
    kind = "v4l2"

    def __init__(self, config: Config) -> None:
        self.config = config

    @classmethod
    def open(cls, config: Config) -> V4l2Source:
        check_device(config.device)
        return cls(config)

    def describe(self) -> str:
        return f"camera {self.config.device}"

    def elements(self) -> list[Any]:
        # decodebin takes raw (YUYV, NV12...) and MJPEG cameras alike.
        description = f'v4l2src device="{self.config.device}" ! decodebin ! videoconvert name=tail'
        return [decoding_bin("capture", description), *paced_tail(self.config)]
