"""Capture sources: where raw video and audio come from.

Each source kind is one module and one entry in a registry keyed by name. `resolve_video`
and `resolve_audio` turn the configured name (including `auto`) into a ready source.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aether.capture.base import AudioSource, VideoSource
from aether.capture.pulse import NoAudio, PulseAudioSource, TestAudioSource, pulse_reachable
from aether.capture.testsrc import TestVideoSource
from aether.capture.url import UrlSource
from aether.capture.v4l2 import V4l2Source
from aether.capture.x11 import X11Source, probe_display
from aether.config import Config
from aether.errors import ConfigError, SourceUnavailableError

log = logging.getLogger(__name__)

VIDEO: dict[str, Callable[[Config], VideoSource]] = {
    "x11": X11Source.open,
    "test": TestVideoSource,
    "v4l2": V4l2Source.open,
    "url": UrlSource.open,
}
AUDIO: dict[str, Callable[[Config], AudioSource]] = {
    "pulse": PulseAudioSource.open,
    "test": TestAudioSource,
    "none": NoAudio,
}


def resolve_video(config: Config) -> VideoSource:
    name = config.source
    if name == "auto":
        try:
            probe_display(config.display)
        except SourceUnavailableError as exc:
            log.info(
                "source auto: X display %s unusable (%s); using the test pattern",
                config.display,
                exc,
            )
            return TestVideoSource(config)
        name = "x11"
    factory = VIDEO.get(name)
    if factory is None:
        raise ConfigError("source", name, "one of auto, " + ", ".join(VIDEO))
    return factory(config)


def resolve_audio(config: Config) -> AudioSource:
    name = config.audio
    if name == "auto":
        if pulse_reachable():
            name = "pulse"
        else:
            log.info("audio auto: no PulseAudio server reachable; using the test tone")
            name = "test"
    factory = AUDIO.get(name)
    if factory is None:
        raise ConfigError("audio", name, "one of auto, " + ", ".join(AUDIO))
    return factory(config)


__all__ = ["AudioSource", "VideoSource", "resolve_audio", "resolve_video"]
