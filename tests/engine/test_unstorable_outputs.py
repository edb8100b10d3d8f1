"""An output that cannot be stored in a checkpoint fails its node once, with the reason; the
side effect that produced it is not repeated on every delivery and lease re-dispatch."""

import uuid
from typing import Any

import pytest

from services.executor.worker import ExecutorWorker
from shared.db.tables import ExecutionStep
from shared.db.types import utcnow
from shared.runtime import Resources
from tests.engine.test_retries import FAST_RETRY, calling
from tests.support import Receiver, seed_workflow, start_execution, steps_of, wait_for_status


def _nested(levels: int) -> list[Any]:
    outer: list[Any] = []
    inner = outer
    for _ in range(levels):
        inner.append([])
        inner = inner[0]
    return outer


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("nul \x00 byte", "U+0000"),
        ("lone \ud800 surrogate", "surrogates not allowed"),
        (_nested(300), "Maximum serialization depth exceeded"),
    ],
    ids=["nul", "lone-surrogate", "300-levels"],
)
async def test_a_webhook_answer_that_cannot_be_stored_fails_the_node_after_one_call(
    resources: Resources,
    executor: object,
    scheduler: object,
    receiver: Receiver,
    answer: Any,
    reason: str,
) -> None:
    receiver.extra = {"hostile": answer}
    workspace_id, workflow_id = await seed_workflow(resources, calling(receiver.url, FAST_RETRY))
    execution_id = await start_execution(resources, workspace_id, workflow_id)

    done = await wait_for_status(resources, execution_id, "completed", "failed", within=30)

    assert done.status == "failed"
    assert done.error is not None
    assert "output of node `call` cannot be stored" in done.error
    assert reason in done.error
    # Retrying would only fetch the same answer: one call, not one per retry or delivery.
    assert receiver.keys() == [f"{execution_id}:call"]
    statuses = [(s.node_id, s.status) for s in await steps_of(resources, execution_id)]
    assert statuses == [("start", "completed"), ("call", "failed")]


async def _interrupted_attempts(
    resources: Resources, execution_id: uuid.UUID, node_id: str, count: int
) -> None:
    """What `count` workers dying mid-node (or failing to checkpoint it) leave behind."""
    async with resources.sessions.begin() as session:
        for attempt in range(1, count + 1):
            session.add(
                ExecutionStep(
                    execution_id=execution_id,
                    node_id=node_id,
                    node_type="webhook",
                    attempt=attempt,
                    status="interrupted",
                    started_at=utcnow(),
                    completed_at=utcnow(),
                    error="worker lost its lease mid-node",
                )
            )


@pytest.mark.parametrize("interrupted", [2, 3])
async def test_a_node_interrupted_as_often_as_a_message_may_be_delivered_is_not_started_again(
    resources: Resources, receiver: Receiver, interrupted: int
) -> None:
    """Lease re-dispatches spend the same budget as redeliveries (the delivery limit, 3 in
    tests): below it the node runs once more, at it the node fails without a call."""
    workspace_id, workflow_id = await seed_workflow(resources, calling(receiver.url))
    execution_id = await start_execution(resources, workspace_id, workflow_id)
    await _interrupted_attempts(resources, execution_id, "call", interrupted)
    assert resources.settings.delivery_limit == 3

    executor = ExecutorWorker(resources)
    await executor.start()
    try:
        done = await wait_for_status(resources, execution_id, "completed", "failed", within=30)
    finally:
        await executor.stop()

    if interrupted < 3:
        assert done.status == "completed", done.error
        assert receiver.keys() == [f"{execution_id}:call"]
    else:
        assert done.status == "failed"
        assert "node `call` was interrupted 3 times" in (done.error or "")
        assert receiver.calls == []
