"""The header extensions are written into RTP packets correctly, with the right times."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

from aether import gst
from aether.fanout import playout
from aether.fanout.playout import EXTENSION_ID, with_playout_delay

Gst = gst.Gst

# V=2, no padding/extension, CC=1; M=1 PT=96; seq 0x1234; ts; ssrc; one CSRC; payload.
PACKET = bytes([0x81, 0xE0, 0x12, 0x34]) + bytes(range(4)) + b"SSRC" + b"CSRC" + b"payload"


def test_extension_is_inserted_after_the_csrcs_and_flagged() -> None:
    out = with_playout_delay(PACKET)
    assert out is not None
    assert out[0] == 0x91  # X bit set, version and CSRC count kept
    assert out[1:16] == PACKET[1:16]  # marker, PT, seq, timestamp, SSRC, CSRC unchanged
    assert out[16:20] == bytes([0xBE, 0xDE, 0x00, 0x01])  # one-byte profile, 1 word
    assert out[20] == (EXTENSION_ID << 4) | 2  # id, 3 bytes of data
    assert out[21:24] == b"\x00\x00\x00"  # min = max = 0
    assert out[24:] == b"payload"


def test_packets_that_cannot_take_it_are_left_alone() -> None:
    assert with_playout_delay(bytes([0x90]) + PACKET[1:]) is None  # already has one
    assert with_playout_delay(bytes([0x40]) + PACKET[1:]) is None  # not RTP version 2
    assert with_playout_delay(PACKET[:10]) is None  # truncated
    assert with_playout_delay(bytes([0x8F]) + PACKET[1:]) is None  # CSRCs past the end


def test_two_extensions_share_one_block_padded_to_words() -> None:
    from aether.fanout.playout import CAPTURE_TIME_ID, ntp_time, with_extensions

    stamp = ntp_time(1_700_000_000.5)
    out = with_extensions(PACKET, [(EXTENSION_ID, b"\x00\x00\x00"), (CAPTURE_TIME_ID, stamp)])
    assert out is not None and out[0] == 0x91
    # 1+3 + 1+8 = 13 bytes of elements, padded to 16: 4 words.
    assert out[16:20] == bytes([0xBE, 0xDE, 0x00, 0x04])
    assert out[20] == (EXTENSION_ID << 4) | 2 and out[21:24] == b"\x00\x00\x00"
    assert out[24] == (CAPTURE_TIME_ID << 4) | 7 and out[25:33] == stamp
    assert out[33:36] == b"\x00\x00\x00"  # padding
    assert out[36:] == b"payload"


def test_ntp_time_is_seconds_since_1900_in_q32_32() -> None:
    from aether.fanout.playout import ntp_time

    value = int.from_bytes(ntp_time(0.25), "big")
    assert value >> 32 == 2_208_988_800  # 1970-01-01 in NTP seconds
    assert value & 0xFFFFFFFF == 2**30  # a quarter second


class FakePad:
    """A pad as the stamper reads it: its element's clock and base time, its segment."""

    def __init__(self, now_ns: int, base_time: int, segment: Any) -> None:
        clock = SimpleNamespace(get_time=lambda: now_ns)
        self.element = SimpleNamespace(get_clock=lambda: clock, get_base_time=lambda: base_time)
        self.segment = segment

    def get_parent_element(self) -> Any:
        return self.element

    def get_sticky_event(self, kind: Any, index: int) -> Any:
        assert kind == Gst.EventType.SEGMENT and index == 0
        return Gst.Event.new_segment(self.segment) if self.segment is not None else None


def time_segment(start: int = 0) -> Any:
    segment = Gst.Segment()
    segment.init(Gst.Format.TIME)
    segment.start = segment.time = start
    return segment


HOUR = 3600 * Gst.SECOND


def test_capture_time_reads_the_pts_through_the_segment_x264enc_shifts() -> None:
    gst.init()
    # x264enc's output: PTS and segment both 1000 h ahead of the running time
    base = 5 * Gst.SECOND
    pad = FakePad(base + 2 * Gst.SECOND, base, time_segment(1000 * HOUR))
    stamper = playout.Stamper(True, True)
    before = time.time()
    captured = stamper.capture_wall_time(pad, 1000 * HOUR + 2 * Gst.SECOND - 40 * Gst.MSECOND)
    assert captured is not None
    assert before - 0.040 - 0.005 < captured < time.time() - 0.040 + 0.005  # 40 ms ago


def test_no_capture_time_without_a_segment_or_a_pts() -> None:
    gst.init()
    pad = FakePad(10, 0, None)
    assert playout.Stamper(True, True).capture_wall_time(pad, 5) is None
    pad = FakePad(10, 0, time_segment())
    assert playout.Stamper(True, True).capture_wall_time(pad, Gst.CLOCK_TIME_NONE) is None
