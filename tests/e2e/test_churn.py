"""Soak: 300 viewers come and go while one watches; nothing leaks, the watcher never stalls.

The passing viewers are real WebRTC sessions (aiortc: ICE, DTLS, SRTP), a third each
leaving cleanly, vanishing (TCP cut, media stops), or never answering the offer (the
server's negotiation timeout ends them). A Chromium tab watches the whole time.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.aiortc_viewer import SUBPROTOCOL, AiortcViewer
from tests.e2e.conftest import decoded, stats, wait_for
from tests.helpers import ServerProcess, run_async

pytestmark = pytest.mark.e2e

SOURCE = ("--source", "test", "--audio", "test", "--width", "320", "--height", "240",
          "--fps", "15", "--bitrate", "300", "--negotiation-timeout", "2")  # fmt: skip
WARM_UP_CYCLES = 300  # RSS grows over the first few hundred (malloc arenas fill), then flattens
CYCLES = 300
WORKERS = 4  # connected viewers joining and leaving at once
FREEZE_MS = 700  # a gap between two presented frames this long is a freeze (10 frames)

# Records the longest gap between frames the steady viewer's <video> presents.
GAP_JS = """
() => {
  const video = document.querySelector('video');
  window.aetherGaps = {max: 0, last: 0, frames: 0};
  const tick = (now) => {
    const g = window.aetherGaps;
    if (g.last) g.max = Math.max(g.max, now - g.last);
    g.last = now;
    g.frames += 1;
    video.requestVideoFrameCallback(tick);
  };
  video.requestVideoFrameCallback(tick);
}
"""


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    with ServerProcess(*SOURCE) as srv:
        yield srv


def reading(server: ServerProcess) -> dict[str, int]:
    """What a leak would grow: memory, descriptors, threads, pipeline elements.

    Threads are shown, not judged: GStreamer's and asyncio's thread pools keep idle
    threads for a while. Closed WebSockets stay in memory until their heartbeat timer
    fires (up to 20 s), so RSS is compared between two points that both have them.
    """
    assert server.proc is not None
    pid = server.proc.pid
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmRSS:")
    s = server.stats()
    return {
        "rss_kb": rss_kb,
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "threads": len(os.listdir(f"/proc/{pid}/task")),
        "elements": int(s["pipeline_elements"]),
        "viewers": int(s["viewers_now"]),
    }


def settled(server: ServerProcess, baseline: dict[str, int] | None) -> dict[str, int]:
    """Wait (bounded) until only the watcher is left and teardown has finished: a viewer
    leaves the registry before its bin is gone, and the next spare peer is made 0.3 s
    after the last join, so the element count must also hold still."""
    previous, now = None, reading(server)
    for _ in range(100):
        done = now["viewers"] == 1 and previous is not None
        done = done and previous["elements"] == now["elements"]
        if baseline is not None:
            done = done and now["elements"] <= baseline["elements"]
            done = done and now["fds"] <= baseline["fds"]
        if done:
            break
        time.sleep(0.3)
        previous, now = now, reading(server)
    return now


async def unanswered(http: aiohttp.ClientSession, url: str) -> str:
    """Take the offer, never answer; the server ends the session. Returns its error code."""
    async with http.ws_connect(url, protocols=(SUBPROTOCOL,)) as ws:
        code = ""
        async for msg in ws:
            data = json.loads(msg.data)
            if data["type"] == "error":
                code = data["code"]
        return code


async def churn(url: str, cycles: int) -> Counter[str]:
    outcomes: Counter[str] = Counter()
    numbers = iter(range(cycles))
    waiting: list[asyncio.Task[str]] = []

    async with aiohttp.ClientSession() as http:

        async def worker() -> None:
            for n in numbers:
                if n % 3 == 2:
                    waiting.append(asyncio.create_task(unanswered(http, url)))
                    continue
                viewer = AiortcViewer(http, url)
                try:
                    await viewer.connect()
                finally:
                    if n % 3 == 0:
                        await viewer.close()
                    else:
                        await viewer.drop()
                outcomes["clean" if n % 3 == 0 else "dropped"] += 1

        await asyncio.gather(*(worker() for _ in range(WORKERS)))
        for code in await asyncio.gather(*waiting):
            outcomes[f"unanswered:{code}"] += 1
    return outcomes


def test_300_viewers_come_and_go_leaving_nothing_behind_while_one_watches(
    browser: Any, server: ServerProcess
) -> None:
    page = browser.new_context().new_page()
    page.goto(server.url + "/")
    try:
        wait_for(page, lambda s: decoded(s) > 5, what="frames")
        page.evaluate(GAP_JS)

        run_async(churn(server.ws_url, WARM_UP_CYCLES), timeout=120)
        baseline = settled(server, None)
        page.evaluate("() => { window.aetherGaps.max = 0; }")
        before = stats(page)
        started = time.monotonic()

        outcomes = run_async(churn(server.ws_url, CYCLES), timeout=600)
        elapsed = time.monotonic() - started
        after = settled(server, baseline)
        gaps = page.evaluate("() => window.aetherGaps")
        watcher = stats(page)
    finally:
        page.context.close()

    assert outcomes == {"clean": 100, "dropped": 100, "unanswered:timeout": 100}, outcomes
    assert after["viewers"] == 1, after  # the watcher
    assert after["elements"] == baseline["elements"], (baseline, after)
    assert after["fds"] <= baseline["fds"], (baseline, after)
    assert after["rss_kb"] <= baseline["rss_kb"] * 1.10, (baseline, after)
    # The watcher: still connected, decoding at the source's rate, never frozen.
    assert watcher["state"] == "connected", watcher
    assert decoded(watcher) - decoded(before) >= 15 * elapsed * 0.8, (before, watcher, elapsed)
    assert gaps["max"] < FREEZE_MS, gaps
    assert "Traceback" not in server.output()
