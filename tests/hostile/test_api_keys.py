"""The life of an API key: created with a name and maybe an expiry, listed without its secret,
noted when used, revoked — refused at once by the gateway that revoked it and within
DOCFLOW_AUTH_CACHE_SECONDS by any other."""

import asyncio
import os
import sys
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from services.gateway.app import create_app
from shared.api_keys import create_api_key
from shared.db.migrate import upgrade
from shared.db.tables import ApiKey
from shared.db.types import utcnow
from shared.runtime import open_resources
from tests.conftest import make_settings
from tests.gateway.conftest import Gateway
from tests.support import eventually

KEYS = "/api/v1/api-keys"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_key_is_shown_once_listed_without_secrets_and_its_use_is_noted(
    gateway: Gateway,
) -> None:
    created = await gateway.client.post(
        KEYS, json={"name": "ci", "expires_in_seconds": 3600}, headers=gateway.auth
    )
    assert created.status == 201, await created.text()
    made = await created.json()
    key = made["key"]
    assert made["name"] == "ci" and made["expires_at"] and made["prefix"] == key[:8]

    used = await gateway.client.get("/api/v1/workflows", headers=bearer(key))
    assert used.status == 200

    listing = await (await gateway.client.get(KEYS, headers=gateway.auth)).json()
    text = str(listing)
    assert key not in text and "key_hash" not in text
    [mine] = [item for item in listing["items"] if item["id"] == made["id"]]
    assert "key" not in mine
    assert mine["last_used_at"] is not None and mine["revoked_at"] is None


async def test_a_revoked_key_is_refused_at_once_here_and_within_the_cache_time_elsewhere(
    gateway: Gateway,
) -> None:
    made = await (await gateway.client.post(KEYS, json={}, headers=gateway.auth)).json()
    key = made["key"]
    # A second gateway process, trusting keys for 0.5 s, has just read the key.
    other_settings = gateway.resources.settings.model_copy(update={"auth_cache_seconds": 0.5})
    async with open_resources(other_settings) as other_resources:
        from aiohttp.test_utils import TestClient, TestServer

        async with TestClient(TestServer(create_app(other_resources))) as other:
            assert (await other.get("/api/v1/workflows", headers=bearer(key))).status == 200

            revoked = await gateway.client.delete(f"{KEYS}/{made['id']}", headers=gateway.auth)
            assert revoked.status == 200
            assert (await revoked.json())["revoked_at"] is not None

            here = await gateway.client.get("/api/v1/workflows", headers=bearer(key))
            assert here.status == 401

            async def status_elsewhere() -> int:
                return (await other.get("/api/v1/workflows", headers=bearer(key))).status

            await eventually(status_elsewhere, lambda status: status == 401, within=3)


async def test_an_expired_key_is_refused(gateway: Gateway) -> None:
    made = await (
        await gateway.client.post(KEYS, json={"expires_in_seconds": 60}, headers=gateway.auth)
    ).json()
    async with gateway.resources.sessions.begin() as session:
        await session.execute(
            update(ApiKey)
            .where(ApiKey.prefix == made["prefix"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    # The creating gateway never read this key for a request: nothing is cached.
    response = await gateway.client.get("/api/v1/workflows", headers=bearer(made["key"]))
    assert response.status == 401


async def test_another_workspace_cannot_revoke_or_see_a_key(gateway: Gateway) -> None:
    made = await (await gateway.client.post(KEYS, json={}, headers=gateway.auth)).json()
    _, stranger = await create_api_key(gateway.resources.sessions, "stranger")

    refused = await gateway.client.delete(f"{KEYS}/{made['id']}", headers=bearer(stranger))
    listing = await (await gateway.client.get(KEYS, headers=bearer(stranger))).json()

    assert refused.status == 404
    assert made["id"] not in str(listing)


async def test_a_past_expiry_is_422(gateway: Gateway) -> None:
    response = await gateway.client.post(
        KEYS, json={"expires_at": "2001-01-01T00:00:00Z"}, headers=gateway.auth
    )
    assert response.status == 422
    assert (await response.json())["field"] == "expires_at"


async def _docflow(database_url: str, *args: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCFLOW_")}
    env["DOCFLOW_DATABASE_URL"] = database_url
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "api-key", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_the_command_lists_and_revokes_keys(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/docflow.db"
    await asyncio.to_thread(upgrade, url)
    code, key, _ = await _docflow(url, "create", "--workspace", "acme", "--name", "deploy")
    assert code == 0
    key = key.strip()

    code, listed, _ = await _docflow(url, "list", "--workspace", "acme")
    assert code == 0 and key not in listed
    [row] = [line for line in listed.splitlines() if key[:8] in line]
    assert "active" in row and "deploy" in row
    key_id = row.split("\t")[0]

    code, said, _ = await _docflow(url, "revoke", key_id)
    assert code == 0 and "revoked" in said
    async with open_resources(make_settings(database_url=url)) as resources:
        from shared.api_keys import authenticate

        assert await authenticate(resources.sessions, key) is None
    code, listed, _ = await _docflow(url, "list", "--workspace", "acme")
    assert "revoked" in listed
