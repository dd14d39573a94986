"""Per-viewer bandwidth estimates, and what follows from them: tiers and the top bitrate.

Every second each connected viewer's figures come from rtpbin's session inside its
webrtcbin: the viewer's latest RTCP receiver report (fraction lost, highest sequence
number, round-trip time) and our sending rate (ViewerPeer.video_report: one small
structure; webrtcbin's get-stats would cost ten times as much per viewer).
From them, per viewer (Estimate):

- **congested** when its reports say more than LOSS_HIGH of the packets were lost, in
  two reports in a row, or more than twice that in one (a report covers a few hundred
  packets: random loss of a few percent tops 10% in one now and then), or when the
  round-trip time rose QUEUE_DELAY above its minimum (a queue is building somewhere): the
  estimate drops a little under what arrived (the rate of the encode it receives x
  (1 - loss));
- **clear** below LOSS_LOW loss in the last two reports: the estimate grows by GROWTH a
  second up to where the link last filled (what it carried then, resends included), by
  SLOW_GROWTH a second beyond it (the link is probed again, but rarely: each probe that
  fails costs the viewer a moment of loss), and never past CEILING times the top
  bitrate; in between it holds (random loss is not congestion).

Then (TierPolicy) a viewer whose estimate no longer carries its tier moves down at once,
to the best tier it carries; one whose estimate would carry the tier above moves up one
tier, but no sooner than its hold-off after the last switch, and the hold-off doubles
each time a move up is undone within UNDONE_WITHIN (a link that cannot carry the tier
above is not tried every few seconds). A switch takes effect at the new tier's next
keyframe (fanout/selector.py).

The top tier's bitrate follows the viewers on it: the lowest of their estimates (with
HEADROOM), never above --bitrate (or what POST /encoder set) and never below its floor
(fanout/tiers.top_floor: --min-bitrate with one encode; 60% of --bitrate with tiers, below
which a viewer goes to a lower tier instead). With one encode (the default) this is
"latency first": a congested viewer gets a lower bitrate rather than a queue that grows
and a picture that stalls. `--adapt false` turns all of it off.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from aether.fanout.pipeline import MediaPipeline
from aether.fanout.tiers import Tier, top_floor
from aether.peers.viewer import ViewerPeer
from aether.telemetry.webrtcstats import SourceReport

log = logging.getLogger(__name__)

INTERVAL = 1.0  # seconds between estimates
LOSS_HIGH = 0.10  # more lost than this: congested
LOSS_LOW = 0.02  # less lost than this: the estimate may grow
QUEUE_DELAY = 0.25  # seconds of round-trip time above the minimum: congested
BACKOFF = 0.95  # when congested, the estimate goes this far under what arrived
GROWTH = 1.08  # per second while clear, below where congestion last began
SLOW_GROWTH = 1.02  # per second while clear, beyond it
CEILING = 1.5  # the estimate never exceeds this times the top bitrate
HEADROOM = 0.9  # a tier fits when its bitrate is within this share of the estimate
HOLD_OFF = 8.0  # seconds after a switch before moving up
HOLD_OFF_MAX = 64.0
UNDONE_WITHIN = 6.0  # a move up undone this soon doubles the hold-off
BITRATE_STEP = 0.05  # the top bitrate changes only by more than this share
BITRATE_MIN_GAP = 1.0  # seconds between changes of the top bitrate


@dataclass(frozen=True)
class Sample:
    """One reading of a viewer's video stream."""

    at: float  # time.monotonic()
    fraction_lost: float  # in the viewer's latest receiver report, 0..1
    highest_seq: int | None  # extended highest sequence number it reported (a new report
    # moves it)
    rtt_s: float | None
    sent_kbps: float | None = None  # what webrtcbin sent lately, resends included

    @classmethod
    def of(cls, at: float, report: SourceReport) -> Sample:
        return cls(at, report.fraction_lost, report.highest_seq, report.rtt_s,
                   report.sent_bps / 1000)  # fmt: skip


