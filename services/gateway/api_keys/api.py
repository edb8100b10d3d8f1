"""/api/v1/api-keys: the workspace's keys. A key is shown once, when it is made; lists show
what tells keys apart (prefix, name, dates), never a key or its hash."""

from datetime import timedelta
from typing import Any

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from services.gateway.common.bodies import json_object, path_id
from services.gateway.common.problems import invalid
from services.gateway.keys import API_KEYS, RESOURCES, workspace_of
from shared.api_keys import ApiKeyInfo, add_key, list_keys, revoke_key
from shared.db.types import utcnow
from shared.validation import parse_input

PREFIX = "/api/v1/api-keys"


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=200)
    #: Seconds from now; or `expires_at`.
    expires_in_seconds: int | None = Field(default=None, ge=60, le=10 * 366 * 86_400)
    expires_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_expiry(self) -> "NewKey":
        if self.expires_in_seconds is not None and self.expires_at is not None:
            raise ValueError("give expires_in_seconds or expires_at, not both")
        return self


def view(info: ApiKeyInfo) -> dict[str, Any]:
    def stamp(value: Any) -> str | None:
        return None if value is None else value.isoformat()

    return {
        "id": str(info.id),
        "prefix": info.prefix,
        "name": info.name,
        "created_at": stamp(info.created_at),
        "expires_at": stamp(info.expires_at),
        "revoked_at": stamp(info.revoked_at),
        "last_used_at": stamp(info.last_used_at),
    }


async def create(request: web.Request) -> web.Response:
    body = parse_input(NewKey, await json_object(request, required=False))
    now = utcnow()
    expires_at = body.expires_at
    if body.expires_in_seconds is not None:
        expires_at = now + timedelta(seconds=body.expires_in_seconds)
    if expires_at is not None and expires_at <= now:
        raise invalid("expires_at", "must be in the future")
    async with request.app[RESOURCES].sessions.begin() as session:
        info, raw_key = await add_key(
            session, workspace_of(request), name=body.name, expires_at=expires_at
        )
    location = f"{PREFIX}/{info.id}"
    return web.json_response(
        {**view(info), "key": raw_key}, status=201, headers={"Location": location}
    )


async def list_all(request: web.Request) -> web.Response:
    async with request.app[RESOURCES].sessions() as session:
        keys = await list_keys(session, workspace_of(request))
    return web.json_response({"items": [view(info) for info in keys]})


async def revoke(request: web.Request) -> web.Response:
    key_id = path_id(request, "key_id", "API key")
    async with request.app[RESOURCES].sessions.begin() as session:
        info, key_hash = await revoke_key(session, workspace_of(request), key_id)
    # Other gateway processes stop trusting it within DOCFLOW_AUTH_CACHE_SECONDS; this one now.
    request.app[API_KEYS].forget(key_hash)
    return web.json_response(view(info))
