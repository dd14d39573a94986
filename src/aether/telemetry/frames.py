"""Frame timing at the encoder: rate, size, encode time, gaps and the last frame's time.

Fed from pad probes on GStreamer's streaming thread (one call per frame, never per packet)
and read from the event loop; every field is a plain number, replaced whole.

Encode time pairs frames in order: every encoder runs without B-frames, so it emits one
frame per frame in, in order; encoders rewrite timestamps, so those cannot pair them.
Dropped frames are gaps in the capture timestamps: frames the source failed to deliver.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW = 1.0  # seconds over which fps, bitrate and encode time are averaged
MAX_IN_FLIGHT = 64  # frames between encoder input and output; more means PTS went odd
NO_PTS = 2**64 - 1  # Gst.CLOCK_TIME_NONE


class FrameMeter:
    def __init__(self, fps: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.frame_ns = 1e9 / fps
        self.clock = clock
        self.frames = 0  # encoded frames
        self.bytes = 0  # encoded bytes
        self.dropped = 0  # frames missing from the encoded stream (timestamp gaps)
        self.last_frame_at: float | None = None  # clock() of the newest encoded frame
        self.encode_count = 0  # frames whose encode time was measured
        self.encode_seconds = 0.0  # their total convert + scale + encode time
        # Averages over the last completed window.
        self.fps = 0.0
        self.bitrate_bps = 0.0
        self.encode_ms: float | None = None
        self._in_flight: deque[float] = deque(maxlen=MAX_IN_FLIGHT)
        self._last_pts: int | None = None
        self._window_start: float | None = None
        self._window = (0, 0, 0, 0.0)  # frames, bytes, timed frames, encode seconds

    def frame_in(self, pts: int) -> None:
        """A raw frame (capture timestamp `pts`, ns) enters the encoder chain."""
        self._in_flight.append(self.clock())
        if pts == NO_PTS:
            return
        if self._last_pts is not None and pts > self._last_pts:
            missing = round((pts - self._last_pts) / self.frame_ns) - 1
            self.dropped += max(0, missing)
        self._last_pts = pts

    def frame_out(self, size: int) -> None:
        """An encoded frame of `size` bytes leaves the encoder chain."""
        now = self.clock()
        self.frames += 1
        self.bytes += size
        self.last_frame_at = now
        frames, nbytes, timed, seconds = self._window
        if self._in_flight:
            took = now - self._in_flight.popleft()
            self.encode_count += 1
            self.encode_seconds += took
            timed, seconds = timed + 1, seconds + took
        if self._window_start is None:  # the first frame opens the first window
            self._window_start = now
            return
        frames, nbytes = frames + 1, nbytes + size
        elapsed = now - self._window_start
        if elapsed >= WINDOW:
            self.fps = frames / elapsed
            self.bitrate_bps = nbytes * 8 / elapsed
            self.encode_ms = seconds / timed * 1000 if timed else None
            self._window_start, self._window = now, (0, 0, 0, 0.0)
        else:
            self._window = (frames, nbytes, timed, seconds)

    def age(self) -> float | None:
        """Seconds since the newest encoded frame (None before the first)."""
        return None if self.last_frame_at is None else self.clock() - self.last_frame_at

    def current_fps(self) -> float:
        """The measured frame rate, or 0 once frames have stopped coming."""
        age = self.age()
        return 0.0 if age is None or age > 2 * WINDOW else self.fps

    def current_bitrate(self) -> float:
        age = self.age()
        return 0.0 if age is None or age > 2 * WINDOW else self.bitrate_bps
