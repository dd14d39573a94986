"""The optional `stats` message: what a viewer's browser measures, strictly validated."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aether.errors import ProtocolError
from aether.peers.ice import IceSettings
from aether.peers.registry import Viewers
from aether.signaling.protocol import CLIENT_STATS_FIELDS, ClientStats, parse_client_message

FULL = {
    "type": "stats",
    "framesPerSecond": 29.97,
    "framesDecoded": 1234,
    "framesDropped": 2,
    "freezeCount": 0,
    "jitterBufferMs": 12.5,
    "latencyMs": 31.25,
    "rttMs": 0.5,
    "bytesReceived": 9_876_543,
    "packetsReceived": 8000,
    "packetsLost": -1,
}


def parse(message: Any) -> Any:
    return parse_client_message(json.dumps(message))


def code_and_text(message: Any) -> tuple[str, str]:
    with pytest.raises(ProtocolError) as err:
        parse(message)
    return err.value.code, str(err.value)


def test_every_figure() -> None:
    assert parse(FULL) == ClientStats(
        fps=29.97, frames_decoded=1234, frames_dropped=2, freeze_count=0,
        jitter_buffer_ms=12.5, latency_ms=31.25, rtt_ms=0.5, bytes_received=9_876_543,
        packets_received=8000, packets_lost=-1,
    )  # fmt: skip


def test_figures_are_optional_and_null_means_not_measured() -> None:
    assert parse({"type": "stats"}) == ClientStats()
    assert parse({"type": "stats", "latencyMs": None, "framesDecoded": 5}) == ClientStats(
        frames_decoded=5
    )


def test_integers_are_accepted_for_decimal_figures_and_stored_as_floats() -> None:
    message = parse({"type": "stats", "latencyMs": 40, "framesPerSecond": 60})
    assert message == ClientStats(latency_ms=40.0, fps=60.0)
    assert isinstance(message.latency_ms, float)


def test_unknown_fields_are_ignored_like_in_every_message() -> None:
    assert parse({"type": "stats", "gpu": "fast", "framesDropped": 1}) == ClientStats(
        frames_dropped=1
    )


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("framesDecoded", 1.5, "must be an integer"),
        ("framesDecoded", True, "must be a number"),
        ("latencyMs", "30", "must be a number"),
        ("latencyMs", [30], "must be a number"),
        ("latencyMs", -0.1, "must be from 0 to 600000"),
        ("latencyMs", 600_001, "must be from 0 to 600000"),
        ("framesPerSecond", 1001, "must be from 0 to 1000"),
        ("bytesReceived", -1, "must be from 0 to"),
        ("bytesReceived", 2**53 + 1, "must be from 0 to"),
        ("packetsLost", -(2**31) - 1, "must be from"),
        ("rttMs", 1e400, "must be from"),  # JSON's 1e400 is infinity
    ],
)
def test_bad_figures_name_the_field(field: str, value: Any, expected: str) -> None:
    code, text = code_and_text({"type": "stats", field: value})
    assert code == "bad-message"
    assert repr(field) in text and expected in text


def test_nan_is_refused() -> None:
    with pytest.raises(ProtocolError) as err:
        parse_client_message('{"type": "stats", "latencyMs": NaN}')
    assert err.value.code == "bad-message"


def test_version_is_checked_as_for_every_message() -> None:
    assert code_and_text({"type": "stats", "v": 2})[0] == "unsupported-version"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                max_size=3),
    max_leaves=6,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*CLIENT_STATS_FIELDS, "other"]), json_values))
def test_any_stats_message_is_either_clean_figures_or_bad_message(fields: dict[str, Any]) -> None:
    raw = json.dumps({"type": "stats", **fields})
    try:
        message = parse_client_message(raw)
    except ProtocolError as err:
        assert err.code == "bad-message"
        return
    assert isinstance(message, ClientStats)
    for name, (field, kind, low, high) in CLIENT_STATS_FIELDS.items():
        value = getattr(message, field)
        if value is None:
            assert fields.get(name) is None
        else:
            assert type(value) is kind and low <= value <= high


# --- what the server makes of it: the viewer's latency -----------------------------------


def latency_of(client: ClientStats | None, encode_ms: float = 4.0) -> tuple[Any, Any, Any]:
    loop = asyncio.new_event_loop()
    try:
        media = SimpleNamespace(meter=SimpleNamespace(encode_ms=encode_ms))
        viewers = Viewers(media, loop, 10, IceSettings())  # type: ignore[arg-type]
        peer: Any = SimpleNamespace(client=client)
        return (viewers.latency_ms(peer), viewers.measured_latency_ms(peer),
                viewers.estimated_latency_ms(peer))  # fmt: skip
    finally:
        loop.close()


def test_the_measured_latency_is_the_viewers_latency_when_there_is_one() -> None:
    client = ClientStats(latency_ms=20.0, glass_to_glass_ms=33.5)
    assert latency_of(client) == (33.5, 33.5, 24.0)


def test_without_a_measured_figure_the_estimate_stands_in() -> None:
    assert latency_of(ClientStats(latency_ms=20.0)) == (24.0, None, 24.0)
    # clocks out of step: a negative "measurement" is no measurement
    assert latency_of(ClientStats(latency_ms=20.0, glass_to_glass_ms=-120.0)) == (24.0, None, 24.0)
    assert latency_of(None) == (None, None, None)
