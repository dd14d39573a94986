"""WHEP over HTTP with aiortc (a WebRTC stack written by others) as the client: media
arrives; malformed, unauthenticated or out-of-place requests get the right 4xx and the
session that is watching carries on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from tests.helpers import ServerProcess, run_async

pytestmark = pytest.mark.e2e

ADMIN = "whep-admin-token-0123456789abcdef"
VIEWER = "whep-view-token-0123456789abcdef"
SOURCE = ("--source", "test", "--width", "320", "--height", "240", "--fps", "15")


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(*SOURCE) as srv:
        yield srv


@pytest.fixture(scope="module")
def guarded() -> Iterator[ServerProcess]:
    tokens = f"admin:{ADMIN},view:{VIEWER}"
    turn = "turn://whepuser:whep-turn-secret@127.0.0.1:3478"  # no server: only named
    with ServerProcess(*SOURCE, "--tokens", tokens, "--max-viewers", "1", "--turn", turn) as srv:
        yield srv


class WhepClient:
    """aiortc, recvonly, non-trickle (its offer carries its candidates)."""

    def __init__(self, http: aiohttp.ClientSession, endpoint: str, token: str | None = None):
        self.http, self.endpoint, self.token = http, endpoint, token
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.resource = ""
        self.etag = ""

    def headers(self, content_type: str | None = None) -> dict[str, str]:
        out = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**out, "Content-Type": content_type} if content_type else out

    async def offer(self, video_codec: str | None = None) -> str:
        self.pc.addTransceiver("video", direction="recvonly")
        self.pc.addTransceiver("audio", direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        sdp = self.pc.localDescription.sdp
        if video_codec == "VP8":  # drop H.264 from the offer
            sdp = "\r\n".join(line for line in sdp.split("\r\n") if "H264" not in line)
        return sdp

    async def offer_again(self) -> str:
        return str(self.pc.localDescription.sdp)

    async def post(self, sdp: str) -> aiohttp.ClientResponse:
        response = await self.http.post(
            self.endpoint, data=sdp, headers=self.headers("application/sdp")
        )
        await response.read()
        return response

    async def watch(self) -> aiohttp.ClientResponse:
        response = await self.post(await self.offer())
        if response.status == 201:
            self.resource = str(response.url.join(aiohttp.client.URL(response.headers["Location"])))
            self.etag = response.headers["ETag"]
            answer = await response.text()
            await self.pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        return response

    async def packets(self) -> dict[str, int]:
        out = {"video": 0, "audio": 0}
        for receiver in self.pc.getReceivers():
            for stat in (await receiver.getStats()).values():
                if stat.type == "inbound-rtp":
                    out[receiver.track.kind] += stat.packetsReceived
        return out

    async def wait_packets(self, video: int, audio: int = 0, within: float = 20.0) -> Any:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            got = await self.packets()
            if got["video"] >= video and got["audio"] >= audio:
                return got
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"too few packets: {got}")
            await asyncio.sleep(0.2)

    async def patch(self, body: str, if_match: str | None = None, **kw: Any) -> int:
        headers = self.headers("application/trickle-ice-sdpfrag")
        if if_match is not None:
            headers["If-Match"] = if_match
        async with self.http.patch(self.resource, data=body, headers=headers, **kw) as r:
            return r.status


def test_aiortc_watches_and_bad_requests_leave_it_watching(server: ServerProcess) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            client = WhepClient(http, server.url + "/whep")
            response = await client.watch()
            assert response.status == 201, await response.text()
            assert response.content_type == "application/sdp"
            assert response.headers["Accept-Patch"] == "application/trickle-ice-sdpfrag"
            assert response.headers["Access-Control-Allow-Origin"] == "*"
            first = await client.wait_packets(video=30, audio=20)

            async def status(method: str, path: str, **kw: Any) -> int:
                async with http.request(method, server.url + path, **kw) as r:
                    await r.read()
                    return r.status

            sdp = {"Content-Type": "application/sdp"}
            text = {"Content-Type": "text/plain"}
            assert await status("POST", "/whep", data="v=0", headers=text) == 415
            assert await status("POST", "/whep", data="not sdp", headers=sdp) == 400
            assert await status("POST", "/whep", data="x" * 70_000, headers=sdp) == 413
            vp8_client = WhepClient(http, server.url + "/whep")
            vp8 = await vp8_client.offer(video_codec="VP8")
            await vp8_client.pc.close()
            assert await status("POST", "/whep", data=vp8, headers=sdp) == 406
            assert await status("PATCH", "/whep/no-such-session", data="") == 404
            assert await status("DELETE", "/whep/no-such-session") == 404
            assert await status("OPTIONS", "/whep") == 204
            # No token to ask for on loopback: a page of another site may not POST.
            evil = {**sdp, "Origin": "http://evil.example"}
            assert (
                await status("POST", "/whep", data=await client.offer_again(), headers=evil) == 403
            )
            candidate = "a=candidate:1 1 udp 2122260223 10.213.0.9 50000 typ host\r\n"
            frag = f"m=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n{candidate}"
            assert await client.patch(frag, if_match='"stale"') == 412
            assert await client.patch("a=ice-ufrag:new1\r\na=ice-pwd:x\r\n" + frag, "*") == 422
            junk = "m=video 9 UDP/TLS/RTP/SAVPF 0\r\na=candidate:junk\r\n"
            assert await client.patch(junk) == 400
            assert await client.patch(frag, if_match=client.etag) == 204
            await asyncio.sleep(1.0)
            later = await client.packets()
            assert later["video"] > first["video"] + 10, "the watching session was disturbed"
            async with http.get(server.url + "/stats") as r:
                viewers = (await r.json())["viewers"]
            assert [v["kind"] for v in viewers] == ["whep"]
            async with http.delete(client.resource) as r:
                assert r.status == 200
            await client.pc.close()

    run_async(scenario())
    log = server.output()
    assert "WHEP offer from" in log and "(unsupported-codec)" in log
    # aiortc numbers H.264 its own way: a payload group served it, and went with it.
    deadline = time.monotonic() + 10
    while "removed (no viewer left)" not in server.output() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "payload group for video PT" in log
    assert "removed (no viewer left)" in server.output()


def test_tokens_and_viewer_limit_apply_to_whep(guarded: ServerProcess) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            anonymous = WhepClient(http, guarded.url + "/whep")
            refused = await anonymous.post(await anonymous.offer())
            assert refused.status == 401
            # Errors carry CORS headers too, so a player on another origin can read them.
            assert refused.headers["Access-Control-Allow-Origin"] == "*"
            await anonymous.pc.close()
            async with http.options(guarded.url + "/whep") as r:  # preflights carry no token
                assert r.status == 204
                assert "whep-turn-secret" not in r.headers.get("Link", "")
            first = WhepClient(http, guarded.url + "/whep", VIEWER)
            created = await first.watch()
            assert created.status == 201
            # The TURN server and its credentials, for this authorized viewer (RFC 9725 4.6).
            link = created.headers["Link"]
            assert '<turn:127.0.0.1:3478>; rel="ice-server"; username="whepuser"' in link
            assert 'credential="whep-turn-secret"; credential-type="password"' in link
            await first.wait_packets(video=10)
            second = WhepClient(http, guarded.url + "/whep", VIEWER)
            full = await second.watch()
            assert full.status == 503 and "server full" in await full.text()
            assert full.headers["Retry-After"]
            async with http.delete(first.resource) as r:  # no token: refused
                assert r.status == 401
            async with http.delete(first.resource, headers=first.headers()) as r:
                assert r.status == 200
            for client in (first, second):
                await client.pc.close()

    run_async(scenario())
    assert VIEWER not in guarded.output()
    assert "whep-turn-secret" not in guarded.output()
