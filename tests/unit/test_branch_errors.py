"""Errors inside a bin attached with on_error go to its owner, not to on_fatal."""

from __future__ import annotations

from typing import Any

from gi.repository import GLib

from aether import gst
from aether.fanout.pipeline import MediaPipeline

Gst = gst.Gst


def error_from(element: Any) -> Any:
    error = GLib.Error.new_literal(Gst.CoreError.quark(), "boom", Gst.CoreError.FAILED)
    return Gst.Message.new_error(element, error, "detail")


def media_with_a_tee() -> MediaPipeline:
    gst.init()
    media = MediaPipeline(object(), object(), object(), object())  # type: ignore[arg-type]
    media.pipeline = Gst.Pipeline.new("aether")
    media.pipeline.add(gst.make("tee", "video-tee"))
    return media


def branch_bin(name: str) -> tuple[Any, Any]:
    bin_ = Gst.Bin.new(name)
    sink = gst.make("fakesink", "sink")
    bin_.add(sink)
    bin_.add_pad(Gst.GhostPad.new("video", sink.get_static_pad("sink")))
    return bin_, sink


def test_an_error_inside_the_bin_reaches_its_handler_only() -> None:
    media = media_with_a_tee()
    fatal: list[str] = []
    errors: list[str] = []
    media.on_fatal = fatal.append
    bin_, sink = branch_bin("rtp-forward-0")
    branch = media.attach(bin_, on_error=errors.append)
    media._on_message(error_from(sink))
    assert errors == ["sink: boom"]
    assert fatal == []
    media.detach(branch)
    media._on_message(error_from(sink))  # detached: no owner any more
    assert errors == ["sink: boom"]
    assert fatal == ["sink: boom"]


def test_a_bin_without_a_handler_keeps_the_old_routing() -> None:
    media = media_with_a_tee()
    fatal: list[str] = []
    viewers: list[tuple[str, str]] = []
    media.on_fatal = fatal.append
    media.on_viewer_error = lambda viewer, reason: viewers.append((viewer, reason))
    bin_, sink = branch_bin("viewer-7")
    media.attach(bin_)
    media._on_message(error_from(sink))
    assert viewers == [("7", "boom")]
    assert fatal == []
