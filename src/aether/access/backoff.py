"""Rate limits: failed-auth back-off per client address, message rate per connection."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

FAILURES_ALLOWED = 5  # failed attempts per address within FAILURE_WINDOW before back-off
FAILURE_WINDOW = 60.0
BACKOFF_FIRST = 10.0  # seconds; doubles with each further failure while blocked
BACKOFF_MAX = 600.0
TRACKED_ADDRESSES = 10_000  # oldest entries are forgotten beyond this


@dataclass
class _Record:
    failures: list[float] = field(default_factory=list)
    blocked_until: float = 0.0
    backoff: float = BACKOFF_FIRST


class AuthBackoff:
    """Blocks an address for a growing time after repeated failed authentications."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._now = clock
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def retry_after(self, address: str) -> float:
        """Seconds this address must still wait (0 when it may try)."""
        record = self._records.get(address)
        if record is None:
            return 0.0
        return max(0.0, record.blocked_until - self._now())

    def failed(self, address: str) -> None:
        now = self._now()
        record = self._records.pop(address, None) or _Record()
        self._records[address] = record
        while len(self._records) > TRACKED_ADDRESSES:
            self._records.popitem(last=False)
        record.failures = [t for t in record.failures if now - t < FAILURE_WINDOW]
        record.failures.append(now)
        if len(record.failures) > FAILURES_ALLOWED:
            record.blocked_until = now + record.backoff
            record.backoff = min(BACKOFF_MAX, record.backoff * 2)

    def succeeded(self, address: str) -> None:
        self._records.pop(address, None)


class TokenBucket:
    """Allows `rate` events per second on average, bursts up to `burst`."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._now = clock
        self._tokens = burst
        self._last = self._now()

    def take(self) -> bool:
        now = self._now()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False
