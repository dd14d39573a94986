"""Server CPU and time to first frame with 1 and 3 browser viewers (x11 source).

Run (one command, inside a private network namespace so ICE works on loopback only):

    scripts/netns-run.sh .venv/bin/python -m bench.viewers

An Xvfb display shows moving colour bars (a gst-launch ximagesink window) so the encoder
has real work; `aether serve` captures it at 1280x720@30, 4 Mbit/s; N headless Chromium
contexts open the player page. Server CPU is read from /proc/<pid>/stat over a 10 s window
once every viewer decodes; time to first frame is the player's own figure (page script
start to first presented frame, window.aether.firstFrameMs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, decoded, stats, wait_for
from tests.helpers import ServerProcess, in_private_netns, xvfb

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(browser: Any, display: str, viewers: int, window: float) -> dict[str, Any]:
    env = {"DISPLAY": display, "AETHER_DISPLAY": display, "AETHER_LOG": "warning"}
    args = (
        "--source",
        "x11",
        "--audio",
        "test",
        "--width",
        "1280",
        "--height",
        "720",
        "--fps",
        "30",
        "--bitrate",
        "4000",
    )
    with ServerProcess(*args, env=env) as server:
        assert server.proc is not None
        pid = server.proc.pid
        idle_start = cpu_seconds(pid)
        time.sleep(3)
        idle = (cpu_seconds(pid) - idle_start) / 3 * 100
        pages = []
        for _ in range(viewers):
            page = browser.new_context().new_page()
            page.goto(server.url + "/")
            pages.append(page)
        for page in pages:
            wait_for(page, lambda s: decoded(s) > 30, what="frames")
        ttff = [page.evaluate("window.aether.firstFrameMs") for page in pages]
        before = [decoded(stats(p)) for p in pages]
        start_cpu, start = cpu_seconds(pid), time.monotonic()
        time.sleep(window)
        cpu = (cpu_seconds(pid) - start_cpu) / (time.monotonic() - start) * 100
        fps = [(decoded(stats(p)) - b) / window for p, b in zip(pages, before, strict=True)]
        rss = rss_mb(pid)
        for page in pages:
            page.context.close()
    return {
        "viewers": viewers,
        "cpu": cpu,
        "idle_cpu": idle,
        "rss_mb": rss,
        "ttff_ms": ttff,
        "fps": fps,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--window", type=float, default=10.0)
    opts = parser.parse_args()
    if not in_private_netns():
        raise SystemExit("run inside scripts/netns-run.sh (ICE needs a non-loopback address)")
    print(f"load average at start: {os.getloadavg()}")
    results: dict[int, list[dict[str, Any]]] = {1: [], 3: []}
    with xvfb(1280, 720) as display, sync_playwright() as p:
        painter = subprocess.Popen(
            [
                "gst-launch-1.0",
                "-q",
                "videotestsrc",
                "pattern=smpte",
                "horizontal-speed=5",
                "!",
                "video/x-raw,width=1280,height=720,framerate=30/1",
                "!",
                "ximagesink",
                f"display={display}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for _ in range(opts.runs):
                for n, runs in results.items():
                    runs.append(measure(browser, display, n, opts.window))
        finally:
            browser.close()
            painter.terminate()
            painter.wait(10)
    print(
        "\n| viewers | server CPU (% of a core) | idle CPU (no viewer) | RSS MB "
        "| first frame ms (median, max) | decoded fps per viewer (min) |"
    )
    print("|---|---|---|---|---|---|")
    for n, runs in results.items():
        ttff = [t for r in runs for t in r["ttff_ms"] if t is not None]
        print(
            f"| {n} | {statistics.mean(r['cpu'] for r in runs):.0f} "
            f"| {statistics.mean(r['idle_cpu'] for r in runs):.0f} "
            f"| {statistics.mean(r['rss_mb'] for r in runs):.0f} "
            f"| {statistics.median(ttff):.0f}, {max(ttff):.0f} "
            f"| {min(f for r in runs for f in r['fps']):.1f} |"
        )


if __name__ == "__main__":
    main()
