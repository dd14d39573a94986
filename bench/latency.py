"""Glass-to-glass latency: painted wall-clock time on an X display -> Chromium's video frame.

Run (one command, from the repository root; the private network namespace lets ICE work
without leaving the machine):

    scripts/netns-run.sh .venv/bin/python -m bench.latency

For each configuration (1280x720@30 and 1920x1080@60 by default) an Xvfb display of that
size runs bench/painter.py, which redraws the current time.time() in ms as a block pattern
(32 bits + CRC-8 + guard cells) at 250 Hz next to moving content. `aether serve --source
x11` captures it (4 Mbit/s, test tone audio) and headless Chromium opens the product's own
player page. On every presented frame (requestVideoFrameCallback) the page copies the
pattern's region of the video to a canvas, decodes it and records Date.now() - painted ms;
frames whose pattern fails a threshold, guard or CRC check are counted as rejected misreads.

Per run (fresh server and page): wait for the first frame, 3 s warm-up, then a 15 s window
with latency percentiles, presented fps (requestVideoFrameCallback presentedFrames over
time), freezes (inbound-rtp freezeCount and gaps > 2.5 frame intervals between presented
frames), frames dropped (inbound-rtp framesDropped), time to first frame (navigation start
to the first presented frame) and server CPU (/proc/<pid>/stat utime+stime, % of one core).
Runs are pooled per configuration. Prints a table, writes bench/results/latency-*.json and
rewrites the "Glass-to-glass latency" section of docs/performance.md (--no-docs to skip).

Options for experiments: --config 1280x720@30 (repeatable), --runs, --window, --warmup,
--server-arg=--flag=value (repeatable; extra `aether serve` flags), --server-pythonpath DIR
(run a locally modified copy of the package), --jitter-target-ms N (sets the page's
RTCRtpReceiver.jitterBufferTarget after connecting; a client-side lever, off by default).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.helpers import ROOT, ServerProcess, free_port, in_private_netns, xvfb

from bench.docs import add_docs_options, load_results, replace_section
from bench.painter import CELL, COLS, GUARDS, ORIGIN_X, ORIGIN_Y, PAYLOAD_CELLS, ROWS

COMMAND = "scripts/netns-run.sh .venv/bin/python -m bench.latency"
RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "performance.md"
SECTION = "## Glass-to-glass latency"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
BITRATE = 4000
FREEZE_GAP = 2.5  # frame intervals between presented frames that count as a freeze

# Targets from the issue, for comparison: p50, p95 (ms) per configuration.
TARGETS = {"1280x720@30": (30, 45), "1920x1080@60": (35, 50)}
TARGET_TTFF_MS = 300
# Plain prototype on this machine class (docs: /work/shared/notes/platform-facts.md).
BASELINE = {
    "1280x720@30": "43 / 61 ms (separate msids; 59 / 100 ms with one msid), 20% CPU, "
    "first frame 0.5-0.7 s",
    "1920x1080@60": "52 / 69 ms, only 48-53 fps shown, 59% CPU, first frame 0.8-1.1 s",
}

PAGE_JS = """
(() => {
  const CELL = @CELL@, COLS = @COLS@, ROWS = @ROWS@, X0 = @X0@, Y0 = @Y0@;
  const GUARDS = @GUARDS@, PAYLOAD = @PAYLOAD@;
  const PW = COLS * CELL, PH = ROWS * CELL, N = COLS * ROWS;
  const CRC = new Uint8Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = (c & 0x80) ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
    CRC[i] = c;
  }
  const newRejects = () => ({ambiguous: 0, guard: 0, crc: 0, range: 0, error: 0});
  const B = window.__bench = {
    first: null, recording: false, samples: [], rejects: newRejects(), callbacks: 0,
    lastError: null, last: null,
  };

  // Mean brightness of each cell's centre; null when a cell is neither black nor white.
  function readCells(img) {
    const cells = new Array(N);
    const q = CELL / 4;
    const {data, offset, stride, bpp} = img;
    for (let i = 0; i < N; i++) {
      const x0 = (i % COLS) * CELL + q, y0 = Math.floor(i / COLS) * CELL + q;
      let sum = 0, n = 0;
      for (let y = y0; y < y0 + 2 * q; y += 2) {
        for (let x = x0; x < x0 + 2 * q; x += 2) {
          const o = offset + y * stride + x * bpp;
          if (bpp === 1) {
            sum += data[o];
            n += 1;
          } else {
            sum += data[o] + data[o + 1] + data[o + 2];
            n += 3;
          }
        }
      }
      const mean = sum / n;
      if (mean >= 170) cells[i] = 1;
      else if (mean <= 85) cells[i] = 0;
      else return null;
    }
    return cells;
  }

  function decode(cells) {
    for (const [i, v] of GUARDS) if (cells[i] !== v) return "guard";
    let value = 0, crc = 0, c = 0;
    for (let k = 0; k < 32; k++) value = value * 2 + cells[PAYLOAD[k]];
    for (let k = 32; k < 40; k++) crc = crc * 2 + cells[PAYLOAD[k]];
    for (const shift of [24, 16, 8, 0]) c = CRC[c ^ (Math.floor(value / 2 ** shift) & 0xff)];
    return c === crc ? value : "crc";
  }

  // Timeline of the connection, for the time to first frame (ms since navigation start).
  const T = B.timeline = {};
  const mark = (k) => { if (!(k in T)) T[k] = performance.now(); };
  const NativeWebSocket = window.WebSocket;
  window.WebSocket = class extends NativeWebSocket {
    constructor(...args) {
      super(...args);
      mark("ws_create");
      this.addEventListener("open", () => mark("ws_open"));
      this.addEventListener("message", (e) => {
        try {
          const msg = JSON.parse(e.data);
          mark("recv_" + msg.type);
          if (msg.type === "offer") B.offer = msg.sdp;
        } catch { /* not ours */ }
      });
    }
    send(data) {
      try {
        const msg = JSON.parse(data);
        mark("send_" + msg.type);
        if (msg.type === "answer") B.answer = msg.sdp;
      } catch { /* not ours */ }
      super.send(data);
    }
  };
  const NativePeerConnection = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends NativePeerConnection {
    constructor(...args) {
      super(...args);
      mark("pc_create");
      this.addEventListener("track", () => mark("track"));
      this.addEventListener("iceconnectionstatechange",
                            () => mark("ice_" + this.iceConnectionState));
      this.addEventListener("connectionstatechange", () => mark("pc_" + this.connectionState));
    }
  };
  document.addEventListener("DOMContentLoaded", () => mark("dom_ready"));

  let canvas = null, ctx = null, video = null;
  // WebCodecs copies just the pattern's rectangle of the decoded frame (luma only for YUV);
  // a canvas draw converts the whole frame to RGB first, which costs ~13 ms at 720p here.
  B.mode = typeof VideoFrame === "function" ? "webcodecs" : "canvas";

  async function readFrame() {
    // A picture smaller than the painted screen (a lower quality tier) is read scaled up
    // through the canvas; window.__benchFullWidth names the painted width.
    const full = window.__benchFullWidth || 0;
    const scale = full && video.videoWidth ? video.videoWidth / full : 1;
    if (scale !== 1) {
      ctx.drawImage(video, X0 * scale, Y0 * scale, PW * scale, PH * scale, 0, 0, PW, PH);
      return {data: ctx.getImageData(0, 0, PW, PH).data, offset: 0, stride: PW * 4, bpp: 4,
              format: "canvas-scaled"};
    }
    if (B.mode === "webcodecs") {
      let frame = null;
      try {
        frame = new VideoFrame(video, {timestamp: 0});
        const rect = {x: X0, y: Y0, width: PW, height: PH};
        const buffer = new Uint8Array(frame.allocationSize({rect}));
        const layout = await frame.copyTo(buffer, {rect});
        const yuv = /^(I4|NV12)/.test(frame.format);
        return {data: buffer, offset: layout[0].offset, stride: layout[0].stride,
                bpp: yuv ? 1 : 4, format: frame.format};
      } catch (e) {
        B.mode = "canvas";  // e.g. an opaque (GPU) frame: fall back for good
        B.lastError = "webcodecs: " + String(e);
      } finally {
        if (frame) frame.close();
      }
    }
    ctx.drawImage(video, X0, Y0, PW, PH, 0, 0, PW, PH);
    return {data: ctx.getImageData(0, 0, PW, PH).data, offset: 0, stride: PW * 4, bpp: 4,
            format: "canvas"};
  }

  function classify(img, wall) {
    const cells = readCells(img);
    const out = cells === null ? "ambiguous" : decode(cells);
    if (typeof out === "string") return {reason: out, lat: null, value: null};
    let lat = (wall % 4294967296) - out;
    if (lat < -2147483648) lat += 4294967296;
    else if (lat >= 2147483648) lat -= 4294967296;
    if (lat < -20 || lat > 5000) return {reason: "range", lat: null, value: out};
    return {reason: null, lat, value: out};
  }

  function onFrame(now, md) {
    const t0 = performance.now();
    const wall = Date.now();
    video.requestVideoFrameCallback(onFrame);
    B.callbacks += 1;
    if (B.first === null) {
      mark("first_frame");
      B.first = {perfNow: t0, presentationTime: md.presentationTime,
                 presentedFrames: md.presentedFrames, width: md.width, height: md.height};
    }
    B.last = {pf: md.presentedFrames, t: t0};
    const recording = B.recording;
    readFrame().then((img) => {
      B.format = img.format;
      return classify(img, wall);
    }).catch((e) => {
      B.lastError = String(e);
      return {reason: "error", lat: null, value: null};
    }).then((r) => {
      if (!recording || !B.recording) return;
      if (r.reason !== null) B.rejects[r.reason] += 1;
      // [wall, latency|null, presentedFrames, callback perf time, presentation age,
      //  receive age, expected display - callback, processingDuration ms, value, read ms]
      B.samples.push([
        wall, r.lat, md.presentedFrames, t0,
        md.presentationTime !== undefined ? t0 - md.presentationTime : null,
        md.receiveTime !== undefined ? t0 - md.receiveTime : null,
        md.expectedDisplayTime !== undefined ? md.expectedDisplayTime - t0 : null,
        md.processingDuration !== undefined ? md.processingDuration * 1000 : null,
        r.value, performance.now() - t0,
      ]);
    });
  }

  B.start = () => {
    B.rejects = newRejects();
    B.samples = [];
    B.recording = true;
    return {perf: performance.now(), wall: Date.now(), last: B.last};
  };
  B.stop = () => {
    B.recording = false;
    return {perf: performance.now(), wall: Date.now(), samples: B.samples,
            rejects: B.rejects, lastError: B.lastError, callbacks: B.callbacks,
            mode: B.mode, format: B.format};
  };
  B.stats = async () => {
    const pc = window.aether && window.aether.pc;
    if (!pc) return null;
    const report = await pc.getStats();
    const out = {state: pc.connectionState, video: null, rttMs: null};
    report.forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "video") out.video = r;
      if (r.type === "candidate-pair" && r.nominated && r.currentRoundTripTime !== undefined) {
        out.rttMs = r.currentRoundTripTime * 1000;
      }
    });
    return out;
  };
  B.setJitterTarget = (ms) => {
    const pc = window.aether && window.aether.pc;
    if (!pc) return false;
    for (const r of pc.getReceivers()) {
      if ("jitterBufferTarget" in r) r.jitterBufferTarget = ms;
      if ("playoutDelayHint" in r) r.playoutDelayHint = ms / 1000;
    }
    return true;
  };

  function setup() {
    video = document.getElementById("video");
    canvas = document.createElement("canvas");
    canvas.width = PW;
    canvas.height = PH;
    ctx = canvas.getContext("2d", {willReadFrequently: true});
    video.requestVideoFrameCallback(onFrame);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setup);
  else setup();
})();
"""
for _name, _value in {
    "CELL": CELL,
    "COLS": COLS,
    "ROWS": ROWS,
    "X0": ORIGIN_X,
    "Y0": ORIGIN_Y,
    "GUARDS": json.dumps(sorted(GUARDS.items())),
    "PAYLOAD": json.dumps(PAYLOAD_CELLS),
}.items():
    PAGE_JS = PAGE_JS.replace(f"@{_name}@", str(_value))

STAT_FIELDS = (
    "framesReceived",
    "framesDecoded",
    "framesDropped",
    "freezeCount",
    "totalFreezesDuration",
    "pauseCount",
    "keyFramesDecoded",
    "jitterBufferDelay",
    "jitterBufferTargetDelay",
    "jitterBufferMinimumDelay",
    "jitterBufferEmittedCount",
    "totalDecodeTime",
    "totalProcessingDelay",
    "totalAssemblyTime",
    "framesAssembledFromMultiplePackets",
    "packetsReceived",
    "packetsLost",
    "nackCount",
    "pliCount",
    "firCount",
    "bytesReceived",
)


@dataclass(frozen=True)
class Setup:
    width: int
    height: int
    fps: int

    @property
    def name(self) -> str:
        return f"{self.width}x{self.height}@{self.fps}"

    @classmethod
    def parse(cls, text: str) -> Setup:
        match = re.fullmatch(r"(\d+)x(\d+)@(\d+)", text)
        if not match:
            raise argparse.ArgumentTypeError(f"expected WxH@FPS, got {text!r}")
        return cls(*(int(g) for g in match.groups()))


# --- process accounting ------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def processes() -> dict[int, tuple[str, int]]:
    """pid -> (comm, ppid) for every process visible now."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        comm = text[text.index("(") + 1 : text.rindex(")")]
        ppid = int(text.rsplit(")", 1)[1].split()[1])
        out[int(entry.name)] = (comm, ppid)
    return out


