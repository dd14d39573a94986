"""Does a TURN server take our credentials? One Allocate over UDP (RFC 8656), for doctor.

    1. Allocate (REQUESTED-TRANSPORT UDP)            -> 401 with REALM and NONCE
    2. Allocate + USERNAME, REALM, NONCE, MESSAGE-INTEGRITY (long-term credential,
       key = MD5(user:realm:password))               -> success with XOR-RELAYED-ADDRESS,
                                                        or 401 again: credentials refused
    3. Refresh with LIFETIME 0 (same credentials)    -> the allocation is released at once

Message building and parsing are pure functions; `allocate()` does the UDP exchange.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import socket
import struct
from dataclasses import dataclass

from aether.peers.ice import TurnServer

MAGIC = 0x2112A442
ALLOCATE, REFRESH = 0x0003, 0x0004
SUCCESS, ERROR = 0x0100, 0x0110  # class bits added to the method
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE = 0x0006, 0x0008, 0x0009
LIFETIME, XOR_RELAYED_ADDRESS, REALM, NONCE = 0x000D, 0x0016, 0x0014, 0x0015
REQUESTED_TRANSPORT = 0x0019
UDP = 17


class TurnCheckError(OSError):
    """The server did not allocate; the message says why (never with the password)."""


@dataclass(frozen=True)
class Response:
    kind: int
    attributes: dict[int, bytes]

    @property
    def error(self) -> tuple[int, str] | None:
        value = self.attributes.get(ERROR_CODE)
        if self.kind & 0x0110 != ERROR or value is None or len(value) < 4:
            return None
        return value[2] * 100 + value[3], value[4:].decode("utf-8", "replace")


def attribute(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def message(
    method: int, transaction: bytes, attributes: list[bytes], key: bytes | None = None
) -> bytes:
    """A STUN request; with `key`, MESSAGE-INTEGRITY over it (HMAC-SHA1, RFC 8489 14.5)."""
    body = b"".join(attributes)
    if key is None:
        return struct.pack("!HHI", method, len(body), MAGIC) + transaction + body
    # The length covers MESSAGE-INTEGRITY (24 bytes) when the HMAC is computed.
    head = struct.pack("!HHI", method, len(body) + 24, MAGIC) + transaction
    digest = hmac.new(key, head + body, hashlib.sha1).digest()
    return head + body + attribute(MESSAGE_INTEGRITY, digest)


def parse(data: bytes, transaction: bytes) -> Response | None:
    """The response to `transaction`, or None for anything else."""
    if len(data) < 20 or data[8:20] != transaction:
        return None
    kind, length, magic = struct.unpack("!HHI", data[:8])
    if magic != MAGIC:
        return None
    attributes: dict[int, bytes] = {}
    offset = 20
    while offset + 4 <= min(len(data), 20 + length):
        attr, size = struct.unpack("!HH", data[offset : offset + 4])
        attributes.setdefault(attr, data[offset + 4 : offset + 4 + size])
        offset += 4 + size + (-size % 4)
    return Response(kind, attributes)


def xor_address(value: bytes) -> str:
    """An XOR-(RELAYED|MAPPED)-ADDRESS as HOST:PORT (IPv4 and IPv6)."""
    port = struct.unpack("!H", value[2:4])[0] ^ (MAGIC >> 16)
    if value[1] == 0x01:
        address = struct.unpack("!I", value[4:8])[0] ^ MAGIC
        return f"{socket.inet_ntoa(struct.pack('!I', address))}:{port}"
    return f"[ipv6]:{port}"  # the check only needs to know one was allocated


def long_term_key(username: str, realm: str, password: str) -> bytes:
    return hashlib.md5(f"{username}:{realm}:{password}".encode()).digest()  # noqa: S324 - RFC


def allocate(server: TurnServer, timeout: float = 2.0) -> str:
    """Allocate a relay with the server's credentials and release it; returns the relayed
    address. Raises TurnCheckError (refused, no answer, or not a UDP TURN URL)."""
    if server.secure or server.transport == "tcp":
        raise TurnCheckError("only turn: over UDP is checked")
    family = socket.AF_INET6 if ":" in server.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.connect((server.host, server.port))

        def ask(method: int, attributes: list[bytes], key: bytes | None = None) -> Response:
            transaction = secrets.token_bytes(12)
            sock.send(message(method, transaction, attributes, key))
            try:
                while True:
                    response = parse(sock.recv(2048), transaction)
                    if response is not None:
                        return response
            except OSError as exc:  # timeout, refused (ICMP)
                raise TurnCheckError(f"no answer: {exc}") from None

        transport = attribute(REQUESTED_TRANSPORT, bytes([UDP, 0, 0, 0]))
        challenge = ask(ALLOCATE, [transport])
        realm, nonce = challenge.attributes.get(REALM), challenge.attributes.get(NONCE)
        if challenge.error is None or realm is None or nonce is None:
            raise TurnCheckError("the server did not ask for credentials (not a TURN server?)")
        key = long_term_key(server.username, realm.decode("utf-8", "replace"), server.password)
        auth = [
            attribute(USERNAME, server.username.encode()),
            attribute(REALM, realm),
            attribute(NONCE, nonce),
        ]
        answer = ask(ALLOCATE, [transport, *auth], key)
        if answer.error is not None:
            code, reason = answer.error
            what = "credentials refused" if code == 401 else "allocation refused"
            raise TurnCheckError(f"{what}: {code} {reason}".rstrip())
        relayed = answer.attributes.get(XOR_RELAYED_ADDRESS)
        if answer.kind != ALLOCATE | SUCCESS or relayed is None:
            raise TurnCheckError(f"unexpected answer (type 0x{answer.kind:04x})")
        ask(REFRESH, [attribute(LIFETIME, struct.pack("!I", 0)), *auth], key)  # release it
        return xor_address(relayed)
