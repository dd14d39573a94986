"""A budget for one viewer's resends (RTX), so NACKs cannot flood a link that is full.

On a link that carries less than the stream, packets are lost because the link is full;
every NACK then asks for resends that are lost again, and the viewer asks again: measured
here, 4 Mbit/s into a 2 Mbit/s link sent ~26 Mbit/s, ~2,200 resends a second, and the
picture froze (docs/performance.md, "Network conditions"). So resends are limited to
SHARE of the viewer's bandwidth estimate (of the stream's bitrate before there is one):
a token bucket, refilled continuously, a burst of BURST_SECONDS of it. Requests beyond it
are dropped before they reach webrtcbin's rtprtxsend, and counted.

The check runs per retransmission request (one per NACKed packet: a few a second on a
healthy link), on GStreamer's thread, never per packet sent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from aether import gst

Gst = gst.Gst

SHARE = 0.25  # of the viewer's estimate that resends may use
BURST_SECONDS = 0.5
PACKET_BITS = 1200 * 8  # a full packet (RTP_MTU)
REQUEST = "GstRTPRetransmissionRequest"


class ResendBudget:
    def __init__(
        self, kbps: Callable[[], float], clock: Callable[[], float] = time.monotonic
    ) -> None:
        """`kbps()`: the bandwidth the viewer is thought to have now."""
        self.kbps = kbps
        self.clock = clock
        self.allowed = 0
        self.skipped = 0
        self._tokens: float | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def take(self) -> bool:
        """One resend: True if the budget has room for it."""
        rate = max(self.kbps(), 0.0) * 1000 * SHARE / PACKET_BITS  # packets a second
        burst = max(rate * BURST_SECONDS, 1.0)
        with self._lock:
            now = self.clock()
            if self._tokens is None:
                self._tokens = burst
            else:
                self._tokens = min(burst, self._tokens + (now - self._at) * rate)
            self._at = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                self.allowed += 1
                return True
            self.skipped += 1
            return False

    def probe(self, _pad: Any, info: Any) -> Any:
        """For an EVENT_UPSTREAM probe on rtprtxsend's src pad."""
        event = info.get_event()
        if event.type != Gst.EventType.CUSTOM_UPSTREAM:
            return Gst.PadProbeReturn.OK
        structure = event.get_structure()
        if structure is None or structure.get_name() != REQUEST:
            return Gst.PadProbeReturn.OK
        return Gst.PadProbeReturn.OK if self.take() else Gst.PadProbeReturn.DROP
