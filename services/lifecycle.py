"""Running a service until it is told to stop, and the small HTTP side door workers expose."""

import asyncio
import contextlib
import gc
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from shared.readiness import readiness_checks, refresh_consumer_gauge
from shared.runtime import Resources


@dataclass
class Readiness:
    """Turned off first when a process is told to stop, before it lets go of anything, so an
    orchestrator stops routing work to it while it drains."""

    stopping: bool = False


#: Container objects allocated (net of those freed) between two young-generation collections;
#: Python's default is 700. A node transition or a request leaves hundreds of objects alive for
#: a moment (coroutines, futures, rows, messages): at 700 each collection walked objects still
#: in use and promoted them, to be walked again by the older generations. The collector's CPU
#: fell to about a third (docs/decisions/030), for a young generation of a few MB at most.
YOUNG_COLLECTION_EVERY = 50_000
#: Young collections per middle one, and middle ones per full one (defaults 10 and 10).
MIDDLE_COLLECTION_EVERY, FULL_COLLECTION_EVERY = 20, 100


def settle_garbage_collection() -> None:
    """Leave what starting built out of every later garbage collection, and collect less often.

    Imports, the ORM's mappers, pydantic's validators and the routes are some 165,000 objects
    that live as long as the process. Every full collection walked them all again, a pause of
    50 to 80 ms in a service process here. Frozen, collections walk only what was made since, as
    the Python docs suggest for long-running servers (gc.freeze).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, MIDDLE_COLLECTION_EVERY, FULL_COLLECTION_EVERY)


async def wait_for_stop_signal() -> None:
    """Return on SIGTERM or SIGINT, so services can stop gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def wait_for_stop(resources: Resources) -> str | None:
    """Return on SIGTERM or SIGINT (None), or with the reason once a background loop of this
    process died: it then stops like on a signal, and exits non-zero so it is restarted."""
    signal_task = asyncio.create_task(wait_for_stop_signal(), name="stop-signal")
    death_task = asyncio.create_task(resources.loop_deaths.wait(), name="loop-deaths")
    try:
        done, _ = await asyncio.wait({signal_task, death_task}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (signal_task, death_task):
            task.cancel()
        await asyncio.gather(signal_task, death_task, return_exceptions=True)
    return death_task.result() if death_task in done else None


@contextlib.asynccontextmanager
async def serving(
    app: web.Application, host: str, port: int, *, reuse_port: bool = False
) -> AsyncIterator[web.AppRunner]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_port=reuse_port or None).start()
    try:
        yield runner
    finally:
        await runner.cleanup()


def listening_urls(runner: web.AppRunner) -> list[str]:
    """Where the runner's sites actually listen (port 0 asks the system for a free one)."""
    urls = []
    for address in runner.addresses:
        host, port = address[0], address[1]
        urls.append(f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}")
    return urls


def worker_side_app(resources: Resources, readiness: Readiness | None = None) -> web.Application:
    """`/metrics`, `/healthz` and `/readyz` for processes that serve no other HTTP."""
    state = readiness or Readiness()

    async def metrics(_: web.Request) -> web.Response:
        await refresh_consumer_gauge(resources)
        return web.Response(
            body=resources.metrics.exposition(),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        if state.stopping:
            return web.json_response({"ready": False, "stopping": True}, status=503)
        checks = await readiness_checks(resources)
        ready = all(checks.values())
        return web.json_response(
            {
                "ready": ready,
                "checks": {name: "ok" if ok else "failed" for name, ok in checks.items()},
            },
            status=200 if ready else 503,
        )

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
