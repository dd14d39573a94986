"""aether.memory: malloc figures."""

from __future__ import annotations

import logging

import pytest

from aether import memory


def test_heap_stats_on_glibc() -> None:
    stats = memory.heap_stats()
    if stats is None:
        pytest.skip("not glibc")
    assert stats.in_use > 0
    assert stats.free >= 0
    assert stats.python_blocks > 0
    assert "malloc in use" in stats.describe()


def test_trim_logs_the_heap_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    if memory.heap_stats() is None:
        pytest.skip("not glibc")
    with caplog.at_level(logging.DEBUG, logger="aether.memory"):
        memory.trim()
    assert any("heap after trim: malloc in use" in r.getMessage() for r in caplog.records)


def test_libc_is_opened_once() -> None:
    # Each ctypes.CDLL makes a class: garbage only the cyclic collector frees.
    assert memory._libc() is memory._libc()
