"""RFC 9457 problem documents, and the one table from errors to HTTP statuses."""

import json
from http import HTTPStatus
from typing import Any

from aiohttp import web

from shared.db.errors import is_transient
from shared.errors import (
    BrokerUnavailable,
    DatabaseUnavailable,
    DocflowError,
    IllegalTransition,
    InvalidInput,
    NotFound,
    StaleVersion,
    TemplateError,
)

CONTENT_TYPE = "application/problem+json"
TYPE_BASE = "urn:docflow:problem:"
#: How long a 503 asks the client to wait before trying again.
RETRY_AFTER_SECONDS = 2


class Problem(Exception):
    """An error the gateway answers with a problem document."""

    def __init__(
        self,
        status: int,
        slug: str,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def invalid(field: str, message: str) -> Problem:
    """A 422 naming the one field (body member, query parameter or header) at fault."""
    return Problem(422, "validation-error", f"{field}: {message}", errors=[_error(field, message)])


def not_found(kind: str, identifier: object) -> Problem:
    return Problem(404, "not-found", f"{kind} {identifier} not found")


def _error(field: str, message: str) -> dict[str, Any]:
    return {"field": field, "message": message}


def render(problem: Problem) -> web.Response:
    body: dict[str, Any] = {
        "type": TYPE_BASE + problem.slug,
        "title": HTTPStatus(problem.status).phrase,
        "status": problem.status,
        "detail": problem.detail,
    }
    if problem.errors:
        body["errors"] = problem.errors
        body["field"] = problem.errors[0]["field"]
    return web.Response(
        status=problem.status,
        body=json.dumps(body).encode(),
        headers={**problem.headers, "Content-Type": CONTENT_TYPE},
    )


def from_exception(error: BaseException) -> Problem | None:
    """The problem for a known error; None means unexpected (a 500, logged by the caller)."""
    if isinstance(error, Problem):
        return error
    if isinstance(error, web.HTTPException):
        return _from_http(error)
    if isinstance(error, InvalidInput):
        errors = error.errors or [_error("", "invalid input")]
        return Problem(422, "validation-error", str(error), errors=errors)
    if isinstance(error, NotFound):
        return Problem(404, "not-found", str(error))
    if isinstance(error, IllegalTransition | StaleVersion):
        return Problem(409, "conflict", str(error))
    if isinstance(error, TemplateError):
        return Problem(422, "template-error", str(error))
    if isinstance(error, BrokerUnavailable | DatabaseUnavailable):
        return unavailable(str(error))
    if is_transient(error):
        # A driver error that says "overloaded or restarting", not "bad request": the client
        # may try again. Its text is not shown (it may carry SQL).
        return unavailable("the database is unavailable; try again shortly")
    if isinstance(error, DocflowError):
        return Problem(400, "bad-request", str(error))
    return None


def unavailable(detail: str) -> Problem:
    return Problem(503, "unavailable", detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _from_http(error: web.HTTPException) -> Problem:
    slugs = {404: "not-found", 405: "method-not-allowed", 413: "payload-too-large"}
    headers = {}
    if isinstance(error, web.HTTPMethodNotAllowed):
        headers["Allow"] = ", ".join(sorted(error.allowed_methods))
    detail = error.text if error.text and error.text != error.reason else error.reason
    return Problem(
        error.status,
        slugs.get(error.status, HTTPStatus(error.status).phrase.lower().replace(" ", "-")),
        detail.removeprefix(f"{error.status}: "),
        headers=headers,
    )


def internal_error() -> Problem:
    # Never the exception's text: it may carry SQL, paths or secrets.
    return Problem(500, "internal-error", "an unexpected error occurred; it has been logged")
