"""What one sandboxed run costs the machine: wall time, CPU time of every process, the candidate's own.

    python bench/run_cost.py [--sandbox bwrap] [--runs 100] [--repeat 5]

One session runs the same small Python program `--runs` times (default and --next runs, sighted
and blind, in turn), as a verification does. Per run it prints the host's round trip, the CPU time
the whole machine spent (from /proc/stat: the zygote's forks, init, the candidate, the supervisor
and the host together), and the candidate's CPU time as init measured it with wait4. Grading is
bound by the middle figure: two cores give at most 2000 / (machine ms per run) runs a second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from quinebox import backends
from quinebox.backends.base import RunRequest
from quinebox.limits import Limits

PROGRAM = b"""import sys
a, b = 0, 1
s = 'import sys\\na, b = %d, %d\\ns = %r\\nprint(s %% (b, a + b, s) if sys.argv[1:] == ["--next"] else a)'
print(s % (b, a + b, s) if sys.argv[1:] == ["--next"] else a)
"""


def busy_ms() -> float:
    """Milliseconds of CPU time the machine has spent outside idle and iowait, all cores together."""
    with open("/proc/stat") as handle:
        fields = [int(v) for v in handle.readline().split()[1:]]
    ticks = sum(fields) - fields[3] - fields[4]
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def one_round(session: backends.Backend, runs: int) -> tuple[float, float, float]:
    limits = Limits.from_env()
    requests = [RunRequest(PROGRAM, ("--next",) if k % 2 else (), k % 4 < 2, limits, "python") for k in range(runs)]
    candidate: list[float] = []
    machine, started = busy_ms(), time.perf_counter()
    for request in requests:
        result = session.run(request)
        if result.cpu_ms is not None:
            candidate.append(result.cpu_ms)
    wall = (time.perf_counter() - started) * 1000 / runs
    return wall, (busy_ms() - machine) / runs, statistics.median(candidate)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sandbox", default="bwrap")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    session = backends.create(args.sandbox)
    session.open()
    try:
        one_round(session, 10)  # the first runs fill the page cache and the zygote's free lists
        rounds = [one_round(session, args.runs) for _ in range(args.repeat)]
    finally:
        session.close()
    wall, machine, candidate = (statistics.median(column) for column in zip(*rounds, strict=True))
    print(f"{args.sandbox}: {args.runs} runs a round, {args.repeat} rounds, medians per run:")
    print(f"  round trip        {wall:6.2f} ms")
    print(f"  machine CPU       {machine:6.2f} ms  (every process, from /proc/stat)")
    print(f"  candidate CPU     {candidate:6.2f} ms  (init's wait4)")
    print(f"  bound on 2 cores  {2000 / machine:6.0f} runs a second")


if __name__ == "__main__":
    main()
