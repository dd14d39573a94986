"""The set of connected viewers: admission (viewer limit), lookup and teardown."""

from __future__ import annotations

import asyncio
import itertools
import logging

from aether.errors import ProtocolError
from aether.fanout.pipeline import MediaPipeline
from aether.logsetup import viewer_log
from aether.peers.viewer import PeerObserver, ViewerPeer
from aether.signaling.protocol import ClientStats
from aether.telemetry.histogram import Histogram

log = logging.getLogger(__name__)


class Viewers:
    def __init__(
        self,
        media: MediaPipeline,
        loop: asyncio.AbstractEventLoop,
        max_viewers: int,
        stun: tuple[str, ...],
    ) -> None:
        self.media = media
        self.loop = loop
        self.max_viewers = max_viewers
        self.stun = stun
        self._peers: dict[str, ViewerPeer] = {}
        self._ids = itertools.count(1)
        self.total_admitted = 0
        self.latency = Histogram()  # estimated glass-to-glass latency, seconds, all viewers
        media.on_viewer_error = self._on_viewer_error

    def __len__(self) -> int:
        return len(self._peers)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._peers.values()))

    def admit(self, observer: PeerObserver, address: str = "") -> ViewerPeer:
        """Create and start a peer for a new viewer, or raise ProtocolError('server-full')."""
        if len(self._peers) >= self.max_viewers:
            raise ProtocolError("server-full", f"server full: {self.max_viewers} viewers watching")
        viewer_id = str(next(self._ids))
        peer = ViewerPeer(viewer_id, self.media, observer, self.loop, self.stun)
        peer.address = address
        self._peers[viewer_id] = peer
        self.total_admitted += 1
        try:
            peer.start()
        except Exception:
            del self._peers[viewer_id]
            raise
        viewer_log(log, viewer_id).info("admitted (%d watching)", len(self._peers))
        return peer

    async def remove(self, peer: ViewerPeer) -> None:
        if self._peers.pop(peer.id, None) is None:
            return
        await peer.close()
        viewer_log(log, peer.id).info("removed (%d watching)", len(self._peers))

    def estimated_latency_ms(self, peer: ViewerPeer) -> float | None:
        """The browser's estimate (network, jitter buffer, decode) plus our encode time."""
        if peer.client is None or peer.client.latency_ms is None:
            return None
        return peer.client.latency_ms + (self.media.meter.encode_ms or 0.0)

    def on_client_stats(self, peer: ViewerPeer, report: ClientStats) -> None:
        peer.on_client_stats(report)
        latency = self.estimated_latency_ms(peer)
        if latency is not None:
            self.latency.observe(latency / 1000)

    def _on_viewer_error(self, viewer_id: str, reason: str) -> None:
        peer = self._peers.get(viewer_id)
        if peer is not None:
            peer.observer.on_failure(f"media error: {reason}")
