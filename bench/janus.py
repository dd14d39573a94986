"""What Janus costs per viewer when it serves Aether's stream (--rtp-forward).

    scripts/netns-run.sh .venv/bin/python -m bench.janus [--steps 1,3,5] [--window 10]

One `aether serve` (test pattern + test tone, one encode) forwards RTP to one private Janus
(Debian's package, tests/janus.py); headless Chromium viewers (one context each) watch the
mountpoint with janus.js and decode. At each step, after a warm-up: Janus's and Aether's
CPU (utime+stime over the window, % of one core) and RSS, and each viewer's decoded fps.
The browsers decode on the same 2 cores, so they, not Janus, limit the viewer count here.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.helpers import ServerProcess, in_private_netns
from tests.janus import JanusProcess, PageServer, free_udp_ports, rtp_mountpoint

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def decoded(page: Any) -> int:
    stats = page.evaluate("window.videoStats()")
    if stats.get("error"):
        raise RuntimeError(f"viewer error: {stats['error']}")
    return int((stats.get("video") or {}).get("framesDecoded", 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", default="1,3,5")
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--bitrate", type=int, default=4000)
    args = parser.parse_args()
    if not in_private_netns():
        raise SystemExit("run inside scripts/netns-run.sh (ICE needs a non-loopback address)")
    steps = [int(s) for s in args.steps.split(",")]

    from playwright.sync_api import sync_playwright

    video, audio = free_udp_ports(2)
    with ExitStack() as stack:
        server = ServerProcess(
            "--source", "test", "--audio", "test", "--width", str(args.width),
            "--height", str(args.height), "--fps", "30", "--bitrate", str(args.bitrate),
            "--rtp-forward", f"127.0.0.1:{video}:{audio}",
            env={"AETHER_LOG": "warning,aether.publish=info"},
        )  # fmt: skip
        stack.enter_context(server)
        match = None
        for _ in range(100):
            match = re.search(r'videofmtp = "([^"]+)"', server.output())
            if match:
                break
            time.sleep(0.1)
        assert match, server.output()
        mount = rtp_mountpoint(1, video, video + 1, audio, videofmtp=match.group(1))
        janus = stack.enter_context(JanusProcess({"streaming": {"general": {}, "m": mount}}))
        pages_server = PageServer()
        stack.callback(pages_server.close)
        assert janus.proc is not None and server.proc is not None
        playwright = stack.enter_context(sync_playwright())
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        stack.callback(browser.close)

        def window() -> tuple[float, float]:
            pids = (janus.proc.pid, server.proc.pid)  # type: ignore[union-attr]
            before = [cpu_seconds(p) for p in pids]
            time.sleep(args.window)
            after = [cpu_seconds(p) for p in pids]
            return tuple(  # type: ignore[return-value]
                round(100 * (a - b) / args.window, 1) for a, b in zip(after, before, strict=True)
            )

        rows = []
        idle_janus, idle_aether = window()
        rows.append((0, idle_janus, rss_mb(janus.proc.pid), idle_aether, "-", os.getloadavg()[0]))
        pages: list[Any] = []
        for step in steps:
            while len(pages) < step:
                page = browser.new_context().new_page()
                page.goto(pages_server.url(janus, 1))
                pages.append(page)
            deadline = time.monotonic() + 60
            while min(decoded(p) for p in pages) < 10:
                if time.monotonic() > deadline:
                    raise RuntimeError("viewers did not start decoding in 60 s")
                time.sleep(0.5)
            time.sleep(args.warmup)
            load = os.getloadavg()[0]
            frames_before = [decoded(p) for p in pages]
            janus_cpu, aether_cpu = window()
            fps = [
                (decoded(p) - f) / args.window for p, f in zip(pages, frames_before, strict=True)
            ]
            rows.append(
                (step, janus_cpu, rss_mb(janus.proc.pid), aether_cpu, f"{min(fps):.1f}", load)
            )
            print(f"step {step}: {rows[-1]}", flush=True)
    print(
        f"\n{args.width}x{args.height}@30, {args.bitrate} kbit/s, window {args.window:.0f} s, "
        f"measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n"
    )
    print("| Janus viewers | Janus CPU % | Janus RSS MB | Aether CPU % | "
          "min decoded fps per viewer | load avg (1 min) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for viewers, janus_cpu, rss, aether_cpu, fps_min, load in rows:
        print(f"| {viewers} | {janus_cpu} | {rss:.0f} | {aether_cpu} | {fps_min} | {load:.2f} |")


if __name__ == "__main__":
    main()
