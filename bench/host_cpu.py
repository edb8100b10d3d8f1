"""CPU used by the processes a phase does not start itself: this benchmark (the load generator),
the PostgreSQL backends serving its database, and the RabbitMQ broker.

Read from /proc (Linux); elsewhere the figures are simply left out. PostgreSQL backends are
counted when their command line names the benchmark's database and they are alive at the end
of the phase (one that started meanwhile counts from zero); the broker is shared with whatever
else runs on the machine, so its figure is an upper bound.
"""

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cpu import Seconds, machine_jiffies, process_seconds

BROKER_PROGRAM = "beam.smp"


@dataclass
class HostUse:
    load_generator: Seconds | None = None
    database: Seconds | None = None
    broker: Seconds | None = None
    machine_busy: float | None = None
    #: CPU seconds the whole machine had during the phase (cores times wall time).
    machine_seconds: float | None = None


def _pids(match: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if match in command:
                found.append(int(entry.name))
    return found


def _sum(pids: list[int]) -> dict[int, Seconds]:
    taken = {pid: process_seconds(pid) for pid in pids}
    return {pid: s for pid, s in taken.items() if s is not None}


def _delta(before: dict[int, Seconds], after: dict[int, Seconds]) -> Seconds | None:
    """CPU used between the two readings; a process that started meanwhile (a pool opening a
    connection under load) counts from zero."""
    zero = Seconds(0.0, 0.0)
    both = [after[pid] - before.get(pid, zero) for pid in after]
    if not both:
        return None
    return Seconds(sum(s.user for s in both), sum(s.system for s in both))


@contextlib.contextmanager
def measured(database: str) -> Iterator[HostUse]:
    """What the load generator, `database`'s backends and the broker used while the block ran."""
    use = HostUse()
    me = os.getpid()
    backends = _pids(f" {database} ")
    brokers = _pids(BROKER_PROGRAM)
    before = (_sum([me]), _sum(backends), _sum(brokers), machine_jiffies())
    try:
        yield use
    finally:
        use.load_generator = _delta(before[0], _sum([me]))
        use.database = _delta(before[1], _sum(_pids(f" {database} ")))
        use.broker = _delta(before[2], _sum(brokers))
        machine_after = machine_jiffies()
        if before[3] and machine_after:
            busy = machine_after[0] - before[3][0]
            total = machine_after[1] - before[3][1]
            use.machine_busy = busy / total if total else None
            use.machine_seconds = total / os.sysconf("SC_CLK_TCK")
