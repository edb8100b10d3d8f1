"""POST /workflows/{id}/executions: a queued row, its transition and its run message, at once."""

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select

from services.gateway.executions.api import IDEMPOTENCY_HEADER
from services.gateway.keys import TASKS
from shared.broker import topology
from shared.broker.base import Broker, EventHandler, GiveUp, Handler, Subscription
from shared.context import ExecutionContext, restore
from shared.db.tables import Base, Execution, ExecutionTransition, OutboxMessage
from shared.messages import ExecutionEvent, Message, RunExecution
from shared.runtime import open_resources
from shared.settings import Settings
from tests.gateway.conftest import Gateway, definition, running_gateway, take, wait_until
from tests.gateway.documented import operation, served_document


async def _count(gateway: Gateway, table: type[Base]) -> int:
    async with gateway.resources.sessions() as session:
        count = await session.scalar(select(func.count()).select_from(table))
    return int(count or 0)


async def _outbox_empty(gateway: Gateway) -> bool:
    return await _count(gateway, OutboxMessage) == 0


async def test_a_run_request_is_accepted_with_a_queued_execution_and_a_run_message(
    pg_gateway: Gateway,
) -> None:
    workflow = await pg_gateway.create_workflow()
    response = await pg_gateway.client.post(
        f"/api/v1/workflows/{workflow['id']}/executions",
        json={"trigger_data": {"name": "Ada", "deal": {"amount": 12}}},
        headers=pg_gateway.auth,
    )
    assert response.status == 202
    accepted = await response.json()
    assert accepted == {
        "execution_id": accepted["execution_id"],
        "status": "queued",
        "workflow_id": workflow["id"],
        "workflow_version": 1,
    }
    execution_id = uuid.UUID(accepted["execution_id"])
    assert response.headers["Location"] == f"/api/v1/executions/{execution_id}"

    async with pg_gateway.resources.sessions() as session:
        row = await session.get(Execution, execution_id)
        transitions = (
            await session.scalars(
                select(ExecutionTransition).where(ExecutionTransition.execution_id == execution_id)
            )
        ).all()
    assert row is not None
    assert (row.status, row.version, row.workflow_version) == ("queued", 0, 1)
    assert row.workspace_id == pg_gateway.workspace_id
    assert row.trigger_data == {"name": "Ada", "deal": {"amount": 12}}
    assert restore(row.context) == ExecutionContext()
    assert [(t.from_status, t.to_status) for t in transitions] == [(None, "queued")]

    assert await take(pg_gateway.resources, topology.RUN) == [
        RunExecution(execution_id=execution_id)
    ]
    # Published by the request's background task, so nothing is left for the relay.
    await wait_until(lambda: _outbox_empty(pg_gateway))


async def test_a_run_is_pinned_to_the_current_version(gateway: Gateway) -> None:
    workflow = await gateway.create_workflow()
    await gateway.client.put(
        f"/api/v1/workflows/{workflow['id']}",
        json=definition(description="the second version"),
        headers=gateway.auth,
    )
    accepted = await gateway.start(workflow["id"])
    assert accepted["workflow_version"] == 2


async def test_trigger_data_is_optional_but_must_be_an_object(gateway: Gateway) -> None:
    workflow = await gateway.create_workflow()
    path = f"/api/v1/workflows/{workflow['id']}/executions"
    empty = await gateway.client.post(path, headers=gateway.auth)
    assert empty.status == 202
    async with gateway.resources.sessions() as session:
        row = await session.get(Execution, uuid.UUID((await empty.json())["execution_id"]))
    assert row is not None and row.trigger_data == {}

    for body, field in [
        ({"trigger_data": [1]}, "trigger_data"),
        ({"trigger_data": "x"}, "trigger_data"),
        ({"trigger": {}}, "trigger"),
    ]:
        refused = await gateway.client.post(path, json=body, headers=gateway.auth)
        assert refused.status == 422
        assert (await refused.json())["field"] == field
    assert await _count(gateway, Execution) == 1


async def test_a_repeated_idempotency_key_returns_the_same_execution(gateway: Gateway) -> None:
    workflow = await gateway.create_workflow()
    first = await gateway.start(workflow["id"], idempotency_key="deal-42")
    again = await gateway.start(workflow["id"], idempotency_key="deal-42")
    other = await gateway.start(workflow["id"], idempotency_key="deal-43")
    assert again["execution_id"] == first["execution_id"]
    assert other["execution_id"] != first["execution_id"]
    assert await _count(gateway, Execution) == 2
    # The same key on another workflow is another run.
    second_workflow = await gateway.create_workflow()
    elsewhere = await gateway.start(second_workflow["id"], idempotency_key="deal-42")
    assert elsewhere["execution_id"] != first["execution_id"]


