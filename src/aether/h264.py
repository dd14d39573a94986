"""H.264 facts the SDP must tell the truth about: profile and level, from the stream's SPS.

Pure functions, no GStreamer. RFC 6184 section 8.1 defines `profile-level-id` as three
bytes, hex: profile_idc, the constraint_set flags byte (profile-iop) and level_idc, which
are the three bytes after the SPS NAL header. The profile a receiver can decode is read from
them with the table libwebrtc uses (h264_profile_level_id.cc), RFC 6184 table 5.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAL_SPS = 7
# RFC 6184 section 8.1: no profile-level-id means Baseline, level 1.0.
DEFAULT_PROFILE_LEVEL_ID = "420010"
LEVEL_1B = 9  # level_idc of level 1b in the High profiles; 11 + constraint_set3 elsewhere

_START_CODE = re.compile(b"\x00\x00\x01")
_HEX6 = re.compile(r"^[0-9A-Fa-f]{6}$")

# (profile_idc, profile-iop pattern with x = either, name), first match wins.
_PROFILES = (
    (0x42, "x1xx0000", "constrained-baseline"),
    (0x4D, "1xxx0000", "constrained-baseline"),
    (0x58, "11xx0000", "constrained-baseline"),
    (0x42, "x0xx0000", "baseline"),
    (0x58, "10xx0000", "baseline"),
    (0x58, "00xx0000", "extended"),
    (0x4D, "0x0x0000", "main"),
    (0x64, "00001100", "constrained-high"),
    (0x64, "00000000", "high"),
    (0xF4, "00000000", "high-4:4:4"),
)
# What a decoder of each profile also decodes (a stream of a profile in the set).
DECODES = {
    "constrained-baseline": {"constrained-baseline"},
    "baseline": {"constrained-baseline", "baseline"},
    "extended": {"constrained-baseline", "baseline", "extended"},
    "main": {"constrained-baseline", "main"},
    "constrained-high": {"constrained-baseline", "constrained-high"},
    "high": {"constrained-baseline", "main", "constrained-high", "high"},
    "high-4:4:4": {"constrained-baseline", "main", "constrained-high", "high", "high-4:4:4"},
}


class H264Error(ValueError):
    """Bytes or text that are not what H.264 / RFC 6184 says they should be."""


def _matches(flags: int, pattern: str) -> bool:
    bits = f"{flags:08b}"
    return all(p in ("x", b) for p, b in zip(pattern, bits, strict=True))


@dataclass(frozen=True)
class ProfileLevel:
    """profile_idc, the constraint_set flags byte and level_idc: RFC 6184 profile-level-id."""

    profile_idc: int
    constraints: int
    level_idc: int

    @property
    def hex(self) -> str:
        return f"{self.profile_idc:02x}{self.constraints:02x}{self.level_idc:02x}"

    @property
    def profile(self) -> str:
        """The profile's name, e.g. constrained-baseline; "unknown" when not in the table."""
        for idc, pattern, name in _PROFILES:
            if idc == self.profile_idc and _matches(self.constraints, pattern):
                return name
        return "unknown"

    @property
    def level(self) -> float:
        """The level as a number (3.1, 4.0); level 1b is 1.05, between 1.0 and 1.1."""
        constraint_set3 = bool(self.constraints & 0x10)
        if self.level_idc == LEVEL_1B or (
            self.level_idc == 11 and constraint_set3 and self.profile_idc in (0x42, 0x4D, 0x58)
        ):
            return 1.05
        return self.level_idc / 10

    def describe(self) -> str:
        level = "1b" if self.level == 1.05 else f"{self.level:.1f}"
        return f"{self.profile} level {level} ({self.hex})"

    def decodes(self, stream: ProfileLevel) -> bool:
        """Whether a decoder of this profile can decode `stream`'s profile (not level)."""
        if self.profile == "unknown" or stream.profile == "unknown":
            return (self.profile_idc, self.constraints) == (stream.profile_idc, stream.constraints)
        return stream.profile in DECODES[self.profile]


def parse_profile_level_id(text: str) -> ProfileLevel:
    """Parse an SDP profile-level-id value (six hex digits)."""
    if not _HEX6.match(text.strip()):
        raise H264Error(f"profile-level-id must be six hex digits, not {text[:20]!r}")
    value = int(text, 16)
    return ProfileLevel(value >> 16, (value >> 8) & 0xFF, value & 0xFF)


def parse_sps(nal: bytes) -> ProfileLevel:
    """Profile and level of an SPS NAL unit (header byte included, no start code)."""
    if len(nal) < 4 or nal[0] & 0x1F != NAL_SPS:
        raise H264Error("not an SPS NAL unit")
    # Bytes 1-3 never hold emulation prevention: profile_idc is never 0.
    return ProfileLevel(nal[1], nal[2], nal[3])


def nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte-stream buffer (start codes 00 00 01 / 00 00 00 01)."""
    starts = [m.end() for m in _START_CODE.finditer(data)]
    ends = [s - 3 for s in starts[1:]] + [len(data)] * bool(starts)
    # A NAL unit never ends in a zero byte: zeros before a start code belong to it.
    units = [data[start:end].rstrip(b"\x00") for start, end in zip(starts, ends, strict=True)]
    return [u for u in units if u]


def avc_nal_units(data: bytes, length_size: int = 4) -> list[bytes]:
    """The NAL units of an AVC (stream-format=avc) buffer: each after its big-endian length."""
    units, at = [], 0
    while at + length_size <= len(data):
        size = int.from_bytes(data[at : at + length_size], "big")
        at += length_size
        if size == 0 or at + size > len(data):
            raise H264Error(f"AVC NAL unit length {size} overruns the buffer")
        units.append(data[at : at + size])
        at += size
    return units


def find_sps(data: bytes, avc: bool = False) -> ProfileLevel | None:
    """Profile and level of the first SPS in a buffer, or None when it has none.

    `avc`: the buffer is stream-format=avc (4-byte lengths), else Annex B byte-stream.
    """
    for unit in avc_nal_units(data) if avc else nal_units(data):
        if unit[0] & 0x1F == NAL_SPS:
            return parse_sps(unit)
    return None


def receivable_level(
    offered: ProfileLevel, answered: ProfileLevel, offer_asymmetry: bool, answer_asymmetry: bool
) -> float:
    """The highest level the answerer takes from the offerer, RFC 6184 section 8.2.2.

    With level-asymmetry-allowed=1 on both sides, the answer's level is what the answerer
    can receive. Otherwise one level serves both directions: the lower of the two.
    """
    if offer_asymmetry and answer_asymmetry:
        return answered.level
    return min(offered.level, answered.level)
