"""Quality tiers: a few shared encodes of one capture, at lower sizes and bitrates.

    capture -> raw-tee -+-> [queue] -> encoder (full size)    -> pay -> video-tee
                        +-> [queue] -> encoder (half size)    -> pay -> video-tee-1
                        +-> [queue] -> encoder (quarter size) -> pay -> video-tee-2

Every viewer still costs no encode of its own: it takes one tier's packets, and moves to
another at that tier's next keyframe (fanout/selector.py), with its RTP sequence numbers,
timestamps and SSRC kept continuous, so the browser sees one stream and nothing is
renegotiated. Which tier a viewer gets follows its bandwidth estimate (peers/adapt.py).

Pure data and parsing here; the pipeline builds the branches (fanout/pipeline.py).
"""

from __future__ import annotations

from dataclasses import dataclass

# Size and share of the full bitrate of each tier below the top one: half and quarter the
# size, at about the same bits per pixel (a quarter and a sixteenth, rounded up a little:
# small pictures need a little more per pixel to look as good).
LOWER_TIERS = ((2, 0.3), (4, 0.1))
MAX_TIERS = 1 + len(LOWER_TIERS)
# The top tier's bitrate may follow its viewers down to this share of --bitrate; a viewer
# whose link carries less goes to a lower tier instead (so one slow viewer cannot pull
# the full-size picture down for all the others).
TOP_FLOOR_SHARE = 0.6

# H.264 NAL unit types (RFC 6184) that matter for switching.
NAL_SPS = 7
NAL_STAP_A = 24


@dataclass(frozen=True)
class Tier:
    index: int  # 0 is the full-size, full-bitrate encode
    width: int
    height: int
    bitrate: int  # kbit/s

    def describe(self) -> str:
        return f"tier {self.index}: {self.width}x{self.height} {self.bitrate} kbit/s"


def _even(value: float) -> int:
    return max(16, int(value) // 2 * 2)


def plan(width: int, height: int, bitrate: int, count: int, min_bitrate: int) -> list[Tier]:
    """The tiers for a stream of width x height at `bitrate` kbit/s: `count` of them (1 is
    the one shared encode), none below `min_bitrate`."""
    if not 1 <= count <= MAX_TIERS:
        raise ValueError(f"tiers: 1 to {MAX_TIERS}")
    tiers = [Tier(0, width, height, bitrate)]
    for index, (divisor, share) in enumerate(LOWER_TIERS[: count - 1], start=1):
        rate = max(min_bitrate, round(bitrate * share))
        tiers.append(Tier(index, _even(width / divisor), _even(height / divisor), rate))
    return tiers


def top_floor(tiers: list[Tier], min_bitrate: int, max_bitrate: int) -> int:
    """The lowest bitrate the top tier may follow its viewers down to (kbit/s)."""
    if len(tiers) == 1:
        return min(min_bitrate, max_bitrate)
    return max(min_bitrate, round(max_bitrate * TOP_FLOOR_SHARE))


def _payload_offset(packet: bytes) -> int | None:
    """Where an RTP packet's payload starts (after CSRCs and a header extension)."""
    if len(packet) < 12 or packet[0] >> 6 != 2:
        return None
    offset = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:  # header extension: 4 bytes, then `length` 32-bit words
        if len(packet) < offset + 4:
            return None
        offset += 4 + 4 * int.from_bytes(packet[offset + 2 : offset + 4], "big")
    return offset if offset < len(packet) else None


def starts_keyframe(packet: bytes) -> bool:
    """True for the first packet of an H.264 keyframe as rtph264pay sends it with
    config-interval=-1: the SPS alone, or first in an aggregation (STAP-A). A viewer may
    join a tier's stream here and decode from this packet on."""
    offset = _payload_offset(packet)
    if offset is None:
        return False
    nal_type = packet[offset] & 0x1F
    if nal_type == NAL_SPS:
        return True
    if nal_type == NAL_STAP_A and len(packet) > offset + 3:
        return packet[offset + 3] & 0x1F == NAL_SPS  # after the 2-byte size of the first
    return False
