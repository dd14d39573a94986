"""The shared video tee gets each frame as one list of packets, with the viewers' caps.

A capsfilter between the payloader and the tee split every list into single packets, and
the tee then woke each viewer's thread once per packet (fanout/capstee.py)."""

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


async def tee_input(seconds: float) -> tuple[int, int, Any]:
    """(packets that came in lists, packets that came alone, the tee's caps)."""
    gst.init()
    media = media_for(load_config(FLAGS, {}))
    media.build()
    counts = {"listed": 0, "alone": 0}

    def count(_pad: Any, info: Any) -> Any:
        if info.type & gst.Gst.PadProbeType.BUFFER_LIST:
            counts["listed"] += info.get_buffer_list().length()
        else:
            counts["alone"] += 1
        return gst.Gst.PadProbeReturn.OK

    tee_sink = media.pipeline.get_by_name("video-tee").get_static_pad("sink")
    tee_sink.add_probe(gst.Gst.PadProbeType.BUFFER | gst.Gst.PadProbeType.BUFFER_LIST, count)
    await media.start(asyncio.get_running_loop())
    try:
        await asyncio.sleep(seconds)
        return counts["listed"], counts["alone"], tee_sink.get_current_caps()
    finally:
        await media.stop()


def test_frames_reach_the_video_tee_as_lists_with_the_viewers_caps() -> None:
    listed, alone, caps = run_async(tee_input(2.0))
    # 4 Mbit/s at 30 fps is ~15 packets a frame. Single-packet frames and the parameter
    # sets come alone; the split stream had no list but the stamper's one a second.
    assert listed + alone > 300, (listed, alone)
    assert listed > 3 * alone, (listed, alone)
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
