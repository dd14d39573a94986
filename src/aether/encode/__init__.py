"""Encoders: raw video -> H.264, raw audio -> Opus.

Video encoders sit in a registry keyed by name; adding one is one module and one entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aether.config import Config
from aether.encode.base import VideoEncoder
from aether.encode.opus import OpusEncoder
from aether.encode.x264 import X264Encoder
from aether.errors import ConfigError

log = logging.getLogger(__name__)

VIDEO_ENCODERS: dict[str, Callable[[Config], VideoEncoder]] = {
    "x264": X264Encoder,
}
# `auto` tries these in order; hardware encoders join the front of the list.
AUTO_ORDER = ("x264",)


def resolve_encoder(config: Config) -> VideoEncoder:
    names = AUTO_ORDER if config.encoder == "auto" else (config.encoder,)
    for name in names:
        factory = VIDEO_ENCODERS.get(name)
        if factory is None:
            raise ConfigError("encoder", name, "one of auto, " + ", ".join(VIDEO_ENCODERS))
        return factory(config)
    raise ConfigError("encoder", config.encoder, "an encoder that can run here")


__all__ = ["OpusEncoder", "VideoEncoder", "resolve_encoder"]
