"""The route table's entries: each operation is declared once, and that one declaration both
registers its handler with aiohttp and describes it in the OpenAPI document (openapi.py).

Shapes (of a body, an answer or a parameter) are Python types: a pydantic model becomes a
component schema, anything else pydantic's `TypeAdapter` understands is described inline.
"""

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from aiohttp.typedefs import Handler

from services.gateway.common.answers import Problem
from services.gateway.common.problems import CONTENT_TYPE as PROBLEM_TYPE

JSON = "application/json"
#: The media type's content has no schema of its own (HTML pages, a file, this document).
NO_SCHEMA = None


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: an operation this answer's values feed, parameter by parameter
    (`{"workflow_id": "$response.body#/id"}`), so a client (or a fuzzer's stateful phase)
    can follow a created id to the operations that use it."""

    operation_id: str
    parameters: Mapping[str, str]


@dataclass(frozen=True)
class Answer:
    """One documented response: its description, its content by media type and its links
    by name."""

    description: str
    content: Mapping[str, Any] = field(default_factory=dict)
    links: Mapping[str, Link] = field(default_factory=dict)


@dataclass(frozen=True)
class Parameter:
    name: str
    location: Literal["path", "query", "header", "cookie"]
    shape: Any = str
    description: str | None = None
    required: bool = False


@dataclass(frozen=True)
class Body:
    shape: Any
    media_type: str = JSON
    required: bool = True
    description: str | None = None


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    responses: Mapping[int, Answer]
    parameters: Sequence[Parameter] = ()
    body: Body | None = None
    #: The aiohttp route name, for `router[name].url_for(...)`.
    name: str | None = None


def json(description: str, shape: Any, links: Mapping[str, Link] | None = None) -> Answer:
    return Answer(description, {JSON: shape}, links or {})


#: The first item's id of a list answer (absent from an empty list: nothing to follow).
FIRST_ID = "$response.body#/items/0/id"


def links_to(
    operation_ids: Iterable[str], parameter: str, value: str = "$response.body#/id"
) -> dict[str, Link]:
    """The same value, from this answer, for one parameter of each operation; each link is
    named after the operation it leads to."""
    return {target: Link(target, {parameter: value}) for target in operation_ids}


def problem(description: str) -> Answer:
    return Answer(description, {PROBLEM_TYPE: Problem})


def html(description: str) -> Answer:
    return Answer(description, {"text/html": NO_SCHEMA})


def path(name: str, shape: Any = uuid.UUID, description: str | None = None) -> Parameter:
    return Parameter(name, "path", shape, description, required=True)


def query(
    name: str, shape: Any, description: str | None = None, *, required: bool = False
) -> Parameter:
    return Parameter(name, "query", shape, description, required)


def header(
    name: str, shape: Any = str, description: str | None = None, *, required: bool = False
) -> Parameter:
    return Parameter(name, "header", shape, description, required)


def cookie(
    name: str, shape: Any = str, description: str | None = None, *, required: bool = False
) -> Parameter:
    return Parameter(name, "cookie", shape, description, required)


#: What any route behind an API key may answer.
UNAUTHORIZED = {401: problem("Missing or invalid API key")}
#: What a route that stores something encrypted answers when the key is not configured.
NOT_CONFIGURED = {503: problem("DOCFLOW_SECRET_KEY not set")}
#: What any route reading a JSON body may answer.
BODY_ERRORS = {
    400: problem("Malformed JSON"),
    413: problem("Body larger than the configured limit"),
    422: problem("Invalid body; `field` names what is wrong"),
}


def add_routes(router: web.UrlDispatcher, operations: Iterable[Operation]) -> None:
    for operation in operations:
        if operation.method == "GET":
            # add_get, not add_route: a GET also answers HEAD.
            router.add_get(operation.path, operation.handler, name=operation.name)
        else:
            router.add_route(
                operation.method, operation.path, operation.handler, name=operation.name
            )
