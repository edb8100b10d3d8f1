"""Run a `docflow` command under cProfile timed by CPU, not wall clock:
`python bench/cpu_profiled.py OUT.pstats gateway`.

`python -m cProfile` times with the wall clock, so on a busy machine every function looks slower
by however long the process waited for a core; CPU time counts only what the process ran.
"""

import cProfile
import sys
import time

from services.cli import main


def run(out: str, argv: list[str]) -> int:
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    try:
        return main(argv)
    finally:
        profiler.disable()
        profiler.dump_stats(out)


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1], sys.argv[2:]))
