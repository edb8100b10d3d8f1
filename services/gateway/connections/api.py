"""/api/v1/connections: provider credentials of the workspace. Values go in, never come out."""

import uuid
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.gateway.common.bodies import json_object, path_id
from services.gateway.common.problems import Problem
from services.gateway.keys import RESOURCES, workspace_of
from services.gateway.signatures.webhooks import webhook_url
from shared.connections import (
    ConnectionRecord,
    create_connection,
    delete_connection,
    list_connections,
    read_connection,
    replace_connection,
)
from shared.connections.crypto import Sealer, SecretKeyMissing
from shared.connections.store import ConnectionExists
from shared.esign.accounts import PROVIDER_KINDS
from shared.validation import parse_input

PREFIX = "/api/v1/connections"


class NewConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: str
    config: dict[str, Any]


class ReplacedConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")
    config: dict[str, Any]


def _sealer(request: web.Request) -> Sealer:
    try:
        return Sealer(request.app[RESOURCES].settings.secret_key)
    except SecretKeyMissing as e:
        raise Problem(503, "not-configured", str(e)) from e


def _view(request: web.Request, record: ConnectionRecord) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": str(record.id),
        "name": record.name,
        "kind": record.kind,
        "fields": record.fields,
        "created_at": record.created_at.isoformat(),
        "updated_at": record.updated_at.isoformat(),
    }
    if record.kind in PROVIDER_KINDS:
        # What to register at ClickSign / ZapSign for this account (the secret is never shown).
        public_url = request.app[RESOURCES].settings.public_url
        view["webhook_url"] = webhook_url(public_url, record.kind, record.id)
    return view


async def create(request: web.Request) -> web.Response:
    body = parse_input(NewConnection, await json_object(request))
    sealer = _sealer(request)
    try:
        async with request.app[RESOURCES].sessions.begin() as session:
            record = await create_connection(
                session, sealer, workspace_of(request),
                name=body.name, kind=body.kind, config=body.config,
            )  # fmt: skip
    except ConnectionExists as e:
        raise Problem(409, "conflict", str(e)) from e
    location = f"{PREFIX}/{record.id}"
    return web.json_response(_view(request, record), status=201, headers={"Location": location})


async def list_all(request: web.Request) -> web.Response:
    async with request.app[RESOURCES].sessions() as session:
        records = await list_connections(session, workspace_of(request))
    return web.json_response({"items": [_view(request, record) for record in records]})


async def read(request: web.Request) -> web.Response:
    connection_id = path_id(request, "connection_id", "connection")
    async with request.app[RESOURCES].sessions() as session:
        record = await read_connection(session, workspace_of(request), connection_id)
    return web.json_response(_view(request, record))


async def replace(request: web.Request) -> web.Response:
    connection_id: uuid.UUID = path_id(request, "connection_id", "connection")
    body = parse_input(ReplacedConnection, await json_object(request))
    sealer = _sealer(request)
    async with request.app[RESOURCES].sessions.begin() as session:
        record = await replace_connection(
            session, sealer, workspace_of(request), connection_id, body.config
        )
    return web.json_response(_view(request, record))


async def remove(request: web.Request) -> web.Response:
    connection_id = path_id(request, "connection_id", "connection")
    async with request.app[RESOURCES].sessions.begin() as session:
        await delete_connection(session, workspace_of(request), connection_id)
    return web.Response(status=204)
