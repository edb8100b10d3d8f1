"""Objects built while starting are left out of later garbage collections, and the young
generation collects less often than Python's default."""

import gc
from collections.abc import Iterator

import pytest

from services.lifecycle import YOUNG_COLLECTION_EVERY, settle_garbage_collection


@pytest.fixture
def unfrozen_afterwards() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


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

    settle_garbage_collection()

    assert gc.get_freeze_count() >= len(kept)
    assert sum(stats["collected"] for stats in gc.get_stats()) >= collected_before + 2


@pytest.mark.usefixtures("unfrozen_afterwards")
def test_a_requests_worth_of_short_lived_objects_starts_no_collection() -> None:
    settle_garbage_collection()
    young_before = gc.get_stats()[0]["collections"]

    # A request's worth of objects that are alive for a moment, then gone by refcount.
    for _ in range(20):
        alive = [{"step": n} for n in range(1_000)]
        del alive

    assert gc.get_stats()[0]["collections"] == young_before
    assert gc.get_threshold()[0] == YOUNG_COLLECTION_EVERY
