"""Group commit's own rules, with an in-memory write: batching, one outcome per caller."""

import asyncio
from collections.abc import Sequence

import pytest

from shared.db import deadline
from shared.db.deadline import DeadlinePassed
from shared.group_commit import GroupCommit


class _Writes:
    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def write(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        await self.release.wait()
        if any(item < 0 for item in items):
            raise ValueError("negative")
        if 0 in items:
            raise TimeoutError("the database answered nothing")
        return [item * 10 for item in items]


async def test_callers_of_one_loop_turn_share_one_statement_and_get_their_own_result() -> None:
    writes = _Writes()
    group = GroupCommit(writes.write, name="numbers")
    assert await asyncio.gather(*(group.submit(n) for n in range(1, 6))) == [
        10,
        20,
        30,
        40,
        50,
    ]
    assert writes.batches == [[1, 2, 3, 4, 5]]


async def test_items_queued_while_a_batch_is_on_its_way_form_the_next_batch() -> None:
    writes = _Writes()
    writes.release.clear()
    group = GroupCommit(writes.write, name="numbers", flushers=1)
    first = asyncio.ensure_future(group.submit(1))
    await asyncio.sleep(0)  # the flusher takes [1] and waits in the write
    await asyncio.sleep(0)
    later = [asyncio.ensure_future(group.submit(n)) for n in (2, 3, 4)]
    await asyncio.sleep(0)
    writes.release.set()
    assert await first == 10
    assert [await item for item in later] == [20, 30, 40]
    assert writes.batches == [[1], [2, 3, 4]]


async def test_a_failing_batch_is_written_item_by_item_and_only_the_bad_item_fails() -> None:
    writes = _Writes()
    group = GroupCommit(writes.write, name="numbers")
    outcomes = await asyncio.gather(*(group.submit(n) for n in (1, -2, 3)), return_exceptions=True)
    assert outcomes[0] == 10 and outcomes[2] == 30
    assert isinstance(outcomes[1], ValueError)
    assert writes.batches == [[1, -2, 3], [1], [-2], [3]]


async def test_a_batch_that_met_an_outage_fails_every_caller_at_once_not_item_by_item() -> None:
    """Written one at a time, each item would wait out the timeout in turn: the sixth caller
    of a silent database would hear after six timeouts, not one."""
    writes = _Writes()
    group = GroupCommit(writes.write, name="numbers")
    outcomes = await asyncio.gather(*(group.submit(n) for n in (4, 0, 5)), return_exceptions=True)
    assert all(isinstance(outcome, TimeoutError) for outcome in outcomes)
    assert writes.batches == [[4, 0, 5]]


async def test_batches_are_capped() -> None:
    writes = _Writes()
    group = GroupCommit(writes.write, name="numbers", batch=2, flushers=1)
    await asyncio.gather(*(group.submit(n) for n in range(1, 6)))
    assert writes.batches == [[1, 2], [3, 4], [5]]


async def test_a_lone_failure_reaches_its_caller() -> None:
    group = GroupCommit(_Writes().write, name="numbers")
    with pytest.raises(ValueError):
        await group.submit(-1)


async def test_a_caller_that_queues_as_the_last_flusher_ends_is_still_written() -> None:
    # The caller wakes up before the finished flusher's task is done with, and queues again
    # at once: its item must start a flusher of its own, not wait for a later caller.
    group = GroupCommit(_Writes().write, name="numbers", flushers=1)

    async def one_after_another() -> list[int]:
        return [await group.submit(n) for n in range(1, 6)]

    assert await asyncio.wait_for(one_after_another(), timeout=5) == [10, 20, 30, 40, 50]


async def test_when_the_last_flusher_is_cancelled_every_waiting_caller_hears_of_it() -> None:
    writes = _Writes()
    writes.release.clear()
    group = GroupCommit(writes.write, name="numbers", flushers=1)
    in_flight = asyncio.ensure_future(group.submit(1))
    await asyncio.sleep(0)  # the caller queues and starts the flusher
    await asyncio.sleep(0)  # the flusher takes [1] and waits in the write
    queued = asyncio.ensure_future(group.submit(2))
    await asyncio.sleep(0)
    [flusher] = group._tasks
    flusher.cancel()

    outcomes = await asyncio.wait_for(
        asyncio.gather(in_flight, queued, return_exceptions=True), timeout=5
    )
    assert all(isinstance(o, asyncio.CancelledError) for o in outcomes)


async def test_a_caller_out_of_time_in_the_queue_is_refused_and_its_item_never_written() -> None:
    writes = _Writes()
    writes.release.clear()
    group = GroupCommit(writes.write, name="numbers", flushers=1)
    first = asyncio.ensure_future(group.submit(1))  # no deadline: waits for the statement
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    started = asyncio.get_running_loop().time()
    with deadline.within(0.2), pytest.raises(DeadlinePassed):
        await group.submit(2)  # queued behind the statement on its way
    assert asyncio.get_running_loop().time() - started < 1.0
    writes.release.set()
    assert await first == 10
    assert await group.submit(3) == 30
    assert writes.batches == [[1], [3]]


async def test_a_batch_runs_without_the_deadline_of_the_caller_who_started_it() -> None:
    writes = _Writes()
    writes.release.clear()
    seen: list[float | None] = []

    async def write(items: Sequence[int]) -> list[int]:
        seen.append(deadline.remaining())
        return await writes.write(items)

    group = GroupCommit(write, name="numbers", flushers=1)
    with deadline.within(5.0):
        first = asyncio.ensure_future(group.submit(1))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
    writes.release.set()
    assert await first == 10
    assert seen == [None]
