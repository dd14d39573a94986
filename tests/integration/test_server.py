"""A real `aether serve` process: HTTP endpoints, signaling errors, start-up failures."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import urllib.request
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.helpers import ServerProcess, receive_message, run_async

TEST_SOURCE = (
    "--source",
    "test",
    "--audio",
    "test",
    "--width",
    "320",
    "--height",
    "240",
    "--fps",
    "15",
    "--bitrate",
    "300",
)


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(*TEST_SOURCE, "--max-viewers", "3") as srv:
        yield srv


def get(url: str) -> tuple[int, dict[str, str], str]:
    with urllib.request.urlopen(url, timeout=5) as r:
        return r.status, dict(r.headers), r.read().decode()


def test_health_says_ok(server: ServerProcess) -> None:
    status, _, body = get(server.url + "/health")
    assert (status, body) == (200, "ok")


def test_player_page_and_script_are_served_with_security_headers(server: ServerProcess) -> None:
    status, headers, body = get(server.url + "/")
    assert status == 200
    assert '<video id="video"' in body and "new RTCPeerConnection" in body  # player.js inlined
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    status, headers, script = get(server.url + "/player.js")
    assert status == 200 and "RTCPeerConnection" in script
    assert headers["Content-Type"].startswith("text/javascript")


def test_session_starts_with_welcome_then_an_h264_opus_offer(server: ServerProcess) -> None:
    async def scenario() -> tuple[Any, Any]:
        async with aiohttp.ClientSession() as http, http.ws_connect(server.ws_url) as ws:
            welcome = await receive_message(ws, "welcome")
            offer = await receive_message(ws, "offer")
            return welcome, offer

    welcome, offer = run_async(scenario())
    assert welcome["v"] == 1 and welcome["viewer"]
    assert welcome["iceServers"] == []  # started with --stun none
    sdp = offer["sdp"]
    assert "m=video" in sdp and "H264/90000" in sdp and "packetization-mode=1" in sdp
    assert "m=audio" in sdp and "OPUS/48000" in sdp.upper()
    assert "a=sendonly" in sdp
    assert "profile-level-id=42" in sdp  # constrained baseline, read from the stream
    # separate stream ids for audio and video (no lip-sync hold-back in Chromium)
    assert "aether-video" in sdp and "aether-audio" in sdp
    # frames shown as soon as decoded (playout-delay 0), on by default
    assert "a=extmap:9 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay" in sdp


def test_joining_viewers_take_prepared_peers_in_protocol_order(server: ServerProcess) -> None:
    """Each viewer gets a peer made in advance: welcome first, then the offer at once with
    the candidates gathered meanwhile, then trickled ones; the spare is no viewer."""

    async def join(http: aiohttp.ClientSession) -> list[Any]:
        async with http.ws_connect(server.ws_url) as ws:
            messages = []
            async with asyncio.timeout(10):
                while len(messages) < 3:
                    messages.append(json.loads((await ws.receive()).data))
            return messages

    async def scenario() -> tuple[list[Any], list[Any], int]:
        await asyncio.sleep(0.5)  # the first spare is ready
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url + "/stats") as response:
                snapshot = await response.json()
            assert snapshot["spare_peer_ready"] is True, snapshot
            before = snapshot["viewers_total"]
            first = await join(http)
            await asyncio.sleep(0.6)  # the next spare is made
            second = await join(http)
            async with http.get(server.url + "/stats") as response:
                after = (await response.json())["viewers_total"]
        return first, second, after - before

    first, second, admitted = run_async(scenario())
    for messages in (first, second):
        assert [m["type"] for m in messages[:2]] == ["welcome", "offer"], messages
        assert messages[2]["type"] == "ice", messages
    assert first[0]["viewer"] != second[0]["viewer"]
    assert admitted == 2  # spares are not counted as viewers


def test_bad_messages_get_precise_errors_and_the_session_goes_on(server: ServerProcess) -> None:
    cases = [
        ("{not json", "bad-json"),
        (json.dumps({"type": "dance"}), "unknown-type"),
        (json.dumps({"type": "answer"}), "bad-message"),
        (json.dumps({"type": "ping", "v": 9}), "unsupported-version"),
        (json.dumps({"type": "ice", "candidate": "x", "sdpMLineIndex": 0}), "bad-candidate"),
        (json.dumps({"type": "answer", "sdp": "v=0\r\nnonsense"}), "bad-sdp"),
        (json.dumps({"type": "ping", "pad": "x" * 70_000}), "too-large"),
    ]

    async def scenario() -> list[str]:
        codes = []
        async with aiohttp.ClientSession() as http, http.ws_connect(server.ws_url) as ws:
            await receive_message(ws, "offer")
            for raw, _ in cases:
                await ws.send_str(raw)
                codes.append((await receive_message(ws, "error"))["code"])
            await ws.send_bytes(b"\x00\x01")
            codes.append((await receive_message(ws, "error"))["code"])
            await ws.send_str(json.dumps({"type": "ping", "id": 7}))
            assert (await receive_message(ws, "pong"))["id"] == 7
        return codes

    assert run_async(scenario()) == [code for _, code in cases] + ["bad-message"]
    assert get(server.url + "/health")[2] == "ok"


def test_viewer_limit_gives_a_clear_server_full_error(server: ServerProcess) -> None:
    async def scenario() -> Any:
        async with aiohttp.ClientSession() as http:
            sockets = [await http.ws_connect(server.ws_url) for _ in range(3)]
            for ws in sockets:
                await receive_message(ws, "welcome")
            async with http.ws_connect(server.ws_url) as extra:
                error = await receive_message(extra, "error")
                bye = await receive_message(extra, "bye")
            for ws in sockets:
                await ws.close()
            return error, bye

    error, bye = run_async(scenario())
    assert error["code"] == "server-full" and "3 viewers" in error["message"]
    assert bye["reason"] == "server-full"


def test_sigterm_shuts_down_cleanly_with_a_viewer_attached() -> None:
    srv = ServerProcess(*TEST_SOURCE).start()

    async def hold() -> Any:
        async with aiohttp.ClientSession() as http, http.ws_connect(srv.ws_url) as ws:
            await receive_message(ws, "offer")
            assert srv.proc is not None
            srv.proc.send_signal(signal.SIGTERM)
            return await receive_message(ws, "bye")

    try:
        bye = run_async(hold())
    finally:
        code = srv.stop()
    assert bye["reason"] == "server shutting down"
    assert code == 0
    assert "stopped" in srv.output()


# --- start-up failures: one clear message, non-zero exit --------------------------------


def test_port_in_use_is_named_with_the_fix() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, out = ServerProcess(*TEST_SOURCE, port=port).run_to_exit()
    assert code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in out
    assert "--port" in out
    assert "Traceback" not in out


def test_unopenable_display_is_named_with_the_fix() -> None:
    code, out = ServerProcess(
        "--source", "x11", "--display", ":249", "--audio", "none"
    ).run_to_exit()
    assert code == 1
    assert "cannot open X display ':249'" in out and "fix:" in out
    assert "Traceback" not in out


def test_auto_source_falls_back_to_the_test_pattern_without_a_display() -> None:
    with ServerProcess(
        "--source",
        "auto",
        "--display",
        ":249",
        "--audio",
        "test",
        "--width",
        "320",
        "--height",
        "240",
        "--fps",
        "15",
    ) as srv:
        assert get(srv.url + "/health")[0] == 200
    assert "using the test pattern" in srv.output()


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (("--fps", "0"), {}, "invalid fps (--fps)='0': expected an integer from 1 to 240"),
        ((), {"AETHER_WIDTH": "wide"}, "invalid width (AETHER_WIDTH)='wide'"),
        (("--source", "webcam"), {}, "expected one of auto, x11, test"),
        (("--region", "10x10"), {}, "WIDTHxHEIGHT+X+Y"),
    ],
)
def test_bad_settings_name_the_setting_value_and_what_is_allowed(
    args: tuple[str, ...], env: dict[str, str], expected: str
) -> None:
    code, out = ServerProcess(*args, env=env).run_to_exit()
    assert code == 2
    assert expected in out
    assert "Traceback" not in out


def test_missing_gstreamer_plugins_name_the_debian_package(tmp_path: Any) -> None:
    empty = tmp_path / "plugins"
    empty.mkdir()
    env = {
        "GST_PLUGIN_SYSTEM_PATH_1_0": str(empty),
        "GST_PLUGIN_PATH_1_0": str(empty),
        "GST_REGISTRY_1_0": str(tmp_path / "registry.bin"),
    }
    code, out = ServerProcess(*TEST_SOURCE, env=env).run_to_exit()
    assert code == 1
    assert "missing GStreamer element(s): webrtcbin" in out
    assert "apt-get install" in out and "gstreamer1.0-plugins-bad" in out
