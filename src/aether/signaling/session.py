"""One viewer's signaling over a WebSocket: protocol messages <-> its ViewerPeer."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import WSMsgType, web

from aether.access.backoff import TokenBucket
from aether.errors import ProtocolError
from aether.logsetup import viewer_log
from aether.peers.registry import Viewers
from aether.peers.viewer import ViewerPeer
from aether.signaling import protocol
from aether.web.access import CLIENT_ADDRESS, SUBPROTOCOL
from aether.web.keys import CONFIG, VIEWERS

log = logging.getLogger(__name__)

# Errors after which the session cannot succeed: end it rather than wait for the timeout.
FATAL_CODES = frozenset({"unsupported-codec"})
WS_HARD_LIMIT = 1024 * 1024  # aiohttp closes the socket beyond this; below, we reply


class SignalingSession:
    """Implements PeerObserver for the peer it owns; every method runs on the loop."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        viewers: Viewers,
        address: str,
        max_message_rate: int = 50,
        negotiation_timeout: float = 30.0,
    ) -> None:
        self.ws = ws
        self.viewers = viewers
        self.address = address
        self.negotiation_timeout = negotiation_timeout
        # Bursts up to two seconds' worth (ICE trickle comes in bursts), then the rate.
        self._bucket = TokenBucket(rate=max_message_rate, burst=2 * max_message_rate)
        self.peer: ViewerPeer | None = None
        self._outbox: asyncio.Queue[protocol.Message | None] = asyncio.Queue()
        self._done = asyncio.Event()
        self._close_reason = ""

    # --- PeerObserver ----------------------------------------------------------------

    def on_local_description(self, sdp: str) -> None:
        self.send(protocol.offer(sdp))

    def on_local_candidate(self, mline: int, candidate: str) -> None:
        self.send(protocol.ice(mline, candidate))

    def on_connection_state(self, state: str) -> None:
        self.send(protocol.state(state))

    def on_source_state(self, state: str, detail: str) -> None:
        self.send(protocol.source(state, detail))

    def on_failure(self, reason: str) -> None:
        self.send(protocol.error("peer-failed", reason))
        self.finish(reason)

    # --- plumbing --------------------------------------------------------------------

    def send(self, message: protocol.Message) -> None:
        if not self._done.is_set():
            self._outbox.put_nowait(message)

    def finish(self, reason: str) -> None:
        """Say bye and end the session (idempotent)."""
        if not self._done.is_set():
            self._close_reason = reason
            self._outbox.put_nowait(protocol.bye(reason))
            self._outbox.put_nowait(None)
            self._done.set()

    async def _writer(self) -> None:
        while (message := await self._outbox.get()) is not None:
            try:
                await self.ws.send_json(message)
            except (ConnectionError, RuntimeError):
                break
        await self.ws.close()

    async def _watchdog(self) -> None:
        await asyncio.sleep(self.negotiation_timeout)
        if self.peer is not None and self.peer.connected_at is None:
            self.send(protocol.error("timeout", "negotiation did not complete in time"))
            self.finish("negotiation timeout")

    async def run(self) -> None:
        writer = asyncio.create_task(self._writer(), name="signal-writer")
        watchdog: asyncio.Task[None] | None = None
        try:
            try:
                self.peer = self.viewers.admit(self, self.address)
            except ProtocolError as exc:
                self.send(protocol.error(exc.code, str(exc)))
                self.finish(exc.code)
                return
            self._log.info("signaling from %s", self.address)
            servers = protocol.ice_servers(self.viewers.ice.stun, self.viewers.ice.turn)
            self.send(protocol.welcome(self.peer.id, servers))
            media = self.viewers.media
            if media.source_state == "lost":
                self.send(protocol.source("lost", media.source_lost_reason))
            watchdog = asyncio.create_task(self._watchdog(), name="signal-watchdog")
            reader = asyncio.create_task(self._reader(), name="signal-reader")
            done_wait = asyncio.create_task(self._done.wait(), name="signal-done")
            await asyncio.wait({reader, done_wait}, return_when=asyncio.FIRST_COMPLETED)
            for task in (reader, done_wait):
                task.cancel()
            self.finish(self._close_reason or "closed")
        finally:
            if watchdog is not None:
                watchdog.cancel()
            self.finish("closed")
            try:
                await asyncio.wait_for(writer, timeout=2)
            except TimeoutError:
                writer.cancel()
            if self.peer is not None:
                await self.viewers.remove(self.peer)

    async def _reader(self) -> None:
        async for msg in self.ws:
            if not self._bucket.take():
                self.send(protocol.error("rate-limited", "too many messages; closing"))
                self.finish("rate-limited")
                return
            if msg.type == WSMsgType.TEXT:
                self._handle(msg.data)
            elif msg.type == WSMsgType.BINARY:
                self.send(protocol.error("bad-message", "binary frames are not supported"))
            elif msg.type == WSMsgType.ERROR:
                self._log.info("websocket error %s", self.ws.exception())
                return
            if self._done.is_set():
                return
        self._close_reason = self._close_reason or "viewer left"

    @property
    def _log(self) -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
        return viewer_log(log, self.peer.id) if self.peer else log

    def _handle(self, raw: str) -> None:
        assert self.peer is not None
        try:
            message = protocol.parse_client_message(raw)
            if isinstance(message, protocol.Answer):
                self.peer.set_answer(message.sdp)
            elif isinstance(message, protocol.Candidate):
                self.peer.add_candidate(message.sdp_mline_index, message.candidate)
            elif isinstance(message, protocol.Ping):
                self.send(protocol.pong(message.id))
            elif isinstance(message, protocol.ClientStats):
                self.viewers.on_client_stats(self.peer, message)
            elif isinstance(message, protocol.Bye):
                self.finish(message.reason or "viewer said bye")
        except ProtocolError as exc:
            self._log.info("rejected message: %s (%s)", exc, exc.code)
            self.send(protocol.error(exc.code, str(exc)))
            if exc.code in FATAL_CODES:
                self.finish(exc.code)


async def handle_signal(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=WS_HARD_LIMIT, protocols=(SUBPROTOCOL,))
    await ws.prepare(request)
    session = SignalingSession(
        ws,
        request.app[VIEWERS],
        request.get(CLIENT_ADDRESS, request.remote or "unknown"),
        max_message_rate=config.max_message_rate,
        negotiation_timeout=config.negotiation_timeout,
    )
    await session.run()
    return ws
