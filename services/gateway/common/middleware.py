"""Hooks around every handler: log context and metrics outside, problem documents inside."""

import time

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from services.gateway.common.problems import from_exception, internal_error, render
from services.gateway.common.routing import logged_path_params, route_template
from services.gateway.common.webhook_metrics import webhook_outcome, webhook_provider
from services.gateway.keys import METRIC_CHILDREN, RESOURCES
from shared.db import deadline
from shared.logging import log_context

log = structlog.get_logger(__name__)

#: The route label of requests the router matched to nothing, so scanners cannot mint labels.
UNMATCHED = "unmatched"


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind ids to the log context and record the request's count and duration by route."""
    template = route_template(request)
    route = template or UNMATCHED
    started = time.perf_counter()
    status = 500
    params = logged_path_params(request)
    with log_context(**params):
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as e:
            # Redirects and the like pass through `problems` as exceptions.
            status = e.status
            raise
        finally:
            children = request.app[METRIC_CHILDREN]
            children.request(route, request.method, status).inc()
            children.duration(route, request.method).observe(time.perf_counter() - started)
            provider = webhook_provider(request, template)
            if provider is not None:
                children.webhook(provider, webhook_outcome(request, status)).inc()


@web.middleware
async def database_budget(request: web.Request, handler: Handler) -> web.StreamResponse:
    """All the request's database work shares one deadline, so a silent database gets a `503`
    within the budget however many statements the request makes (shared/db/deadline.py)."""
    with deadline.within(request.app[RESOURCES].settings.db_request_budget_seconds):
        return await handler(request)


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as an RFC 9457 document; an unexpected one is logged, never shown."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return _render(request, e)
    except Exception as e:
        return _render(request, e)


def _render(request: web.Request, error: Exception) -> web.Response:
    problem = from_exception(error)
    if problem is None:
        log.exception("request_failed", method=request.method, path=request.path)
        problem = internal_error()
    return render(problem)
