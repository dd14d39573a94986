"""encode.base.remade: the same encoder kind and element choice for a changed config."""

from __future__ import annotations

from aether.config import Config
from aether.encode.base import remade
from aether.encode.vaapi import VaapiEncoder
from aether.encode.x264 import X264Encoder


def test_remade_changes_the_config_and_leaves_the_original() -> None:
    original = X264Encoder(Config(fps=30, bitrate=2000))
    fresh = remade(original, fps=10, bitrate=800)
    assert isinstance(fresh, X264Encoder) and fresh is not original
    assert (fresh.config.fps, fresh.config.bitrate) == (10, 800)
    assert (original.config.fps, original.config.bitrate) == (30, 2000)
    assert "@10 800 kbit/s" in fresh.describe()


def test_remade_keeps_the_element_check_chose() -> None:
    original = VaapiEncoder(Config())
    original.factory = original.factories[-1]  # as check() picks the one that is there
    assert remade(original, fps=15).factory == original.factories[-1]
