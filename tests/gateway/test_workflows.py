"""Workflows over HTTP: create, read, list, new versions, workspace scoping."""

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import func, select

from shared.db.tables import WorkflowVersion
from tests.gateway.conftest import Gateway, definition


async def test_a_created_workflow_is_version_1_and_can_be_read_back(gateway: Gateway) -> None:
    response = await gateway.client.post(
        "/api/v1/workflows", json=definition(), headers=gateway.auth
    )
    assert response.status == 201
    created = await response.json()
    assert response.headers["Location"] == f"/api/v1/workflows/{created['id']}"
    assert created["name"] == "onboarding"
    assert created["version"] == 1
    assert [n["id"] for n in created["definition"]["nodes"]] == ["start", "greet"]
    assert datetime.fromisoformat(created["created_at"]).utcoffset() == timedelta(0)

    read = await gateway.client.get(response.headers["Location"], headers=gateway.auth)
    assert read.status == 200
    assert await read.json() == created


async def test_put_saves_a_new_version_and_older_versions_stay_readable(
    gateway: Gateway,
) -> None:
    created = await gateway.create_workflow()
    changed = definition(name="onboarding v2", description=None)
    response = await gateway.client.put(
        f"/api/v1/workflows/{created['id']}", json=changed, headers=gateway.auth
    )
    assert response.status == 200
    updated = await response.json()
    assert (updated["id"], updated["version"], updated["name"]) == (
        created["id"],
        2,
        "onboarding v2",
    )
    assert updated["created_at"] == created["created_at"]

    current = await (
        await gateway.client.get(f"/api/v1/workflows/{created['id']}", headers=gateway.auth)
    ).json()
    assert current["version"] == 2
    old = await (
        await gateway.client.get(
            f"/api/v1/workflows/{created['id']}?version=1", headers=gateway.auth
        )
    ).json()
    assert (old["version"], old["name"]) == (1, "onboarding")
    assert old["definition"] == created["definition"]


async def test_asking_for_a_version_that_does_not_exist_is_404_and_a_bad_one_422(
    gateway: Gateway,
) -> None:
    created = await gateway.create_workflow()
    missing = await gateway.client.get(
        f"/api/v1/workflows/{created['id']}?version=7", headers=gateway.auth
    )
    assert missing.status == 404
    bad = await gateway.client.get(
        f"/api/v1/workflows/{created['id']}?version=first", headers=gateway.auth
    )
    assert bad.status == 422
    assert (await bad.json())["field"] == "version"


async def test_concurrent_puts_each_get_their_own_version(pg_gateway: Gateway) -> None:
    created = await pg_gateway.create_workflow()

    async def put(index: int) -> int:
        response = await pg_gateway.client.put(
            f"/api/v1/workflows/{created['id']}",
            json=definition(name=f"edit {index}"),
            headers=pg_gateway.auth,
        )
        assert response.status == 200, await response.text()
        version: int = (await response.json())["version"]
        return version

    versions = await asyncio.gather(*(put(i) for i in range(8)))
    assert sorted(versions) == list(range(2, 10))
    async with pg_gateway.resources.sessions() as session:
        stored = await session.scalar(select(func.count()).select_from(WorkflowVersion))
    assert stored == 9


async def test_the_list_holds_only_the_workspaces_own_workflows(gateway: Gateway) -> None:
    first = await gateway.create_workflow()
    second = await gateway.create_workflow(definition(name="second"))
    other = await gateway.as_workspace("other")
    theirs = await other.create_workflow(definition(name="theirs"))
    listed = await (await gateway.client.get("/api/v1/workflows", headers=gateway.auth)).json()
    ids = [item["id"] for item in listed["items"]]
    assert set(ids) == {first["id"], second["id"]}
    assert theirs["id"] not in ids
    assert listed["items"][0]["version"] == 1


async def test_another_workspaces_workflow_is_not_found(gateway: Gateway) -> None:
    other = await gateway.as_workspace("other")
    theirs = await other.create_workflow()
    path = f"/api/v1/workflows/{theirs['id']}"
    read = await gateway.client.get(path, headers=gateway.auth)
    put = await gateway.client.put(path, json=definition(), headers=gateway.auth)
    run = await gateway.client.post(f"{path}/executions", json={}, headers=gateway.auth)
    assert (read.status, put.status, run.status) == (404, 404, 404)
    assert read.headers["Content-Type"] == "application/problem+json"
    # The owner still sees it unchanged.
    mine = await (await other.client.get(path, headers=other.auth)).json()
    assert mine["version"] == 1


async def test_a_path_id_that_is_not_a_uuid_is_404_not_500(gateway: Gateway) -> None:
    for path in ("/api/v1/workflows/nope", "/api/v1/executions/12345"):
        response = await gateway.client.get(path, headers=gateway.auth)
        assert response.status == 404, path
        assert (await response.json())["status"] == 404
