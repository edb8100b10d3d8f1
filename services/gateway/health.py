"""Liveness, readiness and Prometheus metrics; no API key, outside /api/v1."""

import asyncio
from collections.abc import Awaitable

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from services.gateway.keys import READINESS, RESOURCES

log = structlog.get_logger(__name__)

#: A readiness probe must answer before the orchestrator's own timeout.
CHECK_TIMEOUT_SECONDS = 2.0


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    if request.app[READINESS].stopping:
        return web.json_response(
            {"status": "stopping", "checks": {"process": "stopping"}}, status=503
        )
    resources = request.app[RESOURCES]
    checks = {
        "database": await _database_ok(request),
        "broker": await _passes(resources.broker.is_healthy(), "broker"),
    }
    ready = all(checks.values())
    return web.json_response(
        {
            "status": "ok" if ready else "unavailable",
            "checks": {name: "ok" if ok else "failed" for name, ok in checks.items()},
        },
        status=200 if ready else 503,
    )


async def _database_ok(request: web.Request) -> bool:
    async def select_one() -> bool:
        async with request.app[RESOURCES].engine.connect() as connection:
            return bool(await connection.scalar(text("SELECT 1")) == 1)

    return await _passes(select_one(), "database")


async def _passes(check: Awaitable[bool], name: str) -> bool:
    try:
        return await asyncio.wait_for(check, CHECK_TIMEOUT_SECONDS)
    except Exception as e:
        log.warning("readiness_check_failed", check=name, error=repr(e))
        return False


async def metrics(request: web.Request) -> web.Response:
    body = request.app[RESOURCES].metrics.exposition()
    # Passed as a header: aiohttp refuses a charset inside `content_type=`.
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
