"""A real `aether serve` process: /ready, /stats and /metrics."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import XVFB_PROCS, ServerProcess, receive_message, run_async, xvfb
from tests.integration.test_server import TEST_SOURCE


def get(url: str, token: str | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read().decode()


def wait_ready(url: str, want: int, timeout: float) -> tuple[float, dict[str, Any]]:
    """Poll /ready until it answers `want`; returns (seconds waited, body)."""
    start = time.monotonic()
    while True:
        status, _, body = get(url + "/ready")
        if status == want:
            return time.monotonic() - start, json.loads(body)
        if time.monotonic() - start > timeout:
            raise AssertionError(f"/ready stayed {status} ({body}) for {timeout} s")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(*TEST_SOURCE) as srv:
        yield srv


def test_ready_while_the_pipeline_plays(server: ServerProcess) -> None:
    status, headers, body = get(server.url + "/ready")
    assert status == 200, body
    state = json.loads(body)
    assert state["ready"] is True and state["pipeline"] == "playing"
    assert 0 <= state["last_frame_age_s"] < 0.5  # 15 fps: a frame every 67 ms
    assert headers["Content-Type"].startswith("application/json")
    assert headers["Cache-Control"] == "no-store"


def test_ready_flips_to_503_when_the_source_freezes_and_back_when_it_returns() -> None:
    with xvfb(320, 240) as display:
        srv = ServerProcess("--source", "x11", "--display", display, "--audio", "none",
                            "--width", "320", "--height", "240", "--fps", "15").start()  # fmt: skip
        xserver = XVFB_PROCS[display]
        try:
            wait_ready(srv.url, 200, 5)
            os.kill(xserver.pid, signal.SIGSTOP)  # the capture now blocks on the X server
            try:
                waited, state = wait_ready(srv.url, 503, 4)
                time.sleep(0.7)  # long enough to be logged; the watchdog's 5 s stay far
            finally:
                os.kill(xserver.pid, signal.SIGCONT)
            assert waited > 1.5  # at most 4 s: wait_ready's limit
            assert state["ready"] is False and state["pipeline"] == "playing"
            assert state["reason"].startswith("source frozen: no video frame for 2.")
            wait_ready(srv.url, 200, 3)
            time.sleep(0.6)  # one more readiness check, which logs the recovery
            status, _, _ = get(srv.url + "/health")
            assert status == 200
        finally:
            code = srv.stop()
    assert code == 0
    log = srv.output()
    assert "not ready: source frozen: no video frame for" in log
    assert "ready again: video frames are flowing" in log


ADMIN_SECRET = "s" * 24
VIEW_SECRET = "v" * 24


@pytest.fixture(scope="module")
def guarded() -> Iterator[ServerProcess]:
    tokens = f"admin:{ADMIN_SECRET},view:{VIEW_SECRET}"
    with ServerProcess(*TEST_SOURCE, "--tokens", tokens) as srv:
        yield srv


def test_ready_needs_no_token_even_when_tokens_are_required(guarded: ServerProcess) -> None:
    assert get(guarded.url + "/ready")[0] == 200
    assert get(guarded.url + "/stats")[0] == 401


@pytest.mark.parametrize(("token", "status"), [(None, 401), ("wrong" * 5, 401),
                                               (VIEW_SECRET, 403)])  # fmt: skip
def test_metrics_need_the_admin_role(
    guarded: ServerProcess, token: str | None, status: int
) -> None:
    code, headers, body = get(guarded.url + "/metrics", token)
    assert code == status
    assert "aether_" not in body
    if status == 401:
        assert headers["WWW-Authenticate"] == 'Bearer realm="aether"'


def test_metrics_in_prometheus_text_format(guarded: ServerProcess) -> None:
    status, headers, body = get(guarded.url + "/metrics", ADMIN_SECRET)
    assert status == 200
    assert headers["Content-Type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(body)}
    assert families["aether_frames_encoded"].type == "counter"
    assert families["aether_frames_encoded"].samples[0].value > 0
    assert families["aether_ready"].samples[0].value == 1
    assert families["aether_target_fps"].samples[0].value == 15
    assert families["aether_viewer_latency_seconds"].type == "histogram"
    assert families["aether_encode_seconds"].type == "summary"
    # secrets never reach the metrics (nor the log)
    assert ADMIN_SECRET not in body and VIEW_SECRET not in body
    assert ADMIN_SECRET not in guarded.output() and VIEW_SECRET not in guarded.output()


def test_metrics_count_frames_between_scrapes(guarded: ServerProcess) -> None:
    def frames() -> float:
        body = get(guarded.url + "/metrics", ADMIN_SECRET)[2]
        families = {f.name: f for f in text_string_to_metric_families(body)}
        return families["aether_frames_encoded"].samples[0].value

    first = frames()
    time.sleep(1.0)
    assert 10 <= frames() - first <= 25  # 15 fps


def test_stats_show_the_encoder_and_what_a_viewer_reports(server: ServerProcess) -> None:
    report = {"type": "stats", "framesPerSecond": 14.9, "framesDecoded": 300,
              "framesDropped": 1, "jitterBufferMs": 8.5, "latencyMs": 20.0, "rttMs": 0.4,
              "bytesReceived": 123456, "packetsReceived": 400, "packetsLost": 2}  # fmt: skip

    async def scenario() -> tuple[dict[str, Any], str]:
        async with aiohttp.ClientSession() as http, http.ws_connect(server.ws_url) as ws:
            welcome = await receive_message(ws, "welcome")
            await receive_message(ws, "offer")
            await ws.send_str(json.dumps({"type": "stats", "latencyMs": "soon"}))
            error = await receive_message(ws, "error")
            await ws.send_str(json.dumps(report))
            await ws.send_str(json.dumps({"type": "ping", "id": 1}))
            await receive_message(ws, "pong")  # the stats message before it has been handled
            await asyncio.sleep(1.2)  # a full one-second window of frames, even on a new server
            async with http.get(server.url + "/stats") as r:
                snap = await r.json()
            viewer = next(v for v in snap["viewers"] if v["id"] == welcome["viewer"])
            return {"snap": snap, "viewer": viewer}, error["code"]

    result, code = run_async(scenario())
    assert code == "bad-message"
    snap, viewer = result["snap"], result["viewer"]
    assert snap["ready"] is True and snap["not_ready_reason"] is None
    assert snap["fps"] == 15 and 12 <= snap["fps_actual"] <= 17
    assert 0 < snap["encode_ms"] < 200
    assert snap["encoded_bitrate_kbps"] > 0 and snap["frames_dropped"] >= 0
    assert snap["frames_encoded"] > 0 and 0 <= snap["last_frame_age_s"] < 1
    client = viewer["client"]
    assert client["fps"] == 14.9 and client["frames_decoded"] == 300
    assert client["latency_ms"] == 20.0 and client["bytes_received"] == 123456
    assert client["age_s"] < 2
    # glass-to-glass estimate: the browser's part plus the server's encode time
    assert 20.0 < viewer["estimated_latency_ms"] < 20.0 + 200
    assert snap["latency_histogram"]["count"] >= 1
    assert viewer["state"] == "new" and viewer["video"] is None  # signaling only, no ICE


def test_json_logs_carry_the_viewer_id() -> None:
    with ServerProcess(*TEST_SOURCE, "--log-format", "json") as srv:

        async def visit() -> str:
            async with aiohttp.ClientSession() as http, http.ws_connect(srv.ws_url) as ws:
                welcome = await receive_message(ws, "welcome")
                await ws.send_str("{oops")
                await receive_message(ws, "error")
                return str(welcome["viewer"])

        viewer = run_async(visit())
        time.sleep(0.3)  # the removal is logged after the socket closes
    lines = [json.loads(line) for line in srv.output().splitlines()]
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    about = [line for line in lines if line.get("viewer") == viewer]
    messages = [line["message"] for line in about]
    assert any(m.startswith("admitted") for m in messages)
    # lines keep their module's logger name, so per-logger filters still apply
    assert {line["logger"] for line in about} >= {"aether.peers.registry",
                                                  "aether.signaling.session"}  # fmt: skip
    assert any(m.startswith("signaling from") for m in messages)
    assert any(m.startswith("rejected message: not valid JSON") for m in messages)
    assert any(m.startswith("removed") for m in messages)
    # no viewer line goes without its id
    assert not [line for line in lines if "viewer" not in line and "viewer " in line["message"]
                and "keyframe" not in line["message"]]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "content_type", "needle"),
    [
        ("/admin", "text/html", 'fetch("/stats"'),  # admin.js, inlined
        ("/admin.js", "text/javascript", 'fetch("/stats"'),
        ("/admin.css", "text/css", "#summary"),
        ("/charts.js", "text/javascript", "AetherCharts"),
        ("/overlay.js", "text/javascript", "aether-stats"),
    ],
)
def test_operator_page_and_scripts_load_without_a_token_under_the_strict_csp(
    guarded: ServerProcess, path: str, content_type: str, needle: str
) -> None:
    status, headers, body = get(guarded.url + path)
    assert status == 200
    assert headers["Content-Type"].startswith(content_type)
    assert needle in body
    csp = headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and " style=" not in body
    if content_type == "text/html":  # inlined code, each piece allowed by its hash alone
        inline = re.findall(r"<script>(.*?)</script>", body, re.DOTALL)
        digests = [base64.b64encode(hashlib.sha256(s.encode()).digest()) for s in inline]
        allowed = " ".join(f"'sha256-{d.decode()}'" for d in digests)
        assert inline and f"script-src 'self' {allowed};" in csp
    else:
        assert "script-src 'self';" in csp


def test_player_page_has_the_stats_overlay(server: ServerProcess) -> None:
    body = get(server.url + "/")[2]
    assert 'id="stats-toggle"' in body and 'id="stats" hidden' in body
    order = [
        body.index(get(server.url + f)[2]) for f in ("/charts.js", "/overlay.js", "/player.js")
    ]
    assert order == sorted(order)  # the three scripts, inlined whole, in this order
