"""Paint the wall-clock time as a machine-readable block pattern on an X display.

    .venv/bin/python -m bench.painter --display :99 --width 1280 --height 720

Used by bench/latency.py. Each tick (default 250 Hz) draws, in one X request, a grid of
CELL x CELL black/white cells encoding int(time.time() * 1000) mod 2**32 with a CRC-8 and
fixed guard cells (see `encode`), so a reader can reject misreads. The grid is first drawn
into an off-screen pixmap and then copied to the window with a single CopyArea, so a
screen grab can never see half a value. A textured band scrolls and a box bounces at
~120 Hz so the encoder has real work to do.

On SIGTERM it prints one JSON line with the ticks painted and the tick interval spread.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import time
from typing import Any

from Xlib import X, display

# Pattern geometry, shared with the in-page decoder in bench/latency.py.
CELL = 32
COLS = 16
ROWS = 3
ORIGIN_X = 32
ORIGIN_Y = 32
DATA_BITS = 32
CRC_BITS = 8
# cell index -> fixed value (1 = white); the remaining cells hold data then CRC, MSB first.
GUARDS = {0: 1, 1: 0, 42: 1, 43: 0, 44: 1, 45: 0, 46: 0, 47: 1}
PAYLOAD_CELLS = [i for i in range(COLS * ROWS) if i not in GUARDS]
assert len(PAYLOAD_CELLS) == DATA_BITS + CRC_BITS

MOVE_INTERVAL = 1 / 120  # seconds between moves of the busy content
SCROLL_SPEED = 240  # px/s of the textured band
TEXTURE_BLOCK = 16


def crc8(data: bytes) -> int:
    """CRC-8, polynomial 0x07, initial value 0 (CRC-8/SMBUS)."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def encode(value: int) -> list[int]:
    """Cell values (1 = white) for a 32-bit value: guards, 32 data bits, 8 CRC bits."""
    value &= 0xFFFFFFFF
    crc = crc8(value.to_bytes(4, "big"))
    bits = [(value >> (31 - i)) & 1 for i in range(DATA_BITS)]
    bits += [(crc >> (7 - i)) & 1 for i in range(CRC_BITS)]
    cells = [0] * (COLS * ROWS)
    for index, fixed in GUARDS.items():
        cells[index] = fixed
    for index, bit in zip(PAYLOAD_CELLS, bits, strict=True):
        cells[index] = bit
    return cells


def decode(cells: list[int]) -> int | None:
    """Inverse of `encode`; None when a guard or the CRC does not match."""
    if any(cells[i] != v for i, v in GUARDS.items()):
        return None
    bits = [cells[i] for i in PAYLOAD_CELLS]
    value = int("".join(map(str, bits[:DATA_BITS])), 2)
    crc = int("".join(map(str, bits[DATA_BITS:])), 2)
    return value if crc8(value.to_bytes(4, "big")) == crc else None


