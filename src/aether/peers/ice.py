"""ICE settings for webrtcbin: STUN and TURN servers, and the UDP port range it binds.

The port range is set on webrtcbin's ICE agent (GstWebRTCNice, `min-rtp-port` and
`max-rtp-port`), which is only reachable through webrtcbin's `ice-agent` property. In
GStreamer 1.22, reading that property from PyGObject hands Python the agent without a
reference of its own (the agent is still floating when webrtcbin hands it out, and the
wrapper sinks it): the wrapper then releases webrtcbin's only reference when it goes away,
and webrtcbin's teardown unrefs a freed object (gst_object_unref criticals, a
use-after-free). `ice_agent()` takes the reference the getter should have returned, with
one g_object_ref through ctypes, when the agent has a single reference while webrtcbin and
the wrapper both hold it (a GStreamer that fixes this hands out two, and gets no extra).

Every host candidate of a viewer binds one UDP port per local address (bundled: audio and
video share it; libnice may reuse a port number on different addresses). The server keeps
one spare peer prepared (peers/registry.py), so a range must have at least max-viewers + 1
ports. A viewer that finds no free port in the range gets no candidates: its peer reports
a failure ("no free UDP port in ...") and the viewer is told so; others are unaffected.
"""

from __future__ import annotations

import ctypes
import re
import urllib.parse
from dataclasses import dataclass, field
from functools import cache
from typing import Any

# Host candidates come within ~0.1 s of gathering's start; a peer with none after this
# long found every port of a pinned range taken (libnice says nothing of it).
PORT_WAIT = 3.0
# libnice's connectivity check pacing (Ta), ms; its default is 20.
STUN_PACING_MS = 5


@dataclass(frozen=True)
class PortRange:
    """The UDP ports (inclusive) that viewers' ICE candidates may bind."""

    low: int
    high: int

    @property
    def size(self) -> int:
        return self.high - self.low + 1

    def __contains__(self, port: object) -> bool:
        return isinstance(port, int) and self.low <= port <= self.high

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"


def parse_port_range(text: str) -> PortRange | None:
    """`LOW-HIGH` (inclusive, 1024-65535), or `any` for ports the system picks."""
    value = text.strip()
    if value.lower() in ("", "any"):
        return None
    match = re.fullmatch(r"([0-9]{1,5})\s*-\s*([0-9]{1,5})", value)
    allowed = "LOW-HIGH with 1024 <= LOW <= HIGH <= 65535 (e.g. 40000-40099), or 'any'"
    if not match:
        raise ValueError(allowed)
    low, high = int(match[1]), int(match[2])
    if not 1024 <= low <= high <= 65535:
        raise ValueError(allowed)
    return PortRange(low, high)


@dataclass(frozen=True)
class TurnServer:
    """A TURN server and the long-term credentials both ends use to allocate on it.

    str() and repr() never show the credentials."""

    secure: bool  # turns: (TLS over TCP) rather than turn:
    host: str
    port: int
    username: str = field(repr=False)
    password: str = field(repr=False)
    transport: str | None = None  # "udp" or "tcp"; None: the client's default

    def __str__(self) -> str:
        query = f"?transport={self.transport}" if self.transport else ""
        return f"{'turns' if self.secure else 'turn'}://***@{self._hostport}{query}"

    @property
    def _hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def gst_uri(self) -> str:
        """The form webrtcbin takes: turn(s)://USER:PASS@HOST:PORT, user and pass
        percent-escaped (webrtcbin unescapes them)."""
        user = urllib.parse.quote(self.username, safe="")
        password = urllib.parse.quote(self.password, safe="")
        query = f"?transport={self.transport}" if self.transport else ""
        scheme = "turns" if self.secure else "turn"
        return f"{scheme}://{user}:{password}@{self._hostport}{query}"

    def browser(self) -> dict[str, Any]:
        """One RTCIceServer for the browser's RTCPeerConnection."""
        query = f"?transport={self.transport}" if self.transport else ""
        url = f"{'turns' if self.secure else 'turn'}:{self._hostport}{query}"
        return {"urls": [url], "username": self.username, "credential": self.password}


TURN_FORMAT = (
    "comma-separated turn://USER:PASS@HOST[:PORT][?transport=udp|tcp] or turns://... URLs "
    "(escape special characters in USER and PASS as %XX), or 'none'"
)


def parse_turn(text: str) -> tuple[TurnServer, ...]:
    urls = tuple(u.strip() for u in text.split(",") if u.strip())
    if urls in ((), ("none",)):
        return ()
    return tuple(_parse_one_turn(url) for url in urls)


