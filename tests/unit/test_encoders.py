"""Encoder registry: real test encodes, selection and fallback, clear failures."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest

from aether import encode, gst
from aether.config import load_config
from aether.encode import probe
from aether.encode.nvenc import NvencEncoder
from aether.encode.openh264 import OpenH264Encoder
from aether.encode.vaapi import VaapiEncoder
from aether.encode.x264 import X264Encoder
from aether.errors import ConfigError, MissingPluginError, StartupError

CONFIG = load_config({"width": "320", "height": "240", "fps": "30", "bitrate": "500"}, {})


def test_x264_and_openh264_pass_a_real_test_encode() -> None:
    for encoder in (X264Encoder(CONFIG), OpenH264Encoder(CONFIG)):
        encoder.check()


def test_a_chain_that_cannot_encode_fails_the_probe_with_the_reason() -> None:
    def broken() -> list[Any]:
        # Raw video cannot become H.264 through a capsfilter: not negotiated.
        return [gst.make("capsfilter", caps=gst.caps("video/x-h264"))]

    with pytest.raises(StartupError, match=r"cannot link|test encode failed"):
        probe.test_encode(broken)


def test_bitrate_changes_reach_the_running_encoder_in_its_own_unit() -> None:
    x264 = X264Encoder(CONFIG)
    x264_element = x264.elements()[3]
    x264.set_bitrate(1234)
    assert x264_element.get_property("bitrate") == 1234  # kbit/s
    openh264 = OpenH264Encoder(CONFIG)
    openh264_element = openh264.elements()[3]
    openh264.set_bitrate(1234)
    assert openh264_element.get_property("bitrate") == 1_234_000  # bit/s


def test_openh264_refuses_profiles_it_cannot_make() -> None:
    with pytest.raises(ConfigError, match="constrained-baseline"):
        OpenH264Encoder(replace(CONFIG, h264_profile="high")).check()


@pytest.mark.parametrize("encoder_class", [NvencEncoder, VaapiEncoder])
def test_hardware_encoder_without_its_elements_names_the_fix(
    encoder_class: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(probe, "first_available", lambda factories: None)
    with pytest.raises(MissingPluginError) as info:
        encoder_class(CONFIG).check()
    message = str(info.value)
    assert encoder_class.name in message and "fix:" in message
    assert "driver" in info.value.fix


def test_hardware_encoder_elements_that_fail_a_test_encode_are_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An element can exist and still fail (no GPU): the test encode decides, not the name."""
    monkeypatch.setattr(probe, "first_available", lambda factories: "x264enc")

    def failing(_elements: Any, **_: Any) -> None:
        raise StartupError("a test encode failed: no CUDA device")

    monkeypatch.setattr("aether.encode.hardware.test_encode", failing)
    with pytest.raises(StartupError, match="no CUDA device"):
        NvencEncoder(CONFIG).check()


class Fake:
    def __init__(self, name: str, error: str | None) -> None:
        self.name, self.error, self.checked = name, error, False

    def check(self) -> None:
        self.checked = True
        if self.error:
            raise StartupError(self.error, fix="install it")


def test_auto_takes_the_first_encoder_that_works_and_logs_why_others_were_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fakes = {
        "nvenc": Fake("nvenc", "no CUDA device"),
        "vaapi": Fake("vaapi", "no render node"),
        "x264": Fake("x264", None),
        "openh264": Fake("openh264", None),
    }
    monkeypatch.setattr(encode, "VIDEO_ENCODERS", {n: (lambda c, f=f: f) for n, f in fakes.items()})
    with caplog.at_level(logging.INFO, logger="aether.encode"):
        chosen = encode.resolve_encoder(replace(CONFIG, encoder="auto"))
    assert chosen is fakes["x264"]
    assert not fakes["openh264"].checked
    assert "nvenc skipped: no CUDA device" in caplog.text
    assert "vaapi skipped: no render node" in caplog.text


def test_auto_with_nothing_that_works_is_a_startup_error_listing_each_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fakes = {n: Fake(n, f"{n} broken") for n in encode.AUTO_ORDER}
    monkeypatch.setattr(encode, "VIDEO_ENCODERS", {n: (lambda c, f=f: f) for n, f in fakes.items()})
    with pytest.raises(StartupError) as info:
        encode.resolve_encoder(replace(CONFIG, encoder="auto"))
    for name in encode.AUTO_ORDER:
        assert f"{name}: {name} broken" in str(info.value)


def test_explicit_encoder_is_checked_and_its_failure_is_not_hidden_by_a_fallback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fakes = {"nvenc": Fake("nvenc", "no CUDA device"), "x264": Fake("x264", None)}
    monkeypatch.setattr(encode, "VIDEO_ENCODERS", {n: (lambda c, f=f: f) for n, f in fakes.items()})
    with pytest.raises(StartupError, match="no CUDA device"):
        encode.resolve_encoder(replace(CONFIG, encoder="nvenc"))
    assert not fakes["x264"].checked


def test_set_if_present_skips_properties_an_element_lacks() -> None:
    element = gst.make("x264enc")
    probe.set_if_present(element, bitrate=777, zero_reorder_delay=True)
    assert element.get_property("bitrate") == 777


def test_copy_is_only_for_feeds() -> None:
    from aether.encode.copy import CopyEncoder

    with pytest.raises(ConfigError, match="--source url"):
        CopyEncoder(replace(CONFIG, encoder="copy")).check()
    CopyEncoder(replace(CONFIG, encoder="copy", source="url")).check()
