"""Audio sources: PulseAudio (also served by PipeWire's pulse server), a test tone, none."""

from __future__ import annotations

from typing import Any

from aether import gst
from aether.config import Config
from aether.errors import SourceUnavailableError


def pulse_reachable() -> bool:
    """True when a PulseAudio server accepts a connection (pulsesrc reaches READY)."""
    gst.init()
    if gst.Gst.ElementFactory.find("pulsesrc") is None:
        return False
    probe = gst.make("pulsesrc", client_name="aether-probe")
    try:
        return bool(probe.set_state(gst.Gst.State.READY) != gst.Gst.StateChangeReturn.FAILURE)
    finally:
        probe.set_state(gst.Gst.State.NULL)


class PulseAudioSource:
    kind = "pulse"

    def __init__(self, config: Config) -> None:
        self.device = config.audio_device

    @classmethod
    def open(cls, config: Config) -> PulseAudioSource:
        if not pulse_reachable():
            raise SourceUnavailableError(
                "cannot connect to a PulseAudio server",
                fix="run inside the desktop session (or set PULSE_SERVER), start PulseAudio "
                "or PipeWire's pipewire-pulse; or use --audio test / --audio none",
            )
        return cls(config)

    def describe(self) -> str:
        return f"pulse {self.device}"

    def elements(self) -> list[Any]:
        # 10 ms periods keep capture latency low; the default is 10 ms too but a 200 ms buffer.
        return [
            gst.make(
                "pulsesrc",
                "audio-capture",
                device=self.device,
                client_name="aether",
                buffer_time=40_000,
                latency_time=10_000,
            )
        ]


class TestAudioSource:
    kind = "test"

    def __init__(self, config: Config) -> None:
        self.config = config

    def describe(self) -> str:
        return "test tone (ticks)"

    def elements(self) -> list[Any]:
        return [
            gst.make(
                "audiotestsrc",
                "audio-capture",
                is_live=True,
                wave="ticks",
                freq=880.0,
                volume=0.3,
                samplesperbuffer=480,
            )
        ]


class NoAudio:
    kind = "none"

    def __init__(self, config: Config) -> None:
        del config

    def describe(self) -> str:
        return "none"

    def elements(self) -> list[Any]:
        return []
