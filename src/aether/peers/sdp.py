"""Pure SDP checks for a viewer's answer, testable without GStreamer or a network.

webrtcbin is not hardened against every malformed answer, so answers are checked here
first and a bad one becomes a precise error for that viewer alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from aether.errors import ProtocolError

MAX_SDP_BYTES = 32 * 1024
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")


@dataclass(frozen=True)
class MediaSection:
    kind: str  # audio, video, application
    port: int
    direction: str
    attributes: tuple[str, ...]


def media_sections(sdp: str) -> tuple[list[str], list[MediaSection]]:
    """Split an SDP into session-level attribute lines and its media sections."""
    session: list[str] = []
    sections: list[MediaSection] = []
    current: tuple[str, int, list[str]] | None = None

    def close_section() -> None:
        if current is not None:
            kind, port, attrs = current
            # RFC 4566 section 6: media level, else session level, else sendrecv.
            direction = next((a for a in attrs if a in DIRECTIONS), None)
            direction = direction or session_direction() or "sendrecv"
            sections.append(MediaSection(kind, port, direction, tuple(attrs)))

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
            current = (parts[0], int(parts[1]), [])
        elif key == "a":
            (current[2] if current is not None else session).append(value)
    close_section()
    return session, sections


def check_answer(offer: str, answer: str) -> None:
    """Raise ProtocolError unless `answer` is a usable answer to our `offer`."""
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
            raise ProtocolError(
                "unsupported-codec",
                "the viewer rejected the video (H.264 not supported by this browser?)",
            )
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


def candidate_is_plausible(candidate: str) -> bool:
    """Cheap shape check of an ICE candidate line before it reaches libnice."""
    text = candidate.removeprefix("a=")
    parts = text.split()
    return text.startswith("candidate:") and len(parts) >= 8 and len(text) <= 1024
