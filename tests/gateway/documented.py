"""Whether an answer is what the served OpenAPI document says: its schemas, its media types."""

from typing import Any

from jsonschema import Draft202012Validator

from tests.gateway.conftest import Gateway


async def served_document(gateway: Gateway) -> dict[str, Any]:
    document: dict[str, Any] = await (await gateway.client.get("/api/v1/openapi.json")).json()
    return document


def operation(document: dict[str, Any], operation_id: str) -> dict[str, Any]:
    return next(
        described
        for methods in document["paths"].values()
        for described in methods.values()
        if described["operationId"] == operation_id
    )


def answer_content(document: dict[str, Any], operation_id: str, status: int) -> dict[str, Any]:
    """The answer's content by media type."""
    content: dict[str, Any] = operation(document, operation_id)["responses"][str(status)]["content"]
    return content


def violations(document: dict[str, Any], schema: dict[str, Any], value: Any) -> list[str]:
    """What in `value` the schema (whose `$ref`s name the document's components) refuses."""
    rooted = {**schema, "components": document["components"]}
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in Draft202012Validator(rooted).iter_errors(value)
    ]