class Estimate:
    """One viewer's available bandwidth, in kbit/s, from its receiver reports.

    What arrived is reckoned from the rate of the encode the viewer receives, not from the
    bytes webrtcbin sent: those include resends (RTX), which on a link already full are
    lost again and again and would make a congested viewer look fast.
    """

    def __init__(self, start_kbps: float, ceiling_kbps: float) -> None:
        self.kbps = start_kbps
        self.ceiling = ceiling_kbps
        self.loss = 0.0  # in the latest report
        self.congested = False
        self.congested_at_kbps: float | None = None  # what arrived when it last was
        self._highest: int | None = None
        self._min_rtt: float | None = None
        self._last_at: float | None = None

    def restart(self) -> None:
        """After a switch: the next report may still describe the old tier; skip it."""
        self._highest = None
        self.loss = 0.0

    def update(self, sample: Sample, receiving_kbps: float) -> float:
        """Take a sample (the viewer receives an encode of `receiving_kbps`); return the
        estimate."""
        elapsed = sample.at - self._last_at if self._last_at is not None else 0.0
        self._last_at = sample.at
        if sample.highest_seq is None or sample.highest_seq == self._highest:
            return self.kbps  # no new receiver report: nothing to go on
        fresh = self._highest is not None
        self._highest = sample.highest_seq
        if not fresh:
            return self.kbps
        previous, self.loss = self.loss, min(max(sample.fraction_lost, 0.0), 1.0)
        # One report covers ~100-400 packets: at 5% random loss it tops 10% now and then.
        # Congestion, not chance, should lower the estimate: above 10% it takes two
        # reports in a row, above 20% (not chance at these sample sizes) one.
        lossy = self.loss > LOSS_HIGH and (previous > LOSS_HIGH or self.loss > 2 * LOSS_HIGH)
        queueing = False
        if sample.rtt_s is not None:
            self._min_rtt = min(self._min_rtt or sample.rtt_s, sample.rtt_s)
            queueing = sample.rtt_s - self._min_rtt > QUEUE_DELAY
        self.congested = lossy or queueing
        if self.congested:
            arrived = receiving_kbps * (1 - self.loss)
            self.kbps = min(self.kbps, arrived * BACKOFF)
            # Where the link filled: what arrived of everything sent, resends included
            # (they crossed the link too). The estimate grows back fast up to there.
            carried = (sample.sent_kbps or 0.0) * (1 - self.loss)
            self.congested_at_kbps = max(arrived, carried)
        elif max(previous, self.loss) < LOSS_LOW:
            knee = self.congested_at_kbps
            fast = knee is None or self.kbps < knee
            grown = self.kbps * (GROWTH if fast else SLOW_GROWTH) ** max(elapsed, 0.0)
            if fast and knee is not None:
                grown = min(grown, knee)  # then slowly beyond it
            self.kbps = min(grown, self.ceiling)
        return self.kbps


class TierPolicy:
    """Which tier a viewer should be on, given its estimate (see the module's doc)."""

    def __init__(self, now: float | None = None) -> None:
        self.hold_off = HOLD_OFF
        self.last_switch = time.monotonic() if now is None else now
        self.last_up: float | None = None

    def choose(
        self, current: int, estimate: float, keep: list[int], enter: list[int], now: float
    ) -> int:
        """`keep[t]`: the least a viewer on tier t needs to stay there; `enter[t]`: to move
        up to it (kbit/s). Unusable tiers have a need of infinity."""
        usable = estimate * HEADROOM
        if usable < keep[current]:
            lower = [t for t in range(current + 1, len(keep)) if keep[t] <= usable]
            target = lower[0] if lower else self._last_usable(keep, current)
            if self.last_up is not None and now - self.last_up < UNDONE_WITHIN:
                self.hold_off = min(self.hold_off * 2, HOLD_OFF_MAX)
            self.last_up = None
            return self._switched(target, now) if target != current else current
        if current > 0 and now - self.last_switch >= self.hold_off:
            up = current - 1
            if usable >= enter[up]:
                self.last_up = now
                return self._switched(up, now)
        if self.last_up is not None and now - self.last_up >= UNDONE_WITHIN:
            self.last_up = None  # the move up held
        return current

    @staticmethod
    def _last_usable(keep: list[int], current: int) -> int:
        finite = [t for t in range(len(keep)) if keep[t] != INFINITE]
        return max(finite) if finite else current

    def _switched(self, tier: int, now: float) -> int:
        self.last_switch = now
        return tier


