"""A message that cannot be decoded goes to the dead-letter queue at once, not round a loop."""

import aio_pika
import pytest

from shared.broker.base import QueueCounts
from shared.broker.topology import RUN, Names
from shared.runtime import Resources
from shared.settings import Settings
from tests.conftest import AMQP_URL
from tests.support import eventually, seed_workflow, start_execution, wait_for_status


@pytest.fixture
def settings(pg_settings: Settings) -> Settings:
    """RabbitMQ only: these bodies are put on the wire by hand."""
    return pg_settings


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b'{"type": "execution.run", "schema_version": 1}',
        b'{"type": "no.such.message", "schema_version": 1}',
        b'{"type": "execution.run", "schema_version": 99, "execution_id": "x"}',
    ],
)
async def test_an_undecodable_run_message_is_dead_lettered_once_and_work_goes_on(
    resources: Resources, executor: object, settings: Settings, body: bytes
) -> None:
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(body), routing_key=Names(settings.queue_prefix).queue(RUN)
        )
    finally:
        await connection.close()

    assert await eventually(lambda: resources.broker.dead_letters(RUN), lambda n: n == 1) == 1
    definition = {
        "name": "still working",
        "nodes": [{"id": "s", "type": "set", "position": 0, "config": {"values": {"a": 1}}}],
    }
    workspace_id, workflow_id = await seed_workflow(resources, definition)
    execution_id = await start_execution(resources, workspace_id, workflow_id)
    assert (await wait_for_status(resources, execution_id, "completed")).status == "completed"
    assert await resources.broker.dead_letters(RUN) == 1
    assert await resources.broker.queue_depth(RUN) == 0
    # The scheduler's gauges read all three figures at once, from the same declares.
    counts = await resources.broker.queue_counts([RUN])
    assert counts == {RUN: QueueCounts(messages=0, consumers=1, dead_letters=1)}
