"""Payload groups: the shared RTP stream re-packetized for viewers that number it differently.

Our own player takes the offer we make, so it receives H.264 as payload type 96 and Opus as
111. A viewer that makes the offer itself (WHEP) chose its own numbers, and an answerer
must send with the offerer's payload types (RFC 3264 section 6.1). Rewriting the number
per packet would put Python on the per-packet path, so instead each distinct numbering gets
one group, shared by every viewer that uses it:

    video-tee -> queue (leaky) -> rtph264depay -> rtph264pay pt=N -> tee-video-N (capstee.py)

Depayloading is not decoding: a group costs a little CPU once, not per viewer, and the
header extensions (playout delay, capture time) are stamped with the viewer's ids.
Browsers of one version offer the same numbers, so in practice there are one or two groups.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aether import gst
from aether.fanout import capstee, playout

Gst = gst.Gst
log = logging.getLogger(__name__)

# Up to this many packets wait for the group's payloader; more are dropped (the shared tee
# never waits), like a viewer's queue.
GROUP_QUEUE_BUFFERS = 400
# Groups at once: each costs a depayloader and a payloader. A group goes when its last
# viewer does; a viewer needing one more than this is refused (server-full).
MAX_GROUPS = 8


@dataclass
class Group:
    """A payload group in the pipeline: its elements and the shared tee's pad feeding it."""

    elements: list[Any]  # all of them, its tee's caps branch included
    source_pad: Any
    output: capstee.CapsTee

    @property
    def tee(self) -> Any:
        return self.output.tee

    @property
    def viewers(self) -> int:
        return self.output.viewers


@dataclass(frozen=True)
class Numbering:
    """How a viewer numbers one kind of media: payload type and header-extension ids."""

    kind: str  # "video" or "audio"
    payload_type: int
    playout_delay_id: int | None = None
    capture_time_id: int | None = None

    @property
    def tee_name(self) -> str:
        ids = f"{self.playout_delay_id or 0}-{self.capture_time_id or 0}"
        return f"{self.kind}-tee-pt{self.payload_type}-ext{ids}"


CODECS = {
    "video": ("rtph264depay", "rtph264pay", "H264", 90000),
    "audio": ("rtpopusdepay", "rtpopuspay", "OPUS", 48000),
}


def group_elements(numbering: Numbering, mtu: int) -> list[Any]:
    """The elements of a group from its queue to its payloader (not yet in a pipeline)."""
    depay_name, pay_name, _encoding, _clock_rate = CODECS[numbering.kind]
    prefix = numbering.tee_name.removeprefix(f"{numbering.kind}-tee-")
    queue = gst.make(
        "queue",
        f"{numbering.kind}-{prefix}-queue",
        leaky="downstream",
        max_size_buffers=GROUP_QUEUE_BUFFERS,
        max_size_bytes=0,
        max_size_time=0,
    )
    depay = gst.make(depay_name, f"{numbering.kind}-{prefix}-depay")
    pay_props: dict[str, Any] = {"pt": numbering.payload_type, "mtu": mtu}
    if numbering.kind == "video":
        pay_props.update(config_interval=-1, aggregate_mode="zero-latency")
    pay = gst.make(pay_name, f"{numbering.kind}-{prefix}-pay", **pay_props)
    return [queue, depay, pay]


def group_caps(numbering: Numbering) -> Any:
    """The RTP caps a group's viewers get."""
    _depay, _pay, encoding, clock_rate = CODECS[numbering.kind]
    fields = f"payload={numbering.payload_type},clock-rate={clock_rate}"
    if numbering.kind == "video":
        fields += ",rtcp-fb-nack-pli=(boolean)true,rtcp-fb-ccm-fir=(boolean)true"
    return gst.caps(f"application/x-rtp,media={numbering.kind},encoding-name={encoding},{fields}")


def add_group(pipeline: Any, source_tee: Any, numbering: Numbering, mtu: int) -> Group:
    """Build a group into the running pipeline, fed from `source_tee`."""
    chain = group_elements(numbering, mtu)
    for element in chain:
        pipeline.add(element)
    gst.link_many(*chain)
    output = capstee.add(pipeline, numbering.tee_name, group_caps(numbering))
    chain[-1].link(output.tee)
    if numbering.kind == "video":
        playout.install(
            payloader=chain[-1],
            rtp_caps=output.capsfilter,
            playout_delay=numbering.playout_delay_id is not None,
            capture_time=numbering.capture_time_id is not None,
            playout_delay_id=numbering.playout_delay_id or playout.EXTENSION_ID,
            capture_time_id=numbering.capture_time_id or playout.CAPTURE_TIME_ID,
        )
    elements = [*chain, *output.elements]
    for element in reversed(elements):
        element.sync_state_with_parent()
    pad = source_tee.request_pad_simple("src_%u")
    result = pad.link(elements[0].get_static_pad("sink"))
    if result != Gst.PadLinkReturn.OK:
        raise RuntimeError(f"cannot link a payload group: {result.value_nick}")
    log.info(
        "payload group for %s PT %d (extension ids %s, %s)",
        numbering.kind,
        numbering.payload_type,
        numbering.playout_delay_id,
        numbering.capture_time_id,
    )
    return Group(elements, pad, output)
