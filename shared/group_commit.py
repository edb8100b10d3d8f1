"""Group commit: the writes that callers ask for together go to the database together.

A hot path that writes one row per request (a checkpoint per node, a run per POST) spends most
of its database cost per round trip and per commit, not per row. `GroupCommit` queues each
caller's item; a flusher takes everything queued and writes it with ONE statement (the caller
supplies it, typically over arrays), then answers every caller from its result. Each caller
still waits for the commit that holds its item, so an answer means durable.

An idle process writes an item alone and at once: the flusher starts on the next turn of the
event loop. A busy one writes in batches that grow with the load, since items queue up while
earlier batches are on their way. A batch whose statement fails is written again item by item,
so the item at fault fails alone and every other caller gets its own outcome.

A caller with a database deadline (`shared.db.deadline`: a gateway request) waits no longer
than it allows: an item still queued then is taken back and never written; one already on its
way may still commit, as with any `503`. The flushers serve every caller, so they run without
anyone's deadline, each statement under its own bound.
"""

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

import structlog

from shared.db import deadline
from shared.db.errors import is_transient

log = structlog.get_logger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")

#: Items per statement at most; more wait for the next one.
BATCH = 200
#: Statements in flight at once: while one commits, the next batch is already gathering.
FLUSHERS = 2


class GroupCommit(Generic[Item, Result]):
    def __init__(
        self,
        write: Callable[[Sequence[Item]], Awaitable[Sequence[Result]]],
        *,
        name: str,
        batch: int = BATCH,
        flushers: int = FLUSHERS,
    ) -> None:
        """`write(items)` writes the items in one transaction and returns one result per item,
        in order; `name` says what is written, in logs."""
        self._write_all = write
        self._name = name
        self._batch = batch
        self._flushers = flushers
        self._queued: list[tuple[Item, asyncio.Future[Result]]] = []
        self._flushing = 0
        self._tasks: set[asyncio.Task[None]] = set()
        #: Statements sent so far (items written / this = the mean batch).
        self.statements = 0

    async def submit(self, item: Item) -> Result:
        """Write `item` with whatever else is queued; its result once that commit is done.
        Raises `DeadlinePassed` when the caller's database deadline comes first."""
        wait = deadline.bound(None)
        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        entry = (item, done)
        self._queued.append(entry)
        if self._flushing < self._flushers:
            # Counted here, not when the task ends: a flusher that found the queue empty must
            # not be taken for one still running (its item would wait for the next caller).
            self._flushing += 1
            # A task, not an inline write: it starts on the next loop turn, by when the other
            # callers of this turn have queued their items.
            flusher = asyncio.create_task(self._flush(), context=deadline.detached())
            # The loop keeps only a weak reference to a task.
            self._tasks.add(flusher)
            flusher.add_done_callback(self._tasks.discard)
        if wait is None:
            return await done
        await asyncio.wait([done], timeout=wait)
        if done.done():
            return done.result()
        if entry in self._queued:
            self._queued.remove(entry)
            done.cancel()
        else:
            # On its way: the outcome arrives after nobody waits for it any more.
            done.add_done_callback(_consume)
        raise deadline.DeadlinePassed(f"{self._name}: the database did not answer in time")

    async def _flush(self) -> None:
        try:
            while self._queued:
                batch = self._queued[: self._batch]
                del self._queued[: self._batch]
                try:
                    await self._write(batch)
                except BaseException as e:  # cancelled at shutdown: nobody may wait forever
                    for _, done in batch:
                        _fail(done, e)
                    if self._flushing == 1:
                        # The last flusher: nobody else would write what still waits.
                        waiting, self._queued = self._queued, []
                        for _, done in waiting:
                            _fail(done, e)
                    raise
        finally:
            # No await between the empty queue and this: a caller that queues after it
            # starts a flusher of its own.
            self._flushing -= 1

    async def _write(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            results = await self._statement([item for item, _ in batch])
        except Exception as e:
            if len(batch) == 1 or is_transient(e):
                # One at a time only finds the item at fault; when the database is away,
                # none is, and trying each in turn would make the last caller wait out a
                # timeout per item ahead of it.
                for _, done in batch:
                    _fail(done, e)
                return
            log.warning(
                "group_commit_batch_failed", writes=self._name, items=len(batch), error=repr(e)
            )
            for one in batch:
                await self._write([one])
            return
        for (_, done), result in zip(batch, results, strict=True):
            # A caller cancelled while waiting (its request went away) wants no outcome.
            if not done.done():
                done.set_result(result)

    async def _statement(self, items: list[Item]) -> Sequence[Result]:
        self.statements += 1
        return await self._write_all(items)


def _consume(done: asyncio.Future[Result]) -> None:
    if not done.cancelled():
        done.exception()


def _fail(done: asyncio.Future[Result], error: BaseException) -> None:
    if not done.done():
        done.set_exception(error)
