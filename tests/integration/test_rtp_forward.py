"""--rtp-forward against plain UDP sockets standing in for Janus: RTP arrives on the
mountpoint's ports, sender reports arrive on its RTCP port, and a PLI sent back to where
they came from (as Janus does) yields a keyframe."""

from __future__ import annotations

import json
import socket
import struct
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from tests.helpers import ServerProcess
from tests.janus import free_udp_ports

RTCP_SR = 200
RTCP_PSFB = 206


def udp(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    sock.settimeout(0.2)
    return sock


def stats(server: ServerProcess) -> Any:
    with urllib.request.urlopen(server.url + "/stats", timeout=10) as reply:
        return json.load(reply)


def has_sps(packet: bytes) -> bool:
    """An H.264 RTP packet (RFC 6184) carrying an SPS: what starts every keyframe here."""
    payload = packet[12 + 4 * (packet[0] & 0x0F) :]
    if packet[0] & 0x10:  # header extension
        length = struct.unpack("!H", payload[2:4])[0]
        payload = payload[4 + 4 * length :]
    nal = payload[0] & 0x1F
    if nal == 24:  # STAP-A: 16-bit sizes, then NAL units
        offset = 1
        while offset + 2 < len(payload):
            size = struct.unpack("!H", payload[offset : offset + 2])[0]
            if payload[offset + 2] & 0x1F == 7:
                return True
            offset += 2 + size
        return False
    return nal == 7


def drain(sock: socket.socket) -> None:
    """Drop what waits in the socket: what is read next was sent after this."""
    sock.setblocking(False)
    try:
        while True:
            sock.recv(65536)
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(0.2)


def drain_until(sock: socket.socket, ok: Any, timeout: float, what: str) -> tuple[bytes, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data, address = sock.recvfrom(65536)
        except TimeoutError:
            continue
        if ok(data):
            return data, address
    raise AssertionError(f"no {what} within {timeout:.0f} s")


@pytest.fixture
def sockets() -> Iterator[tuple[list[int], list[socket.socket]]]:
    ports = free_udp_ports(3)
    with ExitStack() as stack:
        socks = [stack.enter_context(udp(p)) for p in ports]
        yield ports, socks


def test_rtp_and_rtcp_reach_the_target_and_a_pli_brings_a_keyframe(
    sockets: tuple[list[int], list[socket.socket]],
) -> None:
    (video_port, audio_port, rtcp_port), (video, audio, rtcp) = sockets
    with ServerProcess(
        "--source", "test", "--audio", "test", "--width", "320", "--height", "240",
        "--fps", "30", "--keyframe-interval", "60",
        "--rtp-forward", f"127.0.0.1:{video_port}:{audio_port}:{rtcp_port}",
    ) as server:  # fmt: skip
        drain_until(video, lambda d: d[1] & 0x7F == 96, 10, "H.264 RTP (PT 96)")
        drain_until(audio, lambda d: d[1] & 0x7F == 111, 10, "Opus RTP (PT 111)")
        report, sender = drain_until(rtcp, lambda d: d[1] == RTCP_SR, 10, "sender report")
        media_ssrc = report[4:8]
        assert sender[1] != video_port  # from the RTCP socket, not the RTP one

        before = stats(server)
        target = before["rtp_forward"][0]
        assert target["state"] == "forwarding"
        assert target["video"]["packets_sent"] > 0 and target["audio"]["packets_sent"] > 0
        assert target["keyframe_requests"] == 0
        # PLI (RFC 4585): V=2, FMT=1, PT=206, length 2; sender SSRC, media SSRC.
        pli = bytes([0x81, RTCP_PSFB]) + struct.pack("!H", 2) + b"\x00\x00\x00\x01" + media_ssrc
        drain(video)  # the start-up keyframes must not count
        # Keyframe requests within 250 ms of one another are served by one keyframe, and
        # the server asks for one itself at start-up: like a real receiver, ask again
        # (every 1 s) until the keyframe comes. --keyframe-interval 60: none comes unasked.
        for _ in range(4):
            rtcp.sendto(pli, sender)
            try:
                drain_until(video, has_sps, 1, "keyframe (SPS) after the PLI")
                break
            except AssertionError:
                continue
        else:
            raise AssertionError("no keyframe (SPS) after 4 PLIs, 1 s apart")
        after = stats(server)
    target = after["rtp_forward"][0]
    assert target["keyframe_requests"] >= 1
    assert target["rtcp_received"] >= 1
    assert after["keyframes"]["sent"] > before["keyframes"]["sent"]


def test_an_unresolvable_target_stops_start_up_with_the_fix() -> None:
    code, output = ServerProcess(
        "--source", "test", "--audio", "none", "--rtp-forward", "no-such-host.invalid:5004"
    ).run_to_exit()  # fmt: skip
    assert code != 0
    assert "cannot resolve 'no-such-host.invalid'" in output
    assert "--rtp-forward" in output


def test_a_bad_setting_names_key_and_value() -> None:
    code, output = ServerProcess("--rtp-forward", "janus:5004:5004").run_to_exit()
    assert code != 0
    assert "rtp_forward (--rtp-forward)" in output
    assert "janus:5004:5004" in output
