"""Taking elements out of a connected viewer's send path, so frames cross it as lists.

The payloader hands over each frame as one list of packets, and most of a viewer's send
path (queue, RTP session, RTX, funnel, SRTP, the sink) passes lists on whole. An element
without a list path splits the list, and every element after it then handles the
packets one at a time. Two such elements sat in each viewer's path doing nothing once
the viewer was connected:

- the gate (a `valve`) that holds packets back until then;
- webrtcbin's FEC encoder bin (`rtpulpfecenc`, `rtpredenc`), which webrtcbin 1.22 makes
  for every stream, even when neither ULPFEC nor RED was negotiated.

When the viewer is connected, each is bypassed: what feeds it is linked straight to
what it fed, at a moment no packet is crossing (an idle probe). Measured at 40 viewers,
three rounds each: the server at 69.5, 68.2, 64.5% of a core before, 62.2, 56.0, 51.5%
after (docs/performance.md, "Lists all the way to the socket").
"""

from __future__ import annotations

import logging
from typing import Any

from aether import gst

Gst = gst.Gst
log = logging.getLogger(__name__)

ULPFEC_OFF = 255  # rtpulpfecenc's payload type while no ULPFEC is negotiated


def idle_fec_bin(encoder: Any) -> Any | None:
    """The bin webrtcbin put `encoder` (an rtpulpfecenc) in, if the bin passes every
    packet through untouched (no ULPFEC payload type, and its RED encoder adds no RED);
    None when it does something or is not such a bin."""
    fec_bin = encoder.get_parent()
    if not isinstance(fec_bin, Gst.Bin) or encoder.get_property("pt") != ULPFEC_OFF:
        return None
    for element in gst.elements(fec_bin):
        name = gst.factory_name(element)
        if name == "rtpredenc" and (
            element.get_property("distance") != 0 or element.get_property("allow-no-red-blocks")
        ):
            return None
        if name not in ("rtpulpfecenc", "rtpredenc"):
            return None
    return fec_bin


def bypass(element: Any, *, remove: bool) -> bool:
    """Link the peer of `element`'s sink pad to the peer of its src pad once no packet
    is crossing, and unlink `element` (then also stop it and take it out of its bin if
    `remove`). Returns False, touching nothing, when it is not linked on both sides.

    The peers are read now and relinked later, so two neighbouring elements must not be
    bypassed at the same time: tried with webrtcbin's clocksync next to the FEC bin,
    some viewers then got no video or no audio."""
    sink, src = element.get_static_pad("sink"), element.get_static_pad("src")
    upstream = sink.get_peer() if sink is not None else None
    downstream = src.get_peer() if src is not None else None
    if upstream is None or downstream is None:
        return False
    name = element.get_name()

    def relink(pad: Any, _info: Any) -> Any:
        pad.unlink(sink)
        src.unlink(downstream)
        result = pad.link(downstream)
        if result != Gst.PadLinkReturn.OK:  # put it back: slower, but still sending
            log.warning("cannot bypass %s (%s); it stays", name, result.value_nick)
            pad.link(sink)
            src.link(downstream)
            return Gst.PadProbeReturn.REMOVE
        if remove:
            element.set_state(Gst.State.NULL)
            parent = element.get_parent()
            if parent is not None:
                parent.remove(element)
        return Gst.PadProbeReturn.REMOVE

    upstream.add_probe(Gst.PadProbeType.IDLE, relink)
    return True
