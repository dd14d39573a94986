"""`aether doctor` and `aether sources`: what this machine can capture and encode, and
whether `aether serve` with the same options would start.

Every check does the real thing where it is cheap (open the display, connect to the
audio server, encode a few frames, bind the port, ask the STUN server) and says how to
fix what fails.
"""

from __future__ import annotations

import secrets
import socket
import struct
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from aether import gst
from aether.capture.base import AudioSource, VideoSource
from aether.config import Config
from aether.errors import AetherError
from aether.peers.turncheck import TurnCheckError, allocate

MIN_GSTREAMER = (1, 22)
STUN_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok", "fail" (serving would fail), "warn" (serving works, degraded), "info"
    detail: str
    fix: str = ""


def _error(exc: AetherError) -> tuple[str, str]:
    """(message, fix) of an Aether error; StartupError keeps the fix apart."""
    text = str(exc).split("\n  fix: ")[0]
    return text, getattr(exc, "fix", "")


# --- the inventory (`aether sources`) ----------------------------------------------------


def monitors(config: Config) -> dict[str, Any]:
    from aether.capture.x11 import probe_display

    try:
        info = probe_display(config.display)
    except AetherError as exc:
        return {"display": config.display, "error": _error(exc)[0]}
    return {
        "display": config.display,
        "size": f"{info.width}x{info.height}",
        "monitors": [
            {"index": i, **asdict(m), "geometry": f"{m.width}x{m.height}+{m.x}+{m.y}"}
            for i, m in enumerate(info.monitors)
        ],
    }


def devices(device_class: str) -> list[dict[str, str]]:
    """Devices GStreamer's device monitor sees: `Audio/Source` or `Video/Source`."""
    gst.init()
    monitor = gst.Gst.DeviceMonitor.new()
    monitor.add_filter(device_class, None)
    if not monitor.start():
        return []
    try:
        found = []
        for device in monitor.get_devices() or []:
            props = device.get_properties()
            entry = {"name": device.get_display_name()}
            for key in ("device.path", "api.v4l2.path"):
                if props is not None and props.has_field(key):
                    entry["device"] = props.get_string(key)
            if device.find_property("internal-name") is not None:
                entry["pulse_name"] = device.get_property("internal-name")
            found.append(entry)
        return found
    finally:
        monitor.stop()


def encoders(config: Config) -> list[dict[str, str]]:
    from aether.encode import VIDEO_ENCODERS

    out = []
    for name, factory in VIDEO_ENCODERS.items():
        try:
            factory(config).check()
        except AetherError as exc:
            message, fix = _error(exc)
            out.append({"name": name, "usable": "no", "reason": message, "fix": fix})
        else:
            out.append({"name": name, "usable": "yes", "reason": "", "fix": ""})
    return out


def inventory(config: Config) -> dict[str, Any]:
    return {
        "x11": monitors(config),
        "audio_sources": devices("Audio/Source"),
        "cameras": devices("Video/Source"),
        "encoders": encoders(config),
    }


def format_inventory(data: dict[str, Any]) -> str:
    lines = [f"X display {data['x11']['display']}:"]
    if "error" in data["x11"]:
        lines.append(f"  unavailable: {data['x11']['error']}")
    for m in data["x11"].get("monitors", []):
        primary = " (primary)" if m["primary"] else ""
        lines.append(f"  monitor {m['index']}: {m['name']} {m['geometry']}{primary}")
    lines.append("audio sources (--audio pulse --audio-device NAME):")
    for a in data["audio_sources"] or [{"name": "none found"}]:
        lines.append(f"  {a.get('pulse_name', '-')}: {a['name']}")
    lines.append("cameras (--source v4l2 --device PATH):")
    for c in data["cameras"] or [{"name": "none found"}]:
        lines.append(f"  {c.get('device', '-')}: {c['name']}")
    lines.append("encoders (--encoder NAME):")
    for e in data["encoders"]:
        state = "usable" if e["usable"] == "yes" else f"not usable: {e['reason']}"
        lines.append(f"  {e['name']}: {state}")
    return "\n".join(lines)


# --- the checks (`aether doctor`) --------------------------------------------------------


def check_gstreamer() -> Check:
    gst.init()
    major, minor, micro, _nano = gst.Gst.version()
    version = f"{major}.{minor}.{micro}"
    if (major, minor) < MIN_GSTREAMER:
        return Check("GStreamer", "fail", f"{version} is older than 1.22", "Debian 12 or newer")
    return Check("GStreamer", "ok", version)


def check_plugins() -> Check:
    from aether.server import BASE_ELEMENTS

    try:
        gst.require(*BASE_ELEMENTS)
    except AetherError as exc:
        message, fix = _error(exc)
        return Check("GStreamer plugins", "fail", message, fix)
    return Check("GStreamer plugins", "ok", f"{len(BASE_ELEMENTS)} elements present")


