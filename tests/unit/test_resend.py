"""The resend budget: NACKs cannot make a viewer's resends exceed a share of its link."""

from __future__ import annotations

from aether.peers import resend
from aether.peers.resend import ResendBudget


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_resends_within_the_share_of_the_estimate_pass_and_the_rest_are_refused() -> None:
    clock = Clock()
    budget = ResendBudget(lambda: 2000.0, clock)
    per_second = 2000 * 1000 * resend.SHARE / resend.PACKET_BITS  # ~52 packets
    granted = 0
    for _ in range(100):  # ten seconds of a storm: 2,000 requests
        for _ in range(20):
            granted += budget.take()
        clock.now += 0.1
    assert abs(granted - per_second * 10) <= per_second * resend.BURST_SECONDS + 1
    assert budget.skipped == 2000 - granted
    assert budget.allowed == granted


def test_a_healthy_link_loses_no_resend() -> None:
    clock = Clock()
    budget = ResendBudget(lambda: 4000.0, clock)
    for _ in range(300):  # 5% of ~400 packets a second: 20 a second
        assert budget.take()
        clock.now += 0.05
    assert budget.skipped == 0


def test_the_budget_follows_the_estimate() -> None:
    clock = Clock()
    estimate = [4000.0]
    budget = ResendBudget(lambda: estimate[0], clock)
    budget.take()
    estimate[0] = 100.0  # the link turned out to be slow
    clock.now += 1
    taken = sum(budget.take() for _ in range(50))
    assert taken <= 100 * 1000 * resend.SHARE / resend.PACKET_BITS * resend.BURST_SECONDS + 1
