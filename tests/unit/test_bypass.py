"""peers/bypass.py on small real pipelines: what it takes out, and what it leaves."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from aether import gst
from aether.peers import bypass

Gst = gst.Gst


@dataclass
class Chain:
    pipeline: Any
    middle: Any
    sink: Any
    seen: list[int]  # buffers that reached the sink


def wait_for(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def chain() -> Iterator[Chain]:
    """fakesrc -> identity "middle" -> fakesink, PLAYING, with buffers already flowing."""
    gst.init()
    pipeline = Gst.Pipeline.new()
    src = gst.make("fakesrc", is_live=True, sizetype=2, sizemax=100, datarate=100_000)
    middle = gst.make("identity", "middle")
    sink = gst.make("fakesink", sync=False)
    for element in (src, middle, sink):
        pipeline.add(element)
    gst.link_many(src, middle, sink)
    seen = [0]

    def count(_pad: Any, _info: Any) -> Any:
        seen[0] += 1
        return Gst.PadProbeReturn.OK

    sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, count)
    pipeline.set_state(Gst.State.PLAYING)
    try:
        assert wait_for(lambda: seen[0] > 10)
        yield Chain(pipeline, middle, sink, seen)
    finally:
        pipeline.set_state(Gst.State.NULL)


def test_a_bypassed_element_leaves_the_path_and_data_keeps_flowing(chain: Chain) -> None:
    assert bypass.bypass(chain.middle, remove=True)
    assert wait_for(lambda: chain.pipeline.get_by_name("middle") is None)
    before = chain.seen[0]
    assert wait_for(lambda: chain.seen[0] > before + 10)  # the source now feeds the sink
    feeder = chain.sink.get_static_pad("sink").get_peer().get_parent_element()
    assert gst.factory_name(feeder) == "fakesrc"


def test_a_bypassed_element_can_stay_in_its_bin_unlinked(chain: Chain) -> None:
    assert bypass.bypass(chain.middle, remove=False)
    assert wait_for(lambda: not chain.middle.get_static_pad("src").is_linked())
    assert chain.pipeline.get_by_name("middle") is chain.middle
    assert not chain.middle.get_static_pad("sink").is_linked()


def test_an_element_not_linked_on_both_sides_is_left_alone() -> None:
    gst.init()
    assert not bypass.bypass(gst.make("identity"), remove=True)


def fec_bin(
    fec_pt: int | None = None, red_distance: int = 0, red_always: bool = False
) -> tuple[Any, Any]:
    """A bin as webrtcbin 1.22 makes one per stream; by default as it sets it up when
    neither ULPFEC nor RED was negotiated."""
    gst.init()
    holder = Gst.Bin.new()
    encoder = gst.make("rtpulpfecenc")
    red = gst.make("rtpredenc", distance=red_distance, allow_no_red_blocks=red_always)
    if fec_pt is not None:
        encoder.set_property("pt", fec_pt)
    holder.add(encoder)
    holder.add(red)
    return holder, encoder


def test_the_fec_bin_is_idle_only_with_no_ulpfec_and_no_red() -> None:
    holder, encoder = fec_bin()
    assert bypass.idle_fec_bin(encoder) is holder
    _holder, encoder = fec_bin(fec_pt=100)  # ULPFEC negotiated
    assert bypass.idle_fec_bin(encoder) is None
    _holder, encoder = fec_bin(red_distance=1)  # RED with a redundant block
    assert bypass.idle_fec_bin(encoder) is None
    _holder, encoder = fec_bin(red_always=True)  # RED-wraps every packet
    assert bypass.idle_fec_bin(encoder) is None
    holder, encoder = fec_bin()
    holder.add(gst.make("identity"))  # not the bin webrtcbin makes
    assert bypass.idle_fec_bin(encoder) is None
    assert bypass.idle_fec_bin(gst.make("rtpulpfecenc")) is None  # in no bin
