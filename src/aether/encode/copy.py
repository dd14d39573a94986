"""`copy`: no encoder. A feed that already carries browser-ready H.264 is passed through.

Only with `--source url` (the source then hands over H.264 instead of decoded video). The
stream's own SPS decides the profile-level-id the offer announces, as for any encoder.
Caveats: a joining viewer waits for the feed's next keyframe (there is no encoder to ask);
the size and frame rate are the feed's; a feed with B-frames does not play in WebRTC.
"""

from __future__ import annotations

from typing import Any

from aether import gst
from aether.config import Config
from aether.encode.probe import require_elements
from aether.errors import ConfigError


class CopyEncoder:
    name = "copy"

    def __init__(self, config: Config) -> None:
        self.config = config

    def describe(self) -> str:
        return "copy (the feed's own H.264, not re-encoded)"

    def check(self) -> None:
        if self.config.source != "url":
            raise ConfigError("encoder", "copy", "copy only with --source url (a feed's H.264)")
        require_elements(
            self.name, [("h264parse",)], "sudo apt-get install gstreamer1.0-plugins-bad"
        )

    def elements(self) -> list[Any]:
        parse = gst.make("h264parse", "encoder", config_interval=-1)
        caps = gst.make(
            "capsfilter",
            "h264-caps",
            caps=gst.caps("video/x-h264,stream-format=byte-stream,alignment=au"),
        )
        return [parse, caps]

    def set_bitrate(self, kbps: int) -> None:
        raise ConfigError("bitrate", kbps, "fixed: --encoder copy passes the feed through")
