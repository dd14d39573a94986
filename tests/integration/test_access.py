"""Access control against a real server: every rule has a test that fails without it."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.helpers import ServerProcess, free_port, run_async

ADMIN = "admin-secret-0123456789"
VIEWER = "viewer-secret-0123456789"
EXPIRED = "expired-secret-0123456789"
SOURCE = ("--source", "test", "--audio", "none", "--width", "320", "--height", "240",
          "--fps", "15", "--bitrate", "300")  # fmt: skip
TOKENS = f"admin:{ADMIN},view:{VIEWER},view:{EXPIRED}:2020-01-01"


def http(url: str, token: str | None = None, headers: dict[str, str] | None = None,
         context: Any = None) -> tuple[int, dict[str, str], str]:  # fmt: skip
    request = urllib.request.Request(url, headers=headers or {})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as err:
        with err:  # it holds the connection open until closed
            return err.code, dict(err.headers), err.read().decode()


async def _signal(url: str, token: str | None, origin: str | None = None,
                  ssl: Any = True) -> dict[str, Any]:  # fmt: skip
    """Open /signal with the browser's token transport; return the first message + meta."""
    try:
        return await _signal_once(url, token, origin, ssl)
    finally:
        if url.startswith("wss:"):
            # aiohttp's documented graceful SSL shutdown: let the TLS transport finish
            # closing before asyncio.run() stops the loop.
            await asyncio.sleep(0.25)


async def _signal_once(url: str, token: str | None, origin: str | None,
                       ssl: Any) -> dict[str, Any]:  # fmt: skip
    protocols = ["aether.v1"] + ([f"aether-token.{token}"] if token else [])
    headers = {"Origin": origin} if origin else {}
    async with aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(url, protocols=protocols, headers=headers, ssl=ssl)
        except aiohttp.WSServerHandshakeError as err:
            return {"handshake_status": err.status}
        async with ws:
            msg = await ws.receive(timeout=10)
            first = json.loads(msg.data)
            first["protocol"] = ws.protocol
            if first["type"] == "error":
                await ws.receive(timeout=5)  # bye
                closed = await ws.receive(timeout=5)
                first["close_code"] = ws.close_code if closed else None
            return first


def signal(url: str, token: str | None, **kw: Any) -> dict[str, Any]:
    return run_async(_signal(url, token, **kw))


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(*SOURCE, "--tokens", TOKENS, "--allowed-origins",
                       "https://console.example.org") as srv:  # fmt: skip
        yield srv


def test_page_and_health_need_no_token(server: ServerProcess) -> None:
    assert http(server.url + "/")[0] == 200
    assert http(server.url + "/health")[:3:2] == (200, "ok")
    # A browser's own favicon request is neither refused nor a failed attempt: many of
    # them must not lead to back-off for the page's next, authorised request.
    for _ in range(8):
        assert http(server.url + "/favicon.ico")[0] == 204
    assert http(server.url + "/stats", ADMIN)[0] == 200


@pytest.mark.parametrize(
    ("token", "status"),
    [(None, 401), ("wrong-token-0123456789", 401), (EXPIRED, 401), (VIEWER, 403), (ADMIN, 200)],
)
def test_stats_needs_an_admin_token(server: ServerProcess, token: str | None,
                                    status: int) -> None:  # fmt: skip
    code, headers, body = http(server.url + "/stats", token)
    assert code == status
    if status == 401:
        assert headers["WWW-Authenticate"].startswith("Bearer")
    if status == 200:
        stats = json.loads(body)
        assert stats["viewers_now"] == 0 and stats["fps"] == 15


def test_unknown_paths_are_closed_by_default(server: ServerProcess) -> None:
    assert http(server.url + "/anything-new")[0] == 401
    assert http(server.url + "/anything-new", ADMIN)[0] == 404


def test_signal_refuses_without_a_valid_token(server: ServerProcess) -> None:
    for token in (None, "wrong-token-0123456789", EXPIRED):
        reply = signal(server.ws_url, token)
        assert (reply["type"], reply["code"], reply["close_code"]) == (
            "error",
            "unauthorized",
            4401,
        )


def test_signal_accepts_view_and_admin_tokens(server: ServerProcess) -> None:
    for token in (VIEWER, ADMIN):
        reply = signal(server.ws_url, token)
        assert reply["type"] == "welcome"
        assert reply["protocol"] == "aether.v1"


def test_foreign_origin_cannot_open_the_socket_even_with_a_token(server: ServerProcess) -> None:
    host = f"127.0.0.1:{server.port}"
    assert signal(server.ws_url, VIEWER, origin="https://evil.example")["handshake_status"] == 403
    assert signal(server.ws_url, VIEWER, origin=f"http://{host}")["type"] == "welcome"
    allowed = signal(server.ws_url, VIEWER, origin="https://console.example.org")
    assert allowed["type"] == "welcome"


