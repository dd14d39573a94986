"""The doctor's STUN check speaks RFC 8489 Binding and reads XOR-MAPPED-ADDRESS."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from aether.doctor import stun_binding


@pytest.fixture
def responder() -> Iterator[int]:
    """A minimal Binding responder on loopback (a test double of a STUN server)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def serve() -> None:
        data, peer = sock.recvfrom(2048)
        host, port = peer
        xaddr = struct.unpack("!I", socket.inet_aton(host))[0] ^ 0x2112A442
        attr = struct.pack("!HHBBHI", 0x0020, 8, 0, 0x01, port ^ 0x2112, xaddr)
        header = struct.pack("!HHI", 0x0101, len(attr), 0x2112A442) + data[8:20]
        sock.sendto(b"\x00" * 20, peer)  # a stray datagram with another transaction id
        sock.sendto(header + attr, peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield sock.getsockname()[1]
    thread.join(5)
    sock.close()


def test_binding_returns_the_reflexive_address(responder: int) -> None:
    host, port = stun_binding("127.0.0.1", responder).split(":")
    assert host == "127.0.0.1" and 1024 <= int(port) <= 65535


def test_no_server_times_out() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as quiet:
        quiet.bind(("127.0.0.1", 0))
        with pytest.raises(OSError):
            stun_binding("127.0.0.1", quiet.getsockname()[1], timeout=0.3)
