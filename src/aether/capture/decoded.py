"""The tail every decoding source shares: decoded video, paced and at the configured rate.

Cameras and feeds deliver video at their own rate and in their own format; a file is
read as fast as it can be decoded. This chain converts, keeps to the configured frame
rate (dropping or repeating frames) and paces the frames to the clock, as a live capture.
"""

from __future__ import annotations

from typing import Any

from aether import gst
from aether.config import Config
from aether.errors import MissingPluginError


def decoding_bin(name: str, description: str) -> Any:
    """A bin from a launch description; the src pad of its element named `tail` becomes
    the bin's `src`.

    decodebin's pads appear later and link inside the bin, so only that one pad is
    ghosted (ghosting every unlinked pad would take the converter's sink pad too).
    """
    gst.init()
    try:
        bin_ = gst.Gst.parse_bin_from_description(description, False)
    except Exception as exc:  # GLib.Error: a missing element or a bad description
        raise MissingPluginError(f"cannot build the {name} source: {exc}") from None
    bin_.set_name(name)
    tail = bin_.get_by_name("tail")
    if tail is None:
        raise ValueError(f"the description must name its last element `tail`: {description}")
    src = gst.Gst.GhostPad.new("src", tail.get_static_pad("src"))
    bin_.add_pad(src)
    # The end of a file or feed must not end the shared stream: an EOS would reach the
    # encoder and every viewer's webrtcbin for good. Dropped here, the frames just stop;
    # the pipeline counts the source as lost and reopens it (a file then plays again).
    src.add_probe(gst.Gst.PadProbeType.EVENT_DOWNSTREAM, _drop_eos)
    return bin_


def _drop_eos(_pad: Any, info: Any) -> Any:
    if info.get_event().type == gst.Gst.EventType.EOS:
        return gst.Gst.PadProbeReturn.DROP
    return gst.Gst.PadProbeReturn.OK


def paced_tail(config: Config) -> list[Any]:
    return [
        gst.make("videorate", "capture-rate"),
        gst.make(
            "capsfilter",
            "capture-caps",
            caps=gst.caps(f"video/x-raw,framerate={config.fps}/1"),
        ),
        gst.make("clocksync", "capture-pace", sync=True),
    ]
