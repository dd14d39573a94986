"""Viewer ownership of pipeline elements, and coalescing of keyframe requests."""

from __future__ import annotations

import types
from typing import Any

import pytest

from aether import gst
from aether.fanout import pipeline
from aether.fanout.pipeline import KEYFRAME_MIN_INTERVAL, MediaPipeline, owning_viewer

GstVideo = pipeline.GstVideo


class FakeElement:
    def __init__(self, name: str | None, parent: FakeElement | None = None) -> None:
        self.name = name
        self.parent = parent

    def get_name(self) -> str | None:
        return self.name

    def get_parent(self) -> FakeElement | None:
        return self.parent


SHARED = FakeElement("aether")


def test_element_deep_inside_a_viewer_bin_belongs_to_that_viewer() -> None:
    viewer_bin = FakeElement("viewer-42", SHARED)
    webrtc = FakeElement("webrtc", viewer_bin)
    nicesink = FakeElement("nicesink0", FakeElement("transportsendbin0", webrtc))
    assert owning_viewer(nicesink) == "42"


def test_the_viewer_bin_itself_belongs_to_its_viewer() -> None:
    assert owning_viewer(FakeElement("viewer-abc", SHARED)) == "abc"


def test_nearest_viewer_ancestor_wins() -> None:
    assert owning_viewer(FakeElement("q", FakeElement("viewer-2", FakeElement("viewer-1")))) == "2"


def test_shared_elements_belong_to_no_viewer() -> None:
    assert owning_viewer(FakeElement("video-tee", SHARED)) is None
    assert owning_viewer(SHARED) is None
    assert owning_viewer(None) is None


def test_prefix_must_be_at_the_start_of_the_name() -> None:
    assert owning_viewer(FakeElement("my-viewer-1", SHARED)) is None


def test_unnamed_elements_are_walked_past() -> None:
    assert owning_viewer(FakeElement(None, FakeElement("viewer-7", SHARED))) == "7"


# --- keyframe requests ----------------------------------------------------------------------


class FakePad:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def send_event(self, event: Any) -> bool:
        self.events.append(event)
        return True


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock(1000.0)
    monkeypatch.setattr(pipeline, "time", types.SimpleNamespace(monotonic=clock.monotonic))
    return clock


@pytest.fixture
def media() -> MediaPipeline:
    gst.init()
    media = MediaPipeline(object(), object(), object(), object())  # type: ignore[arg-type]
    media._encoder_pad = FakePad()
    return media


def test_first_request_sends_an_upstream_force_key_unit_event(
    media: MediaPipeline, clock: Clock
) -> None:
    assert media.request_keyframe("viewer 1 joined") is True
    [event] = media._encoder_pad.events
    assert GstVideo.video_event_is_force_key_unit(event)
    parsed = GstVideo.video_event_parse_upstream_force_key_unit(event)
    assert parsed.all_headers is True  # SPS/PPS come with it, so a new viewer can decode
    assert (media.keyframes_requested, media.keyframes_sent) == (1, 1)


def test_two_requests_within_the_interval_send_one_event(
    media: MediaPipeline, clock: Clock
) -> None:
    assert media.request_keyframe("a") is True
    clock.now += KEYFRAME_MIN_INTERVAL / 2
    assert media.request_keyframe("b") is False
    assert len(media._encoder_pad.events) == 1
    assert (media.keyframes_requested, media.keyframes_sent) == (2, 1)


def test_a_request_after_the_interval_sends_again(media: MediaPipeline, clock: Clock) -> None:
    media.request_keyframe("a")
    clock.now += KEYFRAME_MIN_INTERVAL
    assert media.request_keyframe("b") is True
    assert len(media._encoder_pad.events) == 2
    assert (media.keyframes_requested, media.keyframes_sent) == (2, 2)


def test_interval_is_measured_from_the_last_request_sent(
    media: MediaPipeline, clock: Clock
) -> None:
    # Coalesced requests must not push the window out, or a steady stream of
    # requests would starve the encoder of keyframe requests entirely.
    step = KEYFRAME_MIN_INTERVAL * 0.6
    sent = []
    for _ in range(5):
        sent.append(media.request_keyframe("lagging"))
        clock.now += step
    assert sent == [True, False, True, False, True]
    assert (media.keyframes_requested, media.keyframes_sent) == (5, 3)
    assert len(media._encoder_pad.events) == 3
