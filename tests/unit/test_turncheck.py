"""The TURN check's STUN messages, built and parsed without a network."""

from __future__ import annotations

import hashlib
import hmac
import socket
import struct

from aether.peers.turncheck import (
    ERROR,
    MAGIC,
    MESSAGE_INTEGRITY,
    USERNAME,
    XOR_RELAYED_ADDRESS,
    attribute,
    long_term_key,
    message,
    parse,
    xor_address,
)

TX = bytes(range(12))


def test_attributes_are_padded_to_four_bytes() -> None:
    assert attribute(USERNAME, b"abcde") == b"\x00\x06\x00\x05abcde\x00\x00\x00"


def test_message_integrity_covers_the_message_with_its_own_length() -> None:
    key = long_term_key("user", "realm", "pass")
    assert key == hashlib.md5(b"user:realm:pass").digest()
    data = message(0x0003, TX, [attribute(USERNAME, b"user")], key)
    kind, length, magic = struct.unpack("!HHI", data[:8])
    assert (kind, magic, length) == (0x0003, MAGIC, len(data) - 20)
    head = struct.pack("!HHI", kind, length, magic) + TX
    body = data[20:-24]
    assert data[-24:-20] == struct.pack("!HH", MESSAGE_INTEGRITY, 20)
    assert data[-20:] == hmac.new(key, head + body, hashlib.sha1).digest()


def test_parse_reads_attributes_and_error_codes_and_ignores_other_transactions() -> None:
    error = attribute(0x0009, b"\x00\x00\x04\x01Unauthorized")
    data = struct.pack("!HHI", 0x0003 | ERROR, len(error), MAGIC) + TX + error
    response = parse(data, TX)
    assert response is not None and response.error == (401, "Unauthorized")
    assert parse(data, bytes(12)) is None
    assert parse(data[:10], TX) is None


def test_xor_relayed_address_is_decoded() -> None:
    address = struct.unpack("!I", socket.inet_aton("192.0.2.7"))[0] ^ MAGIC
    value = struct.pack("!BBHI", 0, 1, 49170 ^ (MAGIC >> 16), address)
    assert xor_address(value) == "192.0.2.7:49170"
    data = struct.pack("!HHI", 0x0103, 12, MAGIC) + TX + attribute(XOR_RELAYED_ADDRESS, value)
    response = parse(data, TX)
    assert response is not None and response.error is None
    assert xor_address(response.attributes[XOR_RELAYED_ADDRESS]) == "192.0.2.7:49170"
