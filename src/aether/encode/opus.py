"""Opus at 48 kHz, one frame per RTP packet (20 ms by default, --audio-frame-ms)."""

from __future__ import annotations

from typing import Any

from aether import gst
from aether.config import Config


class OpusEncoder:
    name = "opus"

    def __init__(self, config: Config) -> None:
        self.config = config

    def elements(self) -> list[Any]:
        return [
            gst.make("audioconvert", "audio-convert"),
            gst.make("audioresample", "audio-resample"),
            gst.make(
                "capsfilter", "audio-caps", caps=gst.caps("audio/x-raw,rate=48000,channels=2")
            ),
            gst.make(
                "opusenc",
                "audio-encoder",
                bitrate=self.config.audio_bitrate * 1000,
                frame_size=self.config.audio_frame_ms,
            ),
        ]
