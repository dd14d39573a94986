"""aether.memory: malloc figures, and freeing reference cycles at a viewer's teardown."""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from collections.abc import Iterator

import pytest

from aether import memory
from aether.peers.viewer import ViewerPeer
from aether.signaling.session import SignalingSession


@pytest.fixture
def no_automatic_gc() -> Iterator[None]:
    """Only reference counting frees, as between two rare full collections in service."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


class Cycle:
    def __init__(self) -> None:
        self.me = self


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


def test_collect_frees_a_cycle(no_automatic_gc: None) -> None:
    cycle = Cycle()
    gone = weakref.ref(cycle)
    del cycle
    assert gone() is not None
    assert memory.collect() >= 1
    assert gone() is None


def test_objects_made_before_freeze_are_left_alone(no_automatic_gc: None) -> None:
    before = Cycle()
    try:
        memory.freeze()
        after = Cycle()
        gone_before, gone_after = weakref.ref(before), weakref.ref(after)
        del before, after
        memory.collect()
        assert gone_after() is None
        assert gone_before() is not None  # frozen: never scanned again
    finally:
        gc.unfreeze()
        gc.collect()


def test_a_closed_peer_and_its_session_need_no_cyclic_collection(
    no_automatic_gc: None,
) -> None:
    """The session holds its peer and the peer its observer (the session): close() must
    break that cycle, or both (and the session's WebSocket) wait for a full collection."""
    loop = asyncio.new_event_loop()
    try:
        session = SignalingSession(None, None, "10.213.0.2")  # type: ignore[arg-type]
        peer = ViewerPeer("1", media=None, observer=session, loop=loop)  # type: ignore[arg-type]
        session.peer = peer
        # A peer never started has nothing to wait for: close() runs to its end in one
        # step. (Driven by hand: in the full suite another test's loop may still be
        # marked running on this thread, and run_until_complete would refuse.)
        closing = peer.close()
        with pytest.raises(StopIteration):
            closing.send(None)
        gone = [weakref.ref(session), weakref.ref(peer)]
        del session, peer, closing
        assert [ref() for ref in gone] == [None, None]
    finally:
        loop.close()
