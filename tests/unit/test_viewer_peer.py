"""ViewerPeer's signaling commands against a fake webrtcbin (no pipeline, no network)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from aether import gst
from aether.errors import ProtocolError
from aether.peers.viewer import ViewerPeer

OFFER = "\r\n".join([
    "v=0", "o=- 1 0 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=group:BUNDLE video0 audio1",
    "m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=mid:video0", "a=sendonly",
    "a=rtpmap:96 H264/90000", "a=ice-ufrag:aaaa", "a=ice-pwd:bbbbbbbbbbbbbbbbbbbbbbbb",
    "a=fingerprint:sha-256 AA:BB", "a=setup:actpass",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:audio1", "a=sendonly",
    "a=rtpmap:111 OPUS/48000/2", "",
])  # fmt: skip
ANSWER = "\r\n".join([
    "v=0", "o=- 2 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE video0 audio1",
    "m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=mid:video0", "a=recvonly",
    "a=rtpmap:96 H264/90000", "a=ice-ufrag:cccc", "a=ice-pwd:dddddddddddddddddddddddd",
    "a=fingerprint:sha-256 CC:DD", "a=setup:active",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:audio1", "a=recvonly",
    "a=rtpmap:111 opus/48000/2", "a=ice-ufrag:cccc", "a=ice-pwd:dddddddddddddddddddddddd",
    "a=fingerprint:sha-256 CC:DD", "",
])  # fmt: skip
CANDIDATE = "candidate:1 1 udp 2122260223 10.213.0.1 40000 typ host generation 0"


class FakeWebrtc:
    """Applies nothing synchronously, like webrtcbin, whose operations run on its own thread."""

    def __init__(self) -> None:
        self.emitted: list[tuple[Any, ...]] = []

    def get_property(self, name: str) -> Any:
        return None

    def emit(self, signal: str, *args: Any) -> None:
        self.emitted.append((signal, *args))


@pytest.fixture
def peer() -> ViewerPeer:
    loop = asyncio.new_event_loop()
    peer = ViewerPeer("1", media=None, observer=None, loop=loop)  # type: ignore[arg-type]
    peer._webrtc = FakeWebrtc()
    peer._sink_pads = [object(), object()]
    peer.offer_sdp = OFFER
    yield peer
    loop.close()


def test_candidates_right_after_the_answer_are_accepted(peer: ViewerPeer) -> None:
    peer.set_answer(ANSWER)
    peer.add_candidate(0, CANDIDATE)  # before webrtcbin has applied the answer
    signals = [e[0] for e in peer._webrtc.emitted]
    assert signals == ["set-remote-description", "add-ice-candidate"]
    assert peer._webrtc.emitted[1][1:] == (0, CANDIDATE)


def test_candidate_before_any_answer_is_refused(peer: ViewerPeer) -> None:
    with pytest.raises(ProtocolError) as err:
        peer.add_candidate(0, CANDIDATE)
    assert err.value.code == "unexpected"


def test_a_second_answer_is_refused(peer: ViewerPeer) -> None:
    peer.set_answer(ANSWER)
    with pytest.raises(ProtocolError) as err:
        peer.set_answer(ANSWER)
    assert err.value.code == "unexpected"


def test_candidate_for_a_missing_media_section_is_refused(peer: ViewerPeer) -> None:
    peer.set_answer(ANSWER)
    with pytest.raises(ProtocolError) as err:
        peer.add_candidate(5, CANDIDATE)
    assert err.value.code == "bad-candidate"


class FakeMedia:
    def __init__(self) -> None:
        self.keyframes: list[tuple[str, int]] = []

    def request_keyframe(self, reason: str, tier: int = 0) -> bool:
        self.keyframes.append((reason, tier))
        return True


class FakeValve:
    def __init__(self) -> None:
        self.drop = True
        self.set_times = 0

    def set_property(self, name: str, value: bool) -> None:
        assert name == "drop"
        self.drop = value
        self.set_times += 1

    def get_static_pad(self, _name: str) -> None:
        return None  # not linked: peers/bypass.py leaves it be (tested in test_bypass.py)


def test_connecting_opens_the_gates_and_asks_for_the_viewers_keyframe_once(
    peer: ViewerPeer,
) -> None:
    media = FakeMedia()
    peer.media = media  # type: ignore[assignment]
    valve = FakeValve()
    peer._gates = [valve]
    peer.selector = SimpleNamespace(current=1)  # type: ignore[assignment]  # on tier 1
    peer._open_gates()  # on GStreamer's thread, as the connection state turns "connected"
    assert valve.drop is False and peer._gates == []
    assert media.keyframes == [("viewer 1 connected", 1)]
    peer._open_gates()  # and once more, from the loop: nothing left to do
    assert media.keyframes == [("viewer 1 connected", 1)] and valve.set_times == 1


def test_webrtcbins_clocksync_lets_packets_through_at_once(peer: ViewerPeer) -> None:
    clocksync = gst.make("clocksync")
    assert clocksync.get_property("sync") is True  # GStreamer's default: hold each packet
    peer._on_element_added_thread(None, None, clocksync)
    assert clocksync.get_property("sync") is False
