"""A real WHIP ingest for the publish tests: Janus (videoroom) behind simple-whip-server.

    aether --WHIP POST--> simple-whip-server --Janus API (WebSocket)--> Janus videoroom
    Chromium (janus.js, Janus HTTP API) <------------------------------ Janus videoroom

Both come from Debian: Janus from apt (`janus`), simple-whip-server from its .deb, which
scripts/setup.sh --test extracts into tests/whip-server/deb and whose npm dependencies it
installs into tests/whip-server/node_modules (its apt install conflicts with Node from
elsewhere). Janus runs privately on a generated config, its transports on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from tests.helpers import ROOT, free_port, stop_process
from tests.janus import http_transport, write_config

JANUS = "/usr/bin/janus"
WHIP_DIR = ROOT / "tests" / "whip-server"
WHIP_SRC = WHIP_DIR / "deb" / "usr" / "share" / "simple-whip-server" / "src"
ROOM = 1234
JANUS_JS = Path("/usr/share/javascript/janus-gateway/janus.js")
ADAPTER_JS = Path("/usr/share/javascript/webrtc-adapter/adapter.js")


def missing() -> str | None:
    """Why the ingest cannot run here (None when it can)."""
    if not Path(JANUS).exists():
        return "Janus is not installed (apt janus): run scripts/setup.sh --test"
    if not JANUS_JS.exists() or not ADAPTER_JS.exists():
        return "janus.js/adapter.js missing (apt libjs-janus-gateway libjs-webrtc-adapter)"
    if not (WHIP_SRC / "server.js").exists() or not (WHIP_DIR / "node_modules").is_dir():
        return "simple-whip-server is not unpacked in tests/whip-server: scripts/setup.sh --test"
    if shutil.which("node") is None:
        return "node is not installed"
    return None


def whip_server_config(folder: Path, port: int, janus_ws: str) -> None:
    """simple-whip-server reads ./config.js next to server.js: copy its sources beside
    one of ours (its node_modules are found through NODE_PATH)."""
    for name in ("server.js", "whip-janus.js"):
        shutil.copy(WHIP_SRC / name, folder / name)
    settings = {
        "janus": {"address": janus_ws},
        "port": port,
        "rest": "/whip",
        "allowTrickle": True,
        "strictETags": False,
        "iceServers": [],
    }
    (folder / "config.js").write_text("module.exports = " + json.dumps(settings, indent=1) + ";\n")


def _nonloopback_address() -> str:
    out = subprocess.run(["ip", "-o", "-4", "addr"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[1] != "lo":
            return fields[3].split("/")[0]
    raise RuntimeError("no non-loopback IPv4 address: run inside scripts/netns-run.sh")


@dataclass
class Ingest:
    """Janus + simple-whip-server, started and stopped together (a test can restart
    them to play an ingest that goes away)."""

    workdir: Path
    janus_http_port: int
    janus_ws_port: int
    whip_port: int
    janus: subprocess.Popen[bytes] | None = None
    whip: subprocess.Popen[bytes] | None = None
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def janus_http(self) -> str:
        return f"http://127.0.0.1:{self.janus_http_port}"

    @property
    def whip_base(self) -> str:
        return f"http://127.0.0.1:{self.whip_port}/whip"

    def endpoint_url(self, endpoint: str) -> str:
        return f"{self.whip_base}/endpoint/{endpoint}"

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self, timeout: float = 20.0) -> None:
        janus_dir, whip_dir = self.workdir / "janus", self.workdir / "whip"
        if not janus_dir.exists():
            janus_dir.mkdir()
            # one room for one H.264 + Opus publisher (what Aether sends)
            room = {"description": "aether", "publishers": 1, "bitrate": 0, "fir_freq": 0,
                    "videocodec": "h264", "audiocodec": "opus"}  # fmt: skip
            websockets = {"ws": True, "ws_port": self.janus_ws_port, "ws_ip": "127.0.0.1",
                          "wss": False}  # fmt: skip
            write_config(
                janus_dir,
                plugins={"videoroom": {"general": {}, f"room-{ROOM}": room}},
                transports={
                    "http": http_transport(self.janus_http_port),
                    "websockets": {"general": websockets, "admin": {}},
                },
                ice_address=_nonloopback_address(),
                rtp_port_range="20000-20999",
            )
            whip_dir.mkdir()
            whip_server_config(whip_dir, self.whip_port, f"ws://127.0.0.1:{self.janus_ws_port}")
        self.janus = subprocess.Popen(
            [JANUS, "-F", str(janus_dir), "-C", str(janus_dir / "janus.jcfg"), "-o"],
            stdout=self._log_file("janus"),
            stderr=subprocess.STDOUT,
        )
        _wait_http(f"{self.janus_http}/janus/info", self.janus, timeout, "Janus")
        self.whip = subprocess.Popen(
            ["node", "server.js"],
            cwd=whip_dir,
            env={**os.environ, "NODE_PATH": str(WHIP_DIR / "node_modules"), "DEBUG": "whip:*"},
            stdout=self._log_file("whip"),
            stderr=subprocess.STDOUT,
        )
        _wait_http(f"{self.whip_base}/healthcheck", self.whip, timeout, "simple-whip-server")
        # It answers before its WebSocket to Janus is up; publishing needs that link.
        deadline = time.monotonic() + timeout
        while "Connected to Janus" not in self.log("whip"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"simple-whip-server did not reach Janus:\n{self.log('whip')}")
            time.sleep(0.1)

    def _log_file(self, name: str) -> IO[bytes]:
        handle = open(self.workdir / f"{name}.log", "ab")
        self._logs.append(handle)
        return handle

    def create_endpoint(self, endpoint: str, token: str | None = None) -> None:
        """simple-whip-server's own (non-WHIP) call mapping an endpoint to the room."""
        body: dict[str, object] = {"id": endpoint, "room": ROOM}
        if token:
            body["token"] = token
        request = urllib.request.Request(
            f"{self.whip_base}/create",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200

    def stop(self) -> None:
        for proc in (self.whip, self.janus):
            if proc is not None:
                stop_process(proc, 10)
        self.whip = self.janus = None
        for handle in self._logs:
            handle.close()
        self._logs.clear()


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer {url} within {timeout} s")


@contextlib.contextmanager
def whip_ingest() -> Iterator[Ingest]:
    """Janus and simple-whip-server on free loopback ports; stopped and removed after."""
    workdir = Path(tempfile.mkdtemp(prefix="aether-whip-"))
    ingest = Ingest(workdir, free_port(), free_port(), free_port())
    try:
        ingest.start()
        yield ingest
    finally:
        ingest.stop()
        shutil.rmtree(workdir, ignore_errors=True)
