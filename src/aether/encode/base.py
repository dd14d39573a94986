"""The interface every H.264 encoder implements."""

from __future__ import annotations

from typing import Any, Protocol


class VideoEncoder(Protocol):
    name: str

    def elements(self) -> list[Any]:
        """Elements from raw video (any format/size) to H.264 byte-stream, in order.

        The last element's src pad is where keyframe requests are sent.
        """
        ...

    def describe(self) -> str: ...
