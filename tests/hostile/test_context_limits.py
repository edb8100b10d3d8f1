"""What a node adds to the context is bounded: its output by DOCFLOW_MAX_NODE_OUTPUT_BYTES, the
whole context by DOCFLOW_MAX_CONTEXT_BYTES. Past either, the node fails at once naming the
limit and the size, and its output is not kept.

The context's size is kept as a running figure by the worker holding the run
(services/executor/node_outputs.py): these tests hold the size each failure reports to the
one measured from the stored context, after a plain run, a resume from a wait, a retry, an
event resume and a reclaim by another worker, and prove the whole context is no longer
encoded per node."""

import asyncio
import contextlib
import dataclasses
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pydantic_core
import pytest
from sqlalchemy import select

from services.executor.worker import ExecutorWorker
from services.scheduler.worker import Scheduler
from shared.connections.crypto import new_secret_key
from shared.context import ExecutionContext
from shared.db.tables import Execution, ExecutionTransition
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.events.support import event_workflow, open_wait, post_event, started
from tests.gateway.conftest import running_gateway
from tests.observability.support import gates
from tests.support import (
    Receiver,
    seed_workflow,
    start_execution,
    steps_of,
    wait_for_status,
    worker_on,
)


@contextlib.asynccontextmanager
async def running(settings: Settings, **limits: int) -> AsyncIterator[Resources]:
    async with worker_on(settings.model_copy(update=limits), ExecutorWorker) as resources:
        yield resources


def setting(value: str) -> dict[str, Any]:
    return {
        "name": "grow",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0},
            {
                "id": "grow",
                "type": "set",
                "position": 1,
                "config": {"values": {"x": value}, "retry": {"max_attempts": 3}},
            },
        ],
    }


def chain(*nodes: dict[str, Any]) -> dict[str, Any]:
    """A trigger, then `nodes` in order."""
    listed = [{"id": "start", "type": "trigger"}, *nodes]
    return {"name": "chain", "nodes": [{**node, "position": k} for k, node in enumerate(listed)]}


def adds(node_id: str, length: int) -> dict[str, Any]:
    """A `set` node whose output is {"x": "<length y's>"}: length + 8 bytes of JSON."""
    return {"id": node_id, "type": "set", "config": {"values": {"x": f"{{{{ 'y' * {length} }}}}"}}}


def size(context: dict[str, Any]) -> int:
    """The stored context's size as the limit's definition reads it: its whole JSON."""
    return len(pydantic_core.to_json(ExecutionContext.model_validate(context)))


def reported(error: str | None) -> int:
    found = re.search(r"the context would be (\d+) bytes", error or "")
    assert found is not None, error
    return int(found.group(1))


def without(context: dict[str, Any], node_id: str) -> dict[str, Any]:
    outputs = {k: v for k, v in context["node_outputs"].items() if k != node_id}
    return {**context, "node_outputs": outputs}


async def test_an_output_over_the_node_limit_fails_the_node_naming_limit_and_size(
    settings: Settings,
) -> None:
    async with running(settings, max_node_output_bytes=2048) as resources:
        ws, workflow = await seed_workflow(resources, setting("{{ 'x' * 3000 }}"))
        execution_id = await start_execution(resources, ws, workflow)
        done = await wait_for_status(resources, execution_id, "completed", "failed")
        steps = await steps_of(resources, execution_id)

    assert done.status == "failed"
    assert "DOCFLOW_MAX_NODE_OUTPUT_BYTES (2048 bytes)" in (done.error or "")
    assert "3008 bytes" in (done.error or "")
    assert "grow" not in done.context["node_outputs"]
    assert [s.status for s in steps if s.node_id == "grow"] == ["failed"], "never retried"


