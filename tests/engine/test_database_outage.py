"""A run accepted while the executor cannot reach the database runs once it can again.

Without care, each failed try of the run message would be requeued and count against the
queue's delivery limit, so an outage of a few seconds would dead-letter the message and leave
the run queued for ever. The executor is a real process whose PostgreSQL connections go
through a proxy the test cuts; the run is accepted (and its message published) meanwhile.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from shared.broker.topology import RUN
from shared.runtime import Resources
from shared.settings import Settings
from shared.state_machine.checkpoint_pg import CHECKPOINTS_SQL
from tests.proxy import CuttableProxy, executor_behind_proxy
from tests.support import (
    Receiver,
    seed_workflow,
    start_execution,
    three_node_workflow,
    wait_for_status,
)


@pytest.fixture
def settings(pg_settings: Settings) -> Settings:
    """A real executor process on RabbitMQ; its database behind a proxy."""
    return pg_settings


@pytest.fixture
def executor() -> None:
    """The executor here is the process behind the proxy, not the in-test worker."""


@pytest.fixture
async def proxy(resources: Resources) -> AsyncIterator[CuttableProxy]:
    async with executor_behind_proxy(resources.settings, ready_on=RUN) as proxy:
        yield proxy


async def test_a_run_accepted_during_a_database_outage_runs_once_it_is_back(
    resources: Resources, proxy: CuttableProxy, receiver: Receiver
) -> None:
    workspace_id, workflow_id = await seed_workflow(resources, three_node_workflow(receiver.url))
    await proxy.cut()
    execution_id = await start_execution(
        resources, workspace_id, workflow_id, {"deal": {"amount": 5}}
    )
    await _sit_out_an_outage(resources, proxy)
    await _completed_once(resources, receiver, execution_id)


#: The checkpoint's statement, as it goes over the wire: the trip wire cuts the link there.
CHECKPOINT_STATEMENT = b"json_to_recordset($1::json)"


@pytest.mark.slow
async def test_a_connection_that_dies_under_a_checkpoint_is_an_outage_not_a_failed_delivery(
    resources: Resources, proxy: CuttableProxy, receiver: Receiver
) -> None:
    """The link drops while the checkpoint's statement is on its way (asyncpg then says the
    connection is closed, with no SQLSTATE): the run message stays in hand through the
    outage, longer than its deliveries would last, and the run completes once."""
    assert CHECKPOINT_STATEMENT.decode() in CHECKPOINTS_SQL
    workspace_id, workflow_id = await seed_workflow(resources, three_node_workflow(receiver.url))
    proxy.cut_when_sent(CHECKPOINT_STATEMENT)
    execution_id = await start_execution(
        resources, workspace_id, workflow_id, {"deal": {"amount": 5}}
    )
    await asyncio.wait_for(proxy.tripped.wait(), timeout=20)
    await _sit_out_an_outage(resources, proxy)
    await _completed_once(resources, receiver, execution_id)


async def _sit_out_an_outage(resources: Resources, proxy: CuttableProxy) -> None:
    # Longer than the delivery limit times the requeue pause (1 s): an outage to sit through,
    # not a state to wait for.
    await asyncio.sleep(resources.settings.delivery_limit * 1.0 + 3)
    await proxy.restore()


async def _completed_once(
    resources: Resources, receiver: Receiver, execution_id: uuid.UUID
) -> None:
    done = await wait_for_status(resources, execution_id, "completed", "failed", within=60)
    assert done.status == "completed", done.error
    assert receiver.keys() == [f"{execution_id}:notify"]
    assert await resources.broker.dead_letters(RUN) == 0
