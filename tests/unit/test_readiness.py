"""Readiness: PLAYING and a frame in the last 2 s; state changes are logged once."""

from __future__ import annotations

import asyncio
import logging

import pytest

from aether.telemetry import readiness
from aether.telemetry.readiness import Readiness, check
from tests.helpers import run_async


def test_ready_while_playing_with_fresh_frames() -> None:
    state = check("playing", 0.05)
    assert state.ready and state.reason == "streaming"
    assert state.as_dict() == {
        "ready": True, "reason": "streaming", "pipeline": "playing", "last_frame_age_s": 0.05
    }  # fmt: skip


@pytest.mark.parametrize(
    ("pipeline", "age", "reason"),
    [
        ("playing", 2.5, "source frozen: no video frame for 2.5 s"),
        ("playing", None, "no video frame encoded yet"),
        ("paused", 0.1, "pipeline is paused, not playing"),
        ("null", None, "pipeline is null, not playing"),
    ],
)
def test_not_ready_says_why(pipeline: str, age: float | None, reason: str) -> None:
    state = check(pipeline, age)
    assert not state.ready
    assert state.reason == reason


def test_the_limit_is_two_seconds() -> None:
    assert check("playing", 2.0).ready
    assert not check("playing", 2.01).ready


def test_watch_logs_each_change_once(caplog: pytest.LogCaptureFixture) -> None:
    states = iter([check("playing", 0.1)] * 2 + [check("playing", 3.0)] * 3
                  + [check("playing", 0.1)] * 2)  # fmt: skip
    seen: list[Readiness] = []

    def probe() -> Readiness:
        state = next(states, None)
        if state is None:
            raise asyncio.CancelledError
        seen.append(state)
        return state

    async def scenario() -> None:
        with pytest.raises(asyncio.CancelledError):
            await readiness.watch(probe, interval=0)

    with caplog.at_level(logging.INFO, logger="aether.telemetry.readiness"):
        run_async(scenario())
    assert len(seen) == 7
    assert [r.getMessage() for r in caplog.records] == [
        "not ready: source frozen: no video frame for 3.0 s",
        "ready again: video frames are flowing",
    ]