async def test_a_context_that_would_pass_its_limit_fails_the_node_that_grows_it(
    settings: Settings,
) -> None:
    async with running(settings, max_context_bytes=4096) as resources:
        ws, workflow = await seed_workflow(resources, setting("{{ 'y' * 2000 }}"))
        execution_id = await start_execution(resources, ws, workflow, {"note": "z" * 2500})
        done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "failed"
    assert "DOCFLOW_MAX_CONTEXT_BYTES (4096 bytes)" in (done.error or "")
    assert done.current_node_id == "grow"
    assert "grow" not in done.context["node_outputs"]
    assert reported(done.error) == size(done.context) + 2008


async def test_outputs_within_the_limits_are_kept(settings: Settings) -> None:
    async with running(settings, max_node_output_bytes=4096) as resources:
        ws, workflow = await seed_workflow(resources, setting("{{ 'x' * 3000 }}"))
        execution_id = await start_execution(resources, ws, workflow)
        done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["grow"] == {"x": "x" * 3000}


async def test_a_chain_fails_at_the_first_node_that_takes_the_context_past_its_limit(
    settings: Settings,
) -> None:
    nodes = [adds(f"n{k}", 1000) for k in range(1, 9)]
    async with running(settings, max_context_bytes=4096) as resources:
        ws, workflow = await seed_workflow(resources, chain(*nodes))
        execution_id = await start_execution(resources, ws, workflow)
        done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "failed"
    failed = done.current_node_id
    assert failed is not None and failed not in done.context["node_outputs"]
    kept = [node["id"] for node in nodes if node["id"] in done.context["node_outputs"]]
    assert kept == [f"n{k}" for k in range(1, int(failed[1:]))], "every node before it, in turn"
    # The size it names is the stored context's with its output, and past the limit...
    assert reported(done.error) == size(done.context) + 1008 > 4096
    # ...while the node before it stayed within, counted alike: it is the first past it.
    assert size(without(done.context, kept[-1])) + 1008 <= 4096
    assert "DOCFLOW_MAX_CONTEXT_BYTES (4096 bytes)" in (done.error or "")


async def test_the_context_size_is_right_after_a_resume_from_a_wait(settings: Settings) -> None:
    definition = chain(
        adds("before", 1500),
        {"id": "pause", "type": "delay", "config": {"seconds": 0.2}},
        adds("after", 2500),
    )
    done = await _run_with_timers(settings, definition)

    assert done.status == "failed" and done.current_node_id == "after", done.error
    assert done.context["node_outputs"]["pause"]["waited"] is True, "resumed from the wait"
    assert reported(done.error) == size(done.context) + 2508


async def test_the_context_size_is_right_after_a_node_is_retried(settings: Settings) -> None:
    receiver = await Receiver(answers=[503]).start()
    try:
        retried = {"max_attempts": 2, "initial_interval_seconds": 0.1}
        definition = chain(
            adds("before", 1500),
            {"id": "call", "type": "webhook", "config": {"url": receiver.url, "retry": retried}},
            adds("after", 2500),
        )
        done = await _run_with_timers(settings, definition)
    finally:
        await receiver.stop()

    assert len(receiver.calls) == 2, "the webhook failed once, then its retry completed"
    assert done.status == "failed" and done.current_node_id == "after", done.error
    assert reported(done.error) == size(done.context) + 2508


async def _run_with_timers(settings: Settings, definition: dict[str, Any]) -> Execution:
    """Run `definition` with the context limit at 4096 bytes and a scheduler firing timers."""
    tight = settings.model_copy(
        update={"max_context_bytes": 4096, "scheduler_interval_seconds": 0.1}
    )
    async with running(tight) as resources:
        scheduler = Scheduler(resources)
        await scheduler.start()
        try:
            ws, workflow = await seed_workflow(resources, definition)
            execution_id = await start_execution(resources, ws, workflow)
            return await wait_for_status(resources, execution_id, "completed", "failed")
        finally:
            await scheduler.stop()


