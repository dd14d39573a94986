"""The impaired link's per-packet decisions (tests/linkemu.py), without devices."""

from __future__ import annotations

import random

import pytest

from tests.linkemu import Direction


def test_jitter_never_reorders_packets() -> None:
    way = Direction("down", loss=0.0, delay=0.025, jitter=0.005, rng=random.Random(3))
    releases = [way.release_time(i * 0.001) for i in range(2000)]
    assert all(r is not None for r in releases)
    assert releases == sorted(r for r in releases if r is not None)
    waits = [r - i * 0.001 for i, r in enumerate(releases) if r is not None]
    assert min(waits) >= 0.020
    assert sum(waits) / len(waits) == pytest.approx(0.025, abs=0.003)


def test_loss_is_about_the_asked_fraction() -> None:
    way = Direction("up", loss=0.05, delay=0.0, jitter=0.0, rng=random.Random(4))
    released = [way.release_time(0.0) for _ in range(20000)]
    assert released.count(None) == way.dropped
    assert way.dropped / 20000 == pytest.approx(0.05, abs=0.006)
    assert way.forwarded == 20000 - way.dropped


def test_no_impairment_forwards_at_once() -> None:
    way = Direction("down", loss=0.0, delay=0.0, jitter=0.0, rng=random.Random(5))
    assert [way.release_time(t) for t in (1.0, 2.0)] == [1.0, 2.0]
