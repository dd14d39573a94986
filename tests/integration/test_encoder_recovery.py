"""An encoder error rebuilds the encode branch in the running pipeline; an encoder that
keeps failing is replaced by x264. The failure is injected as the error message an
encoder element posts (a GPU reset, a driver error), into a real pipeline."""

from __future__ import annotations

import asyncio
from typing import Any

from gi.repository import GLib

from aether import gst
from aether.config import load_config
from aether.encode.openh264 import OpenH264Encoder
from aether.encode.x264 import X264Encoder
from aether.fanout.pipeline import MediaPipeline, media_for
from tests.helpers import run_async

FLAGS = {"source": "test", "audio": "none", "width": "320", "height": "240", "fps": "30",
         "bitrate": "500", "stun": "none"}  # fmt: skip


def inject_error(media: MediaPipeline) -> None:
    Gst = gst.Gst
    element = media.pipeline.get_by_name("encoder")
    error = GLib.Error.new_literal(Gst.CoreError.quark(), "injected failure", Gst.CoreError.FAILED)
    element.post_message(Gst.Message.new_error(element, error, "test"))


async def frames_flow(media: MediaPipeline, more: int = 10, within: float = 5) -> bool:
    start = media.frames
    for _ in range(int(within * 10)):
        await asyncio.sleep(0.1)
        if media.frames >= start + more:
            return True
    return False


async def fail_three_times() -> dict[str, Any]:
    gst.init()
    config = load_config(FLAGS, {})
    media = media_for(config, OpenH264Encoder(config))
    media.fallback_encoder = lambda: X264Encoder(config)
    media.build()
    await media.start(asyncio.get_running_loop())
    seen = []
    try:
        for _ in range(3):
            inject_error(media)
            await asyncio.sleep(0.5)
            seen.append((media.encoder.name, await frames_flow(media)))
        return {"seen": seen, "elements": media.element_count()}
    finally:
        await media.stop()


def test_encoder_errors_rebuild_the_branch_then_fall_back_to_x264() -> None:
    result = run_async(fail_three_times())
    # Rebuilt twice as openh264 (frames flow again each time), then x264 takes over.
    assert result["seen"] == [("openh264", True), ("openh264", True), ("x264", True)], result
