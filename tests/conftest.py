"""Shared test set-up."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Collect after each test so a leaked socket or file is reported by the test that
    leaked it (warnings are errors), not by whichever test runs when the GC next runs."""
    yield
    gc.collect()
