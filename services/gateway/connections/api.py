"""/api/v1/connections: provider credentials of the workspace. Values go in, never come out."""

import uuid
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from services.gateway.common.bodies import json_object, path_id
from services.gateway.common.openapi_schemas import UUID, Schema, ref
from services.gateway.common.problems import CONTENT_TYPE as PROBLEM_TYPE
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


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PREFIX, list_all)
    router.add_post(PREFIX, create)
    router.add_get(f"{PREFIX}/{{connection_id}}", read)
    router.add_put(f"{PREFIX}/{{connection_id}}", replace)
    router.add_delete(f"{PREFIX}/{{connection_id}}", remove)


def openapi_paths() -> dict[str, Any]:
    def answer(description: str, schema: str = "Connection") -> Schema:
        return {
            "description": description,
            "content": {"application/json": {"schema": ref(schema)}},
        }

    def problem(description: str) -> Schema:
        return {"description": description, "content": {PROBLEM_TYPE: {"schema": ref("Problem")}}}

    connection_id = {"name": "connection_id", "in": "path", "required": True, "schema": UUID}
    body = {"type": "object", "required": ["config"], "properties": {"config": {"type": "object"}}}
    new_body = {
        "type": "object",
        "required": ["name", "kind", "config"],
        "properties": {"name": {"type": "string"}, "kind": {"type": "string"},
                       "config": {"type": "object"}},
    }  # fmt: skip
    errors = {
        "401": problem("Missing or invalid API key"),
        "422": problem("Invalid; `field` names it"),
    }
    return {
        PREFIX: {
            "get": {"operationId": "listConnections", "summary": "Connections (no values)",
                    "responses": {"200": answer("Connections", "ConnectionList"), **errors}},
            "post": {"operationId": "createConnection",
                     "summary": "Store provider credentials, encrypted; values are never returned",
                     "requestBody": {"required": True,
                                     "content": {"application/json": {"schema": new_body}}},
                     "responses": {"201": answer("Created"), "409": problem("Name taken"),
                                   "503": problem("DOCFLOW_SECRET_KEY not set"), **errors}},
        },
        f"{PREFIX}/{{connection_id}}": {
            "get": {"operationId": "getConnection", "summary": "A connection (no values)",
                    "parameters": [connection_id],
                    "responses": {"200": answer("The connection"), "404": problem("Not found"),
                                  **errors}},
            "put": {"operationId": "replaceConnection", "summary": "Replace its config",
                    "parameters": [connection_id],
                    "requestBody": {"required": True,
                                    "content": {"application/json": {"schema": body}}},
                    "responses": {"200": answer("Replaced"), "404": problem("Not found"),
                                  **errors}},
            "delete": {"operationId": "deleteConnection", "summary": "Forget it",
                       "parameters": [connection_id],
                       "responses": {"204": {"description": "Deleted"},
                                     "404": problem("Not found"), **errors}},
        },
    }  # fmt: skip


def openapi_schemas() -> dict[str, Schema]:
    connection = {
        "type": "object",
        "properties": {
            "id": UUID, "name": {"type": "string"}, "kind": {"type": "string"},
            "fields": {"type": "array", "items": {"type": "string"}},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "webhook_url": {"type": "string", "description":
                            "clicksign and zapsign: where the provider sends this account's "
                            "webhooks"},
        },
    }  # fmt: skip
    listing = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": ref("Connection")}},
    }
    return {"Connection": connection, "ConnectionList": listing}
