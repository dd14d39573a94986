"""check_answer and candidate_is_plausible against realistic webrtcbin / Chromium SDP."""

from __future__ import annotations

import pytest

from aether.errors import ProtocolError
from aether.peers.sdp import MAX_SDP_BYTES, candidate_is_plausible, check_answer
from tests.sdp_samples import ANSWER as CHROMIUM_ANSWER

# What webrtcbin (GStreamer 1.22) offers: BUNDLE, H.264 video and Opus audio, sendonly.
OFFER = "\r\n".join([
    "v=0",
    "o=- 3421645718893040524 0 IN IP4 0.0.0.0",
    "s=-",
    "t=0 0",
    "a=ice-options:trickle",
    "a=group:BUNDLE video0 audio1",
    "m=video 9 UDP/TLS/RTP/SAVPF 96",
    "c=IN IP4 0.0.0.0",
    "a=setup:actpass",
    "a=ice-ufrag:Kq3TQ8nOafzRWGnTYIhGfBTtAS9W7dmm",
    "a=ice-pwd:oNwxM0zSOpDKz6WRmGfYz3rG2yYDWHk6",
    "a=rtcp-mux",
    "a=rtcp-rsize",
    "a=sendonly",
    "a=rtpmap:96 H264/90000",
    "a=rtcp-fb:96 nack pli",
    "a=rtcp-fb:96 ccm fir",
    "a=fmtp:96 packetization-mode=1;profile-level-id=42c028;level-asymmetry-allowed=1",
    "a=ssrc:2881437350 msid:aether-video video",
    "a=ssrc:2881437350 cname:user1390537418@host-a5e0b9f2",
    "a=mid:video0",
    "a=fingerprint:sha-256 5C:1A:9E:0B:77:3D:F2:C4:8E:11:60:AB:2F:93:D5:07:"
    "4B:E8:C1:36:9A:52:0F:DD:B4:71:E3:28:96:4C:0A:BF",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111",
    "c=IN IP4 0.0.0.0",
    "a=setup:actpass",
    "a=ice-ufrag:Kq3TQ8nOafzRWGnTYIhGfBTtAS9W7dmm",
    "a=ice-pwd:oNwxM0zSOpDKz6WRmGfYz3rG2yYDWHk6",
    "a=rtcp-mux",
    "a=rtcp-rsize",
    "a=sendonly",
    "a=rtpmap:111 OPUS/48000/2",
    "a=fmtp:111 sprop-stereo=1;sprop-maxcapturerate=48000",
    "a=ssrc:1604219562 msid:aether-audio audio",
    "a=ssrc:1604219562 cname:user1390537418@host-a5e0b9f2",
    "a=mid:audio1",
    "a=fingerprint:sha-256 5C:1A:9E:0B:77:3D:F2:C4:8E:11:60:AB:2F:93:D5:07:"
    "4B:E8:C1:36:9A:52:0F:DD:B4:71:E3:28:96:4C:0A:BF",
    "",
])  # fmt: skip

# What Chromium answers to it.
ANSWER = CHROMIUM_ANSWER

HOST_CANDIDATE = "candidate:1 1 udp 2122260223 10.213.0.1 40000 typ host generation 0"


def lines(sdp: str) -> list[str]:
    return sdp.split("\r\n")


def without(sdp: str, prefix: str) -> str:
    return "\r\n".join(line for line in lines(sdp) if not line.startswith(prefix))


def sections(sdp: str) -> tuple[list[str], list[str], list[str]]:
    """Session lines, the video section's lines and the audio section's lines."""
    all_lines = lines(sdp)
    video = next(i for i, line in enumerate(all_lines) if line.startswith("m=video"))
    audio = next(i for i, line in enumerate(all_lines) if line.startswith("m=audio"))
    return all_lines[:video], all_lines[video:audio], all_lines[audio:]


def error_code(answer: str) -> str:
    with pytest.raises(ProtocolError) as err:
        check_answer(OFFER, answer)
    return err.value.code


def test_chromium_answer_is_accepted() -> None:
    check_answer(OFFER, ANSWER)


def test_lf_line_endings_are_accepted() -> None:
    check_answer(OFFER, ANSWER.replace("\r\n", "\n"))


def test_session_level_fingerprint_is_enough() -> None:
    # Firefox puts a=fingerprint once at session level instead of in every section.
    fingerprint = next(line for line in lines(ANSWER) if line.startswith("a=fingerprint"))
    session, video, audio = sections(without(ANSWER, "a=fingerprint"))
    check_answer(OFFER, "\r\n".join([*session, fingerprint, *video, *audio]))


def test_inactive_audio_is_accepted() -> None:
    session, video, audio = sections(ANSWER)
    audio = [line.replace("a=recvonly", "a=inactive") for line in audio]
    check_answer(OFFER, "\r\n".join([*session, *video, *audio]))


