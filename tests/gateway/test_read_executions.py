"""GET /executions/{id} and the paged, filtered list."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, update

from shared.db.tables import Execution, ExecutionStep, Wait
from tests.gateway.conftest import Gateway

T0 = datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)


async def test_an_execution_is_read_with_its_steps_in_order_and_its_waits(
    gateway: Gateway,
) -> None:
    workflow = await gateway.create_workflow()
    accepted = await gateway.start(workflow["id"])
    execution_id = uuid.UUID(accepted["execution_id"])
    wait_id = uuid.uuid4()
    # What an executor would have written: inserted out of order to prove the ordering.
    async with gateway.resources.sessions.begin() as session:
        await session.execute(
            update(Execution)
            .where(Execution.id == execution_id)
            .values(status="paused", current_node_id="greet", started_at=T0, version=3)
        )
        steps = [("greet", 1, T0 + timedelta(seconds=1)), ("start", 1, T0)]
        for node_id, attempt, started in steps:
            await session.execute(
                insert(ExecutionStep).values(
                    execution_id=execution_id,
                    node_id=node_id,
                    node_type="set" if node_id == "greet" else "trigger",
                    attempt=attempt,
                    status="completed",
                    started_at=started,
                    completed_at=started + timedelta(milliseconds=5),
                    duration_ms=5,
                    output_summary={"keys": ["greeting"]},
                )
            )
        await session.execute(
            insert(Wait).values(
                id=wait_id,
                execution_id=execution_id,
                node_id="greet",
                kind="timer",
                rule={},
                facts={},
                expires_at=T0 + timedelta(hours=1),
                created_at=T0,
            )
        )

    response = await gateway.client.get(f"/api/v1/executions/{execution_id}", headers=gateway.auth)
    assert response.status == 200
    body = await response.json()
    assert body["id"] == str(execution_id)
    assert (body["workflow_id"], body["workflow_version"]) == (workflow["id"], 1)
    assert (body["status"], body["current_node_id"]) == ("paused", "greet")
    assert body["trigger_data"] == {"name": "Ada"}
    assert body["context"]["node_outputs"] == {}
    assert datetime.fromisoformat(body["started_at"]) == T0
    assert body["finished_at"] is None and body["error"] is None
    assert [s["node_id"] for s in body["steps"]] == ["start", "greet"]
    assert body["steps"][0] == {
        "node_id": "start",
        "node_type": "trigger",
        "attempt": 1,
        "status": "completed",
        "started_at": T0.isoformat(),
        "completed_at": (T0 + timedelta(milliseconds=5)).isoformat(),
        "duration_ms": 5,
        "error": None,
        "output_summary": {"keys": ["greeting"]},
        "condition": None,
    }
    assert body["waits"] == [
        {
            "id": str(wait_id),
            "node_id": "greet",
            "kind": "timer",
            "status": "open",
            "name": None,
            "expires_at": (T0 + timedelta(hours=1)).isoformat(),
            "decision": None,
            "created_at": T0.isoformat(),
            "decided_at": None,
        }
    ]


async def test_another_workspaces_execution_is_not_found(gateway: Gateway) -> None:
    other = await gateway.as_workspace("other")
    theirs = await other.start((await other.create_workflow())["id"])
    path = f"/api/v1/executions/{theirs['execution_id']}"
    for method, suffix in [("GET", ""), ("POST", "/cancel"), ("POST", "/retry")]:
        response = await gateway.client.request(method, path + suffix, headers=gateway.auth)
        assert response.status == 404, (method, suffix)
    listed = await (await gateway.client.get("/api/v1/executions", headers=gateway.auth)).json()
    assert listed["items"] == []


async def _insert_executions(
    gateway: Gateway, workflow_id: uuid.UUID, created: list[tuple[datetime, str]]
) -> list[uuid.UUID]:
    ids = []
    async with gateway.resources.sessions.begin() as session:
        for created_at, status in created:
            execution_id = uuid.uuid4()
            ids.append(execution_id)
            await session.execute(
                insert(Execution).values(
                    id=execution_id,
                    workspace_id=gateway.workspace_id,
                    workflow_id=workflow_id,
                    workflow_version=1,
                    status=status,
                    context={},
                    trigger_data={},
                    created_at=created_at,
                )
            )
    return ids


async def _all_pages(gateway: Gateway, query: str) -> tuple[list[str], int]:
    seen: list[str] = []
    pages = 0
    url = f"/api/v1/executions?{query}"
    while True:
        response = await gateway.client.get(url, headers=gateway.auth)
        assert response.status == 200, await response.text()
        page: dict[str, Any] = await response.json()
        pages += 1
        seen.extend(item["id"] for item in page["items"])
        if page["next_cursor"] is None:
            return seen, pages
        url = f"/api/v1/executions?{query}&cursor={page['next_cursor']}"


async def test_the_list_pages_newest_first_without_gaps_or_repeats(gateway: Gateway) -> None:
    workflow_id = uuid.UUID((await gateway.create_workflow())["id"])
    # Three share one timestamp, so the id must break the tie.
    second = T0 + timedelta(seconds=1)
    times = [T0, second, second, second, T0 + timedelta(seconds=2), T0 + timedelta(microseconds=1)]
    times.append(T0 - timedelta(days=1))
    ids = await _insert_executions(gateway, workflow_id, [(t, "queued") for t in times])
    expected = [str(i) for _, i in sorted(zip(times, ids, strict=True), reverse=True)]

    seen, pages = await _all_pages(gateway, "limit=3")
    assert seen == expected
    assert pages == 3
    whole, _ = await _all_pages(gateway, "limit=100")
    assert whole == expected


async def test_the_list_filters_by_status_and_workflow(gateway: Gateway) -> None:
    first = uuid.UUID((await gateway.create_workflow())["id"])
    second = uuid.UUID((await gateway.create_workflow())["id"])
    a = await _insert_executions(gateway, first, [(T0, "failed"), (T0, "queued")])
    b = await _insert_executions(gateway, second, [(T0, "failed")])

    failed, _ = await _all_pages(gateway, "status=failed&limit=1")
    assert set(failed) == {str(a[0]), str(b[0])}
    of_first, _ = await _all_pages(gateway, f"workflow_id={first}")
    assert set(of_first) == {str(i) for i in a}
    both, _ = await _all_pages(gateway, f"workflow_id={second}&status=failed")
    assert both == [str(b[0])]
    none, _ = await _all_pages(gateway, f"workflow_id={second}&status=queued")
    assert none == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=sleeping", "status"),
        ("workflow_id=not-a-uuid", "workflow_id"),
        ("limit=0", "limit"),
        ("limit=10000", "limit"),
        ("limit=many", "limit"),
        ("cursor=garbage!", "cursor"),
        ("cursor=eyJ0IjogMX0", "cursor"),
    ],
)
async def test_a_bad_list_parameter_is_422_naming_it(
    pg_gateway: Gateway, query: str, field: str
) -> None:
    response = await pg_gateway.client.get(f"/api/v1/executions?{query}", headers=pg_gateway.auth)
    assert response.status == 422
    assert (await response.json())["field"] == field
