"""Holding a claimed run's lease while its run goes on: the heartbeat beside every run."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from services.executor.progress import RunProgress
from shared.state_machine.lease import extend_lease

log = structlog.get_logger(__name__)


@contextlib.asynccontextmanager
async def lease_heartbeat(
    engine: AsyncEngine, run: RunProgress, *, owner: str, lease_seconds: float
) -> AsyncIterator[None]:
    """Extend the lease while the run holds it; on loss, cancel the node in progress (the
    block then ends quietly, with `run.lost` set)."""
    runner_task = asyncio.current_task()
    assert runner_task is not None

    async def beat() -> None:
        while True:
            await asyncio.sleep(lease_seconds / 3)
            try:
                async with run.write_lock:
                    if not run.holding:
                        return
                    held = await extend_lease(engine, run, owner=owner, lease_seconds=lease_seconds)
            except Exception as e:  # a database blip: try again next beat
                log.warning("heartbeat_failed", error=repr(e))
                continue
            if not held:
                run.lost = True
                runner_task.cancel()
                return

    beater = asyncio.create_task(beat())
    try:
        yield
    except asyncio.CancelledError:
        if not run.lost:
            raise
        uncancel()
        log.info("claim_lost", reason="heartbeat found the execution moved on")
    finally:
        beater.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beater


def uncancel() -> None:
    """The heartbeat cancelled us to stop the node; that cancellation is handled here."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        task.uncancel()
