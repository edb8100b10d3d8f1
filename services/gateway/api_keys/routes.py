"""/api/v1/api-keys: the workspace's keys; a key is shown once, when it is made."""

from services.gateway.api_keys import api
from services.gateway.api_keys.api import NewKey
from services.gateway.api_keys.schemas import ApiKey, ApiKeyList
from services.gateway.common.operations import (
    BODY_ERRORS,
    UNAUTHORIZED,
    Body,
    Operation,
    json,
    links_to,
    path,
    problem,
)

ERRORS = {**UNAUTHORIZED, 422: problem("Invalid; `field` names it")}


def operations() -> list[Operation]:
    return [
        Operation(
            "GET",
            api.PREFIX,
            api.list_all,
            operation_id="listApiKeys",
            summary="The workspace's keys (no secrets)",
            responses={200: json("Keys", ApiKeyList), **ERRORS},
        ),
        Operation(
            "POST",
            api.PREFIX,
            api.create,
            operation_id="createApiKey",
            summary="A new key; `key` is shown in this answer only",
            body=Body(NewKey, required=False),
            responses={
                201: json("Created", ApiKey, links_to(["revokeApiKey"], "key_id")),
                **ERRORS,
                **BODY_ERRORS,
            },
        ),
        Operation(
            "DELETE",
            f"{api.PREFIX}/{{key_id}}",
            api.revoke,
            operation_id="revokeApiKey",
            summary="Revoke it: refused everywhere within DOCFLOW_AUTH_CACHE_SECONDS",
            parameters=[path("key_id")],
            responses={200: json("Revoked", ApiKey), 404: problem("Not found"), **ERRORS},
        ),
    ]
