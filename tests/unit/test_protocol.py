"""Signaling protocol v1: parsing viewers' messages and building the server's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aether.errors import ProtocolError
from aether.signaling import protocol
from aether.signaling.protocol import (
    MAX_MESSAGE_BYTES,
    PROTOCOL_VERSION,
    Answer,
    Bye,
    Candidate,
    Ping,
    parse_client_message,
)

CANDIDATE = "candidate:842163049 1 udp 1677729535 192.0.2.7 50123 typ srflx raddr 0.0.0.0 rport 0"


def parse(message: Any) -> protocol.ClientMessage:
    return parse_client_message(json.dumps(message))


def error_code(raw: str | bytes) -> str:
    with pytest.raises(ProtocolError) as err:
        parse_client_message(raw)
    return err.value.code


# --- happy paths --------------------------------------------------------------------------


def test_answer() -> None:
    assert parse({"type": "answer", "sdp": "v=0\r\n"}) == Answer("v=0\r\n")


def test_explicit_current_version_is_accepted() -> None:
    assert parse({"type": "answer", "v": 1, "sdp": "x"}) == Answer("x")


def test_ice_candidate() -> None:
    message = parse({"type": "ice", "candidate": CANDIDATE, "sdpMLineIndex": 1})
    assert message == Candidate(CANDIDATE, 1)


def test_ice_candidate_null_is_end_of_candidates() -> None:
    message = parse({"type": "ice", "candidate": None, "sdpMLineIndex": None})
    assert message == Candidate("", 0)


def test_bye_with_and_without_reason() -> None:
    assert parse({"type": "bye", "reason": "tab closed"}) == Bye("tab closed")
    assert parse({"type": "bye"}) == Bye("")


@pytest.mark.parametrize("ping_id", [7, "abc", None])
def test_ping_ids(ping_id: int | str | None) -> None:
    assert parse({"type": "ping", "id": ping_id}) == Ping(ping_id)


def test_ping_without_id() -> None:
    assert parse({"type": "ping"}) == Ping(None)


def test_bytes_are_accepted() -> None:
    assert parse_client_message(b'{"type": "ping", "id": 3}') == Ping(3)


def test_unknown_extra_fields_are_ignored() -> None:
    assert parse({"type": "bye", "reason": "x", "extra": [1, 2]}) == Bye("x")


# --- size -----------------------------------------------------------------------------------


def padded_ping(total_bytes: int) -> str:
    """A valid ping exactly `total_bytes` long."""
    shell = '{"type": "ping", "id": ""}'
    text = shell[:-2] + "a" * (total_bytes - len(shell)) + '"}'
    assert len(text.encode()) == total_bytes
    return text


def test_message_of_exactly_the_limit_is_accepted() -> None:
    assert isinstance(parse_client_message(padded_ping(MAX_MESSAGE_BYTES)), Ping)


def test_message_one_byte_over_the_limit_is_too_large() -> None:
    assert error_code(padded_ping(MAX_MESSAGE_BYTES + 1)) == "too-large"
    assert error_code(padded_ping(MAX_MESSAGE_BYTES + 1).encode()) == "too-large"


def test_limit_counts_utf8_bytes_not_characters() -> None:
    raw = '{"type": "ping", "id": "' + "\u00e9" * (MAX_MESSAGE_BYTES // 2) + '"}'
    assert len(raw) < MAX_MESSAGE_BYTES  # fewer characters than the limit...
    assert error_code(raw) == "too-large"  # ...but more bytes


def test_oversized_garbage_is_too_large_not_bad_json() -> None:
    assert error_code("{" * (MAX_MESSAGE_BYTES + 1)) == "too-large"


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "{", "{'type': 'ping'}", "ping", b"\x80abc", b"\xff\xfe\xff"])
def test_bad_json(raw: str | bytes) -> None:
    assert error_code(raw) == "bad-json"


@pytest.mark.parametrize("raw", ["[]", "42", '"ping"', "null", '[{"type": "ping"}]'])
def test_non_objects_are_bad_messages(raw: str) -> None:
    assert error_code(raw) == "bad-message"


@pytest.mark.parametrize(
    "message",
    [
        {},
        {"kind": "ping"},
        {"type": None},
        {"type": 5},
        {"type": ["ping"]},
    ],
)
def test_missing_or_non_string_type_is_a_bad_message(message: Any) -> None:
    assert error_code(json.dumps(message)) == "bad-message"


@pytest.mark.parametrize(
    "message",
    [
        {"type": "answer"},
        {"type": "answer", "sdp": None},
        {"type": "answer", "sdp": 5},
        {"type": "ice", "candidate": CANDIDATE},
        {"type": "ice", "candidate": CANDIDATE, "sdpMLineIndex": "0"},
        {"type": "ice", "candidate": CANDIDATE, "sdpMLineIndex": 0.0},
        {"type": "ice", "candidate": CANDIDATE, "sdpMLineIndex": True},
        {"type": "ice", "candidate": CANDIDATE, "sdpMLineIndex": False},
        {"type": "ice", "candidate": 5, "sdpMLineIndex": 0},
        {"type": "ice", "candidate": {"candidate": CANDIDATE}, "sdpMLineIndex": 0},
        {"type": "bye", "reason": 3},
        {"type": "ping", "id": 1.5},
        {"type": "ping", "id": [1]},
        {"type": "ping", "id": {"n": 1}},
    ],
)
def test_wrong_field_types_are_bad_messages(message: Any) -> None:
    assert error_code(json.dumps(message)) == "bad-message"


def test_bad_message_error_names_the_field() -> None:
    with pytest.raises(ProtocolError, match="sdpMLineIndex"):
        parse({"type": "ice", "candidate": CANDIDATE, "sdpMLineIndex": True})


@pytest.mark.parametrize("kind", ["offer", "welcome", "PING", "Answer", ""])
def test_unknown_types(kind: str) -> None:
    assert error_code(json.dumps({"type": kind})) == "unknown-type"


def test_unknown_type_error_truncates_the_echoed_type() -> None:
    with pytest.raises(ProtocolError) as err:
        parse({"type": "x" * 1000})
    assert err.value.code == "unknown-type"
    assert len(str(err.value)) < 100


@pytest.mark.parametrize("version", [0, 2, "1", None, [1]])
def test_other_versions_are_unsupported(version: Any) -> None:
    assert error_code(json.dumps({"type": "ping", "v": version})) == "unsupported-version"


# --- server -> client -----------------------------------------------------------------------


def test_welcome() -> None:
    message = protocol.welcome("17", protocol.ice_servers(("stun:a.example:3478",)))
    assert message == {
        "type": "welcome",
        "v": PROTOCOL_VERSION,
        "viewer": "17",
        "iceServers": [{"urls": ["stun:a.example:3478"]}],
    }


def test_no_stun_means_no_ice_servers() -> None:
    assert protocol.ice_servers(()) == []


def test_simple_server_messages() -> None:
    assert protocol.offer("v=0") == {"type": "offer", "sdp": "v=0"}
    assert protocol.ice(1, CANDIDATE) == {
        "type": "ice",
        "sdpMLineIndex": 1,
        "candidate": CANDIDATE,
    }
    assert protocol.state("connected") == {"type": "state", "state": "connected"}
    assert protocol.error("bad-sdp", "no") == {"type": "error", "code": "bad-sdp", "message": "no"}
    assert protocol.bye("shutdown") == {"type": "bye", "reason": "shutdown"}
    assert protocol.pong(None) == {"type": "pong", "id": None}
    assert protocol.pong("a") == {"type": "pong", "id": "a"}


def test_server_messages_are_json_serialisable() -> None:
    for message in (
        protocol.welcome("1", protocol.ice_servers(("stun:x",))),
        protocol.ice(0, CANDIDATE),
        protocol.pong(3),
    ):
        assert json.loads(json.dumps(message)) == message


def test_ice_message_has_the_shape_the_client_parser_reads() -> None:
    # Both directions use the same field names, as RTCIceCandidateInit does.
    assert parse(protocol.ice(1, CANDIDATE)) == Candidate(CANDIDATE, 1)
