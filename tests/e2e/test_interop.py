"""Viewers built on WebRTC stacks other than Chromium's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.aiortc_viewer import AiortcViewer, Received
from tests.e2e.conftest import decoded, wait_for
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


def test_a_viewer_of_a_prepared_peer_counts_no_packets_lost_at_the_start(browser: Any) -> None:
    """The spare peer waits with its queues gated: no packet from before the viewer came
    (held inside webrtcbin until DTLS is up) goes out ahead of a sequence gap."""
    with ServerProcess(*SOURCE) as server:
        time.sleep(2.0)  # the spare peer has been waiting a while
        page = browser.new_context().new_page()
        try:
            page.goto(server.url + "/")
            wait_for(page, lambda s: decoded(s) > 20, what="frames")
            lost = page.evaluate(
                "async () => { const o = {}; (await window.aether.pc.getStats()).forEach("
                "r => { if (r.type === 'inbound-rtp') "
                "o[r.kind] = [r.packetsLost, r.packetsReceived]; });"
                " return o; }"
            )
        finally:
            page.context.close()
    assert lost["video"][0] == 0 and lost["audio"][0] == 0, lost
    assert lost["video"][1] > 20, lost
