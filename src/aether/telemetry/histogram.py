"""A fixed-bucket histogram (Prometheus semantics: cumulative `le` buckets, sum, count)."""

from __future__ import annotations

import bisect

# Estimated glass-to-glass latency, seconds: LAN streaming sits at 20-100 ms.
LATENCY_BUCKETS = (0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0)


class Histogram:
    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        if list(buckets) != sorted(set(buckets)):
            raise ValueError("buckets must be increasing")
        self.buckets = buckets
        self._counts = [0] * (len(buckets) + 1)  # the last one is +Inf
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self._counts[bisect.bisect_left(self.buckets, value)] += 1
        self.count += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, int]]:
        """[(le, observations <= le), ..., ("+Inf", count)]."""
        out, total = [], 0
        for bound, n in zip((*map(str, self.buckets), "+Inf"), self._counts, strict=True):
            total += n
            out.append((bound, total))
        return out
