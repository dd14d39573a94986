"""Tier plans and the keyframe test that decides where a viewer may join a tier."""

from __future__ import annotations

import pytest

from aether.fanout.tiers import Tier, plan, starts_keyframe, top_floor


def rtp(payload: bytes, extension: bytes | None = None, csrcs: int = 0) -> bytes:
    first = 0x80 | csrcs | (0x10 if extension is not None else 0)
    header = bytes([first, 96]) + b"\x00\x01" + b"\x00" * 8 + b"\x00\x00\x00\x07" * csrcs
    if extension is not None:
        padded = extension + b"\x00" * (-len(extension) % 4)
        header += b"\xbe\xde" + (len(padded) // 4).to_bytes(2, "big") + padded
    return header + payload


SPS = bytes([0x67, 0x42, 0xC0, 0x1F])
PPS = bytes([0x68, 0xCE, 0x3C, 0x80])


def test_plan_halves_and_quarters_size_with_a_share_of_the_bitrate() -> None:
    assert plan(1280, 720, 4000, 3, 300) == [
        Tier(0, 1280, 720, 4000),
        Tier(1, 640, 360, 1200),
        Tier(2, 320, 180, 400),
    ]
    assert plan(1280, 720, 4000, 1, 300) == [Tier(0, 1280, 720, 4000)]


def test_plan_keeps_sizes_even_and_bitrates_above_the_minimum() -> None:
    tiers = plan(1366, 770, 1000, 3, 250)
    assert [(t.width % 2, t.height % 2) for t in tiers] == [(0, 0)] * 3
    assert tiers[2].bitrate == 250  # 10% would be 100
    with pytest.raises(ValueError):
        plan(1280, 720, 4000, 4, 300)


def test_top_floor_is_the_minimum_with_one_encode_and_a_share_with_tiers() -> None:
    assert top_floor(plan(1280, 720, 4000, 1, 300), 300, 4000) == 300
    assert top_floor(plan(1280, 720, 4000, 2, 300), 300, 4000) == 2400
    assert top_floor(plan(1280, 720, 4000, 2, 3000), 3000, 4000) == 3000


def test_a_keyframe_starts_with_the_sps_alone_or_first_in_an_aggregate() -> None:
    assert starts_keyframe(rtp(SPS))
    stap_a = bytes([0x18]) + len(SPS).to_bytes(2, "big") + SPS + len(PPS).to_bytes(2, "big") + PPS
    assert starts_keyframe(rtp(stap_a))
    # behind header extensions (playout delay, capture time) and CSRCs
    assert starts_keyframe(rtp(stap_a, extension=bytes([0x62, 0, 0, 0]) + bytes(10), csrcs=2))


def test_other_packets_do_not_start_a_keyframe() -> None:
    idr_fragment = bytes([0x7C, 0x85, 0x88])  # FU-A, start of an IDR slice: no SPS before
    delta = bytes([0x41, 0x9A])  # a P slice
    stap_a_pps_first = bytes([0x18]) + len(PPS).to_bytes(2, "big") + PPS
    for payload in (idr_fragment, delta, stap_a_pps_first):
        assert not starts_keyframe(rtp(payload))
    assert not starts_keyframe(b"\x80\x60")  # too short
    assert not starts_keyframe(bytes([0x40]) + bytes(20))  # not RTP version 2
    truncated = rtp(SPS, extension=bytes(8))[:16]  # the extension runs past the end
    assert not starts_keyframe(truncated)
