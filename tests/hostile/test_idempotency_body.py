"""An idempotency key names one request: the same body again answers with the first run, another
body under the same key is refused."""

from sqlalchemy import func, select

from shared.db.tables import Execution
from tests.gateway.conftest import Gateway

RUNS = "/api/v1/workflows/{}/executions"


async def _executions(gateway: Gateway) -> int:
    async with gateway.resources.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Execution)) or 0)


async def test_a_reused_key_with_another_body_is_422_naming_the_header(gateway: Gateway) -> None:
    workflow = await gateway.create_workflow()
    first = await gateway.start(
        workflow["id"], {"trigger_data": {"deal": 42, "amount": 10}}, idempotency_key="deal-42"
    )

    refused = await gateway.client.post(
        RUNS.format(workflow["id"]),
        json={"trigger_data": {"deal": 42, "amount": 99999}},
        headers={**gateway.auth, "Idempotency-Key": "deal-42"},
    )

    assert refused.status == 422
    assert refused.content_type == "application/problem+json"
    problem = await refused.json()
    assert problem["field"] == "Idempotency-Key"
    assert problem["type"].endswith("idempotency-key-reused")
    assert await _executions(gateway) == 1
    # The first request, repeated, still answers with its run.
    again = await gateway.start(
        workflow["id"], {"trigger_data": {"amount": 10, "deal": 42}}, idempotency_key="deal-42"
    )
    assert again["execution_id"] == first["execution_id"]


async def test_a_body_without_trigger_data_and_one_with_an_empty_object_are_one_request(
    gateway: Gateway,
) -> None:
    workflow = await gateway.create_workflow()
    first = await gateway.start(workflow["id"], {}, idempotency_key="k")
    again = await gateway.start(workflow["id"], {"trigger_data": {}}, idempotency_key="k")
    assert again["execution_id"] == first["execution_id"]
