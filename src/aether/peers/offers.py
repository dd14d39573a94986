"""Pure checks of a viewer's own offer (WHEP), testable without GStreamer or a network.

When the viewer offers, it picks the numbers: which payload type means H.264 (of the
profile we send) and Opus, and which ids the header extensions carry. `plan_answer` reads
them, refuses what we cannot serve with a precise reason, and says how each kind of media
must be numbered (see fanout/repayload.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from aether.errors import ProtocolError
from aether.fanout.playout import CAPTURE_TIME_URI
from aether.fanout.playout import URI as PLAYOUT_DELAY_URI
from aether.fanout.repayload import Numbering
from aether.h264 import DEFAULT_PROFILE_LEVEL_ID, H264Error, ProfileLevel, parse_profile_level_id
from aether.peers.sdp import MAX_SDP_BYTES, MediaSection, media_sections

MAX_MEDIA_SECTIONS = 8
RECEIVING = ("recvonly", "sendrecv")


@dataclass(frozen=True)
class OfferedMedia:
    index: int  # m-line index
    kind: str
    mid: str | None
    numbering: Numbering | None  # None: not served (port 0 in the answer)


@dataclass(frozen=True)
class AnswerPlan:
    media: tuple[OfferedMedia, ...]
    ice_ufrag: str
    ice_pwd: str

    def served(self) -> list[OfferedMedia]:
        return [m for m in self.media if m.numbering is not None]

    def index_of_mid(self, mid: str) -> int | None:
        return next((m.index for m in self.media if m.mid == mid), None)


def plan_answer(offer: str, stream: ProfileLevel | None, has_audio: bool) -> AnswerPlan:
    """What we can send in answer to `offer`; ProtocolError when nothing useful."""
    if len(offer.encode()) > MAX_SDP_BYTES:
        raise ProtocolError("bad-sdp", f"SDP larger than {MAX_SDP_BYTES} bytes")
    if not offer.startswith("v=0"):
        raise ProtocolError("bad-sdp", "SDP must start with v=0")
    session, sections = media_sections(offer)
    if not sections:
        raise ProtocolError("bad-sdp", "the offer has no media sections")
    if len(sections) > MAX_MEDIA_SECTIONS:
        raise ProtocolError("bad-sdp", f"more than {MAX_MEDIA_SECTIONS} media sections")
    ufrag = _attribute(session, sections[0], "ice-ufrag")
    pwd = _attribute(session, sections[0], "ice-pwd")
    for index, section in enumerate(sections):
        if section.port == 0:
            continue
        names = {a.split(":", 1)[0] for a in (*session, *section.attributes)}
        for needed in ("ice-ufrag", "ice-pwd", "fingerprint"):
            if needed not in names:
                raise ProtocolError("bad-sdp", f"media section {index} lacks a={needed}")
    planned: list[OfferedMedia] = []
    taken: set[str] = set()
    for index, section in enumerate(sections):
        numbering = None
        wanted = section.port != 0 and section.direction in RECEIVING and section.kind not in taken
        if wanted and section.kind == "video":
            numbering = video_numbering(section, stream)
        elif wanted and section.kind == "audio" and has_audio:
            numbering = audio_numbering(section)
        if numbering is not None:
            taken.add(section.kind)
        planned.append(OfferedMedia(index, section.kind, _mid(section), numbering))
    if not any(m.numbering is not None and m.kind == "video" for m in planned):
        video = [s for s in sections if s.kind == "video"]
        if not video:
            raise ProtocolError("bad-sdp", "the offer has no video section")
        if not any(s.direction in RECEIVING for s in video):
            raise ProtocolError("bad-sdp", "the offer's video is not recvonly or sendrecv")
        raise ProtocolError("unsupported-codec", "the offer has no usable H.264 format")
    return AnswerPlan(tuple(planned), ufrag or "", pwd or "")


def video_numbering(section: MediaSection, stream: ProfileLevel | None) -> Numbering | None:
    """The offered H.264 format that takes our stream (packetization-mode 1, a profile that
    decodes it; the exact profile preferred), with its header-extension ids."""
    try:
        ours = stream or parse_profile_level_id(DEFAULT_PROFILE_LEVEL_ID)
    except H264Error:  # pragma: no cover - the default parses
        return None
    best: tuple[int, str] | None = None
    for pt in section.payload_types("H264"):
        fmtp = section.fmtp(pt)
        if fmtp.get("packetization-mode", "0") != "1":
            continue
        try:
            theirs = parse_profile_level_id(fmtp.get("profile-level-id", DEFAULT_PROFILE_LEVEL_ID))
        except H264Error:
            continue
        if not theirs.decodes(ours):
            continue
        rank = 0 if theirs.profile == ours.profile else 1
        if best is None or rank < best[0]:
            best = (rank, pt)
    if best is None or not best[1].isdigit():
        if section.payload_types("H264"):
            raise ProtocolError(
                "unsupported-codec",
                f"the offer's H.264 formats cannot take the stream ({ours.describe()}, "
                "packetization-mode 1)",
            )
        return None
    return Numbering(
        "video",
        int(best[1]),
        extension_id(section, PLAYOUT_DELAY_URI),
        extension_id(section, CAPTURE_TIME_URI),
    )


def audio_numbering(section: MediaSection) -> Numbering | None:
    pts = [pt for pt in section.payload_types("OPUS") if pt.isdigit()]
    return Numbering("audio", int(pts[0])) if pts else None


def extension_id(section: MediaSection, uri: str) -> int | None:
    """The one-byte-header id (1-14) the offer gives the extension `uri`, if any."""
    for attr in section.attributes:
        if not attr.startswith("extmap:"):
            continue
        ident, _, rest = attr[len("extmap:") :].partition(" ")
        ident = ident.split("/", 1)[0]
        if rest.split(" ", 1)[0] == uri and ident.isdigit() and 1 <= int(ident) <= 14:
            return int(ident)
    return None


def _attribute(session: list[str], section: MediaSection, name: str) -> str | None:
    for attr in (*section.attributes, *session):
        if attr.startswith(name + ":"):
            return attr.partition(":")[2].strip()
    return None


def _mid(section: MediaSection) -> str | None:
    return _attribute([], section, "mid")
