"""peers/segments.py on a real rtpfunnel fed by two interleaved live RTP streams."""

from __future__ import annotations

import time
from typing import Any

from aether import gst
from aether.fanout.pipeline import one_segment
from aether.peers.segments import SharedSegment

Gst = gst.Gst
SECOND = 1_000_000_000


def run_funnel(sharer: SharedSegment | None, offset_ns: int = 0) -> tuple[int, int, bool]:
    """Two live audio streams (RTP, 10 ms packets) into an rtpfunnel for ~1 s, the second
    stream's running time shifted by `offset_ns`. Returns the buffers and the segment
    events that left the funnel, and whether its sink pads hold the same segment event."""
    gst.init()
    pipeline = Gst.Pipeline.new()
    funnel = gst.make("rtpfunnel")
    sink = gst.make("fakesink", sync=False)
    pipeline.add(funnel)
    pipeline.add(sink)
    funnel.link(sink)
    if sharer is not None:
        funnel.connect("pad-added", sharer.on_pad_added)
    for n, frequency in enumerate((440, 660)):
        source = gst.make("audiotestsrc", is_live=True, samplesperbuffer=480, freq=frequency)
        payloader = gst.make("rtpL16pay", ssrc=1000 + n)
        for element in (source, payloader):
            pipeline.add(element)
        source.link(payloader)
        payloader.link(funnel)
        if n == 1 and offset_ns:
            payloader.get_static_pad("src").set_offset(offset_ns)
    counts = {"buffers": 0, "segments": 0}

    def count(_pad: Any, info: Any) -> Any:
        if info.type & Gst.PadProbeType.BUFFER:
            counts["buffers"] += 1
        elif info.get_event().type == Gst.EventType.SEGMENT:
            counts["segments"] += 1
        return Gst.PadProbeReturn.OK

    kinds = Gst.PadProbeType.BUFFER | Gst.PadProbeType.EVENT_DOWNSTREAM
    funnel.get_static_pad("src").add_probe(kinds, count)
    pipeline.set_state(Gst.State.PLAYING)
    try:
        time.sleep(1.0)
        first, second = funnel.sinkpads
        same = first.get_sticky_event(Gst.EventType.SEGMENT, 0) == second.get_sticky_event(
            Gst.EventType.SEGMENT, 0
        )
        return counts["buffers"], counts["segments"], same
    finally:
        pipeline.set_state(Gst.State.NULL)


def test_without_sharing_the_funnel_resends_a_segment_at_each_switch() -> None:
    # The cost peers/segments.py removes: 2 streams x 100 packets/s, a segment at each
    # switch (~200 here; far fewer only if the machine runs the two threads in bursts).
    buffers, segments, same = run_funnel(None)
    assert buffers > 100
    assert segments >= 20, (buffers, segments)
    assert not same


def test_equal_segments_become_one_event_and_the_funnel_stops_resending() -> None:
    sharer = SharedSegment()
    buffers, segments, same = run_funnel(sharer)
    assert buffers > 100
    assert same
    assert sharer.replaced >= 1
    assert segments <= 2, (buffers, segments)  # the first one, not one per switch


def test_a_different_segment_is_never_replaced() -> None:
    # Running times differ (the second stream is 5 s later): each pad keeps its own
    # segment and the funnel goes on re-sending them, as it must.
    sharer = SharedSegment()
    buffers, segments, same = run_funnel(sharer, offset_ns=5 * SECOND)
    assert buffers > 100
    assert not same
    assert sharer.replaced == 0
    assert segments >= 20, (buffers, segments)


def test_one_segment_gives_x264_output_the_segment_a_live_source_has() -> None:
    # x264enc shifts its segment by 1000 hours; behind one_segment() the video stream's
    # segment equals an audio stream's, so a viewer's funnel can share it.
    gst.init()
    pipeline = Gst.parse_launch(
        "videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=30/1 "
        "! x264enc tune=zerolatency name=enc ! fakesink name=raw "
        "audiotestsrc is-live=true ! opusenc ! rtpopuspay ! fakesink name=audio"
    )
    encoder = pipeline.get_by_name("enc")
    raw = pipeline.get_by_name("raw")
    normal = one_segment("normal")
    video = gst.make("fakesink", "video")
    encoder.unlink(raw)
    pipeline.remove(raw)
    for element in (normal, video):
        pipeline.add(element)
    gst.link_many(encoder, normal, video)
    pipeline.set_state(Gst.State.PLAYING)
    try:

        def segment_of(name: str) -> Any:
            pad = pipeline.get_by_name(name).get_static_pad("sink")
            return pad.get_sticky_event(Gst.EventType.SEGMENT, 0)

        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and None in (segment_of("video"), segment_of("audio")):
            time.sleep(0.05)
        before = encoder.get_static_pad("src").get_sticky_event(Gst.EventType.SEGMENT, 0)
        assert before.parse_segment().start > 999 * 3600 * SECOND  # the shift, upstream
        assert segment_of("video").parse_segment().is_equal(segment_of("audio").parse_segment())
    finally:
        pipeline.set_state(Gst.State.NULL)
