"""Publish the shared stream to a WHIP ingest (RFC 9725) for as long as the server runs.

The publisher is one more WebRTC peer on the shared encode: the same ViewerPeer a viewer
gets (its bin on the same tees, so no Python on the packet path), whose signaling is HTTP
instead of our WebSocket:

    ICE gathering completes -> POST the offer, every candidate in it (no trickle)
    <- 201 Created, Location of the session, SDP answer -> set_answer -> connected
    ... the session ends (WebRTC failed, the ingest went quiet) -> DELETE Location
    -> wait (exponential back-off, capped) -> start again, for as long as we serve
    shutdown -> DELETE Location

It is not a viewer: it takes no place under --max-viewers and is not in the viewer list.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

import aiohttp

from aether.errors import PeerError, ProtocolError, PublishError
from aether.fanout.pipeline import MediaPipeline
from aether.peers.ice import IceSettings
from aether.peers.liveness import Liveness
from aether.peers.viewer import ViewerPeer
from aether.publish.whiphttp import (
    MAX_REDIRECTS,
    SDP_TYPE,
    Answer,
    Backoff,
    interpret_offer_response,
    mask_url,
    request_headers,
)

log = logging.getLogger(__name__)

GATHER_TIMEOUT = 5.0  # seconds to wait for ICE gathering (the offer carries the candidates)
HTTP_TIMEOUT = 10.0  # seconds for the POST's answer
DELETE_TIMEOUT = 3.0
CONNECT_TIMEOUT = 15.0  # seconds from the answer to a connected WebRTC session
STABLE_AFTER = 10.0  # a session that lasted this long starts the back-off from the first step
LIVENESS_INTERVAL = 2.0  # seconds between checks that the ingest still reports receiving
PEER_PREFIX = "whip-"


class WhipPublisher:
    """Keeps one WHIP session up: implements PeerObserver for its current peer."""

    def __init__(
        self,
        media: MediaPipeline,
        loop: asyncio.AbstractEventLoop,
        url: str,
        *,
        token: str | None = None,
        ice: IceSettings | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.media = media
        self.loop = loop
        self.url = url
        self._token = token  # never logged, never in /stats
        self.ice = ice or IceSettings()  # STUN/TURN and the port range, as for viewers
        self.backoff = backoff or Backoff()
        self.state = "idle"  # connecting, publishing, waiting (to retry), stopped
        self.state_since = time.monotonic()
        self.attempts = 0  # POSTs of an offer (first try and retries)
        self.sessions = 0  # sessions that reached `connected`
        self.last_error: str | None = None
        self.resource: str | None = None  # the session's URL, from Location
        self.connected_at: float | None = None
        self.retry_at: float | None = None
        self.peer: ViewerPeer | None = None
        self._ids = itertools.count(1)
        self._connected = asyncio.Event()
        self._ended = asyncio.Event()
        self._end_reason = ""
        self._http: aiohttp.ClientSession | None = None
        self._task: asyncio.Task[None] | None = None
        self._media_error_before = media.on_viewer_error

    @property
    def shown_url(self) -> str:
        return mask_url(self.url)

    @property
    def reconnects(self) -> int:
        """Sessions established after the first one (each after the previous ended)."""
        return max(0, self.sessions - 1)

    # --- lifecycle (the server's) --------------------------------------------------------

    def start(self) -> None:
        self.media.on_viewer_error = self._on_media_error
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT))
        self._task = self.loop.create_task(self._run(), name="whip-publish")
        log.info("publishing to WHIP endpoint %s", self.shown_url)

    async def stop(self) -> None:
        """End the session (DELETE) and stop retrying."""
        self._set_state("stopped")
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self._teardown()
        if self._http is not None:
            await self._http.close()
            self._http = None
        self.media.on_viewer_error = self._media_error_before

    # --- PeerObserver (on the loop) ------------------------------------------------------

    def on_local_description(self, sdp: str) -> None:
        """Not sent as such: the POST carries the offer once gathering completes."""

    def on_local_candidate(self, mline: int, candidate: str) -> None:
        """Not trickled: the candidates are in the offer."""

    def on_connection_state(self, state: str) -> None:
        if state == "connected":
            self._connected.set()

    def on_failure(self, reason: str) -> None:
        self._end(reason)

    def _on_media_error(self, viewer: str, reason: str) -> None:
        if self.peer is not None and viewer == self.peer.id:
            self._end(f"media error: {reason}")
        else:
            self._media_error_before(viewer, reason)

    def _end(self, reason: str) -> None:
        if not self._ended.is_set():
            self._end_reason = reason
            self._ended.set()

    # --- the loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            wait_at_least = None
            try:
                await self._session()
            except (PublishError, PeerError) as exc:
                self.last_error = str(exc)
                wait_at_least = getattr(exc, "retry_after", None)
            except Exception as exc:  # a bug here must not end the server; it is logged
                log.exception("WHIP publishing failed unexpectedly")
                self.last_error = f"internal error: {exc!r}"
            lasted = 0.0 if self.connected_at is None else time.monotonic() - self.connected_at
            await self._teardown()
            if lasted >= STABLE_AFTER:
                self.backoff.reset()
            delay = self.backoff.next(wait_at_least)
            log.warning("WHIP publishing to %s: %s; retrying in %.1f s",
                        self.shown_url, self.last_error, delay)  # fmt: skip
            self._set_state("waiting")
            self.retry_at = time.monotonic() + delay
            await asyncio.sleep(delay)
            self.retry_at = None

    async def _session(self) -> None:
        """One session, from a new peer to its end; always ends by raising."""
        self._connected.clear()
        self._ended.clear()
        self._set_state("connecting")
        peer = ViewerPeer(f"{PEER_PREFIX}{next(self._ids)}", self.media, self, self.loop, self.ice)
        self.peer = peer
        peer.start()
        offer = await peer.complete_offer(GATHER_TIMEOUT)
        if not peer.gathering_complete:
            log.warning("ICE gathering not complete after %.0f s (STUN server unreachable?): "
                        "offering the %d candidate(s) gathered so far", GATHER_TIMEOUT,
                        offer.count("a=candidate:"))  # fmt: skip
        self.attempts += 1
        posted = time.monotonic()
        answer = await self._post(offer)
        self.resource = answer.resource
        if answer.resource is None:
            log.warning("the ingest sent no Location: the session cannot be ended (DELETE)")
        try:
            peer.set_answer(answer.sdp)
        except ProtocolError as exc:
            raise PublishError(f"the ingest's SDP answer is unusable: {exc}") from None
        if not await self._wait(self._connected, CONNECT_TIMEOUT):
            raise PublishError(f"no WebRTC connection {CONNECT_TIMEOUT:.0f} s after the answer")
        self.connected_at = time.monotonic()
        self.sessions += 1
        self._set_state("publishing")
        log.info("publishing: connected %.2f s after the offer (resource %s, session %d)",
                 self.connected_at - posted,
                 mask_url(answer.resource) if answer.resource else "none",
                 self.sessions)  # fmt: skip
        await self._watch(peer)
        raise PublishError(self._end_reason or "the session ended")

    async def _watch(self, peer: ViewerPeer) -> None:
        """Until the session ends: WebRTC failure (from the peer) or an ingest that no
        longer reports receiving (a server that vanished sends no ICE or DTLS close)."""
        liveness = Liveness()
        while not self._ended.is_set():
            if await self._wait(self._ended, LIVENESS_INTERVAL):
                return
            await peer.refresh_stats(max_age=0)
            quiet = liveness.observe(peer.net, time.monotonic())
            if quiet is not None:
                self._end(f"the ingest stopped reporting reception ({quiet:.0f} s without "
                          "RTCP receiver reports)")  # fmt: skip

    async def _wait(self, event: asyncio.Event, seconds: float) -> bool:
        """True when `event` is set within `seconds`; False when the time ran out or the
        session ended first (unless that is the event waited for)."""
        waits = {asyncio.ensure_future(event.wait())}
        if event is not self._ended:
            waits.add(asyncio.ensure_future(self._ended.wait()))
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        return event.is_set() and (event is self._ended or not self._ended.is_set())

    # --- HTTP ----------------------------------------------------------------------------

    async def _post(self, offer: str) -> Answer:
        assert self._http is not None
        url = self.url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with self._http.post(
                    url,
                    data=offer.encode(),
                    headers=request_headers(self._token, SDP_TYPE),
                    allow_redirects=False,
                ) as response:
                    body = await response.text(errors="replace")
                    outcome = interpret_offer_response(url, response.status, response.headers, body)
            except aiohttp.ClientError as exc:
                raise PublishError(f"cannot reach the ingest: {describe(exc)}") from None
            except TimeoutError:
                raise PublishError(f"no answer to the offer within {HTTP_TIMEOUT:.0f} s") from None
            if isinstance(outcome, Answer):
                return outcome
            log.info("the WHIP endpoint redirects to %s", mask_url(outcome.url))
            url = outcome.url
        raise PublishError(f"more than {MAX_REDIRECTS} redirects")

    async def _delete(self, resource: str) -> None:
        assert self._http is not None
        shown = mask_url(resource)
        try:
            async with self._http.delete(
                resource,
                headers=request_headers(self._token),
                timeout=aiohttp.ClientTimeout(total=DELETE_TIMEOUT),
                allow_redirects=False,
            ) as response:
                if 200 <= response.status < 300:
                    log.info("ended the WHIP session %s", shown)
                else:
                    log.info("DELETE %s: HTTP %d (the ingest may have ended it already)",
                             shown, response.status)  # fmt: skip
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.info("could not DELETE %s: %s", shown, describe(exc))

    async def _teardown(self) -> None:
        """DELETE the session's resource, then free the peer (each at most once, even when
        called again after being interrupted)."""
        if self.resource is not None and self._http is not None:
            await self._delete(self.resource)
        self.resource = None
        self.connected_at = None
        if self.peer is not None:
            await self.peer.close()
        self.peer = None

    def _set_state(self, state: str) -> None:
        if state != self.state:
            self.state, self.state_since = state, time.monotonic()

    # --- figures for /stats --------------------------------------------------------------

    def figures(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "protocol": "whip",
            "url": self.shown_url,
            "state": self.state,
            "state_s": round(now - self.state_since, 1),
            "resource": mask_url(self.resource) if self.resource else None,
            "connected_s": round(now - self.connected_at, 1) if self.connected_at else None,
            "attempts": self.attempts,
            "sessions": self.sessions,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
            "retry_in_s": round(max(0.0, self.retry_at - now), 1) if self.retry_at else None,
        }


def describe(exc: BaseException) -> str:
    """A client error for the log: the OS's reason when there is one, never a header."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connection to {exc.host}:{exc.port} failed ({exc.os_error.strerror or exc})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return type(exc).__name__
    return str(exc) or type(exc).__name__
