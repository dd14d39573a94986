"""Viewers built on WebRTC stacks other than Chromium's."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest

from tests.aiortc_viewer import AiortcViewer, Received
from tests.helpers import ServerProcess, run_async

pytestmark = pytest.mark.e2e

SOURCE = ("--source", "test", "--audio", "test", "--width", "320", "--height", "240",
          "--fps", "15", "--bitrate", "300")  # fmt: skip


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    with ServerProcess(*SOURCE) as srv:
        yield srv


def test_aiortc_viewer_with_ecdsa_only_dtls_receives_video_and_audio(
    server: ServerProcess,
) -> None:
    """aiortc offers only ECDHE-ECDSA cipher suites: with GStreamer's RSA certificate the
    handshake finds no shared cipher. It must connect and receive both streams."""

    async def watch() -> tuple[Received, Received]:
        async with aiohttp.ClientSession() as http:
            viewer = AiortcViewer(http, server.ws_url)
            try:
                await viewer.connect()
                await asyncio.sleep(1.0)
                first = await viewer.received()
                await asyncio.sleep(1.0)
                return first, await viewer.received()
            finally:
                await viewer.close()

    first, second = run_async(watch())
    # 300 kbit/s at 15 fps is >= 15 video packets a second; Opus sends 50 a second.
    assert second.video_packets - first.video_packets >= 12, (first, second)
    assert second.audio_packets - first.audio_packets >= 40, (first, second)
    assert "Traceback" not in server.output()
