"""Per-viewer bandwidth estimates, tier choice and the top tier's bitrate (peers/adapt.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from aether.fanout.tiers import plan
from aether.peers import adapt
from aether.peers.adapt import Adapter, Estimate, Sample, TierPolicy
from aether.telemetry.webrtcstats import SourceReport


def report(at: float, seq: int, lost: float, rtt: float | None = 0.02) -> Sample:
    return Sample(at=at, fraction_lost=lost, highest_seq=seq, rtt_s=rtt)


def test_estimate_drops_to_what_arrived_when_a_report_shows_heavy_loss() -> None:
    estimate = Estimate(6000, 6000)
    assert estimate.update(report(0, 100, 0.0), 4000) == 6000  # the first report: a baseline
    kbps = estimate.update(report(1, 200, 0.5), 4000)
    assert estimate.congested
    assert kbps == 4000 * 0.5 * adapt.BACKOFF


def test_one_report_a_little_over_the_threshold_is_chance_two_are_congestion() -> None:
    estimate = Estimate(6000, 6000)
    estimate.update(report(0, 100, 0.0), 4000)
    assert estimate.update(report(1, 200, 0.15), 4000) == 6000  # random loss peaks so
    assert not estimate.congested
    assert estimate.update(report(2, 300, 0.15), 4000) == 4000 * 0.85 * adapt.BACKOFF
    assert estimate.congested


def test_estimate_holds_under_random_loss_and_without_new_reports() -> None:
    estimate = Estimate(3000, 6000)
    estimate.update(report(0, 100, 0.0), 4000)
    assert estimate.update(report(1, 200, 0.05), 4000) == 3000  # 5%: neither way
    assert estimate.update(report(2, 200, 0.9), 4000) == 3000  # the same report again


def test_estimate_grows_while_clear_up_to_its_ceiling() -> None:
    estimate = Estimate(1000, 1500)
    estimate.update(report(0, 100, 0.0), 1200)
    grown = estimate.update(report(1, 200, 0.0), 1200)
    assert 1000 < grown <= 1000 * adapt.GROWTH + 1e-9
    for second in range(2, 30):
        grown = estimate.update(report(second, 100 * (second + 1), 0.0), 1200)
    assert grown == 1500


def test_a_growing_round_trip_time_counts_as_congestion() -> None:
    estimate = Estimate(6000, 6000)
    estimate.update(report(0, 100, 0.0, rtt=0.03), 4000)
    estimate.update(report(1, 200, 0.0, rtt=0.03), 4000)
    kbps = estimate.update(report(2, 300, 0.0, rtt=0.03 + adapt.QUEUE_DELAY + 0.05), 4000)
    assert estimate.congested and kbps < 4000


def test_restart_skips_the_next_report() -> None:
    estimate = Estimate(6000, 6000)
    estimate.update(report(0, 100, 0.0), 4000)
    estimate.restart()
    assert estimate.update(report(1, 200, 0.6), 1200) == 6000  # may describe the old tier
    assert estimate.update(report(2, 300, 0.6), 1200) < 6000


KEEP = [2400, 1200, 400]
ENTER = [4000, 1200, 400]


def test_policy_moves_down_at_once_to_the_best_tier_the_estimate_carries() -> None:
    policy = TierPolicy()
    assert policy.choose(0, 5000, KEEP, ENTER, now=100) == 0
    assert policy.choose(0, 1900, KEEP, ENTER, now=101) == 1  # 0.9 x 1900 >= 1200
    assert policy.choose(1, 300, KEEP, ENTER, now=102) == 2  # nothing fits: the lowest


def test_policy_moves_up_one_tier_after_the_hold_off_only() -> None:
    policy = TierPolicy()
    policy.choose(0, 1900, KEEP, ENTER, now=100)  # down to 1
    assert policy.choose(1, 9000, KEEP, ENTER, now=100 + adapt.HOLD_OFF - 1) == 1
    assert policy.choose(1, 9000, KEEP, ENTER, now=100 + adapt.HOLD_OFF) == 0
    assert policy.choose(2, 9000, KEEP, ENTER, now=200) == 1  # one step at a time


def test_policy_doubles_the_hold_off_when_a_move_up_is_undone() -> None:
    policy = TierPolicy()
    policy.choose(0, 1900, KEEP, ENTER, now=100)
    assert policy.choose(1, 5000, KEEP, ENTER, now=110) == 0
    assert policy.choose(0, 1900, KEEP, ENTER, now=112) == 1  # the link could not carry it
    assert policy.hold_off == 2 * adapt.HOLD_OFF
    assert policy.choose(1, 5000, KEEP, ENTER, now=112 + adapt.HOLD_OFF) == 1  # still held
    assert policy.choose(1, 5000, KEEP, ENTER, now=112 + 2 * adapt.HOLD_OFF) == 0


def test_policy_never_picks_a_failed_tier() -> None:
    keep = [2400, adapt.INFINITE, 400]
    assert TierPolicy().choose(0, 1900, keep, [4000, adapt.INFINITE, 400], now=1) == 2


@dataclass
class FakeMedia:
    tiers: list[Any]
    target_bitrate: int | None = None
    tiers_down: set[int] = field(default_factory=set)
    set_to: list[tuple[int, int]] = field(default_factory=list)

    def set_tier_bitrate(self, tier: int, kbps: int) -> None:
        self.set_to.append((tier, kbps))


class FakeSelector:
    def __init__(self) -> None:
        self.current = 0
        self.valves = [None, None]


class FakePeer:
    def __init__(self, peer_id: str, tiered: bool) -> None:
        self.id = peer_id
        self.connected_at = 1.0
        self.report: SourceReport | None = None
        self.estimate_kbps: float | None = None
        self.selector = FakeSelector() if tiered else None
        self.switched: list[int] = []
        self.log = self

    def info(self, *_args: object) -> None:
        pass

    @property
    def tier(self) -> int:
        return self.selector.current if self.selector is not None else 0

    def switch_tier(self, tier: int, _reason: str) -> None:
        self.switched.append(tier)

    def reports(self, at: float, seq: int, lost: float) -> None:
        self.report = SourceReport(fraction_lost=lost, highest_seq=seq, rtt_s=0.02, sent_bps=0)

    def video_report(self) -> SourceReport | None:
        return self.report


def feed(adapter: Adapter, viewers: list[Any], slow: FakePeer, losses: list[float]) -> None:
    """One receiver report a second from every viewer (`slow` with `losses`, the others
    with none), and the adapter's decision after each."""
    for second, lost in enumerate(losses):
        for viewer in viewers:
            viewer.reports(second, 100 * (second + 1), lost if viewer is slow else 0.0)
        adapter.decide(viewers, float(second))