async def test_ten_concurrent_requests_with_one_idempotency_key_make_one_execution(
    gateway: Gateway,
) -> None:
    workflow = await gateway.create_workflow()
    accepted = await asyncio.gather(
        *(gateway.start(workflow["id"], idempotency_key="same") for _ in range(10))
    )
    assert len({a["execution_id"] for a in accepted}) == 1
    assert await _count(gateway, Execution) == 1
    assert await _count(gateway, ExecutionTransition) == 1


async def test_an_idempotency_key_over_200_characters_is_422_naming_the_header(
    gateway: Gateway,
) -> None:
    workflow = await gateway.create_workflow()
    response = await gateway.client.post(
        f"/api/v1/workflows/{workflow['id']}/executions",
        json={},
        headers={**gateway.auth, IDEMPOTENCY_HEADER: "k" * 201},
    )
    assert response.status == 422
    assert (await response.json())["field"] == IDEMPOTENCY_HEADER
    assert await _count(gateway, Execution) == 0


async def test_an_empty_idempotency_key_is_422_as_the_document_says(gateway: Gateway) -> None:
    """Found by the fuzzer: the document let an empty key through, the handlers refuse it."""
    document = await served_document(gateway)
    for operation_id in ("startExecution", "postWaitEvent"):
        [key] = [
            p
            for p in operation(document, operation_id)["parameters"]
            if p["name"] == IDEMPOTENCY_HEADER
        ]
        assert key["schema"]["minLength"] == 1, operation_id
    workflow = await gateway.create_workflow()
    response = await gateway.client.post(
        f"/api/v1/workflows/{workflow['id']}/executions",
        json={},
        headers={**gateway.auth, IDEMPOTENCY_HEADER: ""},
    )
    assert response.status == 422
    assert (await response.json())["field"] == IDEMPOTENCY_HEADER


async def test_a_run_is_accepted_while_the_broker_is_unreachable_and_stays_in_the_outbox(
    pg_settings: Settings,
) -> None:
    async with (
        open_resources(pg_settings, start_broker=False) as resources,
        running_gateway(resources) as gateway,
    ):
        workflow = await gateway.create_workflow()
        accepted = await gateway.start(workflow["id"])
        assert accepted["status"] == "queued"
        await wait_until(lambda: _no_background_work(gateway))
        async with resources.sessions() as session:
            bodies = (await session.scalars(select(OutboxMessage.body))).all()
    assert bodies == [RunExecution(execution_id=accepted["execution_id"]).model_dump(mode="json")]


async def _no_background_work(gateway: Gateway) -> bool:
    return len(gateway.client.app[TASKS]) == 0


class StallingBroker(Broker):
    """Holds every publish until released, as a broker that stopped confirming would."""

    def __init__(self, inner: Broker) -> None:
        self.inner = inner
        self.release = asyncio.Event()
        self.waiting = asyncio.Event()

    async def publish(self, queue: str, message: Message) -> None:
        self.waiting.set()
        await self.release.wait()
        await self.inner.publish(queue, message)

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def publish_events(self, events: Sequence[ExecutionEvent]) -> None:
        await self.inner.publish_events(events)

    async def consume(
        self, queue: str, handler: Handler, *, prefetch: int, give_up: GiveUp | None = None
    ) -> Subscription:
        return await self.inner.consume(queue, handler, prefetch=prefetch, give_up=give_up)

    async def subscribe_events(self, handler: EventHandler, pattern: str = "#") -> Subscription:
        return await self.inner.subscribe_events(handler, pattern)

    async def is_healthy(self) -> bool:
        return await self.inner.is_healthy()

    async def dead_letters(self, queue: str) -> int:
        return await self.inner.dead_letters(queue)

    async def queue_depth(self, queue: str) -> int:
        return await self.inner.queue_depth(queue)


async def test_the_202_does_not_wait_for_the_broker(pg_settings: Settings) -> None:
    async with open_resources(pg_settings) as real:
        broker = StallingBroker(real.broker)
        resources = dataclasses.replace(real, broker=broker)
        async with running_gateway(resources) as gateway:
            workflow = await gateway.create_workflow()
            accepted = await gateway.start(workflow["id"])
            await asyncio.wait_for(broker.waiting.wait(), 5)
            # Answered while the publish is still held: the message is only in the outbox.
            assert await _count(gateway, OutboxMessage) == 1
            broker.release.set()
            assert await take(resources, topology.RUN) == [
                RunExecution(execution_id=accepted["execution_id"])
            ]
            await wait_until(lambda: _outbox_empty(gateway))


async def test_the_embedded_broker_receives_the_run_message(embedded_settings: Settings) -> None:
    async with (
        open_resources(embedded_settings) as resources,
        running_gateway(resources) as gateway,
    ):
        workflow = await gateway.create_workflow()
        accepted = await gateway.start(workflow["id"])
        assert await take(resources, topology.RUN) == [
            RunExecution(execution_id=accepted["execution_id"])
        ]
        await wait_until(lambda: _outbox_empty(gateway))
