"""The frame watchdog declares a stalled source fatal, and only a stalled one."""

from __future__ import annotations

import asyncio

import pytest

from aether.fanout import pipeline as pipeline_module
from aether.fanout.pipeline import MediaPipeline
from tests.helpers import run_async


class FakeSource:
    def describe(self) -> str:
        return "fake source"


def make(monkeypatch: pytest.MonkeyPatch) -> tuple[MediaPipeline, list[str]]:
    monkeypatch.setattr(pipeline_module, "STALL_LIMIT", 0.05)
    real_sleep = asyncio.sleep
    monkeypatch.setattr(pipeline_module.asyncio, "sleep", lambda _s: real_sleep(0.01))
    media = MediaPipeline(FakeSource(), None, None, None, fps=60)  # type: ignore[arg-type]
    fatal: list[str] = []
    media.on_fatal = fatal.append
    return media, fatal


def test_a_source_that_stops_is_fatal(monkeypatch: pytest.MonkeyPatch) -> None:
    media, fatal = make(monkeypatch)

    async def scenario() -> None:
        await asyncio.wait_for(media._watch_frames(), timeout=2)

    run_async(scenario())
    assert fatal == ["video source stalled: no frame for 0 s (display closed or device gone?)"]


def test_a_source_that_keeps_producing_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    media, fatal = make(monkeypatch)

    async def scenario() -> None:
        watchdog = asyncio.create_task(media._watch_frames())
        for _ in range(30):
            media.frames += 1
            await asyncio.sleep(0.01)
        assert not watchdog.done()
        watchdog.cancel()

    run_async(scenario())
    assert fatal == []
