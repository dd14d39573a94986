"""Real processes for integration and end-to-end tests: the server, Xvfb, PulseAudio."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


def run_async(coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
    """Run a coroutine to completion in a worker thread with its own event loop.

    Playwright's sync API owns the main thread's loop while a browser fixture is alive,
    so tests never call asyncio.run() on the main thread.
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=timeout)


async def receive_message(ws: aiohttp.ClientWebSocketResponse, kind: str) -> Any:
    """The next signaling message of the given type on an aiohttp WebSocket, skipping
    others (e.g. trickled ICE); fails if the socket ends or 10 s pass."""
    async with asyncio.timeout(10):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, f"socket ended: {msg}"
            data = json.loads(msg.data)
            if data["type"] == kind:
                return data


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class InProcessServer:
    """The server's parts, run in the test's own process (see in_process_server)."""

    config: Any
    media: Any  # fanout.pipeline.MediaPipeline
    viewers: Any  # peers.registry.Viewers

    @property
    def signal_url(self) -> str:
        return f"ws://127.0.0.1:{self.config.port}/signal"


@contextlib.asynccontextmanager
async def in_process_server(flags: dict[str, str]) -> AsyncIterator[InProcessServer]:
    """The server (its real pipeline, webrtcbin peers and HTTP app) in this process on a
    free port, for tests that reach into a live viewer's GStreamer elements."""
    from aiohttp import web

    from aether import gst
    from aether.config import load_config
    from aether.fanout.pipeline import media_for
    from aether.peers.registry import Viewers
    from aether.web.access import AccessControl
    from aether.web.app import create_app

    gst.init()
    config = load_config({**flags, "port": str(free_port())}, {})
    loop = asyncio.get_running_loop()
    media = media_for(config)
    media.build()
    await media.start(loop)
    viewers = Viewers(media, loop, config.max_viewers, config.ice)
    runner = web.AppRunner(create_app(config, viewers, AccessControl(config)))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", config.port).start()
    try:
        yield InProcessServer(config, media, viewers)
    finally:
        await runner.cleanup()
        await media.stop()


def in_private_netns() -> bool:
    """True when a non-loopback interface with an IPv4 address exists (ICE can gather)."""
    out = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout
    return any(line.split()[1] != "lo" for line in out.splitlines() if line.strip())


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM a child process we started, wait for it, SIGKILL it if it will not end."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class ServerProcess:
    """`aether serve` as a child process with its output captured to a file."""

    def __init__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        wrapper: list[str] | None = None,
    ):
        # wrapper: a command prefix, e.g. nsenter into another network namespace (it must
        # exec the server, so that the pid is the server's).
        self.port = port or free_port()
        self.host = host
        self.wrapper = wrapper or []
        self.args = [
            "serve",
            "--host",
            host,
            "--port",
            str(self.port),
            "--stun",
            "none",
            *args,
        ]
        self.env = {**os.environ, "AETHER_LOG": "info,aether=debug", **(env or {})}
        self.log: Any = None  # opened by start(): run_to_exit() needs no file
        self.proc: subprocess.Popen[str] | None = None

    @property
    def tls(self) -> bool:
        return "--cert" in self.args

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/signal"

    def stats(self, token: str | None = None, timeout: float = 10.0) -> dict[str, Any]:
        """GET /stats, with `token` as a bearer token when access needs one."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        request = urllib.request.Request(self.url + "/stats", headers=headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return dict(json.loads(response.read()))

    def start(self, timeout: float = 20.0) -> ServerProcess:
        self.log = tempfile.NamedTemporaryFile("w+", prefix="aether-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [*self.wrapper, sys.executable, "-m", "aether", *self.args],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}:\n{self.output()}")
            try:
                context = ssl._create_unverified_context() if self.tls else None
                with urllib.request.urlopen(self.url + "/health", timeout=1, context=context) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server not healthy in {timeout} s:\n{self.output()}")

    def output(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return Path(self.log.name).read_text()

    def stop(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        stop_process(self.proc, timeout)
        self.log.close()
        return self.proc.returncode

    def run_to_exit(self, timeout: float = 30.0) -> tuple[int, str]:
        """Run a server expected to fail at start-up; returns (exit code, output)."""
        proc = subprocess.run(
            [sys.executable, "-m", "aether", *self.args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return proc.returncode, proc.stdout + proc.stderr

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_display() -> int:
    for n in range(90, 200):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise RuntimeError("no free X display number")


@contextlib.contextmanager
def xvfb(width: int = 1280, height: int = 720) -> Iterator[str]:
    """A private Xvfb; yields its DISPLAY name."""
    if shutil.which("Xvfb") is None:
        raise RuntimeError("Xvfb not installed: run scripts/setup.sh --test")
    number = _free_display()
    proc = subprocess.Popen(
        [
            "Xvfb",
            f":{number}",
            "-screen",
            "0",
            f"{width}x{height}x24",
            "-nolisten",
            "tcp",
            "-noreset",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Xvfb :{number} did not start")
            time.sleep(0.05)
        XVFB_PROCS[f":{number}"] = proc
        yield f":{number}"
    finally:
        XVFB_PROCS.pop(f":{number}", None)
        proc.terminate()
        proc.wait(10)


XVFB_PROCS: dict[str, subprocess.Popen[bytes]] = {}  # so a test can pull the plug


@contextlib.contextmanager
def pulseaudio() -> Iterator[dict[str, str]]:
    """A private PulseAudio with a null sink as default; yields env vars to reach it."""
    runtime = Path(tempfile.mkdtemp(prefix="aether-pulse-"))
    socket_path = runtime / "native"
    env = {
        **os.environ,
        "HOME": str(runtime),
        "XDG_RUNTIME_DIR": str(runtime),
        "PULSE_RUNTIME_PATH": str(runtime),
    }
    proc = subprocess.Popen(
        [
            "pulseaudio",
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--disallow-exit",
            "--use-pid-file=no",
            "--system=false",
            f"--load=module-native-protocol-unix socket={socket_path} auth-anonymous=1",
            "--load=module-null-sink sink_name=aether_test",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client_env = {"PULSE_SERVER": f"unix:{socket_path}"}
    try:
        deadline = time.monotonic() + 10
        while True:
            ok = subprocess.run(
                ["pactl", "set-default-sink", "aether_test"],
                env={**os.environ, **client_env},
                capture_output=True,
            )
            if ok.returncode == 0:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("PulseAudio did not start")
            time.sleep(0.1)
        yield client_env
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(runtime, ignore_errors=True)
