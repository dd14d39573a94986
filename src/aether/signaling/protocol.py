"""The signaling protocol, version 1: pure parsing and message construction.

Client -> server: answer, ice, bye, ping, stats.   Server -> client: welcome, offer, ice,
state, error, bye, pong. Every message is a JSON object with a string `type`.
See docs/signaling.md for the flow and examples.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from aether.errors import ProtocolError

if TYPE_CHECKING:
    from aether.peers.ice import TurnServer

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


MAX_COUNT = 2**53  # counters: JSON-safe integers
MAX_MS = 600_000.0  # delays: ten minutes is already nonsense


@dataclass(frozen=True)
class ClientStats:
    """What the viewer's browser measures (getStats), sent about once a second.

    Every figure is optional; None means the browser did not report it.
    """

    fps: float | None = None  # frames decoded per second
    frames_decoded: int | None = None
    frames_dropped: int | None = None
    freeze_count: int | None = None
    jitter_buffer_ms: float | None = None  # average jitter-buffer delay per frame
    latency_ms: float | None = None  # network (RTT/2) + jitter buffer + decode, estimated
    # Measured: capture time (abs-capture-time, stamped by the server) to the frame's
    # display time, on the viewer's clock; needs the two clocks in step (NTP).
    glass_to_glass_ms: float | None = None
    rtt_ms: float | None = None
    bytes_received: int | None = None  # video RTP payload bytes
    packets_received: int | None = None
    packets_lost: int | None = None


# JSON name -> (field, kind, lowest, highest)
CLIENT_STATS_FIELDS: dict[str, tuple[str, type, float, float]] = {
    "framesPerSecond": ("fps", float, 0, 1000),
    "framesDecoded": ("frames_decoded", int, 0, MAX_COUNT),
    "framesDropped": ("frames_dropped", int, 0, MAX_COUNT),
    "freezeCount": ("freeze_count", int, 0, MAX_COUNT),
    "jitterBufferMs": ("jitter_buffer_ms", float, 0, MAX_MS),
    "latencyMs": ("latency_ms", float, 0, MAX_MS),
    "glassToGlassMs": ("glass_to_glass_ms", float, -MAX_MS, MAX_MS),  # clock skew: may be < 0
    "rttMs": ("rtt_ms", float, 0, MAX_MS),
    "bytesReceived": ("bytes_received", int, 0, MAX_COUNT),
    "packetsReceived": ("packets_received", int, 0, MAX_COUNT),
    "packetsLost": ("packets_lost", int, -(2**31), MAX_COUNT),  # duplicates make it < 0
}
assert {f for f, *_ in CLIENT_STATS_FIELDS.values()} == {f.name for f in fields(ClientStats)}

ClientMessage = Answer | Candidate | Bye | Ping | ClientStats


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
    if kind == "stats":
        return _client_stats(data)
    raise ProtocolError("unknown-type", f"unknown message type {kind[:40]!r}")


def _client_stats(data: Message) -> ClientStats:
    values: dict[str, int | float] = {}
    for name, (field, kind, low, high) in CLIENT_STATS_FIELDS.items():
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ProtocolError("bad-message", f"field {name!r} of 'stats' must be a number")
        if kind is int and not isinstance(value, int):
            raise ProtocolError("bad-message", f"field {name!r} of 'stats' must be an integer")
        if not (math.isfinite(value) and low <= value <= high):
            raise ProtocolError(
                "bad-message", f"field {name!r} of 'stats' must be from {low:g} to {high:g}"
            )
        values[field] = float(value) if kind is float else value
    return ClientStats(**values)  # type: ignore[arg-type]


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


def source(value: str, detail: str) -> Message:
    """The video source is `lost` (viewers keep their connection; the server retries) or
    `live` again. `detail`: why it was lost, or what it is now."""
    return {"type": "source", "state": value, "detail": detail}


def error(code: str, message: str) -> Message:
    return {"type": "error", "code": code, "message": message}


def bye(reason: str) -> Message:
    return {"type": "bye", "reason": reason}


def pong(ping_id: int | str | None) -> Message:
    return {"type": "pong", "id": ping_id}


def ice_servers(stun: tuple[str, ...], turn: tuple[TurnServer, ...] = ()) -> list[dict[str, Any]]:
    """The browser's RTCIceServer list: the STUN URLs, then each TURN server with its
    credentials (the browser needs them to allocate a relay)."""
    servers: list[dict[str, Any]] = [{"urls": list(stun)}] if stun else []
    return servers + [server.browser() for server in turn]
