"""A viewer's own offer (WHEP): which formats we answer with, and what we refuse."""

from __future__ import annotations

import pytest

from aether.errors import ProtocolError
from aether.fanout.repayload import Numbering
from aether.h264 import parse_profile_level_id
from aether.peers.offers import plan_answer
from aether.web.whep import parse_sdpfrag

CB31 = parse_profile_level_id("42e01f")
HIGH = parse_profile_level_id("640032")

# The shape of Chromium's recvonly offer: H.264 in several numberings, VP8 first.
VIDEO = """m=video 9 UDP/TLS/RTP/SAVPF 96 102 106 108 127
c=IN IP4 0.0.0.0
a=ice-ufrag:Ab12
a=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa
a=fingerprint:sha-256 00:11
a=setup:actpass
a=mid:0
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:5 http://www.webrtc.org/experiments/rtp-hdrext/playout-delay
a=recvonly
a=rtpmap:96 VP8/90000
a=rtpmap:102 H264/90000
a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f
a=rtpmap:106 H264/90000
a=fmtp:106 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42e01f
a=rtpmap:108 H264/90000
a=fmtp:108 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f
a=rtpmap:127 H264/90000
a=fmtp:127 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640032
"""
AUDIO = """m=audio 9 UDP/TLS/RTP/SAVPF 111 63
c=IN IP4 0.0.0.0
a=ice-ufrag:Ab12
a=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa
a=fingerprint:sha-256 00:11
a=setup:actpass
a=mid:1
a=recvonly
a=rtpmap:111 opus/48000/2
a=rtpmap:63 red/48000/2
"""
HEAD = "v=0\no=- 1 2 IN IP4 127.0.0.1\ns=-\nt=0 0\na=group:BUNDLE 0 1\n"


def test_chooses_the_exact_profile_in_packetization_mode_1() -> None:
    plan = plan_answer(HEAD + VIDEO + AUDIO, CB31, has_audio=True)
    video, audio = plan.media
    assert video.numbering == Numbering("video", 108, playout_delay_id=5)
    assert audio.numbering == Numbering("audio", 111)
    assert (plan.ice_ufrag, plan.index_of_mid("1")) == ("Ab12", 1)


def test_a_high_profile_stream_takes_the_high_format() -> None:
    plan = plan_answer(HEAD + VIDEO, HIGH, has_audio=True)
    assert plan.media[0].numbering == Numbering("video", 127, playout_delay_id=5)


def test_no_audio_source_leaves_the_audio_section_unserved() -> None:
    plan = plan_answer(HEAD + VIDEO + AUDIO, CB31, has_audio=False)
    assert [m.kind for m in plan.served()] == ["video"]


def test_vp8_only_is_refused_as_unsupported_codec() -> None:
    vp8 = VIDEO.replace("96 102 106 108 127", "96")
    with pytest.raises(ProtocolError) as info:
        plan_answer(HEAD + vp8, CB31, has_audio=True)
    assert info.value.code == "unsupported-codec"


def test_packetization_mode_0_only_is_refused_with_the_reason() -> None:
    mode0 = VIDEO.replace("packetization-mode=1", "packetization-mode=0")
    with pytest.raises(ProtocolError, match="packetization-mode 1") as info:
        plan_answer(HEAD + mode0, CB31, has_audio=True)
    assert info.value.code == "unsupported-codec"


@pytest.mark.parametrize(
    ("sdp", "reason"),
    [
        ("hello", "v=0"),
        (HEAD, "no media sections"),
        (HEAD + VIDEO.replace("a=fingerprint:sha-256 00:11\n", ""), "lacks a=fingerprint"),
        (HEAD + VIDEO.replace("a=recvonly", "a=sendonly"), "not recvonly or sendrecv"),
        (HEAD + AUDIO, "no video section"),
        ("v=0\n" + "x" * 40_000, "larger than"),
    ],
)
def test_bad_offers_say_what_is_wrong(sdp: str, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason) as info:
        plan_answer(sdp, CB31, has_audio=True)
    assert info.value.code == "bad-sdp"


def test_sdpfrag_candidates_by_mid_and_restart_detection() -> None:
    plan = plan_answer(HEAD + VIDEO + AUDIO, CB31, has_audio=True)
    frag = parse_sdpfrag(
        "a=ice-ufrag:Ab12\r\na=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\n"
        "a=candidate:1 1 udp 2122260223 10.0.0.2 50000 typ host\r\na=end-of-candidates\r\n"
    )
    assert frag.candidates == [("0", 0, "candidate:1 1 udp 2122260223 10.0.0.2 50000 typ host")]
    assert not frag.restarts(plan)
    assert parse_sdpfrag("a=ice-ufrag:New1\r\na=ice-pwd:bbbb\r\n").restarts(plan)
    with pytest.raises(ProtocolError):
        parse_sdpfrag("garbage")