def _parse_one_turn(url: str) -> TurnServer:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError(TURN_FORMAT) from None
    if parts.scheme not in ("turn", "turns") or not parts.hostname or parts.path:
        raise ValueError(TURN_FORMAT)
    if not parts.username or parts.password is None:
        raise ValueError(TURN_FORMAT + "; the user name and password are required")
    query = urllib.parse.parse_qs(parts.query, strict_parsing=False)
    transports = query.pop("transport", [None])
    if query or len(transports) != 1 or transports[0] not in (None, "udp", "tcp"):
        raise ValueError(TURN_FORMAT)
    if parts.fragment or not re.fullmatch(r"[A-Za-z0-9.\-:]+", parts.hostname):
        raise ValueError(TURN_FORMAT)
    secure = parts.scheme == "turns"
    return TurnServer(
        secure=secure,
        host=parts.hostname,
        port=port or (5349 if secure else 3478),
        username=urllib.parse.unquote(parts.username),
        password=urllib.parse.unquote(parts.password),
        transport=transports[0],
    )


@dataclass(frozen=True)
class IceSettings:
    """What every viewer's webrtcbin, and the browser at the other end, are given."""

    stun: tuple[str, ...] = ()
    turn: tuple[TurnServer, ...] = ()
    udp_ports: PortRange | None = None

    def browser_servers(self) -> list[dict[str, Any]]:
        """The RTCIceServer list for the welcome message (TURN credentials included:
        the browser needs them to allocate a relay)."""
        servers: list[dict[str, Any]] = [{"urls": list(self.stun)}] if self.stun else []
        return servers + [t.browser() for t in self.turn]


def is_udp(candidate: str) -> bool:
    """An ICE candidate line (`candidate:FOUNDATION COMPONENT TRANSPORT ...`) over UDP."""
    fields = candidate.split()
    return len(fields) > 2 and fields[2].lower() == "udp"


def configure(webrtc: Any, settings: IceSettings) -> None:
    """Apply the settings to a new webrtcbin, before it gathers candidates."""
    if settings.stun:
        webrtc.set_property("stun-server", settings.stun[0].replace("stun:", "stun://", 1))
    for turn in settings.turn:
        if not webrtc.emit("add-turn-server", turn.gst_uri()):
            raise ValueError(f"webrtcbin refused the TURN server {turn}")
    agent = ice_agent(webrtc)
    # libnice's UPnP is on by default: it multicasts SSDP on every interface and holds UDP
    # sockets of its own (port 1900, others at random, outside any range) for each viewer,
    # and asks routers to open ports. A server does not want that.
    nice = agent.get_property("agent")
    nice.set_property("upnp", False)
    # webrtcbin's agent nominates the regular way (construct-only, not ours to change): a
    # check, then a second one to nominate, each waiting for the next tick of the pacing
    # timer, and DTLS starts only after that. With ticks of 5 ms instead of 20 (the lowest
    # RFC 8445 allows) the server's side of ICE takes 10-20 ms after the answer, where the
    # browser's ClientHello waited 85-150 ms (docs/performance.md, "Time to first frame").
    nice.set_property("stun-pacing-timer", STUN_PACING_MS)
    if settings.udp_ports is not None:
        agent.set_property("min-rtp-port", settings.udp_ports.low)
        agent.set_property("max-rtp-port", settings.udp_ports.high)


def ice_agent(webrtc: Any) -> Any:
    """webrtcbin's ICE agent, with the reference PyGObject 3.42 fails to take (see the
    module docstring): without it the agent is freed twice at teardown."""
    agent = webrtc.get_property("ice-agent")
    if agent.__grefcount__ == 1:  # the wrapper holds webrtcbin's own reference
        _g_object_ref(_gpointer(agent))
    return agent


@cache
def _gobject() -> Any:
    lib = ctypes.CDLL("libgobject-2.0.so.0")
    lib.g_object_ref.argtypes = [ctypes.c_void_p]
    lib.g_object_ref.restype = ctypes.c_void_p
    return lib


def _g_object_ref(pointer: int) -> None:
    _gobject().g_object_ref(pointer)


def _gpointer(obj: Any) -> int:
    """The C address of a GObject wrapped by PyGObject (its __gpointer__ capsule)."""
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    pointer = get(obj.__gpointer__, None)
    if not pointer:
        raise RuntimeError("not a wrapped GObject")
    return int(pointer)
