"""The set of connected viewers: admission (viewer limit), lookup and teardown."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

from aether import memory
from aether.errors import ProtocolError
from aether.fanout.pipeline import MediaPipeline
from aether.logsetup import viewer_log
from aether.peers.ice import IceSettings, is_udp
from aether.peers.offers import AnswerPlan
from aether.peers.viewer import PeerObserver, ViewerPeer
from aether.signaling.protocol import ClientStats
from aether.telemetry.histogram import Histogram

log = logging.getLogger(__name__)

# A joining viewer takes a peer made in advance (its bin linked, its offer made, its ICE
# candidates gathered), so its offer goes out with the welcome. The next spare is made once
# no viewer is still connecting (making one holds the event loop for up to ~0.1 s and its
# ICE gathering competes with the joining viewer's handshake), checked every SPARE_DELAY
# seconds, or once the handshakes under way have taken HANDSHAKE_GRACE seconds.
SPARE_DELAY = 0.3
HANDSHAKE_GRACE = 3.0


class PendingObserver:
    """Holds a spare peer's events until a viewer adopts it, then replays them in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, tuple[object, ...]]] = []

    def on_local_description(self, sdp: str) -> None:
        self.events.append(("on_local_description", (sdp,)))

    def on_local_candidate(self, mline: int, candidate: str) -> None:
        self.events.append(("on_local_candidate", (mline, candidate)))

    def on_connection_state(self, state: str) -> None:
        self.events.append(("on_connection_state", (state,)))

    def on_failure(self, reason: str) -> None:
        self.events.append(("on_failure", (reason,)))

    @property
    def failed(self) -> bool:
        return any(name == "on_failure" for name, _ in self.events)

    @property
    def has_udp_candidate(self) -> bool:
        return any(
            name == "on_local_candidate" and is_udp(str(args[1])) for name, args in self.events
        )

    def replay(self, observer: PeerObserver) -> None:
        for name, args in self.events:
            getattr(observer, name)(*args)


