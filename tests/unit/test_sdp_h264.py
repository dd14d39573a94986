"""The H.264 terms of an answer (profile, packetization, level) and the offer's announcement."""

from __future__ import annotations

import pytest

from aether.errors import ProtocolError
from aether.h264 import parse_profile_level_id
from aether.peers.sdp import announce_h264, check_answer, media_sections
from tests.unit.test_sdp import ANSWER, OFFER  # stream 42c028 (level 4.0), Chromium's answer

CHROMIUM_FMTP = "a=fmtp:96 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42c028"


def answering(fmtp: str) -> str:
    assert CHROMIUM_FMTP in ANSWER
    return ANSWER.replace(CHROMIUM_FMTP, fmtp)


def offering(profile_level_id: str, asymmetry: bool = True) -> str:
    fmtp = f"a=fmtp:96 packetization-mode=1;profile-level-id={profile_level_id}"
    line = next(x for x in OFFER.split("\r\n") if x.startswith("a=fmtp:96"))
    return OFFER.replace(line, fmtp + (";level-asymmetry-allowed=1" if asymmetry else ""))


def refusal(offer: str, answer: str) -> ProtocolError:
    with pytest.raises(ProtocolError) as err:
        check_answer(offer, answer)
    return err.value


def test_chromium_answer_takes_the_stream() -> None:
    terms = check_answer(OFFER, ANSWER)
    assert terms is not None
    assert terms.stream.hex == terms.viewer.hex == "42c028"
    assert not terms.level_exceeded


def test_firefox_answer_takes_constrained_baseline() -> None:
    answer = answering("a=fmtp:96 profile-level-id=42e01f;level-asymmetry-allowed=1;"
                       "packetization-mode=1")  # fmt: skip
    terms = check_answer(offer := offering("42c01f"), answer)
    assert terms is not None
    assert terms.viewer.profile == terms.stream.profile == "constrained-baseline"
    assert terms.max_level == 3.1
    # Level 4.0 is above the 3.1 Firefox announces with level-asymmetry-allowed: noted only.
    terms = check_answer(offer.replace("42c01f", "42c028"), answer)
    assert terms is not None
    assert terms.level_exceeded


def test_without_level_asymmetry_the_lower_level_applies() -> None:
    answer = answering("a=fmtp:96 profile-level-id=42e028;packetization-mode=1")
    terms = check_answer(offering("42c01f"), answer)
    assert terms is not None
    assert terms.max_level == 3.1  # min(offer 3.1, answer 4.0)
    assert not terms.level_exceeded


@pytest.mark.parametrize("stream", ["4d401f", "64001f"])
def test_a_constrained_baseline_viewer_cannot_take_main_or_high(stream: str) -> None:
    answer = answering("a=fmtp:96 profile-level-id=42e01f;level-asymmetry-allowed=1;"
                       "packetization-mode=1")  # fmt: skip
    err = refusal(offering(stream), answer)
    assert err.code == "unsupported-codec"
    assert "constrained-baseline level 3.1 (42e01f)" in str(err)
    assert parse_profile_level_id(stream).profile in str(err)


def test_a_high_viewer_takes_a_main_stream() -> None:
    answer = answering("a=fmtp:96 profile-level-id=64001f;level-asymmetry-allowed=1;"
                       "packetization-mode=1")  # fmt: skip
    terms = check_answer(offering("4d401f"), answer)
    assert terms is not None
    assert terms.viewer.profile == "high"


def test_no_profile_level_id_means_baseline_level_1() -> None:
    terms = check_answer(OFFER, answering("a=fmtp:96 packetization-mode=1"))
    assert terms is not None
    assert terms.viewer.hex == "420010"
    assert terms.level_exceeded  # Baseline decoders decode the stream; the level is noted


def test_packetization_mode_0_cannot_take_fragmented_frames() -> None:
    err = refusal(OFFER, answering("a=fmtp:96 profile-level-id=42e01f"))
    assert err.code == "unsupported-codec"
    assert "packetization-mode 0" in str(err)


def test_an_answer_without_h264_is_refused() -> None:
    answer = ANSWER.replace("a=rtpmap:96 H264/90000", "a=rtpmap:96 VP8/90000")
    assert refusal(OFFER, answer).code == "unsupported-codec"
    answer = ANSWER.replace("m=video 9 UDP/TLS/RTP/SAVPF 96", "m=video 9 UDP/TLS/RTP/SAVPF 98")
    assert refusal(OFFER, answer).code == "unsupported-codec"  # a format never offered


def test_a_malformed_profile_level_id_is_bad_sdp() -> None:
    answer = answering("a=fmtp:96 profile-level-id=42e0;packetization-mode=1")
    assert refusal(OFFER, answer).code == "bad-sdp"


def test_announce_sets_the_streams_profile_level_id_and_asymmetry() -> None:
    offer = offering("42e01f", asymmetry=False)
    announced = announce_h264(offer, parse_profile_level_id("64001f"))
    _, sections = media_sections(announced)
    assert sections[0].fmtp("96") == {
        "packetization-mode": "1",
        "profile-level-id": "64001f",
        "level-asymmetry-allowed": "1",
    }
    assert announced.replace("64001f", "42e01f").replace(";level-asymmetry-allowed=1", "") == offer
    assert announce_h264(announced, parse_profile_level_id("64001f")) == announced
    # Opus untouched.
    assert sections[1].fmtp("111") == media_sections(offer)[1][1].fmtp("111")


def test_announce_writes_the_fmtp_line_webrtcbin_left_out() -> None:
    # webrtcbin writes no fmtp line when the payloader's caps had no H.264 parameters yet
    line = next(x for x in OFFER.split("\r\n") if x.startswith("a=fmtp:96"))
    offer = OFFER.replace(line + "\r\n", "")
    assert "a=fmtp:96" not in offer
    announced = announce_h264(offer, parse_profile_level_id("42c016"))
    _, sections = media_sections(announced)
    assert sections[0].fmtp("96") == {
        "packetization-mode": "1",
        "profile-level-id": "42c016",
        "level-asymmetry-allowed": "1",
    }
    lines = announced.split("\r\n")
    assert (
        lines.index(
            "a=fmtp:96 "
            + ";".join(
                ["packetization-mode=1", "profile-level-id=42c016", "level-asymmetry-allowed=1"]
            )
        )
        == lines.index(next(x for x in lines if x.startswith("a=rtpmap:96 "))) + 1
    )
    assert announce_h264(announced, parse_profile_level_id("42c016")) == announced


def test_with_no_sps_read_only_a_missing_fmtp_line_is_written() -> None:
    line = next(x for x in OFFER.split("\r\n") if x.startswith("a=fmtp:96"))
    assert announce_h264(OFFER, None) == OFFER  # webrtcbin's own line stays
    announced = announce_h264(OFFER.replace(line + "\r\n", ""), None)
    _, sections = media_sections(announced)
    assert sections[0].fmtp("96") == {"packetization-mode": "1"}


def test_a_rejected_video_says_when_the_profile_is_why() -> None:
    rejected = ANSWER.replace("m=video 9 UDP/TLS/RTP/SAVPF 96", "m=video 0 UDP/TLS/RTP/SAVPF 96")
    err = refusal(offering("64001f"), rejected)
    assert err.code == "unsupported-codec"
    assert "cannot decode H.264 high level 3.1 (64001f)" in str(err)
    assert "H.264 not supported" in str(refusal(offering("42c01f"), rejected))
