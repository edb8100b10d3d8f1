"""CPU seconds each service used during a phase, and how busy the whole machine was.

Read from /proc (Linux); elsewhere the figures are simply left out. On a shared 2-core machine
the CPU cost per node transition is steadier than the rate, which depends on the neighbours.
"""

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from stack import Service


@dataclass(frozen=True)
class Seconds:
    user: float
    system: float

    @property
    def total(self) -> float:
        return self.user + self.system

    def __sub__(self, other: "Seconds") -> "Seconds":
        return Seconds(self.user - other.user, self.system - other.system)


def process_seconds(pid: int) -> Seconds | None:
    """User and system CPU seconds of a live process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces; the fields after it are fixed.
    fields = text.rpartition(")")[2].split()
    tick = os.sysconf("SC_CLK_TCK")
    return Seconds(user=int(fields[11]) / tick, system=int(fields[12]) / tick)


def machine_jiffies() -> tuple[int, int] | None:
    """(busy, total) CPU time of the whole machine since boot, in clock ticks."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    ticks = [int(x) for x in first[1:9]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


@dataclass
class CpuUse:
    by_service: dict[str, Seconds] = field(default_factory=dict)
    machine_busy: float | None = None

    def seconds(self, prefix: str) -> Seconds:
        """Summed over the services whose name starts with `prefix` (`executor`)."""
        chosen = [s for name, s in self.by_service.items() if name.startswith(prefix)]
        return Seconds(sum(s.user for s in chosen), sum(s.system for s in chosen))


@contextlib.contextmanager
def measured(services: list[Service]) -> Iterator[CpuUse]:
    """CPU used by each service while the block runs; filled in when it ends."""
    use = CpuUse()
    before = {s.name: process_seconds(s.pid) for s in services}
    machine_before = machine_jiffies()
    try:
        yield use
    finally:
        for service in services:
            start, end = before[service.name], process_seconds(service.pid)
            if start is not None and end is not None:
                use.by_service[service.name] = end - start
        machine_after = machine_jiffies()
        if machine_before and machine_after:
            busy = machine_after[0] - machine_before[0]
            total = machine_after[1] - machine_before[1]
            use.machine_busy = busy / total if total else None
