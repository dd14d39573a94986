"""A spare peer's events wait for the viewer that adopts it, then arrive in order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import ClassVar

import pytest

from aether.peers import registry
from aether.peers.ice import IceSettings
from aether.peers.registry import PendingObserver, Viewers


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []

    def on_local_description(self, sdp: str) -> None:
        self.calls.append(("description", (sdp,)))

    def on_local_candidate(self, mline: int, candidate: str) -> None:
        self.calls.append(("candidate", (mline, candidate)))

    def on_connection_state(self, state: str) -> None:
        self.calls.append(("state", (state,)))

    def on_failure(self, reason: str) -> None:
        self.calls.append(("failure", (reason,)))


def test_events_are_replayed_in_the_order_they_happened() -> None:
    pending = PendingObserver()
    pending.on_local_description("v=0 offer")
    pending.on_local_candidate(0, "candidate:1 1 UDP 1 10.0.0.1 5000 typ host")
    pending.on_local_candidate(0, "candidate:2 1 UDP 1 10.0.0.2 5000 typ host")
    pending.on_connection_state("new")
    viewer = Recorder()
    pending.replay(viewer)
    assert [name for name, _ in viewer.calls] == ["description", "candidate", "candidate", "state"]
    assert viewer.calls[1][1] == (0, "candidate:1 1 UDP 1 10.0.0.1 5000 typ host")
    assert not pending.failed


def test_a_failed_spare_is_known_as_failed() -> None:
    pending = PendingObserver()
    pending.on_local_description("v=0")
    pending.on_failure("could not create an offer")
    assert pending.failed


class StubPeer:
    """A peer as the registry sees it: made, started, and in some connection state."""

    made: ClassVar[list[StubPeer]] = []

    def __init__(self, id: str, *_args: object) -> None:
        self.id = id
        self.state = "new"
        self.created_at = time.monotonic()
        StubPeer.made.append(self)

    def start(self) -> None:
        pass


@pytest.fixture
def viewers(monkeypatch: pytest.MonkeyPatch) -> Iterator[Viewers]:
    monkeypatch.setattr(registry, "ViewerPeer", StubPeer)
    StubPeer.made.clear()
    loop = asyncio.new_event_loop()
    yield Viewers(SimpleNamespace(), loop, 10, IceSettings())  # type: ignore[arg-type]
    loop.close()


def test_the_next_spare_waits_while_a_viewer_is_still_connecting(viewers: Viewers) -> None:
    viewers.start()
    assert len(StubPeer.made) == 1 and viewers._spare is not None
    joined = viewers.admit(Recorder())  # takes the spare
    assert joined is StubPeer.made[0] and viewers._spare is None
    viewers._make_spare()  # the timer fires while the viewer's handshake is under way
    assert len(StubPeer.made) == 1 and viewers._spare_timer is not None
    joined.state = "connecting"
    viewers._make_spare()
    assert len(StubPeer.made) == 1
    joined.state = "connected"
    viewers._make_spare()
    assert len(StubPeer.made) == 2 and viewers._spare is not None


def test_a_handshake_that_drags_on_does_not_hold_the_spare_back(viewers: Viewers) -> None:
    viewers.start()
    joined = viewers.admit(Recorder())
    joined.state = "connecting"
    joined.created_at -= registry.HANDSHAKE_GRACE
    viewers._make_spare()
    assert len(StubPeer.made) == 2 and viewers._spare is not None
