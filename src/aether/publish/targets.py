"""`--rtp-forward`: where plain RTP goes (Janus streaming-plugin `rtp` mountpoints).

    HOST:VIDEOPORT[:AUDIOPORT[:RTCPPORT]][,HOST:...]

    janus1:5004                 video only; video RTCP to/from 5005 (VIDEOPORT + 1)
    janus1:5004:5002            video and Opus audio
    janus1:5004:5002:6000       video RTCP on 6000 (the mountpoint's videortcpport)
    janus1:5004::6000           no audio, video RTCP on 6000
    [fd00::7]:5004:5002         an IPv6 address in brackets

Pure parsing: no sockets, no name resolution (that happens when the forwarder starts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ENTRY = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(.*)$")
SYNTAX = "HOST:VIDEOPORT[:AUDIOPORT[:RTCPPORT]], comma-separated, e.g. 127.0.0.1:5004:5002"


@dataclass(frozen=True)
class RtpTarget:
    """One Janus mountpoint (or any RTP receiver): video, optional audio, video RTCP."""

    host: str  # without brackets
    video_port: int
    audio_port: int | None = None
    rtcp_port: int | None = None  # None: video_port + 1

    @property
    def video_rtcp_port(self) -> int:
        return self.rtcp_port if self.rtcp_port is not None else self.video_port + 1

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        text = f"{host}:{self.video_port}"
        if self.audio_port is not None or self.rtcp_port is not None:
            text += f":{self.audio_port if self.audio_port is not None else ''}"
        if self.rtcp_port is not None:
            text += f":{self.rtcp_port}"
        return text


def _port(text: str, what: str, entry: str) -> int:
    if not re.fullmatch(r"[0-9]{1,5}", text) or not 1 <= int(text) <= 65535:
        raise ValueError(f"{SYNTAX}; {what} in {entry!r} is not a port from 1 to 65535")
    return int(text)


def parse_target(entry: str) -> RtpTarget:
    match = _ENTRY.match(entry)
    if not match or "://" in entry:
        raise ValueError(f"{SYNTAX}; {entry!r} has no HOST:VIDEOPORT")
    host, rest = match.groups()
    host = host.strip("[]")
    ports = rest.split(":")
    if len(ports) > 3:
        raise ValueError(f"{SYNTAX}; {entry!r} has more than three ports")
    video = _port(ports[0], "VIDEOPORT", entry)
    audio = _port(ports[1], "AUDIOPORT", entry) if len(ports) > 1 and ports[1] else None
    rtcp = _port(ports[2], "RTCPPORT", entry) if len(ports) > 2 else None
    if video == 65535 and rtcp is None:
        raise ValueError(f"{SYNTAX}; {entry!r}: VIDEOPORT + 1 (the RTCP port) is past 65535")
    target = RtpTarget(host, video, audio, rtcp)
    if len({video, audio, target.video_rtcp_port} - {None}) < 2 + (audio is not None):
        raise ValueError(f"{SYNTAX}; {entry!r} uses one port for two things")
    return target


def parse_rtp_forward(text: str) -> tuple[RtpTarget, ...]:
    """Comma-separated targets; empty or `none` means no forwarding."""
    entries = [e.strip() for e in text.split(",") if e.strip()]
    if entries in ([], ["none"]):
        return ()
    targets = tuple(parse_target(e) for e in entries)
    seen: set[tuple[str, int]] = set()
    for target in targets:
        for port in (target.video_port, target.audio_port, target.video_rtcp_port):
            if port is None:
                continue
            if (target.host, port) in seen:
                raise ValueError(f"{SYNTAX}; {target.host}:{port} is used by two targets")
            seen.add((target.host, port))
    return targets
