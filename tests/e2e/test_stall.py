"""A viewer whose sending stalls is dropped with a reason; the others keep full rate.

A viewer reached over UDP cannot stall the server (the kernel drops what it does not
read), so the stall is made where one would hurt: the viewer's own sending thread is
blocked (a blocking pad probe on its webrtcbin, as a congested TCP transport or a stuck
element would). The server runs in this process for that, with its real pipeline, real
webrtcbin peers and real signaling; both viewers are aiortc peers over the network.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from aether import gst
from aether.peers.viewer import LAG_LIMIT
from tests.aiortc_viewer import AiortcViewer
from tests.helpers import in_process_server, run_async

pytestmark = pytest.mark.e2e

FLAGS = {"source": "test", "audio": "test", "width": "320", "height": "240", "fps": "15",
         "bitrate": "300", "stun": "none", "host": "127.0.0.1"}  # fmt: skip


async def stall_one_of_two() -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    async with in_process_server(FLAGS) as server:
        viewers, url = server.viewers, server.signal_url
        probe: tuple[Any, int] | None = None
        try:
            async with aiohttp.ClientSession() as http:
                steady, stalled = AiortcViewer(http, url), AiortcViewer(http, url)
                await steady.connect()
                await stalled.connect()
                await asyncio.sleep(1.0)
                before = await steady.received()
                await asyncio.sleep(2.0)
                normal = await steady.received()

                peer = next(p for p in viewers if p.id == stalled.viewer_id)
                pad = peer._sink_pads[0]  # the stalled viewer's video, into its webrtcbin
                blocked = pad.add_probe(gst.Gst.PadProbeType.BLOCK_DOWNSTREAM, lambda *_: 1)
                probe = (pad, blocked)
                stall_began = loop.time()
                while not any(m["type"] == "bye" for m in stalled.messages):
                    assert loop.time() - stall_began < LAG_LIMIT + 5, stalled.messages
                    await asyncio.sleep(0.1)
                dropped_after = loop.time() - stall_began
                during = await steady.received()
                await asyncio.sleep(2.0)
                after = await steady.received()
                result = {
                    "normal_rate": (normal.video_packets - before.video_packets) / 2.0,
                    "stall_rate": (during.video_packets - normal.video_packets) / dropped_after,
                    "after_rate": (after.video_packets - during.video_packets) / 2.0,
                    "dropped_after": dropped_after,
                    "stalled_messages": stalled.messages,
                    "viewers_left": [p.id for p in viewers],
                    "steady_id": steady.viewer_id,
                }
                await steady.close()
                await stalled.close()
                return result
        finally:
            if probe is not None:
                probe[0].remove_probe(probe[1])


def test_a_stalled_viewer_is_dropped_and_the_other_keeps_full_rate() -> None:
    r = run_async(stall_one_of_two(), timeout=60)
    errors = [m for m in r["stalled_messages"] if m["type"] == "error"]
    assert errors and errors[-1]["code"] == "peer-failed", r
    assert "too slow" in errors[-1]["message"], r
    # Dropped once it has lagged LAG_LIMIT seconds (its queue holds 0.5 s before that).
    assert LAG_LIMIT <= r["dropped_after"] <= LAG_LIMIT + 2, r
    assert r["viewers_left"] == [r["steady_id"]], r
    # The steady viewer: the same packet rate before, during and after the stall.
    assert r["normal_rate"] >= 15, r
    assert r["stall_rate"] >= 0.9 * r["normal_rate"], r
    assert r["after_rate"] >= 0.9 * r["normal_rate"], r
