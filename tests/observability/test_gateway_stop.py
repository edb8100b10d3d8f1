"""The gateway when told to stop: readiness turns false, and open live streams end."""

import asyncio

from services.gateway.keys import EVENT_HUB, READINESS
from shared.runtime import open_resources
from shared.settings import Settings
from tests.gateway.conftest import definition as greeting
from tests.gateway.conftest import running_gateway


async def test_readiness_turns_false_and_open_streams_end_when_the_gateway_stops(
    settings: Settings,
) -> None:
    async with open_resources(settings) as resources, running_gateway(resources) as gateway:
        workflow = await gateway.create_workflow(greeting())
        # No executor: the run stays queued and its stream stays open.
        execution_id = (await gateway.start(workflow["id"]))["execution_id"]
        stream = await gateway.client.get(
            f"/api/v1/executions/{execution_id}/events", headers=gateway.auth
        )
        assert stream.status == 200
        assert (await gateway.client.get("/readyz")).status == 200

        app = gateway.client.app
        assert app is not None
        app[READINESS].stopping = True
        ready = await gateway.client.get("/readyz")
        readiness = await ready.json()
        # What `serving` does on the way out: the shutdown hooks end every stream.
        await app[EVENT_HUB].close()
        rest = await asyncio.wait_for(stream.content.read(), 10)

    assert ready.status == 503
    assert readiness["status"] == "stopping"
    assert b"event:" not in rest
