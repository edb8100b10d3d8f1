"""The OpenAPI 3.1 document, generated from the route table (operations.py) with pydantic's
own JSON Schema: each pydantic model a body or an answer names becomes a component, any other
shape is described inline. Nothing in it is written by hand but the words.

An operation is public (`security: []`) exactly when the auth middleware lets it through
without a key, so the document cannot disagree with auth.py.
"""

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from services.gateway.common.operations import NO_SCHEMA, Answer, Body, Operation, Parameter
from services.gateway.keys import OPENAPI

Schema = dict[str, Any]
REF = "#/components/schemas/{model}"


class _Components:
    """The component schemas, and the shapes the document refers to in them."""

    def __init__(self, models: Sequence[type[BaseModel]]) -> None:
        # One call for every model, so pydantic names each definition once, consistently.
        # Validation mode throughout: bodies are read in it, and an answer model written in
        # either mode describes the same JSON.
        refs, definitions = models_json_schema(
            [(m, "validation") for m in models], ref_template=REF
        )
        self.schemas: dict[str, Schema] = definitions.get("$defs", {})
        # Each model's `$ref`, as pydantic named it (a class name, or a longer one when two
        # models share a class name).
        self._refs = {model: schema for (model, _), schema in refs.items()}

    def schema_of(self, shape: Any) -> Schema:
        if shape in self._refs:
            return dict(self._refs[shape])
        schema: Schema = TypeAdapter(shape).json_schema(ref_template=REF)
        for name, definition in schema.pop("$defs", {}).items():
            if self.schemas.setdefault(name, definition) != definition:
                raise ValueError(f"two different schemas are named {name}")
        return schema


def _models(operations: Iterable[Operation]) -> list[type[BaseModel]]:
    shapes: list[Any] = []
    for operation in operations:
        if operation.body is not None:
            shapes.append(operation.body.shape)
        for answer in operation.responses.values():
            shapes.extend(answer.content.values())
    return [s for s in dict.fromkeys(shapes) if isinstance(s, type) and issubclass(s, BaseModel)]


def _check_links(operations: Sequence[Operation]) -> None:
    """A link names an operation of the table and parameters that operation has."""
    parameters = {
        o.operation_id: {p.name for p in o.parameters} | ({"body"} if o.body else set())
        for o in operations
    }
    for operation in operations:
        for answer in operation.responses.values():
            for name, link in answer.links.items():
                known = parameters.get(link.operation_id)
                if known is None or not set(link.parameters) <= known:
                    raise ValueError(f"{operation.operation_id} links to {name}: no such target")


def _parameter(parameter: Parameter, components: _Components) -> Schema:
    described: Schema = {
        "name": parameter.name,
        "in": parameter.location,
        "required": parameter.required,
        "schema": components.schema_of(parameter.shape),
    }
    if parameter.description is not None:
        described["description"] = parameter.description
    return described


def _body(body: Body, components: _Components) -> Schema:
    described: Schema = {"required": body.required}
    if body.description is not None:
        described["description"] = body.description
    described["content"] = {body.media_type: {"schema": components.schema_of(body.shape)}}
    return described


def _answer(answer: Answer, components: _Components) -> Schema:
    described: Schema = {"description": answer.description}
    if answer.content:
        described["content"] = {
            media_type: {} if shape is NO_SCHEMA else {"schema": components.schema_of(shape)}
            for media_type, shape in answer.content.items()
        }
    if answer.links:
        described["links"] = {
            name: {"operationId": link.operation_id, "parameters": dict(link.parameters)}
            for name, link in answer.links.items()
        }
    return described


def _operation(operation: Operation, components: _Components, *, public: bool) -> dict[str, Any]:
    described: Schema = {"operationId": operation.operation_id, "summary": operation.summary}
    if public:
        described["security"] = []
    if operation.parameters:
        described["parameters"] = [_parameter(p, components) for p in operation.parameters]
    if operation.body is not None:
        described["requestBody"] = _body(operation.body, components)
    described["responses"] = {
        str(status): _answer(answer, components)
        for status, answer in sorted(operation.responses.items())
    }
    return described


def build_document(
    operations: Sequence[Operation],
    *,
    models: Sequence[type[BaseModel]],
    public: Callable[[str], bool],
    description: str,
) -> dict[str, Any]:
    """`models` are listed even when no operation names them (node configs, say); `public`
    says whether a route template needs no API key."""
    _check_links(operations)
    components = _Components(list(dict.fromkeys([*models, *_models(operations)])))
    paths: dict[str, dict[str, Any]] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method.lower()] = _operation(
            operation, components, public=public(operation.path)
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": "DocFlow API", "version": "1", "description": description},
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "A DocFlow API key"}
            },
            "schemas": components.schemas,
        },
    }


async def serve(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])
