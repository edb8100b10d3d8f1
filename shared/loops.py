"""Long-lived loops must never linger half-alive.

A service's background loop (the scheduler's pass loop, the notifier's retry timer) that ends
while its service still runs leaves a process that answers health checks and does nothing. Two
guards: a loop treats a `CancelledError` nobody asked for (aio-pika has leaked its own into
callers) as one failed pass, not as its end; and a loop that ends anyway is reported here, and
the process stops with the reason in its log and a non-zero exit status, so its supervisor
starts it again.
"""

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)


def stray_cancellation() -> bool:
    """True inside an `except CancelledError` when nobody cancelled the running task: the
    error leaked from a library's own task, and the caller may carry on."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() == 0


class LoopDeaths:
    """Where watched loops report an unexpected end; the process waits on it beside its stop
    signal."""

    def __init__(self) -> None:
        self._reasons: list[str] = []
        self._died: asyncio.Event | None = None

    def watch(
        self, task: "asyncio.Task[Any]", name: str, ending_is_expected: Callable[[], bool]
    ) -> None:
        """Report `task` if it ends while `ending_is_expected()` is false."""

        def on_done(done: "asyncio.Task[Any]") -> None:
            if ending_is_expected():
                return
            if done.cancelled():
                self.report(f"{name} was cancelled")
            elif (error := done.exception()) is not None:
                self.report(f"{name} failed: {error!r}")
            else:
                self.report(f"{name} returned")

        task.add_done_callback(on_done)

    def report(self, reason: str) -> None:
        log.error("service_loop_died", reason=reason)
        self._reasons.append(reason)
        self._event().set()

    async def wait(self) -> str:
        """Return the first reason once a watched loop died."""
        await self._event().wait()
        return self._reasons[0]

    def _event(self) -> asyncio.Event:
        # Made on first use, inside the running loop, not when the resources are built.
        if self._died is None:
            self._died = asyncio.Event()
        return self._died
