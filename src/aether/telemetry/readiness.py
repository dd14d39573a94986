"""Readiness: the pipeline is PLAYING and a video frame was encoded in the last 2 s.

`check` is pure; `watch` is the background task that logs when the source freezes and
when it comes back (the pipeline's own watchdog ends the server after longer).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

FRAME_MAX_AGE = 2.0  # seconds without an encoded frame before the stream is not ready
WATCH_INTERVAL = 0.5


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str
    pipeline: str  # GStreamer state nick: "playing", "paused", "null", ...
    last_frame_age_s: float | None

    def as_dict(self) -> dict[str, object]:
        age = self.last_frame_age_s
        return {
            "ready": self.ready,
            "reason": self.reason,
            "pipeline": self.pipeline,
            "last_frame_age_s": None if age is None else round(age, 3),
        }


def check(pipeline_state: str, last_frame_age: float | None) -> Readiness:
    if pipeline_state != "playing":
        return Readiness(False, f"pipeline is {pipeline_state}, not playing", pipeline_state,
                         last_frame_age)  # fmt: skip
    if last_frame_age is None:
        return Readiness(False, "no video frame encoded yet", pipeline_state, None)
    if last_frame_age > FRAME_MAX_AGE:
        return Readiness(
            False,
            f"source frozen: no video frame for {last_frame_age:.1f} s",
            pipeline_state,
            last_frame_age,
        )
    return Readiness(True, "streaming", pipeline_state, last_frame_age)


async def watch(probe: Callable[[], Readiness], interval: float = WATCH_INTERVAL) -> None:
    """Log each change between ready and not ready, with the reason."""
    was_ready = True
    while True:
        await asyncio.sleep(interval)
        state = probe()
        if state.ready != was_ready:
            if state.ready:
                log.info("ready again: video frames are flowing")
            else:
                log.warning("not ready: %s", state.reason)
            was_ready = state.ready
