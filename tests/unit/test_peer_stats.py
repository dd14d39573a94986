"""ViewerPeer.refresh_stats against a fake webrtcbin: one request shared, cached, bounded.

The reply goes through a real Gst.Promise answered from another thread, as webrtcbin does.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from aether import gst
from aether.peers import viewer as viewer_module
from aether.peers.viewer import ViewerPeer
from tests.helpers import run_async

Gst = gst.Gst


class FakeWebrtc:
    def __init__(self, reply_after: float | None) -> None:
        self.requests = 0
        self.reply_after = reply_after

    def emit(self, signal: str, _pad: Any, promise: Any) -> None:
        assert signal == "get-stats"
        self.requests += 1
        if self.reply_after is not None:
            delay = self.reply_after

            def answer() -> None:
                time.sleep(delay)
                promise.reply(Gst.Structure.new_empty("application/x-webrtc-stats"))

            threading.Thread(target=answer, daemon=True).start()


def connected_peer(reply_after: float | None) -> ViewerPeer:
    gst.init()
    peer = ViewerPeer("1", media=None, observer=None, loop=asyncio.get_running_loop())  # type: ignore[arg-type]
    peer._webrtc = FakeWebrtc(reply_after)
    peer.connected_at = time.monotonic()
    return peer


def test_concurrent_requests_share_one_get_stats_and_fresh_figures_are_reused() -> None:
    async def scenario() -> tuple[int, float | None, int]:
        peer = connected_peer(reply_after=0.05)
        await asyncio.gather(*(peer.refresh_stats() for _ in range(5)))
        first = peer._webrtc.requests
        at = peer.net_at
        await peer.refresh_stats()  # within STATS_MAX_AGE: no new request
        return first, at, peer._webrtc.requests

    first, at, later = run_async(scenario())
    assert first == 1 and later == 1
    assert at is not None


def test_stale_figures_are_asked_for_again() -> None:
    async def scenario() -> int:
        peer = connected_peer(reply_after=0.0)
        await peer.refresh_stats()
        await peer.refresh_stats(max_age=0.0)
        return int(peer._webrtc.requests)

    assert run_async(scenario()) == 2


def test_a_silent_webrtcbin_delays_the_caller_at_most_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(viewer_module, "STATS_TIMEOUT", 0.1)

    async def scenario() -> tuple[float, float | None]:
        peer = connected_peer(reply_after=None)
        start = time.monotonic()
        await peer.refresh_stats()
        return time.monotonic() - start, peer.net_at

    waited, at = run_async(scenario())
    assert 0.09 < waited < 0.5
    assert at is None  # the previous (empty) figures stay


def test_closing_the_peer_releases_waiters_at_once() -> None:
    async def scenario() -> float:
        peer = connected_peer(reply_after=None)
        waiter = asyncio.create_task(peer.refresh_stats())
        await asyncio.sleep(0.01)
        start = time.monotonic()
        await peer.close()
        await waiter
        return time.monotonic() - start

    assert run_async(scenario()) < 0.2


def test_no_request_before_the_viewer_is_connected() -> None:
    async def scenario() -> int:
        peer = connected_peer(reply_after=0.0)
        peer.connected_at = None
        await peer.refresh_stats()
        return int(peer._webrtc.requests)

    assert run_async(scenario()) == 0
