"""A spare peer's events wait for the viewer that adopts it, then arrive in order."""

from __future__ import annotations

from aether.peers.registry import PendingObserver


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
