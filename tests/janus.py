"""A private Janus (Debian's `janus` package) for tests: generated config, own process.

    with JanusProcess(plugins={"streaming": streaming_config(mountpoint(...))}) as janus:
        janus.http_url   # http://127.0.0.1:PORT/janus, the REST API janus.js talks to

Only the plugins and transports asked for are loaded (each from a private folder of
symlinks), event handlers and loggers are off, the admin API is off, ICE uses only the
address given (the test namespace's veth address: libnice ignores loopback interfaces).
The system `janus.service` is never used. The process is ended by its PID.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.helpers import free_port, stop_process

JANUS = "/usr/bin/janus"
LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
JANUS_JS = Path("/usr/share/javascript/janus-gateway/janus.js")
ADAPTER_JS = Path("/usr/share/javascript/webrtc-adapter/adapter.js")
PAGE = Path(__file__).with_name("janus_page.html")
ICE_ADDRESS = "10.213.0.1"  # scripts/netns-run.sh's first veth address


def missing() -> str | None:
    """Why Janus tests cannot run here, or None."""
    for path in (Path(JANUS), LIB / "plugins" / "libjanus_streaming.so", JANUS_JS, ADAPTER_JS):
        if not path.exists():
            return (
                f"{path} not found: apt-get install janus libjs-janus-gateway "
                "libjs-webrtc-adapter (scripts/setup.sh --test)"
            )
    return None


def free_udp_ports(count: int) -> list[int]:
    """`count` distinct UDP ports that are free now, each with the next one free too
    (for RTCP on port + 1)."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < 65000 and not {port, port + 1} & {p + d for p in ports for d in (0, 1)}:
            ports.append(port)
    return ports


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return json.dumps(str(value))  # a quoted string, as libconfig wants


def jcfg(sections: dict[str, dict[str, Any]]) -> str:
    """Janus's libconfig format from {section: {key: value}}."""
    lines = []
    for name, keys in sections.items():
        lines.append(f"{name}: {{")
        lines.extend(f"\t{key} = {_value(value)}" for key, value in keys.items())
        lines.append("}")
    return "\n".join(lines) + "\n"


def rtp_mountpoint(
    mount_id: int,
    video_port: int,
    video_rtcp_port: int,
    audio_port: int | None = None,
    videofmtp: str = "profile-level-id=42e01f;packetization-mode=1",
    iface: str = "127.0.0.1",
) -> dict[str, Any]:
    """A streaming-plugin `rtp` mountpoint for Aether's H.264 (PT 96) and Opus (PT 111)."""
    mount: dict[str, Any] = {
        "type": "rtp",
        "id": mount_id,
        "description": f"aether {mount_id}",
        "video": True,
        "videoport": video_port,
        "videortcpport": video_rtcp_port,
        "videoiface": iface,
        "videopt": 96,
        "videocodec": "h264",
        "videofmtp": videofmtp,
        "audio": audio_port is not None,
    }
    if audio_port is not None:
        mount |= {
            "audioport": audio_port,
            "audioiface": iface,
            "audiopt": 111,
            "audiocodec": "opus",
        }
    return mount


def http_transport(port: int) -> dict[str, dict[str, Any]]:
    """The HTTP transport's sections: the REST API on 127.0.0.1:`port`/janus."""
    return {
        "general": {"json": "compact", "base_path": "/janus", "http": True, "port": port,
                    "ip": "127.0.0.1", "https": False},
        "admin": {"admin_http": False, "admin_https": False},
        "cors": {"allow_origin": "*"},
    }  # fmt: skip


