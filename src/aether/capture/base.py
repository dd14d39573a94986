"""The interface every capture source implements."""

from __future__ import annotations

from typing import Any, Protocol


class VideoSource(Protocol):
    """Produces raw video at the configured frame rate (any size and format)."""

    kind: str

    def describe(self) -> str:
        """Human description for logs, e.g. `x11 :1 monitor DP-1 1920x1080+0+0`."""
        ...

    def elements(self) -> list[Any]:
        """New, unlinked GStreamer elements forming the source chain, in order."""
        ...


class AudioSource(Protocol):
    """Produces raw audio (any rate and layout), or nothing at all (`none`)."""

    kind: str

    def describe(self) -> str: ...

    def elements(self) -> list[Any]:
        """Elements forming the source chain; empty when the stream has no audio."""
        ...
