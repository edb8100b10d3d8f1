"""Workflow versions as the executor reads them: once per worker, however many runs ask at once."""

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event

from services.executor.definitions import Definitions
from services.executor.nodes.registry import build_node_registry, core_node_types
from shared.errors import NotFound
from shared.runtime import Resources
from tests.support import seed_workflow

CHAIN = {
    "name": "two sets",
    "nodes": [
        {"id": "a", "type": "set", "position": 0, "config": {"values": {"x": 1}}},
        {"id": "b", "type": "set", "position": 1, "config": {"values": {"y": 2}}},
    ],
}


@pytest.fixture
def version_reads(resources: Resources) -> Iterator[list[str]]:
    """Every statement that reads workflow_versions, as the engine sends it."""
    seen: list[str] = []

    def record(*args: Any) -> None:
        statement = args[2]
        if statement.lstrip().upper().startswith("SELECT") and "workflow_versions" in statement:
            seen.append(statement)

    sync_engine = resources.engine.sync_engine
    event.listen(sync_engine, "before_cursor_execute", record)
    yield seen
    event.remove(sync_engine, "before_cursor_execute", record)


def _definitions(resources: Resources) -> Definitions:
    return Definitions(resources.engine, build_node_registry(core_node_types()))


async def test_runs_that_ask_for_a_new_version_at_once_read_it_once(
    resources: Resources, version_reads: list[str]
) -> None:
    _, workflow_id = await seed_workflow(resources, CHAIN)
    definitions = _definitions(resources)

    prepared = await asyncio.gather(*(definitions.get(workflow_id, 1) for _ in range(50)))

    assert len(version_reads) == 1
    assert all(p is prepared[0] for p in prepared)
    assert [node.id for node in prepared[0].nodes] == ["a", "b"]
    await definitions.get(workflow_id, 1)
    assert len(version_reads) == 1  # cached from then on


async def test_a_waiter_cancelled_does_not_cancel_the_read_the_others_wait_for(
    resources: Resources, version_reads: list[str]
) -> None:
    _, workflow_id = await seed_workflow(resources, CHAIN)
    definitions = _definitions(resources)
    first = asyncio.ensure_future(definitions.get(workflow_id, 1))
    others = [asyncio.ensure_future(definitions.get(workflow_id, 1)) for _ in range(3)]
    await asyncio.sleep(0)  # every caller is waiting on the one read now
    first.cancel()

    prepared = await asyncio.gather(*others)

    assert first.cancelled()
    assert {p.workflow_id for p in prepared} == {workflow_id}
    assert len(version_reads) == 1


async def test_a_missing_version_fails_every_caller_and_is_read_again_next_time(
    resources: Resources, version_reads: list[str]
) -> None:
    missing = uuid.uuid4()
    definitions = _definitions(resources)

    results = await asyncio.gather(
        *(definitions.get(missing, 1) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, NotFound) for r in results)
    assert len(version_reads) == 1
    with pytest.raises(NotFound):
        await definitions.get(missing, 1)
    assert len(version_reads) == 2
