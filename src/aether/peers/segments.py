"""One segment event for both of a viewer's streams, so the funnel stops re-sending it.

webrtcbin bundles a viewer's audio and video into one RTP session through an
`rtpfunnel`. Each time data arrives on a different sink pad than the last, rtpfunnel
1.22 pushes that pad's segment event downstream again. With audio and video interleaved
that happens ~70 times a second per viewer. Each time, the event crosses the RTP
session, RTX, SRTP, the transport funnel and the sink, on the thread that sends packets.

GStreamer passes a sticky event on only when it is a different event object from the
one the pad already holds. The pipeline gives both streams equal segments (an
`identity single-segment=true` in front of each payloader, fanout/pipeline.py). This
module then makes the funnel's sink pads hold the very same event object. After that,
a switch between audio and video costs rtpfunnel a pointer comparison.

A probe on each of the funnel's sink pads does this. It watches events only, so Python
runs when a segment arrives (at link time and after a relink), never per packet.
"""

from __future__ import annotations

import threading
from typing import Any

from aether import gst

Gst = gst.Gst


class SharedSegment:
    """Watches one funnel's sink pads. The first segment seen is kept; a later segment
    equal to it is replaced by it, and one that differs is kept instead."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: Any = None  # the Gst.Event, holding its segment
        self._resending = threading.local()
        self.replaced = 0  # segments replaced by the kept one (for tests)

    def on_pad_added(self, _funnel: Any, pad: Any) -> None:
        """For the funnel's "pad-added": probe each sink pad (webrtcbin requests one per
        stream after adding the funnel)."""
        if pad.get_direction() == Gst.PadDirection.SINK:
            pad.add_probe(Gst.PadProbeType.EVENT_DOWNSTREAM, self._probe)

    def _probe(self, pad: Any, info: Any) -> Any:
        event = info.get_event()
        if event is None or event.type != Gst.EventType.SEGMENT:
            return Gst.PadProbeReturn.OK
        if getattr(self._resending, "active", False):  # our own re-send, below
            return Gst.PadProbeReturn.OK
        segment = event.parse_segment()
        with self._lock:
            kept = self._kept
            if kept is None or not kept.parse_segment().is_equal(segment):
                self._kept = event
                return Gst.PadProbeReturn.OK
        # The kept event goes in instead: the pad stores it, and the funnel finds the
        # same object on both pads. The original is dropped (the pad never holds it).
        self._resending.active = True
        try:
            sent = pad.send_event(kept)
        finally:
            self._resending.active = False
        if not sent:
            return Gst.PadProbeReturn.OK
        self.replaced += 1
        return Gst.PadProbeReturn.DROP