def test_answer_with_one_section_too_few() -> None:
    session, video, _audio = sections(ANSWER)
    with pytest.raises(ProtocolError, match="1 media sections, the offer had 2") as err:
        check_answer(OFFER, "\r\n".join([*session, *video, ""]))
    assert err.value.code == "bad-sdp"


def test_answer_with_an_extra_section() -> None:
    session, video, audio = sections(ANSWER)
    assert error_code("\r\n".join([*session, *video, *audio, *audio])) == "bad-sdp"


def test_swapped_kinds_are_rejected() -> None:
    session, video, audio = sections(ANSWER)
    with pytest.raises(ProtocolError, match="media section 0 is audio, expected video") as err:
        check_answer(OFFER, "\r\n".join([*session, *audio, *video]))
    assert err.value.code == "bad-sdp"


def test_rejected_video_means_unsupported_codec() -> None:
    # A browser without H.264 rejects the section by answering port 0.
    answer = ANSWER.replace("m=video 9 UDP/TLS/RTP/SAVPF 96", "m=video 0 UDP/TLS/RTP/SAVPF 0")
    assert error_code(answer) == "unsupported-codec"


@pytest.mark.parametrize("needed", ["ice-ufrag", "ice-pwd", "fingerprint"])
def test_missing_ice_credentials_or_fingerprint(needed: str) -> None:
    with pytest.raises(ProtocolError, match=f"lacks a={needed}") as err:
        check_answer(OFFER, without(ANSWER, f"a={needed}"))
    assert err.value.code == "bad-sdp"


def test_each_section_needs_its_own_ice_ufrag() -> None:
    session, video, audio = sections(ANSWER)
    audio = [line for line in audio if not line.startswith("a=ice-ufrag")]
    with pytest.raises(ProtocolError, match="media section 1 lacks a=ice-ufrag"):
        check_answer(OFFER, "\r\n".join([*session, *video, *audio]))


@pytest.mark.parametrize("direction", ["sendrecv", "sendonly"])
def test_viewer_that_wants_to_send_is_rejected(direction: str) -> None:
    with pytest.raises(ProtocolError, match=f"direction {direction}") as err:
        check_answer(OFFER, ANSWER.replace("a=recvonly", f"a={direction}", 1))
    assert err.value.code == "bad-sdp"


@pytest.mark.parametrize(
    "garbage",
    ["this is not sdp", "x", "a:recvonly", "m=video nine UDP/TLS/RTP/SAVPF 96", "m=video 9"],
)
def test_garbage_lines_are_rejected(garbage: str) -> None:
    session, video, audio = sections(ANSWER)
    assert error_code("\r\n".join([*session, *video, garbage, *audio])) == "bad-sdp"


@pytest.mark.parametrize(
    "answer",
    [
        "\r\n" + ANSWER,
        " " + ANSWER,
        ANSWER.removeprefix("v=0\r\n"),
        ANSWER.replace("v=0", "v=1", 1),
        "",
    ],
)
def test_answer_must_start_with_v0(answer: str) -> None:
    with pytest.raises(ProtocolError, match="v=0") as err:
        check_answer(OFFER, answer)
    assert err.value.code == "bad-sdp"


def test_oversized_answer_is_rejected_before_parsing() -> None:
    filler = "a=x-filler:" + "z" * 100
    answer = ANSWER + "\r\n".join([filler] * (MAX_SDP_BYTES // len(filler) + 1))
    assert len(answer.encode()) > MAX_SDP_BYTES
    with pytest.raises(ProtocolError, match="larger than") as err:
        check_answer(OFFER, answer)
    assert err.value.code == "bad-sdp"


def test_plausible_candidates() -> None:
    assert candidate_is_plausible(HOST_CANDIDATE)
    assert candidate_is_plausible("a=" + HOST_CANDIDATE)
    assert candidate_is_plausible(
        "candidate:842163049 1 udp 1677729535 192.0.2.7 50123 typ srflx raddr 0.0.0.0 rport 0"
    )
    assert candidate_is_plausible(
        "candidate:3 1 udp 2113937151 4b1c2a9e-1f3d-4c55-9a0e-7d2b6f8c1e00.local 54321 typ host"
    )


@pytest.mark.parametrize(
    "candidate",
    [
        "",
        "candidate:",
        "candidate:1 1 udp 2122260223 10.213.0.1 40000 typ",  # 7 fields
        "1 1 udp 2122260223 10.213.0.1 40000 typ host",  # no candidate: prefix
        "a=mid:video0 1 udp 2122260223 10.213.0.1 40000 typ host",
        "candidate:1 1 udp 2122260223 10.213.0.1 40000 typ host " + "x" * 1024,
    ],
)
def test_implausible_candidates(candidate: str) -> None:
    assert not candidate_is_plausible(candidate)


def test_missing_direction_means_sendrecv_and_is_rejected() -> None:
    assert error_code(without(ANSWER, "a=recvonly")) == "bad-sdp"
