"""What a node adds to the context is bounded: its output by DOCFLOW_MAX_NODE_OUTPUT_BYTES, the
whole context by DOCFLOW_MAX_CONTEXT_BYTES. Past either, the node fails at once naming the
limit and the size, and its output is not kept."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from services.executor.worker import ExecutorWorker
from shared.runtime import Resources, open_resources
from shared.settings import Settings
from tests.support import seed_workflow, start_execution, steps_of, wait_for_status


@contextlib.asynccontextmanager
async def running(settings: Settings, **limits: int) -> AsyncIterator[Resources]:
    async with open_resources(settings.model_copy(update=limits)) as resources:
        worker = ExecutorWorker(resources)
        await worker.start()
        try:
            yield resources
        finally:
            await worker.stop()


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


async def test_an_output_over_the_node_limit_fails_the_node_naming_limit_and_size(
    embedded_settings: Settings,
) -> None:
    async with running(embedded_settings, max_node_output_bytes=2048) as resources:
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
    embedded_settings: Settings,
) -> None:
    async with running(embedded_settings, max_context_bytes=4096) as resources:
        ws, workflow = await seed_workflow(resources, setting("{{ 'y' * 2000 }}"))
        execution_id = await start_execution(resources, ws, workflow, {"note": "z" * 2500})
        done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "failed"
    assert "DOCFLOW_MAX_CONTEXT_BYTES (4096 bytes)" in (done.error or "")
    assert done.current_node_id == "grow"
    assert "grow" not in done.context["node_outputs"]


async def test_outputs_within_the_limits_are_kept(embedded_settings: Settings) -> None:
    async with running(embedded_settings, max_node_output_bytes=4096) as resources:
        ws, workflow = await seed_workflow(resources, setting("{{ 'x' * 3000 }}"))
        execution_id = await start_execution(resources, ws, workflow)
        done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["grow"] == {"x": "x" * 3000}
