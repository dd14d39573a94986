"""Pure SDP checks for a viewer's answer, testable without GStreamer or a network.

webrtcbin is not hardened against every malformed answer, so answers are checked here
first and a bad one becomes a precise error for that viewer alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from aether.errors import ProtocolError
from aether.h264 import (
    DEFAULT_PROFILE_LEVEL_ID,
    H264Error,
    ProfileLevel,
    parse_profile_level_id,
    receivable_level,
)

MAX_SDP_BYTES = 32 * 1024
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


@dataclass(frozen=True)
class MediaSection:
    kind: str  # audio, video, application
    port: int
    direction: str
    attributes: tuple[str, ...]
    formats: tuple[str, ...] = ()  # payload types of the m-line, in preference order

    def payload_types(self, encoding: str) -> list[str]:
        """Payload types mapped to `encoding` (e.g. "H264"), in the m-line's order."""
        mapped = {}
        for attr in self.attributes:
            if attr.startswith("rtpmap:"):
                pt, _, codec = attr[len("rtpmap:") :].partition(" ")
                mapped[pt] = codec.split("/", 1)[0].upper()
        return [pt for pt in self.formats if mapped.get(pt) == encoding.upper()]

    def fmtp(self, pt: str) -> dict[str, str]:
        """The format parameters of payload type `pt` (names lower-cased)."""
        for attr in self.attributes:
            if attr.startswith(f"fmtp:{pt} "):
                return parse_fmtp(attr.partition(" ")[2])
        return {}


def media_sections(sdp: str) -> tuple[list[str], list[MediaSection]]:
    """Split an SDP into session-level attribute lines and its media sections."""
    session: list[str] = []
    sections: list[MediaSection] = []
    current: tuple[str, int, list[str], tuple[str, ...]] | None = None

    def close_section() -> None:
        if current is not None:
            kind, port, attrs, formats = current
            # RFC 4566 section 6: media level, else session level, else sendrecv.
            direction = next((a for a in attrs if a in DIRECTIONS), None)
            direction = direction or session_direction() or "sendrecv"
            sections.append(MediaSection(kind, port, direction, tuple(attrs), formats))

    def session_direction() -> str | None:
        return next((a for a in session if a in DIRECTIONS), None)

    for raw in sdp.splitlines():
        line = raw.strip()
        if not line:
            continue
        if len(line) < 2 or line[1] != "=":
            raise ProtocolError("bad-sdp", f"not an SDP line: {line[:40]!r}")
        key, value = line[0], line[2:]
        if key == "m":
            close_section()
            parts = value.split()
            if len(parts) < 4 or not parts[1].isdigit():
                raise ProtocolError("bad-sdp", f"malformed m-line: {line[:60]!r}")
            current = (parts[0], int(parts[1]), [], tuple(parts[3:]))
        elif key == "a":
            (current[2] if current is not None else session).append(value)
    close_section()
    return session, sections


def parse_fmtp(params: str) -> dict[str, str]:
    """`a=fmtp` parameters (`name=value;name=value`) as a dict with lower-case names."""
    out = {}
    for item in params.split(";"):
        name, _, value = item.strip().partition("=")
        if name:
            out[name.strip().lower()] = value.strip()
    return out


def fmtp_line(pt: str, params: dict[str, str]) -> str:
    """The `a=fmtp` line for payload type `pt` (parse_fmtp's inverse)."""
    return f"a=fmtp:{pt} " + ";".join(f"{k}={v}" for k, v in params.items())


@dataclass(frozen=True)
class VideoTerms:
    """What the viewer's answer agreed to take of the H.264 stream the offer announced."""

    stream: ProfileLevel  # announced in the offer: the stream's own SPS
    viewer: ProfileLevel  # the profile-level-id of the viewer's answer
    max_level: float  # the highest level the viewer takes (RFC 6184 section 8.2.2)

    @property
    def level_exceeded(self) -> bool:
        return self.stream.level > self.max_level


def check_answer(offer: str, answer: str) -> VideoTerms | None:
    """Raise ProtocolError unless `answer` is a usable answer to our `offer`.

    Returns what the viewer takes of the offered H.264 (None when the offer has none).
    """
    if len(answer.encode()) > MAX_SDP_BYTES:
        raise ProtocolError("bad-sdp", f"SDP larger than {MAX_SDP_BYTES} bytes")
    if not answer.startswith("v=0"):
        raise ProtocolError("bad-sdp", "SDP must start with v=0")
    session, answered = media_sections(answer)
    _, offered = media_sections(offer)
    if len(answered) != len(offered):
        raise ProtocolError(
            "bad-sdp",
            f"answer has {len(answered)} media sections, the offer had {len(offered)}",
        )
    for index, (ours, theirs) in enumerate(zip(offered, answered, strict=True)):
        if ours.kind != theirs.kind:
            raise ProtocolError(
                "bad-sdp", f"media section {index} is {theirs.kind}, expected {ours.kind}"
            )
        if theirs.port == 0 and ours.kind == "video":
            raise ProtocolError("unsupported-codec", rejected_video(ours))
        attrs = set(session) | set(theirs.attributes)
        names = {a.split(":", 1)[0] for a in attrs}
        for needed in ("ice-ufrag", "ice-pwd", "fingerprint"):
            if needed not in names:
                raise ProtocolError("bad-sdp", f"media section {index} lacks a={needed}")
        if theirs.direction in ("sendonly", "sendrecv"):
            # We only send; a viewer answering that it sends too is confused.
            raise ProtocolError(
                "bad-sdp", f"media section {index} direction {theirs.direction}; expected recvonly"
            )
    terms = None
    for ours, theirs in zip(offered, answered, strict=True):
        if ours.kind == "video" and ours.payload_types("H264"):
            terms = terms or video_terms(ours, theirs)
    return terms


