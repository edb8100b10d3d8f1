"""The background workers a process can run, by name, and running a set of them together.

Shared by `docflow <worker>` (services/cli.py) and `docflow dev` (services/dev.py), which
runs all of them in one process; neither imports the other.
"""

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from shared.runtime import Resources

#: Exit status of a service whose background loop died: its supervisor restarts it.
EXIT_LOOP_DIED = 70


class Worker(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...


def _executor(resources: Resources) -> Worker:
    from services.executor.worker import ExecutorWorker

    return ExecutorWorker(resources)


def _notifier(resources: Resources) -> Worker:
    from services.notifier.worker import Notifier

    return Notifier(resources)


def _scheduler(resources: Resources) -> Worker:
    from services.scheduler.worker import Scheduler

    return Scheduler(resources)


WORKERS: dict[str, Callable[[Resources], Worker]] = {
    "executor": _executor,
    "notifier": _notifier,
    "scheduler": _scheduler,
}


@contextlib.asynccontextmanager
async def running(workers: list[Worker]) -> AsyncIterator[None]:
    started: list[Worker] = []
    try:
        for worker in workers:
            await worker.start()
            started.append(worker)
        yield
    finally:
        for worker in reversed(started):
            await worker.stop()
