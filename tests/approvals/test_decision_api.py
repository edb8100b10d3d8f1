"""The decision API: an API key decides for an approver, exactly once, as their link would."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from shared.api_keys import create_api_key, hash_key
from shared.db.tables import ApiKey
from shared.runtime import open_resources
from shared.settings import Settings
from tests.approvals.support import (
    Api,
    Harness,
    approvals_of,
    approvers,
    gate_workflow,
    running_harness,
)
from tests.approvals.test_concurrency import resumes
from tests.support import wait_for_status


@pytest.fixture
async def api(harness: Harness) -> AsyncIterator[Api]:
    _, key = await create_api_key(harness.resources.sessions, "operators")
    yield Api(harness.client, key)


def decisions(execution_id: uuid.UUID, node_id: str = "gate") -> str:
    return f"/executions/{execution_id}/gates/{node_id}/decisions"


async def key_id(harness: Harness, key: str) -> uuid.UUID:
    async with harness.resources.sessions() as session:
        found = await session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(key)))
    assert found is not None
    return found


async def test_fifty_concurrent_decisions_for_one_approver_record_one_naming_the_key(
    harness: Harness, api: Api
) -> None:
    execution_id = await api.start(gate_workflow(approvers=approvers(1)))
    await harness.links(1)

    answers = await asyncio.gather(
        *(
            api.call(
                "POST",
                decisions(execution_id),
                {
                    "approver": "Approver0@example.com",
                    "decision": "approve" if i % 2 else "reject",
                    "comment": f"call {i}",
                },
            )
            for i in range(50)
        )
    )

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [409] * 49, statuses
    winner = next(body for status, body in answers if status == 200)
    [approval] = await approvals_of(harness.resources, execution_id)
    assert approval.status == winner["decision"] and not winner["late"]
    assert approval.decided_by_key == await key_id(harness, api.key)
    assert approval.comment and approval.comment.startswith("call ")
    done = await wait_for_status(harness.resources, execution_id, "completed", "failed")
    assert done.status == ("completed" if approval.status == "approved" else "failed")
    assert await resumes(harness.resources, execution_id) == 1
    refused = next(body for status, body in answers if status == 409)
    assert refused["type"].endswith("conflict") and refused["status"] == 409
    _, gate = await api.call("GET", "/approvals?status=" + approval.status)
    assert gate["items"][0]["decided_by_key"] == str(approval.decided_by_key)
    _, detail = await api.call("GET", f"/executions/{execution_id}")
    assert detail["approvals"][0]["decided_by_key"] == str(approval.decided_by_key)


async def test_a_decision_through_the_link_and_one_through_the_api_count_once(
    harness: Harness, api: Api
) -> None:
    execution_id = await api.start(gate_workflow(approvers=approvers(1)))
    [token] = (await harness.links(1)).values()
    assert await harness.click(token, "approve") == 200

    status, body = await api.call(
        "POST", decisions(execution_id), {"approver": "approver0@example.com", "decision": "reject"}
    )

    assert status == 409, body
    [approval] = await approvals_of(harness.resources, execution_id)
    assert approval.status == "approved" and approval.decided_by_key is None
    await wait_for_status(harness.resources, execution_id, "completed")


async def test_bad_decisions_are_problems_naming_the_field(harness: Harness, api: Api) -> None:
    execution_id = await api.start(gate_workflow(approvers=approvers(2), strategy="all"))
    await harness.links(2)
    path = decisions(execution_id)

    cases = [
        ({"approver": "approver0@example.com", "decision": "maybe"}, "decision"),
        ({"decision": "approve"}, "approver"),
        ({"approver": "approver0@example.com", "decision": "approve", "x": 1}, "x"),
        ({"approver": "a@b.c", "decision": "approve", "comment": "x" * 2001}, "comment"),
        ({"approver": "nobody@example.com", "decision": "approve"}, "approver"),
    ]
    for body, field in cases:
        status, problem = await api.call("POST", path, body)
        assert status == 422, (body, problem)
        assert problem["errors"][0]["field"] == field, problem
    assert (await api.call("POST", path, ["approve"]))[0] in (400, 422)
    assert (await api.call("POST", decisions(execution_id, "nope"), cases[0][0]))[0] == 422
    missing = {"approver": "approver0@example.com", "decision": "approve"}
    assert (await api.call("POST", decisions(execution_id, "nope"), missing))[0] == 404
    assert (await api.call("POST", decisions(uuid.uuid4()), missing))[0] == 404
    [first, second] = await approvals_of(harness.resources, execution_id)
    assert first.status == second.status == "pending"


async def test_another_workspaces_key_cannot_decide(harness: Harness, api: Api) -> None:
    execution_id = await api.start(gate_workflow(approvers=approvers(1)))
    await harness.links(1)
    _, other_key = await create_api_key(harness.resources.sessions, "someone else")
    other = Api(harness.client, other_key)

    status, body = await other.call(
        "POST",
        decisions(execution_id),
        {"approver": "approver0@example.com", "decision": "approve"},
    )

    assert status == 404, body
    [approval] = await approvals_of(harness.resources, execution_id)
    assert approval.status == "pending"
    unauthenticated = await harness.client.post(
        f"/api/v1{decisions(execution_id)}",
        json={"approver": "approver0@example.com", "decision": "approve"},
    )
    assert unauthenticated.status == 401


@pytest.fixture
async def embedded(embedded_settings: Settings) -> AsyncIterator[Harness]:
    """The same stack on SQLite and the in-process broker (the statement-by-statement path)."""
    async with open_resources(embedded_settings) as resources, running_harness(resources) as stack:
        yield stack


async def test_on_the_embedded_backend_a_decision_is_recorded_once_naming_the_key(
    embedded: Harness,
) -> None:
    _, key = await create_api_key(embedded.resources.sessions, "operators")
    api = Api(embedded.client, key)
    execution_id = await api.start(gate_workflow(approvers=approvers(1)))
    await embedded.links(1)
    body = {"approver": "approver0@example.com", "decision": "approve"}

    first = await api.call("POST", decisions(execution_id), body)
    second = await api.call("POST", decisions(execution_id), {**body, "decision": "reject"})

    assert first[0] == 200 and first[1]["decision"] == "approved", first
    assert second[0] == 409, second
    [approval] = await approvals_of(embedded.resources, execution_id)
    assert approval.decided_by_key == await key_id(embedded, key)
    done = await wait_for_status(embedded.resources, execution_id, "completed", "failed")
    assert done.status == "completed", done.error
