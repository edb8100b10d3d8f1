"""Liveness, readiness and Prometheus metrics; no API key, outside /api/v1."""

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from services.gateway.keys import READINESS, RESOURCES
from shared.readiness import readiness_checks, refresh_consumer_gauge


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    if request.app[READINESS].stopping:
        return web.json_response(
            {"status": "stopping", "checks": {"process": "stopping"}}, status=503
        )
    checks = await readiness_checks(request.app[RESOURCES])
    ready = all(checks.values())
    return web.json_response(
        {
            "status": "ok" if ready else "unavailable",
            "checks": {name: "ok" if ok else "failed" for name, ok in checks.items()},
        },
        status=200 if ready else 503,
    )


async def metrics(request: web.Request) -> web.Response:
    resources = request.app[RESOURCES]
    await refresh_consumer_gauge(resources)
    body = resources.metrics.exposition()
    # Passed as a header: aiohttp refuses a charset inside `content_type=`.
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
