"""Can an encoder run here? Look for its elements, then encode a few frames for real.

An element can be installed and still fail (no GPU, a driver that does not match, no
access to the device node), so finding the factory is not enough: `test_encode` builds a
tiny pipeline through the encoder's own elements and waits for the frames to come out.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable
from typing import Any

from aether import gst
from aether.errors import MissingPluginError, StartupError

log = logging.getLogger(__name__)

PROBE_FRAMES = 5
PROBE_TIMEOUT_S = 5.0


def first_available(factories: Iterable[str]) -> str | None:
    """The first of these element factories that is installed, or None."""
    gst.init()
    return next((f for f in factories if gst.Gst.ElementFactory.find(f) is not None), None)


def test_encode(elements: Callable[[], list[Any]], width: int = 320, height: int = 240) -> None:
    """Encode PROBE_FRAMES test frames through `elements()`; raise StartupError if that fails.

    `elements` makes fresh, unlinked elements (raw video in, H.264 out).
    """
    gst = _gst()
    pipeline = gst.Pipeline.new("encoder-probe")
    source = gst.ElementFactory.make("videotestsrc", None)
    source.set_property("num-buffers", PROBE_FRAMES)
    caps = gst.ElementFactory.make("capsfilter", None)
    caps.set_property(
        "caps", gst.Caps.from_string(f"video/x-raw,width={width},height={height},framerate=30/1")
    )
    sink = gst.ElementFactory.make("fakesink", None)
    sink.set_property("sync", False)
    sink.set_property("signal-handoffs", True)
    encoded = []
    sink.connect("handoff", lambda _sink, buffer, _pad: encoded.append(buffer.get_size()))
    chain = [source, caps, *elements(), sink]
    for element in chain:
        pipeline.add(element)
    try:
        for upstream, downstream in itertools.pairwise(chain):
            if not upstream.link(downstream):
                raise StartupError(
                    f"cannot link {upstream.get_name()} to {downstream.get_name()} in a test encode"
                )
        if pipeline.set_state(gst.State.PLAYING) == gst.StateChangeReturn.FAILURE:
            raise StartupError("the encoder refused to start (state change failed)")
        bus = pipeline.get_bus()
        message = bus.timed_pop_filtered(
            int(PROBE_TIMEOUT_S * gst.SECOND), gst.MessageType.EOS | gst.MessageType.ERROR
        )
        if message is None:
            raise StartupError(f"a test encode of {PROBE_FRAMES} frames did not finish in time")
        if message.type == gst.MessageType.ERROR:
            error, debug = message.parse_error()
            detail = f" ({debug.splitlines()[0]})" if debug else ""
            raise StartupError(f"a test encode failed: {error.message}{detail}")
        if not encoded:
            raise StartupError(f"a test encode of {PROBE_FRAMES} frames produced no output")
    finally:
        pipeline.set_state(gst.State.NULL)


def require_elements(encoder: str, groups: Iterable[tuple[str, ...]], fix: str) -> list[str]:
    """For each group of alternatives, the first installed factory; else MissingPluginError."""
    chosen = []
    for group in groups:
        factory = first_available(group)
        if factory is None:
            raise MissingPluginError(
                f"encoder {encoder}: no GStreamer element " + " or ".join(group), fix=fix
            )
        chosen.append(factory)
    return chosen


def set_if_present(element: Any, **props: Any) -> None:
    """Set the properties this element has (names with dashes); skip the others.

    Encoder plugins add and rename properties between GStreamer releases.
    """
    for key, value in props.items():
        name = key.replace("_", "-")
        if element.find_property(name) is not None:
            element.set_property(name, value)
        else:
            log.debug("%s has no property %s", gst.factory_name(element), name)


def _gst() -> Any:
    gst.init()
    return gst.Gst
