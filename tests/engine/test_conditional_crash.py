"""A worker killed after deciding to skip a node but before the skip's checkpoint committed:
the next owner decides again, from the same checkpointed context, and skips it once."""

import asyncio
import signal

from sqlalchemy.engine import make_url

from shared.broker.topology import RUN
from shared.runtime import open_resources
from shared.settings import Settings
from tests.processes import consumer_count, executor_processes, spawn, stop
from tests.proxy import CuttableProxy
from tests.support import (
    Receiver,
    eventually,
    execution_row,
    seed_workflow,
    start_execution,
    steps_of,
    wait_for_status,
)

WHEN = "{{ source.deal.owner == 'outlook' }}"
#: The skip's checkpoint, as the executor sends it to PostgreSQL (its JSON parameter in clear).
SKIP_CHECKPOINT = b'"step_status":"skipped"'


async def test_kill_9_between_deciding_a_skip_and_its_checkpoint_skips_the_node_once(
    pg_settings: Settings, receiver: Receiver
) -> None:
    settings = pg_settings.model_copy(update={"lease_seconds": 2.0})
    definition = {
        "name": "outlook or not",
        "nodes": [
            {"id": "start", "type": "trigger", "position": 0},
            {"id": "price", "type": "set", "position": 1, "config": {"values": {"n": 1}}},
            {
                "id": "outlook",
                "type": "webhook",
                "position": 2,
                "when": WHEN,
                "config": {"url": receiver.url},
            },
            {"id": "end", "type": "set", "position": 3, "config": {"values": {"done": True}}},
        ],
    }
    url = make_url(settings.database_url)
    proxy = await CuttableProxy(url.host or "127.0.0.1", url.port or 5432).start()
    via_proxy = settings.model_copy(
        update={"database_url": url.set(port=proxy.port).render_as_string(False)}
    )
    async with open_resources(settings) as resources:
        workspace_id, workflow_id = await seed_workflow(resources, definition)
        proxy.cut_when_sent(SKIP_CHECKPOINT)
        doomed = await spawn(via_proxy, "executor", DOCFLOW_WORKER_ID="doomed")
        try:
            await eventually(lambda: consumer_count(settings, RUN), within=30)
            execution_id = await start_execution(
                resources, workspace_id, workflow_id, {"deal": {"owner": "gmail"}}
            )
            # The skip was decided and its checkpoint is on the wire: it never reaches the
            # server, and the worker dies before it could try again.
            await asyncio.wait_for(proxy.tripped.wait(), timeout=30)
            await stop(doomed, signal.SIGKILL)
        finally:
            await stop(doomed, signal.SIGKILL)
            await proxy.cut()

        stranded = await execution_row(resources, execution_id)
        assert (stranded.status, stranded.current_node_id) == ("running", "outlook")
        assert "outlook" not in stranded.context.get("skipped", [])
        assert [s.node_id for s in await steps_of(resources, execution_id)] == ["start", "price"]

        scheduler = await spawn(settings, "scheduler")
        try:
            async with executor_processes(settings, 1):
                done = await wait_for_status(
                    resources, execution_id, "completed", "failed", within=40
                )
        finally:
            await stop(scheduler)

        assert done.status == "completed", done.error
        assert done.context["skipped"] == ["outlook"]
        steps = await steps_of(resources, execution_id)
        assert [(s.node_id, s.attempt, s.status) for s in steps] == [
            ("start", 1, "completed"),
            ("price", 1, "completed"),
            ("outlook", 1, "skipped"),
            ("end", 1, "completed"),
        ]
        assert steps[2].condition == {"when": WHEN, "value": False, "result": False}
        assert receiver.calls == []
