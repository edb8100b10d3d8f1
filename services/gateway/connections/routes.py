"""/api/v1/connections: provider credentials of the workspace. Values go in, never come out."""

from services.gateway.common.operations import (
    BODY_ERRORS,
    FIRST_ID,
    NOT_CONFIGURED,
    UNAUTHORIZED,
    Answer,
    Body,
    Operation,
    json,
    links_to,
    path,
    problem,
)
from services.gateway.connections import api
from services.gateway.connections.api import NewConnection, ReplacedConnection
from services.gateway.connections.schemas import Connection, ConnectionList

ERRORS = {**UNAUTHORIZED, 422: problem("Invalid; `field` names it")}
NOT_FOUND = {404: problem("Not found")}
#: The operations a connection's id leads to.
USE_CONNECTION = [
    "getConnection",
    "replaceConnection",
    "deleteConnection",
    "receiveConnectionSignatureEvent",
]


def operations() -> list[Operation]:
    connection_id = path("connection_id")
    one = f"{api.PREFIX}/{{connection_id}}"
    return [
        Operation(
            "GET",
            api.PREFIX,
            api.list_all,
            operation_id="listConnections",
            summary="Connections (no values)",
            responses={
                200: json(
                    "Connections",
                    ConnectionList,
                    links_to(USE_CONNECTION, "connection_id", FIRST_ID),
                ),
                **ERRORS,
            },
        ),
        Operation(
            "POST",
            api.PREFIX,
            api.create,
            operation_id="createConnection",
            summary="Store provider credentials, encrypted; values are never returned",
            body=Body(NewConnection),
            responses={
                201: json(
                    "Created",
                    Connection,
                    links_to(USE_CONNECTION, "connection_id"),
                ),
                409: problem("Name taken"),
                **NOT_CONFIGURED,
                **ERRORS,
                **BODY_ERRORS,
            },
        ),
        Operation(
            "GET",
            one,
            api.read,
            operation_id="getConnection",
            summary="A connection (no values)",
            parameters=[connection_id],
            responses={200: json("The connection", Connection), **NOT_FOUND, **ERRORS},
        ),
        Operation(
            "PUT",
            one,
            api.replace,
            operation_id="replaceConnection",
            summary="Replace its config",
            parameters=[connection_id],
            body=Body(ReplacedConnection),
            responses={
                200: json("Replaced", Connection),
                **NOT_FOUND,
                **NOT_CONFIGURED,
                **ERRORS,
                **BODY_ERRORS,
            },
        ),
        Operation(
            "DELETE",
            one,
            api.remove,
            operation_id="deleteConnection",
            summary="Forget it",
            parameters=[connection_id],
            responses={204: Answer("Deleted"), **NOT_FOUND, **ERRORS},
        ),
    ]
