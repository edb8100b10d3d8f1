"""Events delivered together are recorded by one statement on PostgreSQL (EventRecordings),
each delivery answered from its own row: accepted, late, a repeat, or nothing found."""

import asyncio
import uuid

from services.gateway.executions.wait_event_sql import Ask, EventRecordings, Row
from shared.api_keys import create_api_key
from shared.broker.topology import RESUME
from shared.db.types import utcnow
from tests.approvals.support import Harness
from tests.events.support import event_workflow, events_of, open_wait
from tests.support import outbox_rows


def _ask(execution_id: uuid.UUID, key: str, *, workspace_id: uuid.UUID | None = None) -> Ask:
    payload = {"key": key}
    return Ask(
        execution_id, workspace_id, None, "po.confirmed", key, "api", payload, utcnow(), False
    )


async def _waiting_runs(harness: Harness, count: int) -> list[uuid.UUID]:
    ids = [await harness.start(event_workflow()) for _ in range(count)]
    for execution_id in ids:
        await open_wait(harness.resources, execution_id)
    return ids


async def test_events_delivered_together_go_in_with_one_statement_each_with_its_own_row(
    harness: Harness,
) -> None:
    resources = harness.resources
    ids = await _waiting_runs(harness, 10)
    stranger, _ = await create_api_key(resources.sessions, "stranger")
    recordings = EventRecordings(resources.engine, queue=RESUME)
    outbox_before = await outbox_rows(resources)
    asks = [_ask(execution_id, f"key:{n}") for n, execution_id in enumerate(ids)]
    # Another workspace's key for the first run finds nothing, and records nothing.
    foreign = _ask(ids[0], "key:foreign", workspace_id=stranger)

    rows = await asyncio.gather(*(recordings.record(a) for a in [*asks, foreign]))

    assert recordings.statements == 1
    assert rows[-1] == Row(None, None, None, None)
    for n, (execution_id, row) in enumerate(zip(ids, rows[:-1], strict=True)):
        [event] = await events_of(resources, execution_id)
        assert (row.status, row.repeat, row.event_id) == ("accepted", False, event.id)
        assert event.payload == {"key": f"key:{n}"}
        assert event.wait_id == row.wait_id is not None
    assert len({row.outbox_id for row in rows[:-1]}) == 10
    assert await outbox_rows(resources) - outbox_before <= 10


async def test_one_run_twice_in_a_batch_accepts_one_event_and_records_the_other_late(
    harness: Harness,
) -> None:
    [execution_id] = await _waiting_runs(harness, 1)
    recordings = EventRecordings(harness.resources.engine, queue=RESUME)

    rows = await asyncio.gather(
        recordings.record(_ask(execution_id, "key:a")),
        recordings.record(_ask(execution_id, "key:b")),
    )

    assert recordings.statements == 1
    assert sorted(row.status or "" for row in rows) == ["accepted", "late"]
    [late] = [row for row in rows if row.status == "late"]
    assert late.outbox_id is None
    stored = {e.id: e.status for e in await events_of(harness.resources, execution_id)}
    assert stored == {row.event_id: row.status for row in rows}


async def test_a_key_repeated_within_a_batch_records_once_and_answers_each_as_the_first(
    harness: Harness,
) -> None:
    [execution_id] = await _waiting_runs(harness, 1)
    recordings = EventRecordings(harness.resources.engine, queue=RESUME)
    outbox_before = await outbox_rows(harness.resources)

    rows = await asyncio.gather(
        *(recordings.record(_ask(execution_id, "key:same")) for _ in range(5))
    )

    assert recordings.statements == 1
    [event] = await events_of(harness.resources, execution_id)
    assert {(row.event_id, row.status) for row in rows} == {(event.id, "accepted")}
    assert sorted(row.repeat for row in rows) == [False, True, True, True, True]
    # Only the first stages the resume: one outbox row (the relay may have sent it already).
    assert [row.outbox_id is not None for row in rows].count(True) == 1
    assert await outbox_rows(harness.resources) - outbox_before <= 1