def test_adapter_moves_the_congested_viewer_and_keeps_the_top_for_the_other() -> None:
    media = FakeMedia(plan(1280, 720, 4000, 2, 300), target_bitrate=4000)
    slow, fast = FakePeer("slow", True), FakePeer("fast", True)
    viewers: list[Any] = [slow, fast]
    adapter = Adapter(media, viewers, 300)
    feed(adapter, viewers, slow, [0.0, 0.5])
    assert slow.switched == [1] and fast.switched == []
    assert media.set_to == []  # the top tier's only viewer is fast: it stays at 4000


def test_with_one_encode_the_bitrate_follows_the_slowest_viewer() -> None:
    media = FakeMedia(plan(1280, 720, 4000, 1, 300), target_bitrate=4000)
    slow, fast = FakePeer("slow", False), FakePeer("fast", False)
    viewers: list[Any] = [slow, fast]
    adapter = Adapter(media, viewers, 300)
    feed(adapter, viewers, slow, [0.0, 0.5])
    expected = int(4000 * 0.5 * adapt.BACKOFF * adapt.HEADROOM)
    assert media.set_to == [(0, expected)]
    assert adapter.top_kbps == expected


def test_the_top_bitrate_goes_back_up_when_the_slow_viewer_leaves() -> None:
    media = FakeMedia(plan(1280, 720, 4000, 1, 300), target_bitrate=4000)
    slow = FakePeer("slow", False)
    viewers: list[Any] = [slow]
    adapter = Adapter(media, viewers, 300)
    feed(adapter, viewers, slow, [0.0, 0.5])
    assert adapter.top_kbps is not None
    viewers.clear()
    adapter._bitrate_at = 0.0  # no wait between changes, for the test
    adapter.decide(viewers, 10.0)
    assert media.set_to[-1] == (0, 4000) and adapter.top_kbps is None


def test_the_top_bitrate_never_goes_below_its_floor() -> None:
    media = FakeMedia(plan(1280, 720, 4000, 1, 1000), target_bitrate=4000)
    slow = FakePeer("slow", False)
    viewers: list[Any] = [slow]
    adapter = Adapter(media, viewers, 1000)
    feed(adapter, viewers, slow, [0.0, 0.95])
    assert media.set_to == [(0, 1000)]


def test_growth_slows_past_where_congestion_last_began() -> None:
    estimate = Estimate(6000, 6000)
    estimate.update(report(0, 100, 0.0), 4000)
    estimate.update(report(1, 200, 0.5), 4000)  # congested: 2000 arrived
    assert estimate.congested_at_kbps == 2000
    assert estimate.kbps == 2000 * adapt.BACKOFF
    assert estimate.update(report(2, 300, 0.0), 1200) == 2000 * adapt.BACKOFF  # one clear
    kbps = estimate.update(report(3, 400, 0.0), 1200)
    assert kbps == 2000  # fast back up to the knee, no further
    kbps = estimate.update(report(4, 500, 0.0), 1200)
    assert kbps == pytest.approx(2000 * adapt.SLOW_GROWTH)


def test_after_lowering_the_top_bitrate_the_next_report_does_not_lower_it_again() -> None:
    media = FakeMedia(plan(1280, 720, 4000, 1, 300), target_bitrate=4000)
    slow = FakePeer("slow", False)
    viewers: list[Any] = [slow]
    adapter = Adapter(media, viewers, 300)
    feed(adapter, viewers, slow, [0.0, 0.5, 0.5])  # the third still describes 4000
    assert len(media.set_to) == 1, media.set_to


def test_the_knee_counts_resends_that_crossed_the_link_too() -> None:
    estimate = Estimate(6000, 6000)
    estimate.update(Sample(0, 0.0, 100, 0.02, 5000), 4000)
    estimate.update(Sample(1, 0.6, 200, 0.02, 5000), 4000)  # 4000 media + 1000 resent
    assert estimate.kbps == 4000 * 0.4 * adapt.BACKOFF
    assert estimate.congested_at_kbps == 5000 * 0.4  # the link carried 2000


def test_a_report_from_rtpsource_stats() -> None:
    report = SourceReport.from_source_stats(
        {
            "have-rb": True,
            "rb-fractionlost": 64,
            "rb-exthighestseq": 70000,
            "rb-round-trip": 3277,
            "bitrate": 4_000_000,
        }
    )
    assert report.fraction_lost == 0.25 and report.highest_seq == 70000
    assert report.rtt_s == pytest.approx(0.05, abs=1e-4) and report.sent_bps == 4_000_000
    none_yet = SourceReport.from_source_stats({"have-rb": False, "bitrate": 10})
    assert none_yet.highest_seq is None and none_yet.rtt_s is None
