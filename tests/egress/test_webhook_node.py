"""A webhook node through the egress layer: a refused address fails the node at once, saying
why; an answer larger than the cap fails it naming the limit."""

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from services.executor.worker import ExecutorWorker
from shared.runtime import Resources
from shared.settings import Settings
from tests.support import (
    Receiver,
    seed_workflow,
    start_execution,
    steps_of,
    wait_for_status,
    worker_on,
)


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Resources]:
    async with worker_on(settings, ExecutorWorker) as resources:
        yield resources


def calling(url: str) -> dict[str, Any]:
    return {
        "name": "call out",
        "nodes": [
            {
                "id": "call",
                "type": "webhook",
                "position": 0,
                "config": {"url": url, "retry": {"max_attempts": 3}},
            }
        ],
    }


async def test_a_webhook_to_a_refused_address_fails_at_once_naming_the_policy(
    embedded_settings: Settings, receiver: Receiver
) -> None:
    settings = embedded_settings.model_copy(update={"egress_allow": ""})
    # The receiver listens on 127.0.0.1; asked for by its decimal spelling.
    url = receiver.url.replace("127.0.0.1", "2130706433")
    async with running(settings) as resources:
        workspace_id, workflow_id = await seed_workflow(resources, calling(url))
        execution_id = await start_execution(resources, workspace_id, workflow_id)

        done = await wait_for_status(resources, execution_id, "completed", "failed")
        steps = await steps_of(resources, execution_id)

    assert done.status == "failed"
    assert "egress to 127.0.0.1 refused by policy (DOCFLOW_EGRESS_ALLOW)" in (done.error or "")
    assert [step.status for step in steps] == ["failed"], "a refusal is never retried"
    assert receiver.calls == []


async def test_an_answer_larger_than_the_cap_fails_the_node_naming_the_limit(
    embedded_settings: Settings, receiver: Receiver
) -> None:
    settings = embedded_settings.model_copy(update={"http_response_max_bytes": 4096})
    receiver.extra = {"padding": "x" * 5000}
    async with running(settings) as resources:
        workspace_id, workflow_id = await seed_workflow(resources, calling(receiver.url))
        execution_id = await start_execution(resources, workspace_id, workflow_id)

        done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "failed"
    assert "DOCFLOW_HTTP_RESPONSE_MAX_BYTES (4096 bytes)" in (done.error or "")
    assert "call" not in done.context["node_outputs"]


async def test_an_answer_up_to_the_cap_is_kept(
    embedded_settings: Settings, receiver: Receiver
) -> None:
    settings = embedded_settings.model_copy(update={"http_response_max_bytes": 8192})
    receiver.extra = {"padding": "x" * 5000}
    async with running(settings) as resources:
        workspace_id, workflow_id = await seed_workflow(resources, calling(receiver.url))
        execution_id = await start_execution(resources, workspace_id, workflow_id)

        done = await wait_for_status(resources, execution_id, "completed", "failed")

    assert done.status == "completed", done.error
    assert done.context["node_outputs"]["call"]["body"]["padding"] == "x" * 5000