def write_config(
    folder: Path,
    plugins: dict[str, dict[str, dict[str, Any]] | str],
    transports: dict[str, dict[str, dict[str, Any]]],
    ice_address: str,
    rtp_port_range: str,
) -> None:
    """A private Janus configuration in `folder`: only the named plugins (name -> their
    config sections, or the text of their .jcfg) and transports (name -> their sections)
    are loaded, each symlinked into a folder of its own; event handlers and loggers are
    off; ICE only on `ice_address`."""
    for kind, names in (("plugins", plugins), ("transports", transports)):
        (folder / kind).mkdir(parents=True)
        for name in names:
            (folder / kind / f"libjanus_{name}.so").symlink_to(LIB / kind / f"libjanus_{name}.so")
    (folder / "none").mkdir()
    (folder / "janus.jcfg").write_text(
        jcfg(
            {
                "general": {
                    "configs_folder": str(folder),
                    "plugins_folder": str(folder / "plugins"),
                    "transports_folder": str(folder / "transports"),
                    "events_folder": str(folder / "none"),
                    "loggers_folder": str(folder / "none"),
                    "debug_level": 4,
                    "server_name": "aether-test",
                },
                "media": {"rtp_port_range": rtp_port_range},
                "nat": {"nice_debug": False, "ice_enforce_list": ice_address, "ignore_mdns": True},
                "events": {"broadcast": False},
            }
        )
    )
    for name, sections in plugins.items():
        text = sections if isinstance(sections, str) else jcfg(sections)
        (folder / f"janus.plugin.{name}.jcfg").write_text(text)
    for name, sections in transports.items():
        (folder / f"janus.transport.{name}.jcfg").write_text(jcfg(sections))


class JanusProcess:
    """`janus -F CONFIG_DIR -o` with a generated private configuration."""

    def __init__(
        self,
        plugins: dict[str, dict[str, dict[str, Any]] | str],
        transports: tuple[str, ...] = ("http",),
        ice_address: str = ICE_ADDRESS,
        rtp_port_range: str = "30000-39999",
    ) -> None:
        """`plugins`: short name (streaming, videoroom, ...) -> its config sections, or
        the text of its .jcfg file."""
        self.plugins = plugins
        self.transports = transports
        self.ice_address = ice_address
        self.rtp_port_range = rtp_port_range
        self.http_port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="aether-janus-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/janus"

    def _write_config(self) -> None:
        http = {"http": http_transport(self.http_port)} if "http" in self.transports else {}
        write_config(
            self.dir,
            plugins=self.plugins,
            transports=http,
            ice_address=self.ice_address,
            rtp_port_range=self.rtp_port_range,
        )

    def start(self, timeout: float = 15.0) -> JanusProcess:
        self._write_config()
        log = (self.dir / "janus.log").open("wb")
        self.proc = subprocess.Popen(
            [JANUS, "-F", str(self.dir), "-C", str(self.dir / "janus.jcfg"), "-o"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "HOME": str(self.dir)},
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"janus exited {self.proc.returncode}:\n{self.output()}")
            try:
                with urllib.request.urlopen(self.http_url + "/info", timeout=1) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"janus not answering in {timeout} s:\n{self.output()}")

    def request(self, path: str, body: dict[str, Any]) -> Any:
        """POST one Janus API request (a transaction id is added); the JSON reply."""
        data = json.dumps({**body, "transaction": f"t{time.monotonic_ns()}"}).encode()
        url = self.http_url + path
        with urllib.request.urlopen(urllib.request.Request(url, data), timeout=5) as reply:
            return json.load(reply)

    def plugin_request(self, plugin: str, body: dict[str, Any]) -> Any:
        """A synchronous plugin request in a throwaway session; the plugin's data."""
        session = self.request("", {"janus": "create"})["data"]["id"]
        handle = self.request(f"/{session}", {"janus": "attach", "plugin": plugin})["data"]["id"]
        reply = self.request(f"/{session}/{handle}", {"janus": "message", "body": body})
        self.request(f"/{session}", {"janus": "destroy"})
        return reply["plugindata"]["data"]

    def info(self) -> Any:
        with urllib.request.urlopen(self.http_url + "/info", timeout=5) as reply:
            return json.load(reply)

    def output(self) -> str:
        path = self.dir / "janus.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> JanusProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PageServer:
    """tests/janus_page.html (a streaming-plugin viewer) with Debian's janus.js and
    adapter.js, from a local HTTP server; Janus's HTTP transport answers it with CORS.
    `window.videoStats()` in the page returns frames shown, size and inbound-rtp figures."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="aether-janus-page-"))
        shutil.copy(PAGE, self.dir / "index.html")
        shutil.copy(JANUS_JS, self.dir / "janus.js")
        shutil.copy(ADAPTER_JS, self.dir / "adapter.js")

        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

        handler = functools.partial(Quiet, directory=str(self.dir))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, janus: JanusProcess, mount_id: int) -> str:
        port = self.httpd.server_address[1]
        return f"http://127.0.0.1:{port}/index.html?janus={janus.http_url}&id={mount_id}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
        shutil.rmtree(self.dir, ignore_errors=True)