class Viewers:
    def __init__(
        self,
        media: MediaPipeline,
        loop: asyncio.AbstractEventLoop,
        max_viewers: int,
        ice: IceSettings,
    ) -> None:
        self.media = media
        self.loop = loop
        self.max_viewers = max_viewers
        self.ice = ice
        self._peers: dict[str, ViewerPeer] = {}
        self._ids = itertools.count(1)
        self.total_admitted = 0
        self.latency = Histogram()  # glass-to-glass latency (measured, else estimated), seconds
        media.on_viewer_error = self._on_viewer_error
        self._spare: tuple[ViewerPeer, PendingObserver] | None = None
        self._spare_timer: asyncio.TimerHandle | None = None
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        """Make the first spare peer (call once the media pipeline plays)."""
        self._make_spare()

    @property
    def spare_ready(self) -> bool:
        """A prepared peer waits, its offer made: the next viewer starts at once."""
        return (
            self._spare is not None
            and self._usable(self._spare[1])
            and any(name == "on_local_description" for name, _ in self._spare[1].events)
        )

    def _usable(self, pending: PendingObserver) -> bool:
        # With a pinned port range, a spare made while the range was full has no port (and
        # will fail): a new peer may find one that a viewer has freed since.
        return not pending.failed and (self.ice.udp_ports is None or pending.has_udp_candidate)

    def _make_spare(self) -> None:
        self._spare_timer = None
        if self._spare is not None or self._closing:
            return
        if self._handshaking():
            self._schedule_spare()
            return
        ports = self.ice.udp_ports
        if ports is not None and len(self._peers) + 2 > ports.size:
            # A pinned range with one port left (as far as we count): it is a viewer's,
            # not the spare's. Made now, the spare could take it from a viewer joining at
            # the same moment. (Made again once a viewer leaves.)
            return
        pending = PendingObserver()
        peer = ViewerPeer(str(next(self._ids)), self.media, pending, self.loop, self.ice)
        try:
            peer.start()
        except Exception:
            log.exception("could not prepare a spare viewer peer")
            return
        self._spare = (peer, pending)

    def _handshaking(self) -> bool:
        """A viewer admitted less than HANDSHAKE_GRACE ago is not connected yet."""
        now = time.monotonic()
        return any(
            peer.state in ("new", "connecting") and now - peer.created_at < HANDSHAKE_GRACE
            for peer in self._peers.values()
        )

    def _schedule_spare(self) -> None:
        if self._spare_timer is None and not self._closing:
            self._spare_timer = self.loop.call_later(SPARE_DELAY, self._make_spare)

    async def close(self) -> None:
        """Stop making spares and free the one waiting (at shutdown)."""
        self._closing = True
        if self._spare_timer is not None:
            self._spare_timer.cancel()
        spare, self._spare = self._spare, None
        if spare is not None:
            await spare[0].close()

    def __len__(self) -> int:
        return len(self._peers)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._peers.values()))

    def admit(
        self,
        observer: PeerObserver,
        address: str = "",
        offer: tuple[str, AnswerPlan] | None = None,
    ) -> ViewerPeer:
        """Create and start a peer for a new viewer, or raise ProtocolError('server-full').

        With `offer` (the viewer's SDP and what we can answer), the peer answers it; else
        the peer offers (the spare one, made in advance, when there is one)."""
        if len(self._peers) >= self.max_viewers:
            raise ProtocolError("server-full", f"server full: {self.max_viewers} viewers watching")
        if offer is not None:
            peer = ViewerPeer(
                str(next(self._ids)), self.media, observer, self.loop, self.ice, offer=offer
            )
            return self._start(peer, address)
        spare, self._spare = self._spare, None
        if spare is not None and self._usable(spare[1]):
            peer, pending = spare
            peer.address = address
            peer.created_at = time.monotonic()
            self._peers[peer.id] = peer
            self.total_admitted += 1

            def hand_over() -> None:
                # After the caller's welcome: the offer and candidates made in advance
                # follow it, in order, then events go to the viewer directly.
                pending.replay(observer)
                peer.observer = observer

            self.loop.call_soon(hand_over)
            viewer_log(log, peer.id).info("admitted (%d watching)", len(self._peers))
        else:
            if spare is not None:
                task = self.loop.create_task(spare[0].close())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            peer = ViewerPeer(str(next(self._ids)), self.media, observer, self.loop, self.ice)
            self._start(peer, address)
        self._schedule_spare()
        return peer

    def _start(self, peer: ViewerPeer, address: str) -> ViewerPeer:
        peer.address = address
        self._peers[peer.id] = peer
        self.total_admitted += 1
        try:
            peer.start()
        except Exception:
            del self._peers[peer.id]
            raise
        viewer_log(log, peer.id).info("admitted (%d watching)", len(self._peers))
        return peer

    async def remove(self, peer: ViewerPeer) -> None:
        if self._peers.pop(peer.id, None) is None:
            return
        await peer.close()
        viewer_log(log, peer.id).info("removed (%d watching)", len(self._peers))
        if self._spare is None:
            self._schedule_spare()  # a pinned range may have room for one again
        # Its bin, sockets and threads are gone. Free what reference cycles hold (aiohttp
        # keeps each closed WebSocket in one), then hand the freed heap back
        # (docs/performance.md, "Memory over time").
        memory.collect()
        await self.loop.run_in_executor(None, memory.trim)

    def estimated_latency_ms(self, peer: ViewerPeer) -> float | None:
        """The browser's estimate (network, jitter buffer, decode) plus our encode time."""
        if peer.client is None or peer.client.latency_ms is None:
            return None
        return peer.client.latency_ms + (self.media.meter.encode_ms or 0.0)

    @staticmethod
    def measured_latency_ms(peer: ViewerPeer) -> float | None:
        """The browser's measured glass-to-glass latency (capture time stamped here to the
        frame's display there), when it has one and the clocks agree well enough for it
        to be positive. Against bench/latency's painted figure it reads 2-4 ms low at 60 fps
        (the painter's lag and the screen grab are not in it), and up to 11 ms low at 30 fps
        (docs/performance.md)."""
        measured = peer.client.glass_to_glass_ms if peer.client is not None else None
        return measured if measured is not None and measured >= 0 else None

    def latency_ms(self, peer: ViewerPeer) -> float | None:
        """The viewer's latency: measured when it can be, else estimated."""
        measured = self.measured_latency_ms(peer)
        return measured if measured is not None else self.estimated_latency_ms(peer)

    def on_client_stats(self, peer: ViewerPeer, report: ClientStats) -> None:
        peer.on_client_stats(report)
        latency = self.latency_ms(peer)
        if latency is not None:
            self.latency.observe(latency / 1000)

    def on_source_state(self, state: str, detail: str) -> None:
        """Tell every viewer the video source is lost or live again."""
        for peer in self._peers.values():
            tell = getattr(peer.observer, "on_source_state", None)
            if tell is not None:
                tell(state, detail)

    def _on_viewer_error(self, viewer_id: str, reason: str) -> None:
        peer = self._peers.get(viewer_id)
        if peer is not None:
            peer.observer.on_failure(f"media error: {reason}")
