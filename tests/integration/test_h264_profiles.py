"""For every --h264-profile, the offer announces the profile and level the stream carries.

The real pipeline and a real webrtcbin viewer in this process (no network: only the offer is
needed). The stream's SPS is read from the RTP packets leaving the payloader, which is what
viewers receive, and compared with the offer's profile-level-id.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

import pytest

from aether import gst
from aether.config import H264_PROFILES, load_config
from aether.fanout.pipeline import media_for
from aether.h264 import NAL_SPS, ProfileLevel, parse_sps
from aether.peers.sdp import media_sections
from aether.peers.viewer import ViewerPeer
from tests.helpers import run_async

STAP_A = 24
FLAGS = {"source": "test", "audio": "none", "width": "640", "height": "360", "fps": "15",
         "bitrate": "500", "stun": "none"}  # fmt: skip


def rtp_nal_units(packet: bytes) -> list[bytes]:
    """The NAL units carried whole in an H.264 RTP packet (single NAL or STAP-A)."""
    header = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:  # header extension: 4 bytes, then its length in words
        header += 4 + 4 * struct.unpack_from("!H", packet, header + 2)[0]
    payload = packet[header:]
    if not payload or payload[0] & 0x1F != STAP_A:
        return [payload] if payload else []
    units, at = [], 1
    while at + 2 <= len(payload):
        (size,) = struct.unpack_from("!H", payload, at)
        units.append(payload[at + 2 : at + 2 + size])
        at += 2 + size
    return units


class Observer:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.offer: asyncio.Future[str] = loop.create_future()

    def on_local_description(self, sdp: str) -> None:
        self.offer.set_result(sdp)

    def on_local_candidate(self, mline: int, candidate: str) -> None:
        pass

    def on_connection_state(self, state: str) -> None:
        pass

    def on_failure(self, reason: str) -> None:
        if not self.offer.done():
            self.offer.set_exception(AssertionError(reason))


async def offer_and_sent_sps(
    profile: str, encoder: str = "x264"
) -> tuple[str, list[ProfileLevel], Any]:
    gst.init()
    config = load_config({**FLAGS, "h264_profile": profile, "encoder": encoder}, {})
    loop = asyncio.get_running_loop()
    media = media_for(config)
    media.build()
    sent: list[ProfileLevel] = []

    def collect(_pad: Any, info: Any) -> Any:
        if info.type & gst.Gst.PadProbeType.BUFFER_LIST:
            packets = info.get_buffer_list()
            buffers = [packets.get(i) for i in range(packets.length())]
        else:
            buffers = [info.get_buffer()]
        for buffer in buffers:
            for unit in rtp_nal_units(buffer.extract_dup(0, buffer.get_size())):
                if unit[0] & 0x1F == NAL_SPS:
                    sent.append(parse_sps(unit))
        return gst.Gst.PadProbeReturn.OK

    tee_sink = media.pipeline.get_by_name("video-tee").get_static_pad("sink")
    tee_sink.add_probe(gst.Gst.PadProbeType.BUFFER | gst.Gst.PadProbeType.BUFFER_LIST, collect)
    await media.start(loop)
    peer = None
    try:
        observer = Observer(loop)
        peer = ViewerPeer("1", media, observer, loop)
        peer.start()
        offer = await asyncio.wait_for(observer.offer, 10)
        for tick in range(100):  # up to 10 s on a busy machine, a keyframe asked each second
            if sent:
                break
            if tick % 10 == 0:
                media.request_keyframe("test")
            await asyncio.sleep(0.1)
        return offer, sent, media.stream_profile
    finally:
        if peer is not None:
            await peer.close()
        await media.stop()


# Every encoder that can run here, with each profile it makes.
CASES = [("x264", p) for p in H264_PROFILES] + [("openh264", "constrained-baseline")]


@pytest.mark.parametrize(("encoder", "profile"), CASES)
def test_offer_announces_the_profile_and_level_of_the_sent_sps(encoder: str, profile: str) -> None:
    offer, sent, read = run_async(offer_and_sent_sps(profile, encoder))
    assert sent, "no SPS in the RTP stream"
    assert len({sps.hex for sps in sent}) == 1, sent
    assert read == sent[0]  # what the pipeline read at the encoder: the offer's source
    _, sections = media_sections(offer)
    video = sections[0]
    fmtp = video.fmtp(video.payload_types("H264")[0])
    assert fmtp["profile-level-id"] == sent[0].hex
    assert fmtp["level-asymmetry-allowed"] == "1"
    assert fmtp["packetization-mode"] == "1"
    # The profile asked for is the profile produced (x264's caps alone would claim it).
    assert sent[0].profile == profile
