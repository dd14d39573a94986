"""The signaling protocol, version 1: pure parsing and message construction.

Client -> server: answer, ice, bye, ping.   Server -> client: welcome, offer, ice,
state, error, bye, pong. Every message is a JSON object with a string `type`.
See docs/signaling.md for the flow and examples.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aether.errors import ProtocolError

PROTOCOL_VERSION = 1
MAX_MESSAGE_BYTES = 64 * 1024

Message = dict[str, Any]


@dataclass(frozen=True)
class Answer:
    sdp: str


@dataclass(frozen=True)
class Candidate:
    candidate: str  # "" means end of candidates
    sdp_mline_index: int


@dataclass(frozen=True)
class Bye:
    reason: str


@dataclass(frozen=True)
class Ping:
    id: int | str | None


ClientMessage = Answer | Candidate | Bye | Ping


def _field(data: Message, name: str, kind: type, *, required: bool = True) -> Any:
    if name not in data:
        if required:
            raise ProtocolError("bad-message", f"{data['type']!r} needs a {name!r} field")
        return None
    value = data[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ProtocolError(
            "bad-message", f"field {name!r} of {data['type']!r} must be {kind.__name__}"
        )
    return value


def parse_client_message(raw: str | bytes) -> ClientMessage:
    """Parse one WebSocket text message from a viewer, or raise ProtocolError."""
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError("too-large", f"message of {size} bytes; limit {MAX_MESSAGE_BYTES}")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, huge ints, deep nesting
        raise ProtocolError("bad-json", f"not valid JSON: {str(exc)[:100]}") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad-message", "a message must be a JSON object")
    kind = data.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad-message", "a message needs a string 'type'")
    version = data.get("v", PROTOCOL_VERSION)
    if type(version) is not int or version != PROTOCOL_VERSION:
        raise ProtocolError(
            "unsupported-version", f"protocol version {version!r}; server speaks {PROTOCOL_VERSION}"
        )
    if kind == "answer":
        return Answer(sdp=_field(data, "sdp", str))
    if kind == "ice":
        candidate = data.get("candidate")
        if candidate is None:  # browsers signal end-of-candidates with null
            return Candidate("", 0)
        candidate = _field(data, "candidate", str)
        index = _field(data, "sdpMLineIndex", int)
        return Candidate(candidate, index)
    if kind == "bye":
        reason = _field(data, "reason", str, required=False)
        return Bye(reason or "")
    if kind == "ping":
        ping_id = data.get("id")
        if ping_id is not None and (
            isinstance(ping_id, bool) or not isinstance(ping_id, int | str)
        ):
            raise ProtocolError("bad-message", "field 'id' of 'ping' must be int or str")
        return Ping(ping_id)
    raise ProtocolError("unknown-type", f"unknown message type {kind[:40]!r}")


# --- server -> client -------------------------------------------------------------------


def welcome(viewer_id: str, ice_servers: list[dict[str, Any]]) -> Message:
    return {
        "type": "welcome",
        "v": PROTOCOL_VERSION,
        "viewer": viewer_id,
        "iceServers": ice_servers,
    }


def offer(sdp: str) -> Message:
    return {"type": "offer", "sdp": sdp}


def ice(mline: int, candidate: str) -> Message:
    return {"type": "ice", "sdpMLineIndex": mline, "candidate": candidate}


def state(value: str) -> Message:
    return {"type": "state", "state": value}


def error(code: str, message: str) -> Message:
    return {"type": "error", "code": code, "message": message}


def bye(reason: str) -> Message:
    return {"type": "bye", "reason": reason}


def pong(ping_id: int | str | None) -> Message:
    return {"type": "pong", "id": ping_id}


def ice_servers(stun: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"urls": list(stun)}] if stun else []
