"""Per-node retry with back-off as timer waits, and manual retry of a failed execution."""

from typing import Any

from shared.broker.topology import RUN
from shared.messages import RetryExecution
from shared.runtime import Resources
from tests.support import (
    Receiver,
    eventually,
    execution_row,
    seed_workflow,
    start_execution,
    steps_of,
    wait_for_status,
    waits_of,
)

FAST_RETRY = {"max_attempts": 3, "initial_interval_seconds": 0.05, "max_interval_seconds": 0.2}


def calling(url: str, retry: dict[str, Any] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"url": url, "body": {"n": 1}}
    if retry:
        config["retry"] = retry
    return {
        "name": "call out",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0, "config": {}},
            {"id": "call", "type": "webhook", "position": 1, "config": config},
            {"id": "after", "type": "set", "position": 2, "config": {"values": {"ok": True}}},
        ],
    }


async def test_a_webhook_answering_500_500_200_completes_on_attempt_3_with_every_attempt_logged(
    resources: Resources, executor: object, scheduler: object, receiver: Receiver
) -> None:
    receiver.answers = [500, 500, 200]
    workspace_id, workflow_id = await seed_workflow(resources, calling(receiver.url, FAST_RETRY))
    execution_id = await start_execution(resources, workspace_id, workflow_id)

    done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    steps = [(s.node_id, s.attempt, s.status) for s in await steps_of(resources, execution_id)]
    assert steps == [
        ("start", 1, "completed"),
        ("call", 1, "failed"),
        ("call", 2, "failed"),
        ("call", 3, "completed"),
        ("after", 1, "completed"),
    ]
    failed = [s for s in await steps_of(resources, execution_id) if s.status == "failed"]
    assert all("answered 500" in (s.error or "") for s in failed)
    assert receiver.keys() == [f"{execution_id}:call"] * 3
    # Each back-off was a timer wait, decided once.
    waits = await waits_of(resources, execution_id)
    assert [(w.kind, w.status) for w in waits] == [("retry", "decided"), ("retry", "decided")]


async def test_a_webhook_answering_400_fails_at_once_with_the_reason(
    resources: Resources, executor: object, receiver: Receiver
) -> None:
    receiver.answers = [400]
    workspace_id, workflow_id = await seed_workflow(resources, calling(receiver.url, FAST_RETRY))
    execution_id = await start_execution(resources, workspace_id, workflow_id)

    done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "failed"
    assert done.error is not None and "'call'" in done.error and "answered 400" in done.error
    assert done.current_node_id == "call"
    assert len(receiver.calls) == 1


async def test_retrying_a_failed_execution_after_the_receiver_is_fixed_continues_from_that_node(
    resources: Resources, executor: object, scheduler: object, receiver: Receiver
) -> None:
    receiver.answers = [500, 500]
    retry = {"max_attempts": 2, "initial_interval_seconds": 0.05, "max_interval_seconds": 0.1}
    workspace_id, workflow_id = await seed_workflow(resources, calling(receiver.url, retry))
    execution_id = await start_execution(resources, workspace_id, workflow_id, {"deal": 7})
    failed = await wait_for_status(resources, execution_id, "completed", "failed")
    assert failed.status == "failed"
    saved_context = failed.context

    await resources.broker.publish(RUN, RetryExecution(execution_id=execution_id))
    done = await eventually(
        lambda: execution_row(resources, execution_id),
        lambda row: row.version > failed.version and row.status in ("completed", "failed"),
    )

    assert done.status == "completed", done.error
    assert done.error is None
    assert done.context["source_data"] == saved_context["source_data"] == {"deal": 7}
    steps = [(s.node_id, s.attempt, s.status) for s in await steps_of(resources, execution_id)]
    assert steps == [
        ("start", 1, "completed"),
        ("call", 1, "failed"),
        ("call", 2, "failed"),
        ("call", 3, "completed"),
        ("after", 1, "completed"),
    ]


async def test_a_timeout_is_retryable_and_an_unreachable_host_too(
    resources: Resources, executor: object, scheduler: object, receiver: Receiver
) -> None:
    receiver.delay_seconds = 5.0
    config = {
        "url": receiver.url,
        "timeout_seconds": 0.2,
        "retry": {"max_attempts": 2, "initial_interval_seconds": 0.05, "max_interval_seconds": 0.1},
    }
    definition = {
        "name": "slow receiver",
        "nodes": [{"id": "call", "type": "webhook", "position": 0, "config": config}],
    }
    workspace_id, workflow_id = await seed_workflow(resources, definition)
    execution_id = await start_execution(resources, workspace_id, workflow_id)

    done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "failed"
    assert done.error is not None and "timed out" in done.error
    assert [s.attempt for s in await steps_of(resources, execution_id)] == [1, 2]
