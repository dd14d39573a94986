"""Soak: is the server's memory steady over hours with viewers watching and coming and going?

Run (from the repository root; the private network namespace lets ICE work without leaving
the machine):

    scripts/netns-run.sh .venv/bin/python -m bench.soak --minutes 60

What it does:
- Starts `aether serve --source test --audio test --width 1280 --height 720 --fps 30
  --bitrate 4000` (or `--source x11` on a private Xvfb with --x11; more arguments with
  --serve-args), with a log at warning.
- Keeps `--viewers` light viewers connected for the whole run (libwebrtc in Node,
  bench/fanout_client/client.js: they count RTP without decoding it), and, unless
  `--churn 0`, one more viewer in its own process that is replaced every `--churn` seconds
  (a new connection, a full teardown), so per-viewer leaks add up.
- Every `--interval` seconds samples the server's RSS (VmRSS), open file descriptors,
  threads, and from /stats the viewers watching and the pipeline's element count; and,
  from the server's debug line after each viewer's teardown (aether.memory), what glibc
  malloc holds: bytes in use and bytes free inside its heaps (a leak grows the first,
  fragmentation the second) and Python's allocated blocks.
- Prints the RSS at start, after the warm-up (`--warmup` minutes), at the end and its
  maximum, and the least-squares slope of RSS over the time after warm-up in MB/hour;
  fds, threads and elements likewise (start/end/max), and the slope of malloc's
  in-use bytes. Writes every sample to bench/results/soak-<time>.json.
- `--server-env NAME=VALUE` (repeatable) sets the server's environment only, for A/B runs
  of the allocator (MALLOC_ARENA_MAX=1, G_SLICE=always-malloc, LD_PRELOAD=libjemalloc).

Memory is "steady" when the post-warm-up slope is small against the RSS (a leak of one
viewer's bin per churn would show as several MB/hour; see docs/performance.md).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import statistics
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from tests.helpers import ROOT, ServerProcess, in_private_netns, xvfb

from bench.fanout import CLIENT_DIR, ClientPool, http_json, rss_mb

RESULTS = ROOT / "bench" / "results"
WIDTH, HEIGHT, FPS, BITRATE = 1280, 720, 30, 4000
# aether.memory's line after a viewer's teardown (HeapStats.describe()).
HEAP_LINE = re.compile(
    r"heap after trim: malloc in use (?P<in_use>[\d.]+) MB, free in its heaps "
    r"(?P<free>[\d.]+) MB in (?P<chunks>\d+) chunks, Python blocks (?P<blocks>\d+)"
)


def last_heap_stats(log: str) -> dict[str, float | None]:
    """The server's latest malloc figures (None before the first teardown)."""
    found = list(HEAP_LINE.finditer(log))
    if not found:
        return {"heap_in_use_mb": None, "heap_free_mb": None, "python_blocks": None}
    last = found[-1]
    return {
        "heap_in_use_mb": float(last["in_use"]),
        "heap_free_mb": float(last["free"]),
        "python_blocks": int(last["blocks"]),
    }


HEAP_KEYS = ("heap_in_use_mb", "heap_free_mb", "python_blocks")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def slope_per_hour(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, value) points, per hour."""
    if len({t for t, _ in points}) < 2:
        return None
    xs, ys = zip(*points, strict=True)
    slope, _ = statistics.linear_regression(xs, ys)
    return slope * 3600


@contextlib.contextmanager
def display(use_x11: bool) -> Iterator[list[str]]:
    """The server's source arguments (and a private Xvfb for the x11 source)."""
    if not use_x11:
        yield ["--source", "test"]
        return
    with xvfb(WIDTH, HEIGHT) as name:
        yield ["--source", "x11", "--display", name]


def summarize(samples: list[dict[str, Any]], warmup_s: float) -> dict[str, Any]:
    after = [s for s in samples if s["t"] >= warmup_s] or samples[-1:]
    out: dict[str, Any] = {
        "samples": len(samples),
        "seconds": samples[-1]["t"] if samples else 0.0,
        "rss_mb": {
            "start": samples[0]["rss_mb"],
            "after_warmup": after[0]["rss_mb"],
            "end": samples[-1]["rss_mb"],
            "max": max(s["rss_mb"] for s in samples),
            "slope_mb_per_hour": slope_per_hour([(s["t"], s["rss_mb"]) for s in after]),
        },
    }
    heap = [(s["t"], s["heap_in_use_mb"]) for s in after if s.get("heap_in_use_mb") is not None]
    if heap:
        out["heap_in_use_slope_mb_per_hour"] = slope_per_hour(heap)
    for key in ("fds", "threads", "elements", "viewers", *HEAP_KEYS):
        values = [s[key] for s in samples if s[key] is not None]
        if values:
            out[key] = {
                "start": values[0],
                "after_warmup": next((s[key] for s in after if s.get(key) is not None), None),
                "end": values[-1],
                "max": max(values),
            }
    return out


def sample(pid: int, url: str, t: float, log: str) -> dict[str, Any]:
    try:
        snap = http_json(url + "/stats")
        elements, viewers = snap.get("pipeline_elements"), snap.get("viewers_now")
    except OSError:
        elements = viewers = None  # a busy server may answer late; the sample still counts
    return {
        "t": t,
        "rss_mb": rss_mb(pid),
        "fds": open_fds(pid),
        "threads": threads(pid),
        "elements": elements,
        "viewers": viewers,
        **last_heap_stats(log),
    }


