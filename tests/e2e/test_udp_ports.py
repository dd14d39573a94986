"""A pinned UDP port range (--udp-ports) is honoured: every ICE candidate the server gives
(UDP, and ICE-TCP's passive ones) and every UDP socket it holds use a port in the range;
when the range is full the next viewer is refused with a clear error and the others keep
receiving; a port freed by a viewer leaving serves the next one.

Viewers are aiortc peers (tests/aiortc_viewer.py): real ICE, DTLS and SRTP, no decoding.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from aether.peers.ice import PortRange
from tests.aiortc_viewer import SUBPROTOCOL, AiortcViewer
from tests.e2e.test_churn import churn, settled
from tests.helpers import ServerProcess, run_async

pytestmark = pytest.mark.e2e

# Below the kernel's ephemeral range (32768-60999): other sockets of the suite (aiortc
# clients, browsers) take ports from that range at random and could hold one of these.
RANGE = PortRange(21000, 21002)  # three ports: three viewers (two, plus the spare peer)
SOURCE = ("--source", "test", "--audio", "test", "--width", "320", "--height", "240",
          "--fps", "15", "--bitrate", "300")  # fmt: skip


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    with ServerProcess(*SOURCE, "--udp-ports", str(RANGE)) as srv:
        yield srv


def candidate_ports(viewer: AiortcViewer) -> list[tuple[str, int]]:
    """(transport, port) of every candidate the server sent: trickled and in the offer."""
    lines = [m.get("candidate") or "" for m in viewer.messages if m["type"] == "ice"]
    for message in viewer.messages:
        if message["type"] == "offer":
            lines += re.findall(r"a=(candidate:\S.*)", message["sdp"])
    out = []
    for line in lines:
        fields = line.split()
        if len(fields) > 5:
            out.append((fields[2].lower(), int(fields[5])))
    return out


def udp_ports_held(pid: int) -> list[int]:
    """Local port of each UDP socket the process holds (/proc/net/udp{,6} by inode)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = []
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.append(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


async def packets(viewer: AiortcViewer) -> int:
    received = await viewer.received()
    return received.video_packets + received.audio_packets


async def all_receiving(viewers: list[AiortcViewer], within: float = 10.0) -> None:
    """Every viewer's received packet count grows."""
    before = [await packets(v) for v in viewers]
    async with asyncio.timeout(within):
        while True:
            now = [await packets(v) for v in viewers]
            if all(n > b for n, b in zip(now, before, strict=True)):
                return
            await asyncio.sleep(0.2)


async def refused(http: aiohttp.ClientSession, server: ServerProcess) -> str:
    """Join as one more viewer; returns the error the server sends instead of a session
    (the offer may come first, without a candidate)."""
    messages = []
    async with http.ws_connect(server.ws_url, protocols=(SUBPROTOCOL,)) as ws:
        async with asyncio.timeout(20):
            while not messages or messages[-1]["type"] != "error":
                msg = await ws.receive()
                assert msg.type == aiohttp.WSMsgType.TEXT, f"socket ended: {messages}"
                messages.append(json.loads(msg.data))
    candidates = [m for m in messages if m["type"] == "ice" and m.get("candidate")]
    assert not candidates, f"a refused viewer was offered candidates: {candidates}"
    return str(messages[-1]["message"])


def test_candidates_and_sockets_stay_in_the_range_and_a_full_range_refuses_cleanly(
    server: ServerProcess,
) -> None:
    assert server.proc is not None
    pid = server.proc.pid

    async def scenario() -> None:
        async with aiohttp.ClientSession() as http:
            viewers = []
            for _ in range(RANGE.size):
                viewer = AiortcViewer(http, server.ws_url)
                await viewer.connect()
                viewers.append(viewer)
            for viewer in viewers:
                ports = candidate_ports(viewer)
                udp = [port for transport, port in ports if transport == "udp"]
                assert udp, f"no UDP candidate: {viewer.messages}"
                assert all(port in RANGE for port in udp), f"out of {RANGE}: {udp}"
                # ICE-TCP: passive candidates listen in the range too; active ones connect
                # out and carry the placeholder port 9.
                assert all(port in RANGE or port == 9 for _, port in ports), ports
            held = udp_ports_held(pid)
            assert held and all(port in RANGE for port in held), f"sockets on {held}"
            await all_receiving(viewers)

            # The range is full: the next viewer hears why; the others go on receiving.
            message = await refused(http, server)
            assert message == f"no free UDP port in {RANGE} (--udp-ports): all in use"
            await all_receiving(viewers)

            # A viewer leaving frees its port for the next one.
            await viewers.pop().close()
            async with asyncio.timeout(15):
                while len(udp_ports_held(pid)) >= len(held):  # noqa: ASYNC110 - polls /proc
                    await asyncio.sleep(0.1)
            newcomer = AiortcViewer(http, server.ws_url)
            await newcomer.connect(within=30)
            viewers.append(newcomer)
            udp = [port for transport, port in candidate_ports(newcomer) if transport == "udp"]
            assert udp and all(port in RANGE for port in udp)
            await all_receiving(viewers)
            assert all(port in RANGE for port in udp_ports_held(pid))
            for viewer in viewers:
                await viewer.close()

    try:
        run_async(scenario(), timeout=120)
    except BaseException:
        print(server.output()[-8000:])  # shown with the failure
        raise
    assert server.stop() == 0
    log = server.output()
    assert "CRITICAL" not in log, log[-3000:]


def test_churn_in_a_pinned_range_leaves_nothing_behind() -> None:
    """Viewers joining and leaving (cleanly, vanishing, never answering) in a pinned range:
    every ICE agent is freed once (no GStreamer-CRITICAL from a double unref), no socket,
    descriptor or element is left, and the ports stay in the range."""
    churn_range = PortRange(21100, 21149)
    with ServerProcess(
        *SOURCE, "--udp-ports", str(churn_range), "--negotiation-timeout", "2"
    ) as srv:
        assert srv.proc is not None
        pid = srv.proc.pid

        async def scenario() -> tuple[Counter[str], dict[str, int], dict[str, int]]:
            async with aiohttp.ClientSession() as http:
                watcher = AiortcViewer(http, srv.ws_url)
                await watcher.connect()
                await churn(srv.ws_url, 30)  # warm-up: pools and arenas fill
                baseline = await asyncio.to_thread(settled, srv, None)
                outcomes = await churn(srv.ws_url, 60)
                after = await asyncio.to_thread(settled, srv, baseline)
                await all_receiving([watcher])
                assert all(port in churn_range for port in udp_ports_held(pid))
                await watcher.close()
            return outcomes, baseline, after

        outcomes, baseline, after = run_async(scenario(), timeout=300)
        log = srv.output()
    assert outcomes == {"clean": 20, "dropped": 20, "unanswered:timeout": 20}, outcomes
    assert after["elements"] == baseline["elements"], (baseline, after)
    assert after["fds"] <= baseline["fds"], (baseline, after)
    assert "CRITICAL" not in log and "Traceback" not in log, log[-3000:]
