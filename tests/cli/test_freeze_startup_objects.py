"""Objects built while starting are left out of later garbage collections."""

import gc
from collections.abc import Iterator

import pytest

from services.lifecycle import freeze_startup_objects


@pytest.fixture
def unfrozen_afterwards() -> Iterator[None]:
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen_afterwards")
def test_what_lives_at_start_is_frozen_and_startup_garbage_is_collected_first() -> None:
    class Node:
        def __init__(self) -> None:
            self.other: Node | None = None

    garbage = Node()
    garbage.other = Node()
    garbage.other.other = garbage  # a cycle only the collector frees
    del garbage
    kept = [Node() for _ in range(100)]
    collected_before = sum(stats["collected"] for stats in gc.get_stats())

    freeze_startup_objects()

    assert gc.get_freeze_count() >= len(kept)
    assert sum(stats["collected"] for stats in gc.get_stats()) >= collected_before + 2