async def test_the_context_size_is_right_after_an_event_resume_the_node_then_overwrites(
    settings: Settings,
) -> None:
    """The resume stores the payload as the event node's output in its own statement; the
    node then completes with it again (an output replacing one of the same node)."""
    limited = settings.model_copy(
        update={"max_context_bytes": 4096, "secret_key": new_secret_key()}
    )
    payload = {"po": "p" * 1200}
    async with open_resources(limited) as resources, running_gateway(resources) as gateway:
        executor, scheduler = ExecutorWorker(resources), Scheduler(resources)
        await executor.start()
        await scheduler.start()
        try:
            execution_id = await started(gateway, event_workflow(before=[adds("before", 1500)]))
            await open_wait(resources, execution_id)
            response = await post_event(gateway, execution_id, payload)
            assert response.status == 202, await response.text()
            done = await wait_for_status(resources, execution_id, "completed", "failed")
        finally:
            await scheduler.stop()
            await executor.stop()

    assert done.status == "failed" and done.current_node_id == "after", done.error
    assert done.context["node_outputs"]["po"] == payload
    seen = len(pydantic_core.to_json({"seen": payload}))
    assert reported(done.error) == size(done.context) + seen


async def test_the_context_size_is_right_after_another_worker_reclaims_the_run(
    settings: Settings,
) -> None:
    limited = settings.model_copy(update={"max_context_bytes": 4096})
    async with gates() as target, open_resources(limited) as resources:
        definition = chain(
            adds("before", 1500),
            {"id": "slow", "type": "webhook", "config": {"url": f"{target.url}/slow"}},
            adds("after", 2500),
        )
        ws, workflow = await seed_workflow(resources, definition)
        first = ExecutorWorker(resources)
        await first.start()
        execution_id = await start_execution(resources, ws, workflow)
        await asyncio.wait_for(target.arrived("slow").wait(), 30)
        # The first worker stops with the webhook in flight: it lets the node finish, then
        # hands the run back at the node boundary, and another worker goes on with it.
        stopping = asyncio.create_task(first.stop())
        target.gate("slow").set()
        await asyncio.wait_for(stopping, 30)
        other = dataclasses.replace(
            resources, settings=limited.model_copy(update={"worker_id": "the-other-worker"})
        )
        second = ExecutorWorker(other)
        await second.start()
        try:
            done = await wait_for_status(resources, execution_id, "completed", "failed")
        finally:
            await second.stop()
        reclaims = await _transitions(resources, execution_id, "reclaimed after a lost lease")

    assert reclaims == ["the-other-worker"]
    assert done.status == "failed" and done.current_node_id == "after", done.error
    assert set(done.context["node_outputs"]) == {"start", "before", "slow"}
    assert reported(done.error) == size(done.context) + 2508


async def test_a_run_encodes_its_whole_context_once_a_claim_not_once_a_node(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The context limit keeps a running size: a node's checkpoint costs what it added, not
    the context. Every encoder call given a whole context is counted while the run runs."""
    whole_contexts = 0
    encode = pydantic_core.to_json

    def counting(value: Any, *args: Any, **kwargs: Any) -> bytes:
        nonlocal whole_contexts
        whole_contexts += isinstance(value, ExecutionContext)
        return encode(value, *args, **kwargs)

    monkeypatch.setattr(pydantic_core, "to_json", counting)
    nodes = [adds(f"n{k}", 1000) for k in range(12)]
    async with running(settings) as resources:
        ws, workflow = await seed_workflow(resources, chain(*nodes))
        execution_id = await start_execution(resources, ws, workflow, {"blob": "b" * 5000})
        done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    assert len(done.context["node_outputs"]) == 13
    assert whole_contexts == 1, "measured once, from what the claim read"


async def _transitions(resources: Resources, execution_id: uuid.UUID, reason: str) -> list[str]:
    async with resources.sessions() as session:
        workers = await session.scalars(
            select(ExecutionTransition.worker).where(
                ExecutionTransition.execution_id == execution_id,
                ExecutionTransition.reason == reason,
            )
        )
        return [worker or "" for worker in workers]
