"""Viewers that come and go leave nothing behind: threads, file descriptors, bins."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.e2e.conftest import decoded, wait_for
from tests.helpers import ServerProcess, run_async

pytestmark = pytest.mark.e2e

SOURCE = ("--source", "test", "--audio", "test", "--width", "320", "--height", "240",
          "--fps", "15", "--bitrate", "300")  # fmt: skip


def resources(pid: int) -> tuple[int, int]:
    """(open file descriptors, threads) of a process."""
    return len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task"))


def fd_kinds(pid: int) -> dict[str, int]:
    """How many open descriptors of each kind (socket, pipe, anon_inode, file)."""
    kinds: dict[str, int] = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            kind = os.readlink(f"/proc/{pid}/fd/{fd}").split(":")[0]
        except FileNotFoundError:
            continue
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def viewers_now(server: ServerProcess) -> int:
    with urllib.request.urlopen(server.url + "/stats", timeout=5) as r:
        return int(json.load(r)["viewers_now"])


def idle(server: ServerProcess) -> bool:
    """No viewer, and the spare peer made (its sockets count in every reading alike)."""
    with urllib.request.urlopen(server.url + "/stats", timeout=5) as r:
        snap = json.load(r)
    return int(snap["viewers_now"]) == 0 and bool(snap["spare_peer_ready"])


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    with ServerProcess(*SOURCE) as srv:
        yield srv


def settle(server: ServerProcess, pid: int, baseline: tuple[int, int]) -> tuple[int, int]:
    """Wait (bounded) for teardown to finish; return the last reading."""
    now = resources(pid)
    for _ in range(50):
        now = resources(pid)
        if idle(server) and now[0] <= baseline[0] and now[1] <= baseline[1] + 2:
            break
        time.sleep(0.1)
    return now


def test_negotiating_viewers_that_vanish_free_everything(server: ServerProcess) -> None:
    assert server.proc is not None
    pid = server.proc.pid

    async def churn(count: int) -> None:
        async with aiohttp.ClientSession() as http:
            for _ in range(count):
                async with http.ws_connect(server.ws_url) as ws:
                    while json.loads((await ws.receive()).data)["type"] != "offer":
                        pass

    run_async(churn(3))  # warm-up: thread pools and plugin state reach steady size
    for _ in range(50):  # the baseline is taken with the spare peer made, as the end is
        if idle(server):
            break
        time.sleep(0.1)
    baseline = settle(server, pid, resources(pid))
    run_async(churn(25))
    after = settle(server, pid, baseline)
    assert viewers_now(server) == 0
    kinds = fd_kinds(pid)
    assert after[0] <= baseline[0], f"file descriptors leaked: {baseline} -> {after}: {kinds}"
    assert after[1] <= baseline[1] + 2, f"threads leaked: {baseline} -> {after}"


def test_connected_browser_viewers_that_leave_free_everything(
    browser: Any, server: ServerProcess
) -> None:
    assert server.proc is not None
    pid = server.proc.pid

    def watch_and_leave() -> None:
        page = browser.new_context().new_page()
        page.goto(server.url + "/")
        wait_for(page, lambda s: decoded(s) > 5, what="frames")
        page.context.close()

    watch_and_leave()
    baseline = settle(server, pid, resources(pid))
    for _ in range(6):
        watch_and_leave()
    after = settle(server, pid, baseline)
    assert viewers_now(server) == 0
    kinds = fd_kinds(pid)
    assert after[0] <= baseline[0], f"file descriptors leaked: {baseline} -> {after}: {kinds}"
    assert after[1] <= baseline[1] + 2, f"threads leaked: {baseline} -> {after}"
    assert "Traceback" not in server.output()
