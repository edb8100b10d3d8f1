"""Connections: credentials go in, are stored encrypted, and never come back out."""

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from shared.connections import load_connection
from shared.connections.crypto import Sealer, new_secret_key
from shared.connections.kinds import HubSpotConnection, SmtpConnection
from shared.connections.store import WrongConnectionKind
from shared.db.tables import Connection
from shared.runtime import open_resources
from shared.settings import Settings
from tests.gateway.conftest import Gateway, running_gateway

SMTP = {
    "host": "smtp.gmail.com",
    "port": 587,
    "username": "ops@acme.test",
    "password": "app-password-123",
    "from_address": "ops@acme.test",
}


@pytest.fixture
async def keyed(settings: Settings) -> AsyncIterator[Gateway]:
    with_key = settings.model_copy(update={"secret_key": new_secret_key()})
    async with open_resources(with_key) as resources, running_gateway(resources) as gateway:
        yield gateway


async def _create(gateway: Gateway, body: dict[str, Any]) -> Any:
    return await gateway.client.post("/api/v1/connections", json=body, headers=gateway.auth)


async def test_a_connection_is_stored_encrypted_and_its_values_are_never_returned(
    keyed: Gateway,
) -> None:
    response = await _create(keyed, {"name": "gmail", "kind": "smtp", "config": SMTP})
    assert response.status == 201
    created = await response.json()
    assert created["fields"] == ["from_address", "host", "password", "port", "username"]
    for path in ("/api/v1/connections", f"/api/v1/connections/{created['id']}"):
        read = await keyed.client.get(path, headers=keyed.auth)
        assert read.status == 200
        assert "app-password-123" not in await read.text()
    async with keyed.resources.sessions() as session:
        sealed = await session.scalar(select(Connection.sealed))
        assert sealed is not None and "app-password-123" not in sealed
        sealer = Sealer(keyed.resources.settings.secret_key)
        opened = await load_connection(session, sealer, keyed.workspace_id, "gmail", SmtpConnection)
        assert opened.password == "app-password-123"
        with pytest.raises(WrongConnectionKind):
            await load_connection(session, sealer, keyed.workspace_id, "gmail", HubSpotConnection)


async def test_a_bad_connection_is_refused_naming_the_field(keyed: Gateway) -> None:
    missing = await _create(keyed, {"name": "x", "kind": "smtp", "config": {"host": "h"}})
    assert missing.status == 422
    assert (await missing.json())["field"] == "config.from_address"
    unknown = await _create(keyed, {"name": "x", "kind": "fax", "config": {}})
    assert unknown.status == 422
    assert (await unknown.json())["field"] == "kind"
    bad_name = await _create(keyed, {"name": "no spaces", "kind": "smtp", "config": SMTP})
    assert (await bad_name.json())["field"] == "name"


async def test_names_are_unique_in_a_workspace_and_invisible_to_others(keyed: Gateway) -> None:
    first = await _create(
        keyed, {"name": "crm", "kind": "hubspot", "config": {"access_token": "t"}}
    )
    again = await _create(
        keyed, {"name": "crm", "kind": "hubspot", "config": {"access_token": "t"}}
    )
    assert (first.status, again.status) == (201, 409)
    connection_id = (await first.json())["id"]
    other = await keyed.as_workspace("elsewhere")
    for method in ("get", "put", "delete"):
        response = await other.client.request(
            method, f"/api/v1/connections/{connection_id}", json={"config": {}}, headers=other.auth
        )
        assert response.status == 404, method


async def test_a_connection_can_be_replaced_and_deleted(keyed: Gateway) -> None:
    created = await (await _create(keyed, {"name": "g", "kind": "smtp", "config": SMTP})).json()
    path = f"/api/v1/connections/{created['id']}"
    replaced = await keyed.client.put(
        path, json={"config": {**SMTP, "password": None}}, headers=keyed.auth
    )
    assert replaced.status == 200
    assert "password" in (await replaced.json())["fields"]
    assert (await keyed.client.delete(path, headers=keyed.auth)).status == 204
    assert (await keyed.client.get(path, headers=keyed.auth)).status == 404


async def test_without_a_secret_key_nothing_is_stored(pg_settings: Settings) -> None:
    async with open_resources(pg_settings) as resources, running_gateway(resources) as gateway:
        response = await _create(gateway, {"name": "g", "kind": "smtp", "config": SMTP})
        assert response.status == 503
        assert "DOCFLOW_SECRET_KEY" in (await response.json())["detail"]
