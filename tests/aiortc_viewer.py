"""A light WebRTC viewer for tests: aiortc (a WebRTC stack written by others) speaking
Aether's signaling protocol (docs/signaling.md), counting the RTP it receives.

Lighter than a browser tab, so churn tests can run hundreds of real sessions: ICE, DTLS,
SRTP and RTCP are all real; only the media is not decoded (the tracks are never read).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp

SUBPROTOCOL = "aether.v1"


@dataclass
class Received:
    video_packets: int = 0
    audio_packets: int = 0


class AiortcViewer:
    """One session: `await connect()`, then `close()` (clean) or `drop()` (abrupt)."""

    def __init__(self, http: aiohttp.ClientSession, ws_url: str) -> None:
        self.http = http
        self.ws_url = ws_url
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no STUN: loopback only
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.viewer_id = ""
        self.messages: list[dict[str, Any]] = []  # everything the server sent
        self._connected = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self._pending: list[dict[str, Any]] = []
        self._answered = False

    async def open(self) -> dict[str, Any]:
        """Open the WebSocket and wait for the server's offer; returns it."""
        self.ws = await self.http.ws_connect(self.ws_url, protocols=(SUBPROTOCOL,))
        while True:
            message = await self._receive()
            if message["type"] == "welcome":
                self.viewer_id = message["viewer"]
            elif message["type"] == "offer":
                return message
            elif message["type"] == "ice":
                self._pending.append(message)
            elif message["type"] in ("error", "bye"):
                raise ConnectionError(f"server refused the viewer: {message}")

    async def connect(self, within: float = 20.0) -> None:
        """Negotiate fully and wait until the server reports the connection as connected."""
        offer = await self.open()
        await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
        answer = await self.pc.createAnswer()
        await self.pc.setLocalDescription(answer)  # aiortc gathers before it returns
        assert self.ws is not None
        await self.ws.send_str(json.dumps({"type": "answer", "sdp": self.pc.localDescription.sdp}))
        self._answered = True
        for message in self._pending:
            await self._add_candidate(message)
        self._pending.clear()
        self._reader = asyncio.create_task(self._read())
        await asyncio.wait_for(self._connected.wait(), within)
        # The server has seen the connection complete; let aiortc's side finish too, so
        # closing now does not cut its own connection task short.
        deadline = asyncio.get_running_loop().time() + within
        while self.pc.connectionState != "connected":
            if asyncio.get_running_loop().time() > deadline:
                raise ConnectionError(
                    f"aiortc still {self.pc.connectionState} (ICE "
                    f"{self.pc.iceConnectionState}) after the server saw it connect"
                )
            await asyncio.sleep(0.01)

    async def _receive(self) -> dict[str, Any]:
        assert self.ws is not None
        msg = await self.ws.receive()
        if msg.type != aiohttp.WSMsgType.TEXT:
            raise ConnectionError(f"signaling ended: {msg.type} {self.ws.close_code}")
        data: dict[str, Any] = json.loads(msg.data)
        self.messages.append(data)
        return data

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                message = await self._receive()
                if message["type"] == "ice":
                    await self._add_candidate(message)
                elif message["type"] == "state" and message.get("state") == "connected":
                    self._connected.set()

    async def _add_candidate(self, message: dict[str, Any]) -> None:
        line = message.get("candidate") or ""
        if not line:
            return
        candidate = candidate_from_sdp(line.removeprefix("a=").removeprefix("candidate:"))
        candidate.sdpMLineIndex = message["sdpMLineIndex"]
        await self.pc.addIceCandidate(candidate)

    async def received(self) -> Received:
        """RTP packets received so far, per kind (aiortc's inbound-rtp stats)."""
        out = Received()
        for report in (await self.pc.getStats()).values():
            if report.type == "inbound-rtp":
                if report.kind == "video":
                    out.video_packets += report.packetsReceived
                else:
                    out.audio_packets += report.packetsReceived
        return out

    async def close(self) -> None:
        """Leave cleanly: bye, close the WebSocket, close the peer connection."""
        if self.ws is not None and not self.ws.closed:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self.ws.send_str(json.dumps({"type": "bye", "reason": "test done"}))
            await self.ws.close()
        await self._stop()

    async def drop(self) -> None:
        """Vanish: the TCP connection is cut without a WebSocket close, media just stops."""
        if self.ws is not None:
            transport = self.ws._response.connection.transport  # type: ignore[union-attr]
            if transport is not None:
                transport.abort()
        await self._stop()

    async def _stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self.pc.close()
