"""What reaches the shared video tee: each frame as lists of packets, the viewers' caps,
and no packet that is only an access unit delimiter.

A capsfilter between the payloader and the tee split every list into single packets, and
the tee then woke each viewer's thread once per packet (fanout/capstee.py). x264's access
unit delimiters went out as a packet of their own, one a frame (encode/x264.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from aether import gst
from aether.config import load_config
from aether.fanout import capstee, playout
from aether.fanout.pipeline import VIDEO_PT, media_for
from tests.helpers import run_async

FLAGS = {"source": "test", "audio": "none", "width": "1280", "height": "720", "fps": "30",
         "bitrate": "4000", "stun": "none"}  # fmt: skip


NAL_AUD = 9


def nal_type(packet: bytes) -> int:
    """The NAL unit type of an H.264 RTP packet (FU-A and STAP-A give their own: 28, 24)."""
    header = 12 + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:  # header extension: 4 bytes, then its length in 32-bit words
        header += 4 + 4 * int.from_bytes(packet[header + 2 : header + 4], "big")
    return packet[header] & 0x1F


async def tee_input(seconds: float) -> tuple[int, int, int, Any]:
    """(packets that came in lists, packets that came alone, access unit delimiters,
    the tee's caps)."""
    gst.init()
    media = media_for(load_config(FLAGS, {}))
    media.build()
    counts = {"listed": 0, "alone": 0, "aud": 0}

    def count(_pad: Any, info: Any) -> Any:
        if info.type & gst.Gst.PadProbeType.BUFFER_LIST:
            packets = info.get_buffer_list()
            buffers = [packets.get(i) for i in range(packets.length())]
            counts["listed"] += len(buffers)
        else:
            buffers = [info.get_buffer()]
            counts["alone"] += 1
        for buffer in buffers:
            counts["aud"] += nal_type(buffer.extract_dup(0, 64)) == NAL_AUD
        return gst.Gst.PadProbeReturn.OK

    tee_sink = media.pipeline.get_by_name("video-tee").get_static_pad("sink")
    tee_sink.add_probe(gst.Gst.PadProbeType.BUFFER | gst.Gst.PadProbeType.BUFFER_LIST, count)
    await media.start(asyncio.get_running_loop())
    try:
        await asyncio.sleep(seconds)
        return counts["listed"], counts["alone"], counts["aud"], tee_sink.get_current_caps()
    finally:
        await media.stop()


def test_frames_reach_the_video_tee_as_lists_with_the_viewers_caps_and_no_delimiters() -> None:
    listed, alone, delimiters, caps = run_async(tee_input(2.0))
    # 4 Mbit/s at 30 fps is ~15 packets a frame. Single-packet frames and the parameter
    # sets come alone; the split stream had no list but the stamper's one a second.
    assert listed + alone > 300, (listed, alone)
    assert listed > 3 * alone, (listed, alone)
    assert delimiters == 0
    fields = caps.get_structure(0)
    assert fields.get_value("payload") == VIDEO_PT
    assert fields.get_value("rtcp-fb-nack-pli") is True
    assert fields.get_value("rtcp-fb-ccm-fir") is True
    assert fields.get_value(f"extmap-{playout.EXTENSION_ID}") == playout.URI
    assert fields.get_value(f"extmap-{playout.CAPTURE_TIME_ID}") == playout.CAPTURE_TIME_URI


def test_a_caps_tee_counts_only_the_viewers_branches() -> None:
    gst.init()
    pipeline = gst.Gst.Pipeline.new("caps-tee-test")
    tee = capstee.add(pipeline, "t", gst.caps("application/x-rtp"))
    assert tee.viewers == 0
    assert len(tee.elements) == 4
    pads = [tee.tee.request_pad_simple("src_%u") for _ in range(2)]
    assert tee.viewers == 2
    for pad in pads:
        tee.tee.release_request_pad(pad)
    assert tee.viewers == 0