INFINITE = 10**12


class Adapter:
    """The loop task: estimates for every connected viewer, tiers, the top bitrate."""

    def __init__(self, media: MediaPipeline, viewers: Iterable[ViewerPeer], min_kbps: int):
        self.media = media
        self.viewers = viewers
        self.min_kbps = min_kbps
        self._estimates: dict[str, Estimate] = {}
        self._policies: dict[str, TierPolicy] = {}
        self._bitrate_at = 0.0
        self.top_kbps: int | None = None  # the top tier's bitrate as adaptation set it

    @property
    def tiers(self) -> list[Tier]:
        return self.media.tiers

    @property
    def max_kbps(self) -> int:
        return self.media.target_bitrate or self.tiers[0].bitrate

    def needs(self) -> tuple[list[int], list[int]]:
        """What a viewer needs to stay on each tier, and to move up to it (kbit/s)."""
        floor = top_floor(self.tiers, self.min_kbps, self.max_kbps)
        running = self.top_kbps or self.max_kbps
        keep = [floor] + [t.bitrate for t in self.tiers[1:]]
        enter = [running] + [t.bitrate for t in self.tiers[1:]]
        for down in self.media.tiers_down:
            keep[down] = enter[down] = INFINITE
        return keep, enter

    async def run(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL)
            try:
                await self.step()
            except Exception:  # a bug here must not end adaptation for good
                log.exception("adaptation step failed")

    async def step(self) -> None:
        self.decide([p for p in self.viewers if p.connected_at is not None], time.monotonic())

    def decide(self, peers: list[ViewerPeer], now: float) -> None:
        """From the connected viewers' fresh figures: estimates, switches, top bitrate."""
        keep, enter = self.needs()
        top: dict[str, float] = {}  # the top tier's viewers' estimates
        seen = set()
        for peer in peers:
            seen.add(peer.id)
            report = peer.video_report()
            if report is None:
                continue
            estimate = self._estimates.get(peer.id)
            if estimate is None:
                estimate = Estimate(self.max_kbps * CEILING, self.max_kbps * CEILING)
                self._estimates[peer.id] = estimate
                self._policies[peer.id] = TierPolicy(now)
            current = peer.tier
            receiving = self.top_kbps or self.max_kbps if current == 0 else enter[current]
            kbps = estimate.update(Sample.of(now, report), receiving)
            peer.estimate_kbps = kbps
            if peer.selector is not None:
                target = self._policies[peer.id].choose(current, kbps, keep, enter, now)
                if target != current:
                    why = f"estimate {kbps:.0f} kbit/s, loss {estimate.loss:.0%}"
                    peer.log.info("to tier %d (%s)", target, why)
                    peer.switch_tier(target, why)
                    estimate.restart()
                    current = target
            if current == 0:
                top[peer.id] = kbps
        for gone in set(self._estimates) - seen:
            del self._estimates[gone]
            self._policies.pop(gone, None)
        if self._follow(list(top.values()), now):
            for peer_id in top:  # their next reports describe the old bitrate: skip them
                self._estimates[peer_id].restart()

    def _follow(self, estimates: list[float], now: float) -> bool:
        """Set the top tier's bitrate from its viewers' estimates; True if it went down."""
        floor = top_floor(self.tiers, self.min_kbps, self.max_kbps)
        wanted = min(estimates) * HEADROOM if estimates else self.max_kbps
        target = int(min(max(wanted, floor), self.max_kbps))
        current = self.top_kbps or self.max_kbps
        if abs(target - current) <= current * BITRATE_STEP and target != self.max_kbps:
            return False
        if target == current or now - self._bitrate_at < BITRATE_MIN_GAP:
            return False
        self._bitrate_at = now
        self.top_kbps = None if target == self.max_kbps else target
        log.info("top tier bitrate %d -> %d kbit/s (its viewers' lowest estimate)",
                 current, target)  # fmt: skip
        self.media.set_tier_bitrate(0, target)
        return target < current
