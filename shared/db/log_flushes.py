"""Waiting until what was committed is on disk, for commits that did not wait themselves
(docs/decisions/032).

The gateway records an event or a decision with a commit that does not wait for the log's
flush (shared/db/commit_without_flush.py), publishes the resume at once, and only then waits
for the flush before it answers: the client still hears `202` only for a fact that survives a
crash, but the executor's claim no longer queues behind the flush.

A flush writes the log up to a point, so one flush covers every commit made before it. The
wait is a statement that writes a log record in a transaction of its own, whose commit waits
for the flush as every commit does by default (a transaction that wrote no log record, such as
`SELECT pg_current_xact_id()`, skips the flush). A logical-decoding message is such a record:
any role may write one, it touches no table and decoding ignores its prefix. The callers that
wait together share one such statement (shared/group_commit.py), so a burst pays for a flush
per batch, not per request.
"""

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db import driver
from shared.group_commit import GroupCommit

FLUSH_SQL = "SELECT pg_logical_emit_message(true, 'docflow.flush', '')"


class LogFlushes:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Elsewhere (SQLite) every commit waits for its own write to the disk.
        self._needed = engine.dialect.driver == "asyncpg"
        self._group: GroupCommit[None, None] = GroupCommit(self._flush, name="log flushes")

    async def wait(self) -> None:
        """Returns once every commit made before the call is on disk. Raises what the
        statement raises, or `DeadlinePassed` (a gateway request's database deadline)."""
        if self._needed:
            await self._group.submit(None)

    async def _flush(self, waiting: Sequence[None]) -> list[None]:
        await driver.fetch(self._engine, FLUSH_SQL)
        return [None] * len(waiting)
