"""FrameMeter: frame rate, bitrate, encode time and gaps, on a fake clock."""

from __future__ import annotations

from aether.telemetry.frames import NO_PTS, FrameMeter

FRAME_NS = 1_000_000_000 // 50  # 50 fps


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run(meter: FrameMeter, clock: Clock, frames: int, *, start: int = 0, size: int = 1000,
        encode_s: float = 0.004, skip: frozenset[int] = frozenset()) -> None:  # fmt: skip
    for n in range(start, start + frames):
        if n in skip:
            clock.now += 0.02
            continue
        meter.frame_in(n * FRAME_NS)
        clock.now += encode_s
        meter.frame_out(size)
        clock.now += 0.02 - encode_s


def test_rate_bitrate_and_encode_time_over_a_second() -> None:
    clock = Clock()
    meter = FrameMeter(50, clock)
    run(meter, clock, 120)
    assert meter.frames == 120 and meter.bytes == 120_000
    assert abs(meter.current_fps() - 50) < 0.5
    assert abs(meter.current_bitrate() - 400_000) < 5_000  # 1000 B x 50/s x 8
    assert meter.encode_ms is not None and abs(meter.encode_ms - 4.0) < 0.01
    assert meter.encode_count == 120 and abs(meter.encode_seconds - 0.48) < 1e-6
    assert meter.dropped == 0


def test_timestamp_gaps_count_as_dropped_frames() -> None:
    clock = Clock()
    meter = FrameMeter(50, clock)
    run(meter, clock, 100, skip=frozenset({10, 11, 12, 50}))
    assert meter.frames == 96
    assert meter.dropped == 4


def test_a_stopped_source_shows_age_and_zero_rates() -> None:
    clock = Clock()
    meter = FrameMeter(50, clock)
    assert meter.age() is None and meter.current_fps() == 0.0
    run(meter, clock, 100)
    clock.now += 3.0
    age = meter.age()
    assert age is not None and 3.0 <= age < 3.1
    assert meter.current_fps() == 0.0 and meter.current_bitrate() == 0.0


def test_frames_without_timestamps_are_timed_but_make_no_gaps() -> None:
    clock = Clock()
    meter = FrameMeter(50, clock)
    meter.frame_in(NO_PTS)
    clock.now += 0.01
    meter.frame_out(500)
    meter.frame_in(NO_PTS)
    meter.frame_out(500)
    assert (meter.frames, meter.encode_count, meter.dropped) == (2, 2, 0)
    assert abs(meter.encode_seconds - 0.01) < 1e-9


def test_frames_out_without_frames_in_are_counted_not_timed() -> None:
    meter = FrameMeter(50, Clock())
    meter.frame_out(500)
    assert (meter.frames, meter.encode_count) == (1, 0)


def test_input_frames_that_never_come_out_do_not_pile_up() -> None:
    meter = FrameMeter(50, Clock())
    for n in range(1000):
        meter.frame_in(n * FRAME_NS)
    assert len(meter._in_flight) <= 64