class Painter:
    def __init__(self, name: str, width: int, height: int) -> None:
        self.d = display.Display(name)
        screen = self.d.screen()
        self.width, self.height = width, height
        depth = screen.root_depth
        self.win = screen.root.create_window(
            0,
            0,
            width,
            height,
            0,
            depth,
            X.InputOutput,
            X.CopyFromParent,
            background_pixel=0x202020,
            override_redirect=True,
        )
        self.win.map()
        self.d.sync()
        self.white = self.win.create_gc(foreground=0xFFFFFF, graphics_exposures=False)
        self.black = self.win.create_gc(foreground=0x000000, graphics_exposures=False)
        self.grey = self.win.create_gc(foreground=0x202020, graphics_exposures=False)
        self.box_gc = self.win.create_gc(foreground=0xE04020, graphics_exposures=False)
        self.copy_gc = self.win.create_gc(graphics_exposures=False)
        self.pw, self.ph = COLS * CELL, ROWS * CELL
        self.pattern = self.win.create_pixmap(self.pw, self.ph, depth)
        # A white frame around the grid keeps the busy content away from the cells.
        self.win.fill_rectangle(self.white, ORIGIN_X - 8, ORIGIN_Y - 8, self.pw + 16, self.ph + 16)
        # Scrolling band: random coloured blocks, horizontally periodic (period = width).
        self.band_y = height // 2 - height // 8
        self.band_h = height // 4
        self.texture = self.win.create_pixmap(2 * width, self.band_h, depth)
        rng = random.Random(7)
        palette = [rng.randrange(0x1000000) for _ in range(12)]
        gcs = [self.win.create_gc(foreground=c, graphics_exposures=False) for c in palette]
        rects: list[list[tuple[int, int, int, int]]] = [[] for _ in palette]
        for by in range(0, self.band_h, TEXTURE_BLOCK):
            for bx in range(0, width, TEXTURE_BLOCK):
                k = rng.randrange(len(palette))
                for x in (bx, bx + width):
                    rects[k].append((x, by, TEXTURE_BLOCK, TEXTURE_BLOCK))
        for gc, rs in zip(gcs, rects, strict=True):
            for i in range(0, len(rs), 2000):
                self.texture.poly_fill_rectangle(gc, rs[i : i + 2000])
        self.box = (width // 2, height - height // 5, 7, 5)  # x, y, dx, dy
        self.box_size = max(48, height // 12)
        self.d.sync()

    def paint_time(self, now: float) -> None:
        cells = encode(int(now * 1000))
        self.pattern.fill_rectangle(self.white, 0, 0, self.pw, self.ph)
        black = [
            ((i % COLS) * CELL, (i // COLS) * CELL, CELL, CELL)
            for i, v in enumerate(cells)
            if not v
        ]
        self.pattern.poly_fill_rectangle(self.black, black)
        self.win.copy_area(self.copy_gc, self.pattern, 0, 0, self.pw, self.ph, ORIGIN_X, ORIGIN_Y)

    def move(self, now: float) -> None:
        offset = int(now * SCROLL_SPEED) % self.width
        self.win.copy_area(
            self.copy_gc, self.texture, offset, 0, self.width, self.band_h, 0, self.band_y
        )
        x, y, dx, dy = self.box
        s = self.box_size
        self.win.fill_rectangle(self.grey, x, y, s, s)
        low_y = self.band_y + self.band_h
        if not 0 <= x + dx <= self.width - s:
            dx = -dx
        if not low_y <= y + dy <= self.height - s:
            dy = -dy
        x, y = x + dx, y + dy
        self.win.fill_rectangle(self.box_gc, x, y, s, s)
        self.box = (x, y, dx, dy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--display", required=True)
    parser.add_argument("--width", type=int, required=True)
    parser.add_argument("--height", type=int, required=True)
    parser.add_argument("--hz", type=float, default=250.0)
    opts = parser.parse_args()
    painter = Painter(opts.display, opts.width, opts.height)
    running = True

    def stop(*_: Any) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    period = 1 / opts.hz
    ticks = 0
    gaps: list[float] = []
    started = last = next_tick = time.monotonic()
    last_move = 0.0
    print("ready", flush=True)
    while running:
        now = time.time()
        painter.paint_time(now)
        mono = time.monotonic()
        if mono - last_move >= MOVE_INTERVAL:
            painter.move(now)
            last_move = mono
        painter.d.flush()
        ticks += 1
        gaps.append(mono - last)
        last = mono
        next_tick += period
        delay = next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            next_tick = time.monotonic()  # late: do not try to catch up in a burst
    elapsed = time.monotonic() - started
    gaps = sorted(gaps[1:]) or [0.0]
    print(
        json.dumps(
            {
                "ticks": ticks,
                "seconds": round(elapsed, 3),
                "hz": round(ticks / elapsed, 1) if elapsed else 0.0,
                "gap_p50_ms": round(gaps[len(gaps) // 2] * 1000, 2),
                "gap_p99_ms": round(gaps[int(len(gaps) * 0.99)] * 1000, 2),
                "gap_max_ms": round(gaps[-1] * 1000, 2),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
