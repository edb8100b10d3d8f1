"""Holding a claim's lease while its run goes on: the heartbeat beside every run."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from services.executor import checkpoints
from services.executor.claims import Claim

log = structlog.get_logger(__name__)


@contextlib.asynccontextmanager
async def lease_heartbeat(
    engine: AsyncEngine, claim: Claim, *, owner: str, lease_seconds: float
) -> AsyncIterator[None]:
    """Extend the lease while the run holds it; on loss, cancel the node in progress (the
    block then ends quietly, with `claim.lost` set)."""
    runner_task = asyncio.current_task()
    assert runner_task is not None

    async def beat() -> None:
        while True:
            await asyncio.sleep(lease_seconds / 3)
            try:
                async with claim.write_lock:
                    if not claim.holding:
                        return
                    held = await checkpoints.extend_lease(
                        engine, claim, owner=owner, lease_seconds=lease_seconds
                    )
            except Exception as e:  # a database blip: try again next beat
                log.warning("heartbeat_failed", error=repr(e))
                continue
            if not held:
                claim.lost = True
                runner_task.cancel()
                return

    beater = asyncio.create_task(beat())
    try:
        yield
    except asyncio.CancelledError:
        if not claim.lost:
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
