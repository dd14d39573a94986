"""Is the far end still receiving? Judged from the RTCP receiver reports it sends back.

A server that vanishes (killed, unplugged, rebooted) sends no ICE or DTLS goodbye, and
webrtcbin 1.22 keeps the session `connected` while it sends into the void (measured with
Janus killed: no state change in 25 s). Every WebRTC receiver reports, about once a second,
the highest sequence number it got; when that stops moving on every stream, it is gone.
"""

from __future__ import annotations

from aether.telemetry.webrtcstats import PeerNetStats

QUIET_LIMIT = 8.0  # seconds without progress in any receiver report


class Liveness:
    """Feed it the peer's figures now and then; it says when the receiver went quiet.

    Until the first receiver report arrives nothing is judged: an ingest that sends no
    RTCP at all is never taken for dead (WebRTC failure still ends the session). Nor is
    it while we send nothing (a lost source, no audio): there is nothing to report then."""

    def __init__(self, limit: float = QUIET_LIMIT) -> None:
        self.limit = limit
        self._reported: tuple[int | None, ...] = ()
        self._sent: tuple[int, ...] = ()
        self._since: float | None = None

    def observe(self, net: PeerNetStats, now: float) -> float | None:
        """The seconds without progress once they reach the limit, else None."""
        reported = tuple(s.highest_seq_reported for s in net.streams)
        sent = tuple(s.packets_sent for s in net.streams)
        idle = sent == self._sent  # nothing went out since the last look
        self._sent = sent
        if all(r is None for r in reported):
            return None
        if reported != self._reported or idle or self._since is None:
            self._reported, self._since = reported, now
            return None
        quiet = now - self._since
        return quiet if quiet >= self.limit else None
