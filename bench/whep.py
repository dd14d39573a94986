"""Time to first frame for a WHEP viewer (npm's whip-whep in Chromium) against our page.

Run (one command, inside a private network namespace so ICE works on loopback only):

    scripts/netns-run.sh .venv/bin/python -m bench.whep

Same set-up as bench/viewers.py: Xvfb with moving colour bars, `aether serve` capturing
it at 1280x720@30, 4 Mbit/s. One viewer at a time, alternating our page and the WHEP page
(tests/whep/viewer.html, served from another origin); each reports, from its script's
start: the first presented frame (requestVideoFrameCallback), and for WHEP the time from
POST to the applied answer. Our page takes a peer prepared in advance (its offer is made
before the viewer comes); a WHEP viewer's offer can only be answered once it arrives.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, decoded, wait_for
from tests.helpers import ServerProcess, free_port, in_private_netns, xvfb

CLIENT_DIR = Path(__file__).resolve().parents[1] / "tests" / "whep"


def first_frame(browser: Any, url: str) -> dict[str, float | None]:
    page = browser.new_context().new_page()
    try:
        page.goto(url)
        wait_for(page, lambda s: decoded(s) > 5, what="frames")
        deadline = time.monotonic() + 5
        while page.evaluate("window.aether.firstFrameMs") is None:
            if time.monotonic() > deadline:
                raise AssertionError("no firstFrameMs")
            page.wait_for_timeout(50)
        return {
            "first": page.evaluate("window.aether.firstFrameMs"),
            "answer": page.evaluate(
                "window.aether.answerMs === undefined ? null : window.aether.answerMs"
            ),
        }
    finally:
        page.context.close()
        time.sleep(1.0)  # let the server free the peer (and prepare its next spare)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    opts = parser.parse_args()
    if not in_private_netns():
        raise SystemExit("run inside scripts/netns-run.sh (ICE needs a non-loopback address)")
    print(f"load average at start: {os.getloadavg()}")
    port = free_port()
    pages = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        cwd=CLIENT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    results: dict[str, list[dict[str, float | None]]] = {"our page": [], "WHEP": []}
    with xvfb(1280, 720) as display, sync_playwright() as p:
        painter = subprocess.Popen(
            ["gst-launch-1.0", "-q", "videotestsrc", "pattern=smpte", "horizontal-speed=5",
             "!", "video/x-raw,width=1280,height=720,framerate=30/1", "!", "ximagesink",
             f"display={display}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        env = {"DISPLAY": display, "AETHER_DISPLAY": display, "AETHER_LOG": "warning"}
        args = ("--source", "x11", "--audio", "test", "--width", "1280", "--height", "720",
                "--fps", "30", "--bitrate", "4000",
                "--allowed-origins", f"http://127.0.0.1:{port}")  # fmt: skip
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            with ServerProcess(*args, env=env) as server:
                whep = f"http://127.0.0.1:{port}/viewer.html?endpoint={server.url}/whep"
                first_frame(browser, whep)  # warm-up: the payload group for Chromium
                for _ in range(opts.runs):
                    results["our page"].append(first_frame(browser, server.url + "/"))
                    results["WHEP"].append(first_frame(browser, whep))
        finally:
            browser.close()
            painter.terminate()
            painter.wait(10)
            pages.terminate()
            pages.wait(10)
    print(f"\n{opts.runs} runs each, 1280x720@30, one viewer at a time")
    print("| viewer | first frame ms (median, max) | POST to answer ms (median, max) |")
    print("|---|---|---|")
    for name, runs in results.items():
        first = [r["first"] for r in runs if r["first"] is not None]
        answer = [r["answer"] for r in runs if r["answer"] is not None]
        answered = f"{statistics.median(answer):.0f}, {max(answer):.0f}" if answer else "-"
        print(f"| {name} | {statistics.median(first):.0f}, {max(first):.0f} | {answered} |")


if __name__ == "__main__":
    main()
