"""Where the services spend their time: cProfile inside executor-0, or py-spy from outside.

cProfile (`--profile`) slows the profiled executor a lot, so its run's figures are not
comparable; py-spy (`--py-spy`) samples executor-0 and the gateway without stopping them and
costs little. It samples only while a thread holds the GIL (`--gil`): without that, a process
that sent on a socket and lost its CPU to the process it woke counted as busy in `send` for as
long as it waited, and on a saturated machine half the gateway's samples were that wait.
"""

import asyncio
import contextlib
import io
import pstats
import shutil
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

from figures import heading
from stack import Service

TOP = 25
#: Samples per second py-spy takes.
RATE = 100
#: Frames under every sample (the event loop, the entry point): they would fill the inclusive list.
PLUMBING = (
    "(<frozen runpy>)",
    "(asyncio/runners.py)",
    "(asyncio/base_events.py)",
    "(asyncio/events.py)",
    "(services/cli.py)",
)


def print_cprofile(path: Path, top: int = TOP) -> None:
    if not path.exists():
        print(f"   no profile at {path} (did the executor exit cleanly?)")
        return
    for order in ("cumulative", "tottime"):
        heading(f"cProfile of executor-0, top {top} by {order}")
        out = io.StringIO()
        pstats.Stats(str(path), stream=out).strip_dirs().sort_stats(order).print_stats(top)
        print(out.getvalue())


def py_spy_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "py-spy"
    return str(beside_python) if beside_python.exists() else shutil.which("py-spy")


def py_spy_output(log_dir: Path, service: Service) -> Path:
    return log_dir / f"{service.name}.py-spy.txt"


@contextlib.asynccontextmanager
async def sampled(services: list[Service], log_dir: Path, rate: int = RATE) -> AsyncIterator[None]:
    """Record py-spy's collapsed stacks of each service for as long as the block runs."""
    binary = py_spy_binary()
    if binary is None:
        raise RuntimeError("--py-spy needs py-spy: .venv/bin/pip install py-spy")
    samplers = []
    try:
        for service in services:
            output = py_spy_output(log_dir, service)
            samplers.append(await _start_py_spy(binary, service.pid, rate, output))
        yield
    finally:
        await asyncio.gather(*(_stop_py_spy(sampler) for sampler in samplers))


async def _start_py_spy(
    binary: str, pid: int, rate: int, output: Path
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        binary,
        "record",
        "--pid",
        str(pid),
        "--format",
        "raw",
        "--nolineno",
        "--nonblocking",
        "--gil",
        "--rate",
        str(rate),
        "--output",
        str(output),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


async def _stop_py_spy(process: asyncio.subprocess.Process) -> None:
    # SIGINT makes py-spy write what it has sampled and exit.
    if process.returncode is None:
        process.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(process.wait(), 15)
    except TimeoutError:
        process.kill()
        await process.wait()


def print_py_spy(path: Path, name: str, rate: int = RATE, top: int = TOP) -> None:
    if not path.exists():
        print(f"   no py-spy output at {path}")
        return
    own, inclusive, total = _tally(path.read_text().splitlines())
    if not total:
        print(f"   py-spy took no samples of {name}")
        return
    for frame in [f for f in inclusive if f.endswith(PLUMBING)]:
        del inclusive[frame]
    heading(f"py-spy of {name}: {total} samples while not idle (~{total / rate:.0f} s)")
    for title, counter in (("inclusive (event loop left out)", inclusive), ("own", own)):
        heading(f"   top {top} functions by {title} samples")
        for frame, samples in counter.most_common(top):
            print(f"   {100 * samples / total:5.1f}%  {samples:6d}  {frame}")


def _tally(lines: list[str]) -> tuple[Counter[str], Counter[str], int]:
    """Collapsed stacks (`a;b;c 12`) into own and inclusive sample counts per function."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for entry in lines:
        stack, _, count = entry.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = stack.split(";")
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
    return own, inclusive, total
