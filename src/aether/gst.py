"""GStreamer initialisation and element construction with clear missing-plugin errors."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import Gst, GstSdp, GstVideo, GstWebRTC  # noqa: E402

from aether.errors import MissingPluginError  # noqa: E402

__all__ = ["DEBIAN_PACKAGE", "Gst", "GstSdp", "GstVideo", "GstWebRTC", "init", "make", "require"]

# Which Debian 12 package provides each element we use.
DEBIAN_PACKAGE = {
    "webrtcbin": "gstreamer1.0-plugins-bad gstreamer1.0-nice",
    "nicesink": "gstreamer1.0-nice",
    "dtlsdec": "gstreamer1.0-plugins-bad",
    "x264enc": "gstreamer1.0-plugins-ugly",
    "ximagesrc": "gstreamer1.0-plugins-good",
    "pulsesrc": "gstreamer1.0-plugins-good",
    "rtph264pay": "gstreamer1.0-plugins-good",
    "rtpopuspay": "gstreamer1.0-plugins-good",
    "h264parse": "gstreamer1.0-plugins-bad",
    "opusenc": "gstreamer1.0-plugins-base",
    "videotestsrc": "gstreamer1.0-plugins-base",
    "audiotestsrc": "gstreamer1.0-plugins-base",
    "videoconvert": "gstreamer1.0-plugins-base",
    "videoscale": "gstreamer1.0-plugins-base",
    "videorate": "gstreamer1.0-plugins-base",
    "audioconvert": "gstreamer1.0-plugins-base",
    "audioresample": "gstreamer1.0-plugins-base",
    "timeoverlay": "gstreamer1.0-x",
    "queue": "libgstreamer1.0-0",
    "tee": "libgstreamer1.0-0",
    "valve": "libgstreamer1.0-0",
    "identity": "libgstreamer1.0-0",
    "rtpmux": "gstreamer1.0-plugins-good",
    "capsfilter": "libgstreamer1.0-0",
    "fakesink": "libgstreamer1.0-0",
}

_init_lock = threading.Lock()


def init() -> None:
    with _init_lock:
        if not Gst.is_initialized():
            Gst.init(None)


def require(*factories: str) -> None:
    """Fail with one message naming every missing element and the packages to install."""
    init()
    missing = [f for f in factories if Gst.ElementFactory.find(f) is None]
    if missing:
        packages = sorted({DEBIAN_PACKAGE.get(f, "?") for f in missing})
        raise MissingPluginError(
            "missing GStreamer element(s): " + ", ".join(missing),
            fix="sudo apt-get install " + " ".join(packages),
        )


def make(factory: str, name: str | None = None, **props: Any) -> Any:
    """Create an element and set its properties (underscores in names become dashes)."""
    require(factory)
    element = Gst.ElementFactory.make(factory, name)
    if element is None:  # pragma: no cover - find() succeeded but creation failed
        raise MissingPluginError(f"could not create GStreamer element {factory}")
    for key, value in props.items():
        element.set_property(key.replace("_", "-"), value)
    return element


def factory_name(element: Any) -> str:
    """The name of the factory that made `element` ("" for a plain bin)."""
    factory = element.get_factory()
    return str(factory.get_name()) if factory is not None else ""


def elements(bin_: Any, recurse: bool = False) -> list[Any]:
    """The elements in `bin_` (with `recurse`, those inside its bins too). A bin changed
    while being read is read again from the start."""
    iterator = bin_.iterate_recurse() if recurse else bin_.iterate_elements()
    out: list[Any] = []
    while True:
        result, element = iterator.next()
        if result == Gst.IteratorResult.OK:
            out.append(element)
        elif result == Gst.IteratorResult.RESYNC:
            iterator.resync()
            out = []
        else:
            return out


def caps(text: str) -> Any:
    return Gst.Caps.from_string(text)


def link_many(*elements: Any) -> None:
    for upstream, downstream in itertools.pairwise(elements):
        if not upstream.link(downstream):
            raise RuntimeError(f"cannot link {upstream.get_name()} -> {downstream.get_name()}")
