"""The host's own CPU time for one verification: what the process calling `quinebox.verify` spends.

    python bench/host_cpu.py [--sandbox bwrap] [--generations 50] [--repeat 5] [PROGRAM]

Everything but the sandbox: the protocol, the chain's bookkeeping, the judging while recording
and the judgements of the whole chain. The runs' own CPU is in `bench/run_cost.py`. A grading
machine spends both, so this is the part that grading pays on top of the runs. Verifies a correct
chain (good/percent_r.py by default) `--repeat` times after one warm-up, and prints each figure
and the median, in milliseconds of `time.process_time()`.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import quinebox

DEFAULT = Path(__file__).resolve().parent.parent / "fixtures" / "good" / "percent_r.py"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("program", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--sandbox", default="bwrap")
    parser.add_argument("--generations", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    quinebox.verify(args.program, generations=5, sandbox=args.sandbox)  # imports, page cache
    spent = []
    verdict = ""
    for _ in range(args.repeat):
        started = time.process_time()
        verdict = quinebox.verify(args.program, generations=args.generations, sandbox=args.sandbox).verdict.value
        spent.append((time.process_time() - started) * 1000)
    shown = ", ".join(f"{ms:.0f}" for ms in spent)
    print(f"{args.program.name} -n {args.generations} on {args.sandbox} ({verdict}): host CPU per verification")
    print(f"  median {statistics.median(spent):.0f} ms  (repeats {shown})")


if __name__ == "__main__":
    main()
