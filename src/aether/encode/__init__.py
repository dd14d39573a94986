"""Encoders: raw video -> H.264, raw audio -> Opus.

Video encoders sit in a registry keyed by name; adding one is one module and one entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aether.config import Config
from aether.encode.base import VideoEncoder
from aether.encode.copy import CopyEncoder
from aether.encode.nvenc import NvencEncoder
from aether.encode.openh264 import OpenH264Encoder
from aether.encode.opus import OpusEncoder
from aether.encode.vaapi import VaapiEncoder
from aether.encode.x264 import X264Encoder
from aether.errors import ConfigError, StartupError

log = logging.getLogger(__name__)

VIDEO_ENCODERS: dict[str, Callable[[Config], VideoEncoder]] = {
    "nvenc": NvencEncoder,
    "vaapi": VaapiEncoder,
    "x264": X264Encoder,
    "openh264": OpenH264Encoder,
    "copy": CopyEncoder,
}
# `auto` takes the first of these that passes its check: hardware first, then the CPU.
AUTO_ORDER = ("nvenc", "vaapi", "x264", "openh264")


def resolve_encoder(config: Config) -> VideoEncoder:
    """The configured encoder, checked (elements present, a test encode works).

    An explicitly chosen encoder that cannot run is a StartupError naming the reason and
    the fix; `auto` logs why each candidate was skipped and takes the first that works.
    """
    if config.encoder != "auto":
        factory = VIDEO_ENCODERS.get(config.encoder)
        if factory is None:
            known = "one of auto, " + ", ".join(VIDEO_ENCODERS)
            raise ConfigError("encoder", config.encoder, known)
        encoder = factory(config)
        encoder.check()
        return encoder
    reasons = []
    for name in AUTO_ORDER:
        encoder = VIDEO_ENCODERS[name](config)
        try:
            encoder.check()
        except (StartupError, ConfigError) as exc:
            reason = str(exc).split("\n")[0]
            log.info("encoder auto: %s skipped: %s", name, reason)
            reasons.append(f"{name}: {reason}")
            continue
        log.info("encoder auto: using %s", name)
        return encoder
    raise StartupError(
        "no H.264 encoder can run here: " + "; ".join(reasons),
        fix="sudo apt-get install gstreamer1.0-plugins-ugly (x264)",
    )


__all__ = ["AUTO_ORDER", "VIDEO_ENCODERS", "OpusEncoder", "VideoEncoder", "resolve_encoder"]
