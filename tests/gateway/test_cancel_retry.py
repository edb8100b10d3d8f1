"""Cancel and retry are requests for the executor: staged as messages, status left alone."""

import uuid

import pytest
from sqlalchemy import select, update

from shared.broker import topology
from shared.db.tables import Execution
from shared.messages import CancelExecution, RetryExecution, RunExecution
from tests.gateway.conftest import Gateway, take


async def _execution_in(gateway: Gateway, status: str) -> uuid.UUID:
    accepted = await gateway.start((await gateway.create_workflow())["id"])
    execution_id = uuid.UUID(accepted["execution_id"])
    async with gateway.resources.sessions.begin() as session:
        await session.execute(
            update(Execution).where(Execution.id == execution_id).values(status=status)
        )
    return execution_id


async def _status(gateway: Gateway, execution_id: uuid.UUID) -> str:
    async with gateway.resources.sessions() as session:
        status = await session.scalar(select(Execution.status).where(Execution.id == execution_id))
    assert status is not None
    return status


@pytest.mark.parametrize("status", ["queued", "running", "paused"])
async def test_cancelling_a_live_execution_stages_a_cancel_message(
    gateway: Gateway, status: str
) -> None:
    execution_id = await _execution_in(gateway, status)
    # The run message of the start comes first on the same queue.
    assert await take(gateway.resources, topology.RUN) == [RunExecution(execution_id=execution_id)]

    response = await gateway.client.post(
        f"/api/v1/executions/{execution_id}/cancel", headers=gateway.auth
    )
    assert response.status == 202
    assert await response.json() == {
        "execution_id": str(execution_id),
        "status": status,
        "cancel_requested": True,
    }
    assert await take(gateway.resources, topology.RUN) == [
        CancelExecution(execution_id=execution_id)
    ]
    assert await _status(gateway, execution_id) == status


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
async def test_cancelling_a_finished_execution_is_409(gateway: Gateway, status: str) -> None:
    execution_id = await _execution_in(gateway, status)
    response = await gateway.client.post(
        f"/api/v1/executions/{execution_id}/cancel", headers=gateway.auth
    )
    assert response.status == 409
    assert status in (await response.json())["detail"]


async def test_retrying_a_failed_execution_stages_a_retry_message(gateway: Gateway) -> None:
    execution_id = await _execution_in(gateway, "failed")
    await take(gateway.resources, topology.RUN)

    response = await gateway.client.post(
        f"/api/v1/executions/{execution_id}/retry", headers=gateway.auth
    )
    assert response.status == 202
    assert await response.json() == {
        "execution_id": str(execution_id),
        "status": "failed",
        "retry_requested": True,
    }
    assert await take(gateway.resources, topology.RUN) == [
        RetryExecution(execution_id=execution_id)
    ]
    assert await _status(gateway, execution_id) == "failed"


@pytest.mark.parametrize("status", ["queued", "running", "paused", "completed", "cancelled"])
async def test_retrying_anything_but_a_failed_execution_is_409_naming_its_status(
    gateway: Gateway, status: str
) -> None:
    execution_id = await _execution_in(gateway, status)
    response = await gateway.client.post(
        f"/api/v1/executions/{execution_id}/retry", headers=gateway.auth
    )
    assert response.status == 409
    assert status in (await response.json())["detail"]