def descendants(root: int, table: dict[int, tuple[str, int]]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, (_comm, ppid) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    total = sum(fields[:8])
    return total - idle, total


class CpuWindow:
    """CPU used by the server, our Chromium, Xvfb, the painter and the whole machine."""

    def __init__(self, server: int, painter: int) -> None:
        self.server, self.painter = server, painter

    def snapshot(self) -> dict[str, float]:
        table = processes()
        mine = descendants(os.getpid(), table)
        chromium = [p for p in mine if table[p][0].startswith("chromium")]
        xvfbs = [p for p in mine if table[p][0] == "Xvfb"]
        busy, total = machine_jiffies()
        return {
            "t": time.monotonic(),
            "server": cpu_seconds(self.server),
            "painter": cpu_seconds(self.painter),
            "chromium": sum(cpu_seconds(p) for p in chromium),
            "xvfb": sum(cpu_seconds(p) for p in xvfbs),
            "machine_busy": busy / CLOCK_TICKS,
            "machine_total": total / CLOCK_TICKS,
        }

    @staticmethod
    def percent(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
        wall = b["t"] - a["t"]
        out = {k: (b[k] - a[k]) / wall * 100 for k in ("server", "painter", "chromium", "xvfb")}
        spent = b["machine_total"] - a["machine_total"]
        ncpu = os.cpu_count() or 1
        out["machine"] = (b["machine_busy"] - a["machine_busy"]) / spent * 100 * ncpu
        out["others"] = out["machine"] - sum(out[k] for k in ("server", "painter", "xvfb"))
        out["others"] -= out["chromium"]
        return out


# --- statistics ---------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def analyse(samples: list[list[Any]], fps: int) -> dict[str, Any]:
    """Per-run figures from the page's per-callback samples."""
    interval = 1000 / fps
    samples = sorted(samples, key=lambda s: s[3])
    lat = [s[1] for s in samples if s[1] is not None]
    first, last = samples[0], samples[-1]
    span = last[3] - first[3]
    presented = last[2] - first[2]
    freezes, longest, repeats = 0, 0.0, 0
    for prev, cur in itertools.pairwise(samples):
        frames = max(1, cur[2] - prev[2])
        gap = (cur[3] - prev[3]) / frames
        longest = max(longest, cur[3] - prev[3])
        if gap > FREEZE_GAP * interval:
            freezes += 1
        if cur[8] is not None and cur[8] == prev[8]:
            repeats += 1
    # Breakdown, from requestVideoFrameCallback metadata (all relative to the callback).
    receive = [s[1] - s[5] for s in samples if s[1] is not None and s[5] is not None]
    return {
        "samples": len(lat),
        "callbacks": len(samples),
        "latency_ms": lat,
        "presented_frames": presented,
        "span_ms": span,
        "presented_fps": presented / span * 1000 if span > 0 else 0.0,
        "callback_fps": (len(samples) - 1) / span * 1000 if span > 0 else 0.0,
        "gap_freezes": freezes,
        "longest_gap_ms": longest,
        "repeated_values": repeats,
        "painted_to_received_ms": median(receive),
        "received_to_callback_ms": median([s[5] for s in samples if s[5] is not None]),
        "presented_to_callback_ms": median([s[4] for s in samples if s[4] is not None]),
        "expected_display_after_callback_ms": median([s[6] for s in samples if s[6] is not None]),
        "processing_ms": median([s[7] for s in samples if s[7] is not None]),
        "page_cost_ms": median([s[9] for s in samples]),
    }


def stat_delta(before: dict[str, Any] | None, after: dict[str, Any] | None) -> dict[str, Any]:
    b = (before or {}).get("video") or {}
    a = (after or {}).get("video") or {}
    out: dict[str, Any] = {}
    for key in STAT_FIELDS:
        if key in a:
            out[key] = a[key] - b.get(key, 0)
    if out.get("jitterBufferEmittedCount"):
        n = out["jitterBufferEmittedCount"]
        out["jitter_buffer_ms"] = out.get("jitterBufferDelay", 0) / n * 1000
        if "jitterBufferTargetDelay" in out:
            out["jitter_target_ms"] = out["jitterBufferTargetDelay"] / n * 1000
        if "jitterBufferMinimumDelay" in out:
            out["jitter_minimum_ms"] = out["jitterBufferMinimumDelay"] / n * 1000
    if out.get("framesDecoded"):
        n = out["framesDecoded"]
        out["decode_ms"] = out.get("totalDecodeTime", 0) / n * 1000
        out["processing_delay_ms"] = out.get("totalProcessingDelay", 0) / n * 1000
    out["decoder"] = a.get("decoderImplementation")
    out["frame_size"] = f"{a.get('frameWidth')}x{a.get('frameHeight')}"
    out["rtt_ms"] = (after or {}).get("rttMs")
    return out


# --- one run ------------------------------------------------------------------------------


def run_once(
    browser: Any, display: str, painter_pid: int, setup: Setup, opts: argparse.Namespace
) -> dict[str, Any]:
    env = {"DISPLAY": display, "AETHER_LOG": "info"}
    env.update(item.split("=", 1) for item in opts.server_env)
    if opts.server_pythonpath:
        env["PYTHONPATH"] = opts.server_pythonpath
    server = ServerProcess(
        "--source",
        "x11",
        "--display",
        display,
        "--audio",
        "test",
        "--width",
        str(setup.width),
        "--height",
        str(setup.height),
        "--fps",
        str(setup.fps),
        "--bitrate",
        str(BITRATE),
        *opts.server_arg,
        env=env,
        port=free_port(),
    )
    started = time.monotonic()
    server.start()
    server_start_s = time.monotonic() - started
    assert server.proc is not None
    context = browser.new_context(viewport={"width": setup.width, "height": setup.height})
    try:
        context.add_init_script(PAGE_JS)
        page = context.new_page()
        page.goto(server.url + "/")
        deadline = time.monotonic() + 20
        while not page.evaluate("window.__bench.first !== null"):
            if time.monotonic() > deadline:
                raise RuntimeError("no video frame presented within 20 s")
            page.wait_for_timeout(50)
        first = page.evaluate("window.__bench.first")
        timeline = page.evaluate("window.__bench.timeline")
        timeline.update(page.evaluate(NAVIGATION_JS))
        sdp = page.evaluate("({offer: window.__bench.offer, answer: window.__bench.answer})")
        player_ttff = page.evaluate("window.aether.firstFrameMs")
        if opts.jitter_target_ms is not None:
            page.evaluate(f"window.__bench.setJitterTarget({opts.jitter_target_ms})")
        page.wait_for_timeout(opts.warmup * 1000)
        cpu = CpuWindow(server.proc.pid, painter_pid)
        stats_before = page.evaluate("window.__bench.stats()")
        cpu_before = cpu.snapshot()
        page.evaluate("window.__bench.start()")
        page.wait_for_timeout(opts.window * 1000)
        window = page.evaluate("window.__bench.stop()")
        # The player's own live figure over the window (abs-capture-time, once a second).
        live = page.evaluate(
            f"window.aether.samples.slice(-{int(opts.window)})"
            ".map(s => s.glassToGlassMs).filter(x => x !== null && x !== undefined)"
        )
        cpu_after = cpu.snapshot()
        stats_after = page.evaluate("window.__bench.stats()")
    finally:
        context.close()
        server.stop()
    log = server.output()
    Path(server.log.name).unlink(missing_ok=True)
    if not window["samples"]:
        raise RuntimeError(f"no frames presented in the window; last error {window['lastError']}")
    result = analyse(window["samples"], setup.fps)
    result.update(
        {
            "ttff_ms": first["perfNow"],
            "player_first_frame_ms": player_ttff,
            "timeline_ms": timeline,
            "sdp": sdp,
            "server_start_s": server_start_s,
            "rejected": window["rejects"],
            "rejected_total": sum(window["rejects"].values()),
            "page_error": window["lastError"],
            "page_read_mode": f"{window['mode']} ({window['format']})",
            "cpu": CpuWindow.percent(cpu_before, cpu_after),
            "player_live_ms": live,
            "webrtc": stat_delta(stats_before, stats_after),
            "server_warnings": [line for line in log.splitlines() if "WARNING" in line][:20],
        }
    )
    return result


def start_painter(display: str, setup: Setup, hz: float) -> subprocess.Popen[str]:
    painter = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.painter",
            "--display",
            display,
            "--width",
            str(setup.width),
            "--height",
            str(setup.height),
            "--hz",
            str(hz),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert painter.stdout is not None
    if painter.stdout.readline().strip() != "ready":
        painter.kill()
        raise RuntimeError("painter did not start")
    return painter


# The navigation's own milestones (ms since navigation start): where the page load ends.
NAVIGATION_JS = """(() => {
  const n = performance.getEntriesByType("navigation")[0];
  if (!n) return {};
  const out = {};
  for (const k of ["fetchStart", "requestStart", "responseStart", "responseEnd",
                   "domInteractive", "domContentLoadedEventEnd"]) {
    if (n[k] > 0) out["nav_" + k] = n[k];
  }
  return out;
})()"""


def stop_painter(painter: subprocess.Popen[str]) -> dict[str, Any]:
    painter.terminate()
    out, _ = painter.communicate(timeout=10)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


# --- pooling, report ----------------------------------------------------------------------


# Phases of the time to first frame: (label, from mark, to mark), marks in the page timeline.
TTFF_PHASES = (
    ("page fetched", None, "nav_responseEnd"),
    ("page to socket", "nav_responseEnd", "ws_create"),
    ("ws open", "ws_create", "ws_open"),
    ("welcome", "ws_open", "recv_welcome"),
    ("offer", "recv_welcome", "recv_offer"),
    ("answer sent", "recv_offer", "send_answer"),
    ("ICE connected", "send_answer", "ice_connected"),
    ("DTLS (connected)", "ice_connected", "pc_connected"),
    ("first frame", "pc_connected", "first_frame"),
)


def ttff_phases(timeline: dict[str, float]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for label, start, end in TTFF_PHASES:
        a = 0.0 if start is None else timeline.get(start)
        b = timeline.get(end)
        out[label] = b - a if a is not None and b is not None else None
    return out


def pool(setup: Setup, runs: list[dict[str, Any]]) -> dict[str, Any]:
    lat = [v for r in runs for v in r["latency_ms"]]
    ttff = [r["ttff_ms"] for r in runs]
    fps = [r["presented_fps"] for r in runs]

    def total(key: str) -> int:
        return sum(int(r["webrtc"].get(key, 0)) for r in runs)

    def med(key: str) -> float | None:
        return median([r[key] for r in runs if r.get(key) is not None])

    def med_rtc(key: str) -> float | None:
        return median([r["webrtc"][key] for r in runs if r["webrtc"].get(key) is not None])

    return {
        "config": setup.name,
        "runs": len(runs),
        "frames": len(lat),
        "p50_ms": percentile(lat, 50),
        "p95_ms": percentile(lat, 95),
        "p99_ms": percentile(lat, 99),
        "max_ms": max(lat) if lat else None,
        "presented_fps_mean": statistics.mean(fps),
        "presented_fps_min": min(fps),
        "source_fps": setup.fps,
        "freezes_gap": sum(r["gap_freezes"] for r in runs),
        "freezes_webrtc": total("freezeCount"),
        "frames_dropped": total("framesDropped"),
        "longest_gap_ms": max(r["longest_gap_ms"] for r in runs),
        "ttff_median_ms": statistics.median(ttff),
        "ttff_max_ms": max(ttff),
        "ttff_runs_ms": ttff,
        "player_first_frame_median_ms": median(
            [r["player_first_frame_ms"] for r in runs if r["player_first_frame_ms"] is not None]
        ),
        "ttff_phases_ms": {
            label: median(
                [v for r in runs if (v := ttff_phases(r["timeline_ms"])[label]) is not None]
            )
            for label, _, _ in TTFF_PHASES
        },
        "rejected": sum(r["rejected_total"] for r in runs),
        "callbacks": sum(r["callbacks"] for r in runs),
        "server_cpu_mean": statistics.mean(r["cpu"]["server"] for r in runs),
        "chromium_cpu_mean": statistics.mean(r["cpu"]["chromium"] for r in runs),
        "machine_cpu_mean": statistics.mean(r["cpu"]["machine"] for r in runs),
        "others_cpu_mean": statistics.mean(r["cpu"]["others"] for r in runs),
        "painted_to_received_ms": med("painted_to_received_ms"),
        "received_to_callback_ms": med("received_to_callback_ms"),
        "processing_ms": med("processing_ms"),
        "jitter_buffer_ms": med_rtc("jitter_buffer_ms"),
        "decode_ms": med_rtc("decode_ms"),
        "page_cost_ms": med("page_cost_ms"),
        "player_live_p50_ms": median([v for r in runs for v in r.get("player_live_ms", [])]),
    }


def fmt(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def table(pooled: list[dict[str, Any]]) -> str:
    rows = [
        "| config | runs (frames) | p50 / p95 / p99 ms | presented fps (mean, min run) "
        "| freezes: gaps / freezeCount | frames dropped | first frame ms (median, max) "
        "| misreads rejected | server CPU % of a core |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in pooled:
        rows.append(
            f"| {p['config']} | {p['runs']} ({p['frames']}) "
            f"| {fmt(p['p50_ms'])} / {fmt(p['p95_ms'])} / {fmt(p['p99_ms'])} "
            f"| {fmt(p['presented_fps_mean'], 1)}, {fmt(p['presented_fps_min'], 1)} "
            f"of {p['source_fps']} "
            f"| {p['freezes_gap']} / {p['freezes_webrtc']} | {p['frames_dropped']} "
            f"| {fmt(p['ttff_median_ms'])}, {fmt(p['ttff_max_ms'])} "
            f"| {p['rejected']} of {p['callbacks']} | {fmt(p['server_cpu_mean'])} |"
        )
    return "\n".join(rows)


def breakdown_table(pooled: list[dict[str, Any]]) -> str:
    rows = [
        "| config | painted → last packet received | received → frame callback "
        "| decode (rVFC processingDuration) | jitter buffer (getStats) "
        "| Chromium CPU % | machine CPU % (of 200) | other load % "
        "| the player's live glass-to-glass figure (median) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in pooled:
        rows.append(
            f"| {p['config']} | {fmt(p['painted_to_received_ms'], 1)} "
            f"| {fmt(p['received_to_callback_ms'], 1)} | {fmt(p['processing_ms'], 1)} "
            f"| {fmt(p['jitter_buffer_ms'], 1)} | {fmt(p['chromium_cpu_mean'])} "
            f"| {fmt(p['machine_cpu_mean'])} | {fmt(p['others_cpu_mean'])} "
            f"| {fmt(p.get('player_live_p50_ms'), 1)} |"
        )
    return "\n".join(rows)


def ttff_table(pooled: list[dict[str, Any]]) -> str:
    labels = [label for label, _, _ in TTFF_PHASES]
    rows = [
        "| config | " + " | ".join(labels) + " | total (median) | player's own figure |",
        "|---|" + "---|" * (len(labels) + 2),
    ]
    for p in pooled:
        phases = " | ".join(fmt(p["ttff_phases_ms"][label]) for label in labels)
        rows.append(
            f"| {p['config']} | {phases} | {fmt(p['ttff_median_ms'])} "
            f"| {fmt(p['player_first_frame_median_ms'])} |"
        )
    return "\n".join(rows)


def machine_info() -> dict[str, Any]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    chromium = subprocess.run(
        [CHROMIUM, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    gst = subprocess.run(
        ["gst-inspect-1.0", "--version"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "os": Path("/etc/debian_version").read_text().strip()
        if Path("/etc/debian_version").exists()
        else platform.platform(),
        "python": platform.python_version(),
        "chromium": chromium,
        "gstreamer": gst[1] if len(gst) > 1 else "unknown",
        "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
    }


def verdict(p: dict[str, Any]) -> str:
    target = TARGETS.get(p["config"])
    if target is None:
        return "no target"
    checks = [
        ("p50", p["p50_ms"] is not None and p["p50_ms"] <= target[0]),
        ("p95", p["p95_ms"] is not None and p["p95_ms"] <= target[1]),
        ("first frame", p["ttff_max_ms"] <= TARGET_TTFF_MS),
        ("fps", p["presented_fps_min"] >= 0.95 * p["source_fps"]),
        ("freezes", p["freezes_gap"] == 0 and p["freezes_webrtc"] == 0),
    ]
    missed = [name for name, ok in checks if not ok]
    return "meets all targets" if not missed else "misses: " + ", ".join(missed)


def doc_section(result: dict[str, Any]) -> str:
    m = result["machine"]
    pooled = result["pooled"]
    load = ", ".join(f"{v:.2f}" for v in result["load_average_start"])
    load_end = ", ".join(f"{v:.2f}" for v in result["load_average_end"])
    targets = "\n".join(
        f"| {name} | ≤ {p50} ms | ≤ {p95} ms | ≤ {TARGET_TTFF_MS} ms "
        f"| within 5% of {name.rsplit('@', 1)[1]} | 0 |"
        for name, (p50, p95) in TARGETS.items()
    )
    baseline = "\n".join(f"| {name} | {text} |" for name, text in BASELINE.items())
    verdicts = "\n".join(f"- {p['config']}: {verdict(p)}." for p in pooled)
    opts = result["options"]
    extra = ""
    if (
        opts["server_arg"]
        or opts["server_pythonpath"]
        or opts["server_env"]
        or opts["jitter_target_ms"] is not None
    ):
        extra = (
            f"\n**Non-default run**: extra server flags {opts['server_arg']}, environment "
            f"{opts['server_env']}, server package "
            f"from {opts['server_pythonpath'] or 'the repository'}, page jitterBufferTarget "
            f"{opts['jitter_target_ms']}.\n"
        )
    painter = "; ".join(
        f"{name}: {p.get('hz', 0):.0f} Hz achieved, tick gap p99 {p.get('gap_p99_ms', 0):.1f} ms"
        for name, p in result["painter"].items()
    )
    stale = 500 / opts["hz"]
    busy = max(p["others_cpu_mean"] for p in pooled)
    if busy > 20:
        extra += (
            f"\n**Contended run**: processes outside the benchmark used up to {busy:.0f}% of\n"
            'a core during the measured windows (see "other load"), so these figures\n'
            "include time the benchmark's processes spent waiting for CPU.\n"
        )
    return f"""{SECTION}

What is measured: the time from a change on the captured X display to the moment Chromium
presents the video frame that shows it, on the product's own player page (`/`).

- A painter (`bench/painter.py`) redraws the wall-clock time (`time.time()` in ms, mod 2^32)
  at {opts["hz"]:.0f} Hz as a grid of {CELL}x{CELL} px black/white cells (32 data bits,
  CRC-8, 8 guard cells), drawn off-screen and copied to the screen in one X request so a
  capture never sees half a value, next to a scrolling textured band and a bouncing box
  that give the encoder real work.
- `aether serve --source x11 --audio test --bitrate {BITRATE} --stun none` captures that
  Xvfb display at the configured size and rate.
- Headless Chromium (`/usr/bin/chromium` via Playwright, software decoding, viewport = stream
  size, one context and page per run) opens the player page. On every presented frame a
  `requestVideoFrameCallback` takes `Date.now()`, copies the cells' rectangle out of the
  frame (WebCodecs `VideoFrame.copyTo`, luma only; a canvas if that is unavailable), decodes
  it and records `Date.now() - painted ms`. Frames whose cells are ambiguous or fail the
  guard, CRC or range checks are counted as rejected misreads and never used.

So a figure includes the painter's staleness (half a painter period on average,
~{stale:.0f} ms) and ends when the frame has been handed to the compositor (the callback),
before a physical display's scan-out. Each run uses a fresh server and page:
first frame, {opts["warmup"]:.0f} s warm-up, then a {opts["window"]:.0f} s window. Latency
percentiles pool every frame of every run. Presented fps: change of `presentedFrames` over
the window's time (mean of runs, and the worst run). Freezes: gaps between presented frames
longer than {FREEZE_GAP} frame intervals (bench) / `inbound-rtp.freezeCount` (Chromium). Frames
dropped: `inbound-rtp.framesDropped`. First frame: navigation start (the page's
`timeOrigin`) to the first presented frame. Server CPU: utime+stime of the `aether serve`
process over the window, % of one core.

Command (from the repository root; this run took {result["duration_s"]:.0f} s):

```sh
{COMMAND}
```

Machine: {m["cpu"]}, {m["cores"]} cores, {m["mem_gb"]} GB RAM, Debian {m["os"]},
kernel {m["kernel"]}, {m["gstreamer"]}, {m["chromium"]}, Python {m["python"]}.

**Figures were taken on a shared 2-core machine**: server, Xvfb, painter and Chromium
(software decoding and compositing) share the same two cores, and other engineers' work
(test suites, other benchmarks) ran at the same time: "other load" below is the CPU used
by processes that are not part of the benchmark.

- Measured {result["finished"]}; raw data `bench/results/{result.get("file", "")}`.
- Load average at start {load}; at end {load_end}.
- Painter: {painter}.
{extra}
### Measured

{table(pooled)}

Where the time goes (medians of per-run medians, from `requestVideoFrameCallback`
metadata `receiveTime` and `processingDuration` and from `getStats`), and CPU during the
measured windows (% of one core; the machine has 200). The last column is the product's
own live figure, which needs no painter: the player's capture-time-to-display latency
from the abs-capture-time the server stamps (what /stats and /metrics report), sampled once
a second over the same windows; it should agree with the painted measurement:

{breakdown_table(pooled)}

Time to first frame by phase (ms, medians over runs; from the page's own timeline of
signaling messages and connection states). "Page fetched" ends with the last byte of the
page (Navigation Timing `responseEnd`); "page to socket" is Chromium's work from there to
the player's `new WebSocket` (committing the page to a fresh renderer, parsing, running
the scripts):

{ttff_table(pooled)}

### Targets (from the issue)

| config | p50 | p95 | first frame | presented fps | freezes |
|---|---|---|---|---|---|
{targets}

Against the targets, from the figures above:

{verdicts}

### Baseline: a plain prototype on this machine class

Reference figures of a plain prototype (ximagesrc → x264 ultrafast/zerolatency →
rtph264pay → tee → leaky queue → webrtcbin, one Chromium viewer), quoted from the team's
platform notes as the baseline; they were not measured by this benchmark:

| config | glass-to-glass p50 / p95, server CPU, first frame |
|---|---|
{baseline}

Raw per-run data: `bench/results/latency-*.json` (not committed).
"""


def write_doc(section: str) -> None:
    replace_section(DOC, SECTION, section)


def slim(run: dict[str, Any]) -> dict[str, Any]:
    """A run's result for the JSON file, with the latency list kept but rounded."""
    out = dict(run)
    out["latency_ms"] = [round(v, 1) for v in run["latency_ms"]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Setup.parse, action="append", default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--hz", type=float, default=250.0, help="painter rate")
    parser.add_argument("--server-arg", action="append", default=[])
    parser.add_argument("--server-pythonpath", default=None)
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--jitter-target-ms", type=float, default=None)
    parser.add_argument("--label", default="")
    add_docs_options(parser)
    opts = parser.parse_args()
    if opts.docs_from:
        write_doc(doc_section(load_results(opts.docs_from)))
        print(f"updated {DOC.relative_to(ROOT)} from {opts.docs_from}")
        return
    setups = opts.config or [Setup(1280, 720, 30), Setup(1920, 1080, 60)]
    if not in_private_netns():
        raise SystemExit(f"run inside a private network namespace: {COMMAND}")
    from playwright.sync_api import sync_playwright

    began = time.monotonic()
    load_start = os.getloadavg()
    print(f"load average at start: {', '.join(f'{v:.2f}' for v in load_start)}", flush=True)
    all_runs: dict[str, list[dict[str, Any]]] = {}
    painters: dict[str, dict[str, Any]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for setup in setups:
                runs = all_runs.setdefault(setup.name, [])
                with xvfb(setup.width, setup.height) as display:
                    painter = start_painter(display, setup, opts.hz)
                    try:
                        for i in range(opts.runs):
                            run = run_once(browser, display, painter.pid, setup, opts)
                            runs.append(run)
                            lat = run["latency_ms"]
                            print(
                                f"{setup.name} run {i + 1}: p50 {fmt(percentile(lat, 50))} "
                                f"p95 {fmt(percentile(lat, 95))} ms, "
                                f"{run['presented_fps']:.1f} fps, "
                                f"first frame {run['ttff_ms']:.0f} ms, "
                                f"server CPU {run['cpu']['server']:.0f}%, "
                                f"rejected {run['rejected_total']}",
                                flush=True,
                            )
                    finally:
                        painters[setup.name] = stop_painter(painter)
        finally:
            browser.close()
    pooled = [pool(s, all_runs[s.name]) for s in setups]
    duration = time.monotonic() - began
    result = {
        "label": opts.label,
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "duration_s": duration,
        "load_average_start": load_start,
        "load_average_end": os.getloadavg(),
        "machine": machine_info(),
        "options": {
            "runs": opts.runs,
            "warmup": opts.warmup,
            "window": opts.window,
            "hz": opts.hz,
            "server_arg": opts.server_arg,
            "server_pythonpath": opts.server_pythonpath,
            "server_env": opts.server_env,
            "jitter_target_ms": opts.jitter_target_ms,
            "bitrate": BITRATE,
        },
        "painter": painters,
        "pooled": pooled,
        "runs": {name: [slim(r) for r in runs] for name, runs in all_runs.items()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = f"-{opts.label}" if opts.label else ""
    path = RESULTS / f"latency-{stamp}{suffix}.json"
    result["file"] = path.name
    path.write_text(json.dumps(result, indent=1))
    print()
    print(table(pooled))
    print()
    print(breakdown_table(pooled))
    print()
    print(ttff_table(pooled))
    print()
    for p in pooled:
        print(f"{p['config']}: {verdict(p)}")
    print(f"painter: {json.dumps(painters)}")
    print(f"results: {path.relative_to(ROOT)}; took {duration:.0f} s")
    if not opts.no_docs:
        write_doc(doc_section(result))
        print(f"updated {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