def run(opts: argparse.Namespace) -> dict[str, Any]:
    with display(opts.x11) as source:
        server = ServerProcess(
            *source,
            "--audio", "test", "--width", str(WIDTH), "--height", str(HEIGHT),
            "--fps", str(FPS), "--bitrate", str(BITRATE), "--max-viewers", "50",
            *shlex.split(opts.serve_args),
            env={"AETHER_LOG": "warning,aether.memory=debug", **server_env(opts.server_env)},
        )  # fmt: skip
        server.start()
        assert server.proc is not None
        pid = server.proc.pid
        steady = ClientPool(server.ws_url, "aether", opts.viewers, 4, [])
        churner: ClientPool | None = None
        samples: list[dict[str, Any]] = []
        churns = failures = 0
        start = time.monotonic()
        try:
            if opts.viewers:
                steady.add(opts.viewers, 60)
            next_sample = next_churn = time.monotonic()
            end = start + opts.minutes * 60
            while True:
                now = time.monotonic()
                if now >= next_sample or now >= end:
                    samples.append(sample(pid, server.url, now - start, server.output()))
                    s = samples[-1]
                    print(
                        f"{s['t'] / 60:6.1f} min  RSS {s['rss_mb']:6.1f} MB  fds {s['fds']:4d}  "
                        f"threads {s['threads']:3d}  elements {s['elements']}  "
                        f"viewers {s['viewers']}  malloc in use {s['heap_in_use_mb']} MB  "
                        f"free {s['heap_free_mb']} MB  Python blocks {s['python_blocks']}",
                        flush=True,
                    )
                    next_sample += opts.interval
                if now >= end:
                    break
                if server.proc.poll() is not None:
                    raise RuntimeError(f"server exited {server.proc.returncode}")
                if opts.churn and now >= next_churn:
                    if churner is not None:
                        failures += len(churner.failures())
                        churner.close()
                    churner = ClientPool(server.ws_url, "aether", 1, 1, [])
                    churner.add(1, 60)
                    churns += 1
                    next_churn += opts.churn
                wake = min(next_sample, end, next_churn if opts.churn else end)
                time.sleep(max(0.0, wake - time.monotonic()))
            failures += len(steady.failures()) + (len(churner.failures()) if churner else 0)
        finally:
            if churner is not None:
                churner.close()
            steady.close()
            code = server.stop()
        log_tail = server.output()[-4000:]
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(sys.argv),
        "options": vars(opts),
        "summary": summarize(samples, opts.warmup * 60),
        "churned_viewers": churns,
        "viewer_failures": failures,
        "exit_code": code,
        "log_tail": log_tail,
        "samples": samples,
    }


def server_env(pairs: list[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"--server-env wants NAME=VALUE, not {pair!r}")
        env[name] = value
    return env


def fmt(value: float | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:.1f}{unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=60, help="how long to run")
    parser.add_argument("--interval", type=float, default=30, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=5, help="minutes before the slope")
    parser.add_argument("--viewers", type=int, default=4, help="viewers kept connected")
    parser.add_argument(
        "--churn", type=float, default=30, help="seconds between replacing one viewer; 0: none"
    )
    parser.add_argument("--x11", action="store_true", help="capture a private Xvfb (x11 source)")
    parser.add_argument(
        "--serve-args",
        default="",
        help="more `aether serve` arguments, e.g. '--udp-ports 40000-40019'",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set in the server's environment only (repeatable), e.g. MALLOC_ARENA_MAX=1",
    )
    opts = parser.parse_args()
    if not in_private_netns():
        raise SystemExit("run inside scripts/netns-run.sh: ICE gathers nothing on loopback")
    if not (CLIENT_DIR / "node_modules" / "@roamhq" / "wrtc").is_dir():
        raise SystemExit(f"the Node viewers need: npm ci --prefix {CLIENT_DIR}")
    data = run(opts)
    RESULTS.mkdir(parents=True, exist_ok=True)
    # The pid too: two runs side by side (an A/B) may end in the same second.
    path = RESULTS / f"soak-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{os.getpid()}.json"
    path.write_text(json.dumps(data, indent=1))
    s = data["summary"]
    rss = s["rss_mb"]
    print(f"\nsoak: {s['seconds'] / 60:.1f} min, {s['samples']} samples, "
          f"{data['churned_viewers']} churned viewers, "
          f"{data['viewer_failures']} viewer failures")  # fmt: skip
    print(f"RSS MB: start {rss['start']:.1f}, after warm-up {rss['after_warmup']:.1f}, "
          f"end {rss['end']:.1f}, max {rss['max']:.1f}; "
          f"slope after warm-up {fmt(rss['slope_mb_per_hour'], ' MB/hour')}")  # fmt: skip
    if s.get("heap_in_use_slope_mb_per_hour") is not None:
        print(f"malloc in use: slope after warm-up "
              f"{fmt(s['heap_in_use_slope_mb_per_hour'], ' MB/hour')}")  # fmt: skip
    for key in ("fds", "threads", "elements", "viewers", *HEAP_KEYS):
        if key in s:
            v = s[key]
            print(f"{key}: start {v['start']}, after warm-up {v['after_warmup']}, "
                  f"end {v['end']}, max {v['max']}")  # fmt: skip
    print(f"samples: {path}")
    if data["exit_code"] != 0:
        print(f"server exit code {data['exit_code']}:\n{data['log_tail']}")


if __name__ == "__main__":
    main()