def check_encoders(config: Config) -> list[Check]:
    chosen = None if config.encoder == "auto" else config.encoder
    found = encoders(config)
    checks = []
    for e in found:
        if e["usable"] == "yes":
            checks.append(Check(f"encoder {e['name']}", "ok", "test encode passed"))
        else:
            status = "fail" if e["name"] == chosen else "info"
            checks.append(Check(f"encoder {e['name']}", status, e["reason"], e["fix"]))
    if chosen is None and not any(e["usable"] == "yes" for e in found):
        fix = "sudo apt-get install gstreamer1.0-plugins-ugly"
        checks.append(Check("encoder auto", "fail", "no encoder can run", fix))
    return checks


def check_video(config: Config) -> Check:
    from aether.capture import resolve_video

    return _check_source(f"video source {config.source}", lambda: resolve_video(config))


def check_audio(config: Config) -> Check:
    from aether.capture import resolve_audio

    return _check_source(f"audio source {config.audio}", lambda: resolve_audio(config))


def _check_source(name: str, open_source: Callable[[], VideoSource | AudioSource]) -> Check:
    try:
        source = open_source()
    except AetherError as exc:
        message, fix = _error(exc)
        return Check(name, "fail", message, fix)
    return Check(name, "ok", source.describe())


def check_port(config: Config) -> Check:
    name = f"port {config.host}:{config.port}"
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((config.host, config.port))
        except OSError as exc:
            fix = "stop the other program or choose another port with --port/AETHER_PORT"
            return Check(name, "fail", f"cannot listen: {exc.strerror}", fix)
    return Check(name, "ok", "free")


def stun_binding(host: str, port: int, timeout: float = STUN_TIMEOUT_S) -> str:
    """Send one STUN Binding request (RFC 8489); return the reflexive address it reports."""
    transaction = secrets.token_bytes(12)
    request = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + transaction
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(request, (host, port))
        while True:
            data, _ = s.recvfrom(2048)
            if len(data) >= 20 and data[8:20] == transaction:
                break
    kind, length = struct.unpack("!HH", data[:4])
    if kind != 0x0101:
        raise OSError(f"STUN error response (type 0x{kind:04x})")
    offset = 20
    while offset + 4 <= 20 + length:
        attr, size = struct.unpack("!HH", data[offset : offset + 4])
        value = data[offset + 4 : offset + 4 + size]
        if attr == 0x0020 and len(value) >= 8 and value[1] == 0x01:  # XOR-MAPPED-ADDRESS, v4
            xport = struct.unpack("!H", value[2:4])[0] ^ 0x2112
            xaddr = struct.unpack("!I", value[4:8])[0] ^ 0x2112A442
            return f"{socket.inet_ntoa(struct.pack('!I', xaddr))}:{xport}"
        offset += 4 + size + (-size % 4)
    return "answered"


def check_stun(config: Config) -> list[Check]:
    checks = []
    for url in config.stun:
        host, _, port = url.removeprefix("stun:").rpartition(":")
        if not host:
            host, port = port, "3478"
        try:
            address = stun_binding(host.strip("[]"), int(port))
        except (OSError, ValueError) as exc:
            fix = "viewers outside this network may fail to connect; check the firewall or --stun"
            checks.append(Check(f"STUN {url}", "warn", f"no answer: {exc}", fix))
        else:
            checks.append(Check(f"STUN {url}", "ok", f"this host is seen as {address}"))
    return checks


def check_turn(config: Config) -> list[Check]:
    """Allocate a relay on each --turn server with its credentials (then release it)."""
    checks = []
    for server in config.turn:  # str(server) masks the credentials
        try:
            relayed = allocate(server)
        except TurnCheckError as exc:
            status = "ok" if str(exc).startswith("only turn:") else "warn"
            fix = "viewers that need a relay will not connect; check --turn and the TURN server"
            detail = f"not checked: {exc}" if status == "ok" else str(exc)
            checks.append(Check(f"TURN {server}", status, detail, fix))
        else:
            checks.append(Check(f"TURN {server}", "ok", f"credentials taken, relay at {relayed}"))
    return checks


def run_checks(config: Config) -> list[Check]:
    checks = [check_gstreamer(), check_plugins()]
    checks += check_encoders(config)
    checks += [check_video(config), check_audio(config), check_port(config)]
    checks += check_stun(config)
    checks += check_turn(config)
    return checks


def format_checks(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{c.status.upper():4}  {c.name:{width}}  {c.detail}")
        if c.fix and c.status != "ok":
            lines.append(f"{'':4}  {'':{width}}  fix: {c.fix}")
    failed = [c.name for c in checks if c.status == "fail"]
    verdict = "serving would fail: " + ", ".join(failed) if failed else "ready to serve"
    return "\n".join([*lines, "", verdict])


def doctor(config: Config) -> tuple[int, list[Check]]:
    """Exit code (1 if serving would fail) and the checks."""
    checks = run_checks(config)
    return (1 if any(c.status == "fail" for c in checks) else 0), checks
