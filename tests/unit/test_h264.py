"""SPS -> profile-level-id, profile names and what decodes what (aether.h264, pure)."""

from __future__ import annotations

import pytest

from aether.h264 import (
    H264Error,
    ProfileLevel,
    avc_nal_units,
    find_sps,
    nal_units,
    parse_profile_level_id,
    parse_sps,
    receivable_level,
)

# First bytes of x264's keyframes at 1280x720@30 (gst-launch dumps): AUD, then the SPS.
AUD = bytes.fromhex("0910")
SPS_CB = bytes.fromhex("6742c01fda014016ec05a808080a00000300020000030079")
SPS_MAIN = bytes.fromhex("674d401fda014016ec05a808080a00000300020000030079")
SPS_HIGH = bytes.fromhex("6764001facb402802dd80b501010140000030004000003")
PPS = bytes.fromhex("68ce3c80")


def annexb(*units: bytes, four: bool = True) -> bytes:
    code = b"\x00\x00\x00\x01" if four else b"\x00\x00\x01"
    return b"".join(code + u for u in units)


@pytest.mark.parametrize(
    ("sps", "hex_id", "profile", "level"),
    [
        (SPS_CB, "42c01f", "constrained-baseline", 3.1),
        (SPS_MAIN, "4d401f", "main", 3.1),
        (SPS_HIGH, "64001f", "high", 3.1),
    ],
)
def test_sps_gives_the_profile_level_id(
    sps: bytes, hex_id: str, profile: str, level: float
) -> None:
    parsed = parse_sps(sps)
    assert parsed.hex == hex_id
    assert parsed.profile == profile
    assert parsed.level == level
    assert parse_profile_level_id(hex_id) == parsed


def test_sps_is_found_after_the_access_unit_delimiter() -> None:
    for four in (True, False):
        buffer = annexb(AUD, SPS_HIGH, PPS, bytes.fromhex("65888480"), four=four)
        assert nal_units(buffer) == [AUD, SPS_HIGH, PPS, bytes.fromhex("65888480")]
        found = find_sps(buffer)
        assert found is not None
        assert found.hex == "64001f"


def test_sps_in_an_avc_buffer() -> None:
    # x264enc picks stream-format=avc when the caps leave it open: 4-byte lengths.
    units = [AUD, SPS_MAIN, PPS, bytes.fromhex("65888480")]
    buffer = b"".join(len(u).to_bytes(4, "big") + u for u in units)
    assert avc_nal_units(buffer) == units
    found = find_sps(buffer, avc=True)
    assert found is not None
    assert found.hex == "4d401f"
    assert find_sps(buffer) is None  # not Annex B: no start codes
    with pytest.raises(H264Error, match="overruns"):
        find_sps(buffer[:-1], avc=True)


def test_a_buffer_without_sps_has_no_profile() -> None:
    assert find_sps(annexb(AUD, bytes.fromhex("4188"))) is None
    assert find_sps(b"") is None


def test_not_an_sps_is_refused() -> None:
    with pytest.raises(H264Error):
        parse_sps(PPS)
    with pytest.raises(H264Error):
        parse_sps(b"\x67\x42")


@pytest.mark.parametrize(
    ("hex_id", "profile"),
    [
        ("42e01f", "constrained-baseline"),  # what Chromium and Firefox offer
        ("42c01f", "constrained-baseline"),  # what x264 writes
        ("4d801f", "constrained-baseline"),  # Main with constraint_set0
        ("42001f", "baseline"),
        ("58a01f", "baseline"),
        ("4d001f", "main"),
        ("4d401f", "main"),
        ("640c1f", "constrained-high"),
        ("64001f", "high"),
        ("f4001f", "high-4:4:4"),
        ("6e001f", "unknown"),  # High 10
    ],
)
def test_profile_names_follow_rfc_6184_table_5(hex_id: str, profile: str) -> None:
    assert parse_profile_level_id(hex_id).profile == profile


@pytest.mark.parametrize("text", ["", "42e01", "42e01f0", "zze01f", "42e01f;"])
def test_bad_profile_level_id_is_refused(text: str) -> None:
    with pytest.raises(H264Error):
        parse_profile_level_id(text)


def test_level_1b_in_both_notations() -> None:
    assert parse_profile_level_id("42f00b").level == 1.05  # Baseline, constraint_set3
    assert parse_profile_level_id("640009").level == 1.05  # High, level_idc 9
    assert parse_profile_level_id("42e00b").level == 1.1
    assert parse_profile_level_id("42f00b").describe() == "constrained-baseline level 1b (42f00b)"


@pytest.mark.parametrize(
    ("receiver", "stream", "ok"),
    [
        ("42e01f", "42c01f", True),  # Firefox's OpenH264 and x264's Constrained Baseline
        ("42001f", "42c01f", True),  # Baseline decoders decode Constrained Baseline
        ("42e01f", "4d401f", False),  # Main needs CABAC
        ("42e01f", "64001f", False),
        ("42001f", "4d401f", False),
        ("4d001f", "42001f", False),  # Baseline may use FMO/ASO, which Main lacks
        ("4d001f", "4d401f", True),
        ("640c1f", "42c01f", True),
        ("640c1f", "4d401f", False),  # Constrained High has no B-slices
        ("64001f", "4d401f", True),
        ("64001f", "64001f", True),
        ("64001f", "f4001f", False),
        ("6e001f", "6e001f", True),  # unknown profiles: only the very same
        ("6e001f", "64001f", False),
    ],
)
def test_which_profile_decodes_which(receiver: str, stream: str, ok: bool) -> None:
    assert parse_profile_level_id(receiver).decodes(parse_profile_level_id(stream)) is ok


def test_level_asymmetry_per_rfc_6184() -> None:
    offer, answer = ProfileLevel(0x42, 0xC0, 0x2A), ProfileLevel(0x42, 0xE0, 0x1F)
    # Both allow asymmetry: the answer's level is what the viewer receives.
    assert receivable_level(offer, answer, True, True) == 3.1
    assert receivable_level(answer, offer, True, True) == 4.2
    # Otherwise one level for both directions: the lower one.
    assert receivable_level(answer, offer, True, False) == 3.1
    assert receivable_level(answer, offer, False, True) == 3.1
    assert receivable_level(offer, answer, False, False) == 3.1