def rejected_video(offered: MediaSection) -> str:
    """Why a viewer answered port 0 for the video: no H.264, or not the stream's profile."""
    pts = offered.payload_types("H264")
    try:
        stream = parse_profile_level_id(offered.fmtp(pts[0]).get("profile-level-id", ""))
    except (H264Error, IndexError):
        stream = None
    if stream is not None and stream.profile != "constrained-baseline":
        return (
            f"the viewer rejected the video: this browser cannot decode H.264 "
            f"{stream.describe()} (the server's --h264-profile; constrained-baseline plays "
            "everywhere)"
        )
    return "the viewer rejected the video (H.264 not supported by this browser?)"


def video_terms(offered: MediaSection, answered: MediaSection) -> VideoTerms:
    """Check that the answer takes the offered H.264 stream (packetization, profile)."""
    offered_pts = offered.payload_types("H264")
    answered_pts = [pt for pt in answered.payload_types("H264") if pt in offered_pts]
    if not answered_pts:
        raise ProtocolError(
            "unsupported-codec", "the viewer's answer accepts none of the offered H.264 formats"
        )
    ours, theirs = offered.fmtp(offered_pts[0]), answered.fmtp(answered_pts[0])
    if theirs.get("packetization-mode", "0") != ours.get("packetization-mode", "0"):
        raise ProtocolError(
            "unsupported-codec",
            f"the viewer takes H.264 packetization-mode {theirs.get('packetization-mode', '0')}"
            f", the stream uses {ours.get('packetization-mode', '0')}",
        )
    try:
        stream = parse_profile_level_id(ours.get("profile-level-id", DEFAULT_PROFILE_LEVEL_ID))
        viewer = parse_profile_level_id(theirs.get("profile-level-id", DEFAULT_PROFILE_LEVEL_ID))
    except H264Error as exc:
        raise ProtocolError("bad-sdp", str(exc)) from None
    if not viewer.decodes(stream):
        raise ProtocolError(
            "unsupported-codec",
            f"this browser takes H.264 {viewer.describe()}; the stream is {stream.describe()}"
            " (the server's --h264-profile)",
        )
    max_level = receivable_level(
        stream,
        viewer,
        ours.get("level-asymmetry-allowed") == "1",
        theirs.get("level-asymmetry-allowed") == "1",
    )
    return VideoTerms(stream, viewer, max_level)


def announce_h264(sdp: str, stream: ProfileLevel | None) -> str:
    """The offer with every H.264 format announcing `stream`'s profile-level-id, and
    level-asymmetry-allowed=1 (a sendonly server takes any level; RFC 6184 section 8.1).

    A format without an fmtp line gets one, packetization-mode=1 included (rtph264pay's
    FU-A and STAP-A; without it a receiver assumes mode 0). webrtcbin writes none when the
    payloader's caps carried no H.264 parameters yet: seen 1 run in 10 with openh264.
    With `stream` None (no SPS read yet) existing lines stay as they are, and a missing one
    gets packetization-mode=1 alone."""
    _, sections = media_sections(sdp)
    h264 = {pt for s in sections if s.kind == "video" for pt in s.payload_types("H264")}
    lines = sdp.split("\r\n")
    with_fmtp = {line.removeprefix("a=fmtp:").partition(" ")[0] for line in lines
                 if line.startswith("a=fmtp:")}  # fmt: skip
    announced = {"profile-level-id": stream.hex, "level-asymmetry-allowed": "1"} if stream else {}
    out = []
    for line in lines:
        pt, _, params = line.removeprefix("a=fmtp:").partition(" ")
        if line.startswith("a=fmtp:") and pt in h264 and stream is not None:
            out.append(fmtp_line(pt, parse_fmtp(params) | announced))
            continue
        out.append(line)
        pt = line.removeprefix("a=rtpmap:").partition(" ")[0]
        if line.startswith("a=rtpmap:") and pt in h264 and pt not in with_fmtp:
            out.append(fmtp_line(pt, {"packetization-mode": "1"} | announced))
    return "\r\n".join(out)


def candidate_is_plausible(candidate: str) -> bool:
    """Cheap shape check of an ICE candidate line before it reaches libnice."""
    text = candidate.removeprefix("a=")
    parts = text.split()
    return text.startswith("candidate:") and len(parts) >= 8 and len(text) <= 1024
