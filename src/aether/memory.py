"""Native heap housekeeping (glibc): fewer malloc arenas, free pages handed back.

GStreamer, libnice and OpenSSL allocate from many threads; glibc then keeps freed memory in
per-thread arenas and at the top of fragmented heaps, so the resident size of a server
whose viewers come and go creeps up although nothing leaks (docs/performance.md, "Memory
over time"). `limit_arenas()` caps the arenas at start-up; `trim()` returns free pages to
the system after a viewer's teardown and, with `aether.memory` logging at debug, logs what
malloc holds (`heap_stats()`): bytes in use against bytes free inside its heaps tell a
leak (in use grows) from fragmentation (free grows).

Python's side: what a reference cycle holds (aiohttp keeps each closed WebSocket in one,
with its zlib compressor) is freed only by a full collection of the cyclic garbage
collector, which comes ever more rarely as the heap grows: the memory piles up for
hundreds of joins. `freeze()` at start-up leaves the objects made so far (modules,
GStreamer's wrappers, the pipeline) out of every later collection, so that `collect()`
after a viewer's teardown is a full collection of what was made since: a few ms.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import gc
import logging
import os
import sys
import time

MALLOC_ARENAS = 4
M_ARENA_MAX = -8

log = logging.getLogger(__name__)


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",  # bytes in the heaps malloc got with brk/mmap (not counting hblkhd)
            "ordblks",  # free chunks
            "smblks",
            "hblks",  # chunks mapped on their own (large allocations)
            "hblkhd",  # bytes in those
            "usmblks",
            "fsmblks",
            "uordblks",  # bytes in use inside the heaps
            "fordblks",  # bytes free inside the heaps
            "keepcost",  # free bytes at the top of the main heap
        )
    ]


@dataclasses.dataclass(frozen=True)
class HeapStats:
    """What glibc malloc holds, in bytes (summed over its arenas)."""

    in_use: int  # handed out and not yet freed (in the heaps and mapped on their own)
    free: int  # freed, but kept inside the heaps (not returned to the system)
    free_chunks: int  # how many pieces that free memory is in (fragmentation)
    python_blocks: int  # Python objects' small blocks in use (sys.getallocatedblocks)

    def describe(self) -> str:
        return (
            f"malloc in use {self.in_use / 1e6:.2f} MB, free in its heaps "
            f"{self.free / 1e6:.2f} MB in {self.free_chunks} chunks, "
            f"Python blocks {self.python_blocks}"
        )


@functools.cache
def _libc() -> ctypes.CDLL | None:
    # Once: each CDLL makes a new function-pointer class, garbage only the cyclic
    # collector frees (it was made at every trim).
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def limit_arenas() -> None:
    """Fewer glibc malloc arenas than the default 8 per core. Each of GStreamer's many
    short-lived threads (one pair per viewer) may otherwise open an arena, and memory
    freed in one is not reused by another: RSS then creeps up under viewer churn
    (measured: +8 MB per 300 joins at the default, +1-3 MB with 2-4 arenas, with no
    CPU difference at 25 viewers). MALLOC_ARENA_MAX in the environment still wins."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    libc = _libc()
    try:
        if libc is not None:
            libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except AttributeError:  # not glibc
        pass


def heap_stats() -> HeapStats | None:
    """glibc's mallinfo2() (2.33+); None with another C library. It walks every arena
    under its lock: for diagnosis, not for every request."""
    libc = _libc()
    try:
        mallinfo2 = libc.mallinfo2 if libc is not None else None
    except AttributeError:
        return None
    if mallinfo2 is None:
        return None
    mallinfo2.restype = _Mallinfo2
    info = mallinfo2()
    return HeapStats(
        in_use=info.uordblks + info.hblkhd,
        free=info.fordblks,
        free_chunks=info.ordblks + info.smblks,
        python_blocks=sys.getallocatedblocks(),
    )


def freeze() -> None:
    """Free start-up's garbage, then keep every object alive now out of later
    collections (gc.freeze): call once the server is up."""
    gc.collect()
    gc.freeze()


def collect() -> int:
    """A full collection of the cyclic garbage collector (of the objects made since
    `freeze()`); returns the number of unreachable objects found. On the event loop:
    finalizers run where it runs."""
    started = time.perf_counter()
    found = gc.collect()
    log.debug(
        "collected %d unreachable objects in %.1f ms (%d tracked, %d frozen)",
        found,
        (time.perf_counter() - started) * 1000,
        len(gc.get_objects()) if log.isEnabledFor(logging.DEBUG) else 0,
        gc.get_freeze_count(),
    )
    return found


def trim() -> None:
    """Give free heap pages back to the system (glibc malloc_trim); blocking, a few ms:
    call it from a worker thread."""
    libc = _libc()
    try:
        if libc is not None:
            libc.malloc_trim(0)
    except AttributeError:  # not glibc
        pass
    if log.isEnabledFor(logging.DEBUG):
        stats = heap_stats()
        if stats is not None:
            log.debug("heap after trim: %s", stats.describe())
