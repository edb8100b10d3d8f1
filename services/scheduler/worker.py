"""The scheduler loop: every interval, ask which duties have anything due (one statement,
due.py) and run those; one failing duty never stops the rest.

Every duty is safe to run in several schedulers at once (row locks with SKIP LOCKED and a
compare-and-set per row) and safe to interrupt (what it staged is in the outbox), so the
scheduler can be scaled out and restarted freely.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Mapping, Sequence
from typing import Protocol

import structlog

from services.scheduler.due import PROBES, Probe, due_duties
from services.scheduler.gauges import DEFAULT_INTERVAL_SECONDS, GaugeRefresher
from services.scheduler.leases import fence_expired_leases
from services.scheduler.reconcile import reconcile_signatures
from services.scheduler.relay import relay_outbox
from services.scheduler.reminders import send_reminders
from services.scheduler.signature_cancels import cancel_signature_requests
from services.scheduler.stalled_resumes import StalledResumes
from services.scheduler.timers import fire_due_waits
from shared.loops import stray_cancellation
from shared.runtime import Resources

log = structlog.get_logger(__name__)

#: Rows one duty handles per transaction; a full batch means more is waiting, so the next pass
#: starts at once instead of after the interval.
DEFAULT_BATCH = 100
#: How long stop() lets the current pass finish before cancelling it.
STOP_GRACE_SECONDS = 10.0


class Duty(Protocol):
    def __call__(self, resources: Resources, *, batch: int) -> Awaitable[int]: ...


DUTIES: tuple[tuple[str, Duty], ...] = (
    ("outbox_relay", relay_outbox),
    ("lease_sweep", fence_expired_leases),
    ("due_waits", fire_due_waits),
    ("signature_reconcile", reconcile_signatures),
    ("signature_cancels", cancel_signature_requests),
    ("approval_reminders", send_reminders),
)


class Scheduler:
    def __init__(
        self,
        resources: Resources,
        *,
        batch: int = DEFAULT_BATCH,
        duties: Sequence[tuple[str, Duty]] = DUTIES,
        gauge_interval: float | None = DEFAULT_INTERVAL_SECONDS,
        stalled_resumes: bool = True,
        probes: Mapping[str, Probe] = PROBES,
    ) -> None:
        self._resources = resources
        self._batch = batch
        self._duties = tuple(duties)
        # Only the duties this scheduler runs are asked about.
        names = {name for name, _ in self._duties}
        self._probes = {name: probe for name, probe in probes.items() if name in names}
        if gauge_interval is not None:
            # Stateful (it remembers its last refresh), so built per scheduler, not in DUTIES.
            self._duties += (("gauges", GaugeRefresher(gauge_interval)),)
        if stalled_resumes:
            # Stateful too (it paces itself).
            self._duties += (("stalled_resumes", StalledResumes()),)
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: Completed passes over every duty; lets callers (and tests) wait for "one more pass".
        self.passes = 0

    async def start(self) -> None:
        if self._task is not None:
            return
        self._stopping.clear()
        self._task = asyncio.create_task(self._loop(), name="scheduler")
        self._resources.loop_deaths.watch(self._task, "scheduler loop", self._stopping.is_set)
        log.info("scheduler_started", interval=self._resources.settings.scheduler_interval_seconds)

    async def stop(self) -> None:
        """Let the pass in progress finish (bounded), then return; nothing runs afterwards."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        # Waited on, not awaited: a loop that died was reported when it did, and stopping
        # must not raise its error again.
        await asyncio.wait({task}, timeout=STOP_GRACE_SECONDS)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        log.info("scheduler_stopped")

    async def run_once(self) -> bool:
        """Run every duty once; True when one of them filled its batch (more is due)."""
        busy = False
        due = await self._due()
        for name, duty in self._duties:
            if name in self._probes and name not in due:
                continue
            try:
                done = await duty(self._resources, batch=self._batch)
            except asyncio.CancelledError:
                if not stray_cancellation():
                    raise
                # Leaked from aio-pika, not a stop: it used to end this loop silently.
                log.error("scheduler_duty_cancelled", duty=name)
                continue
            except Exception:
                log.exception("scheduler_duty_failed", duty=name)
                continue
            busy = busy or done >= self._batch
        self.passes += 1
        return busy

    async def _due(self) -> set[str]:
        try:
            return await due_duties(self._resources, self._probes)
        except Exception as e:
            # Then every duty runs, as if each were due, and reports its own failure.
            log.warning("scheduler_probe_failed", error=repr(e))
            return set(self._probes)

    async def _loop(self) -> None:
        interval = self._resources.settings.scheduler_interval_seconds
        while not self._stopping.is_set():
            if await self.run_once():
                await asyncio.sleep(0)  # let other tasks (and stop()) in between full batches
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=interval)
