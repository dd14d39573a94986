"""A tee that tells its viewers' webrtcbins the RTP caps, without a capsfilter in the way.

The viewers must see caps with our payload type, RTCP feedback and header extensions, and
a capsfilter after the payloader used to state them. But a capsfilter is a BaseTransform,
and BaseTransform has no buffer-list path: the payloader hands over each frame as one list
of packets, and the capsfilter split it into single packets. The tee then pushed every
packet to every viewer's queue on its own, waking each viewer's thread about 470 times a
second at 4 Mbit/s instead of about 80 (docs/performance.md, "Frames reach the viewers
as lists").

So the capsfilter hangs off the tee on a branch of its own that no packet goes down:

    payloader -> tee --+-> [viewer bins]
                       +-> valve (closed) -> capsfilter -> fakesink

A tee answers a caps query with what all its branches accept, this one included, so the
payloader still negotiates the same caps; its packets reach the viewers as lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aether import gst


@dataclass
class CapsTee:
    """The tee, the capsfilter that states its caps, and every element to remove with it."""

    tee: Any
    capsfilter: Any
    elements: list[Any]

    @property
    def viewers(self) -> int:
        """Branches other than the caps branch."""
        return int(self.tee.get_property("num-src-pads")) - 1


def add(container: Any, name: str, caps: Any) -> CapsTee:
    """Add a tee called `name` to `container` (a bin or pipeline), with its caps branch.

    Link the tee's sink yourself; more src pads are requested as viewers come."""
    tee = gst.make("tee", name, allow_not_linked=True)
    valve = gst.make("valve", f"{name}-caps-valve", drop=True)  # drops events too
    capsfilter = gst.make("capsfilter", f"{name}-caps", caps=caps)
    # Never gets a buffer: it must not make the pipeline wait for one to preroll.
    sink = gst.make("fakesink", f"{name}-caps-sink", sync=False, **{"async": False})
    branch = [valve, capsfilter, sink]
    for element in [tee, *branch]:
        container.add(element)
    gst.link_many(*branch)
    result = tee.request_pad_simple("src_%u").link(valve.get_static_pad("sink"))
    if result != gst.Gst.PadLinkReturn.OK:
        raise RuntimeError(f"cannot link {name}'s caps branch: {result.value_nick}")
    return CapsTee(tee, capsfilter, [tee, *branch])