def test_secrets_never_reach_the_log(server: ServerProcess) -> None:
    signal(server.ws_url, "wrong-token-0123456789")
    http(server.url + "/stats", ADMIN)
    log = server.output()
    assert "tokens=3 (admin, view, view)" in log
    for secret in (ADMIN, VIEWER, EXPIRED, "wrong-token-0123456789"):
        assert secret not in log


def test_repeated_failures_back_off_even_for_a_valid_token() -> None:
    with ServerProcess(*SOURCE, "--tokens", TOKENS) as srv:
        for _ in range(6):
            assert http(srv.url + "/stats", "nope-nope-nope-nope")[0] == 401
        code, headers, _ = http(srv.url + "/stats", ADMIN)
        assert code == 429
        assert int(headers["Retry-After"]) > 0


def test_reachable_server_generates_a_token_and_prints_it_once() -> None:
    srv = ServerProcess(*SOURCE)
    srv.args[srv.args.index("--host") + 1] = "0.0.0.0"
    with srv:
        time.sleep(0.3)
        out = srv.output()
        line = next(ln for ln in out.splitlines() if "#token=" in ln)
        token = line.split("#token=", 1)[1].strip()
        assert len(token) >= 24
        assert signal(srv.ws_url, None)["code"] == "unauthorized"
        assert signal(srv.ws_url, token)["type"] == "welcome"
        assert http(srv.url + "/stats", token)[0] == 200
        assert srv.output().count(token) == 1


def test_allow_list_and_trusted_proxy_headers() -> None:
    with ServerProcess(*SOURCE, "--allow-ips", "10.9.9.0/24",
                       "--trusted-proxies", "127.0.0.1") as srv:  # fmt: skip
        assert http(srv.url + "/")[0] == 403
        assert http(srv.url + "/health")[0] == 200  # liveness stays open
        via = {"X-Forwarded-For": "10.9.9.7"}
        assert http(srv.url + "/", headers=via)[0] == 200
        assert http(srv.url + "/", headers={"X-Forwarded-For": "10.1.1.1"})[0] == 403
        # a client cannot smuggle an allowed address in front of its own
        spoof = {"X-Forwarded-For": "10.9.9.7, 10.1.1.1"}
        assert http(srv.url + "/", headers=spoof)[0] == 403
    with ServerProcess(*SOURCE, "--allow-ips", "10.9.9.0/24") as srv:
        # without --trusted-proxies the header is ignored
        assert http(srv.url + "/", headers={"X-Forwarded-For": "10.9.9.7"})[0] == 403


def test_message_flood_is_cut_off() -> None:
    async def flood(url: str) -> list[dict[str, Any]]:
        seen = []
        async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
            for i in range(40):
                await ws.send_str(json.dumps({"type": "ping", "id": i}))
            while True:
                msg = await ws.receive(timeout=10)
                if msg.type != aiohttp.WSMsgType.TEXT:
                    return seen
                seen.append(json.loads(msg.data))

    with ServerProcess(*SOURCE, "--max-message-rate", "5") as srv:
        seen = run_async(flood(srv.ws_url))
    kinds = [m["type"] for m in seen]
    assert {
        "type": "error",
        "code": "rate-limited",
        "message": "too many messages; closing",
    } in seen
    assert kinds[-1] == "bye" and kinds.count("pong") <= 11


def test_negotiation_timeout_ends_a_silent_viewer() -> None:
    async def silent(url: str) -> tuple[list[str], float]:
        start = time.monotonic()
        kinds = []
        async with aiohttp.ClientSession() as s, s.ws_connect(url) as ws:
            while True:
                msg = await ws.receive(timeout=10)
                if msg.type != aiohttp.WSMsgType.TEXT:
                    return kinds, time.monotonic() - start
                data = json.loads(msg.data)
                kinds.append(data.get("code") or data["type"])

    with ServerProcess(*SOURCE, "--negotiation-timeout", "1.5") as srv:
        kinds, took = run_async(silent(srv.ws_url))
    assert "timeout" in kinds and kinds[-1] == "bye"
    assert 1.4 < took < 6


def test_bad_token_config_names_the_problem_without_echoing_the_secret() -> None:
    code, out = ServerProcess("--tokens", "view:short-secret").run_to_exit()
    assert code == 2
    assert "tokens (--tokens)" in out and "16-256 characters" in out
    assert "short-secret" not in out


def test_tls_serves_https_and_wss(tmp_path: Path) -> None:
    import ssl

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    port = free_port()
    srv = ServerProcess(*SOURCE, "--cert", str(cert), "--key", str(key), port=port)
    with srv:
        assert http(f"https://127.0.0.1:{port}/health", context=context)[2] == "ok"
        reply = signal(f"wss://127.0.0.1:{port}/signal", None, ssl=context)
        assert reply["type"] == "welcome"
        assert "serving on https://" in srv.output()
