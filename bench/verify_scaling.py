"""How verify grows with the chain: `quinebox verify` at N = 50, 200 and 1000 generations.

    python bench/verify_scaling.py [--sandbox bwrap] [--repeat 3] [--generations 50 200 1000]

Recording is meant to be linear: each generation is judged once, for what it adds. A run's own
cost grows a little with N (the numbers get longer: 209 digits at N = 1000), so the ratio of
time(1000) to time(200) is a little above 5 for a linear recorder and far above it for a quadratic
one. Prints the median wall time of the whole command per N, the time per generation, and
time(largest) / time(second largest). Sizes are interleaved, so that load changes all alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from verify_vs_bare import CHAIN, verify_once


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sandbox", default="bwrap")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--generations", type=int, nargs="+", default=[50, 200, 1000])
    args = parser.parse_args()
    sizes = sorted(args.generations)
    seconds: dict[int, list[float]] = {n: [] for n in sizes}
    with tempfile.TemporaryDirectory() as tmp:
        program = Path(tmp) / "p0.py"
        program.write_bytes(CHAIN)
        verify_once(program, args.sandbox, sizes[0])  # warm the page cache
        for _ in range(args.repeat):
            for n in sizes:
                seconds[n].append(verify_once(program, args.sandbox, n))
    print(f"{'generations':>11} {'verify median s':>16} {'min s':>7} {'ms/generation':>14}")
    for n in sizes:
        median = statistics.median(seconds[n])
        print(f"{n:>11} {median:16.3f} {min(seconds[n]):7.3f} {median / n * 1000:14.1f}")
    if len(sizes) >= 2:
        large, small = sizes[-1], sizes[-2]
        ratio = statistics.median(seconds[large]) / statistics.median(seconds[small])
        print(f"time({large}) / time({small}) = {ratio:.2f} (linear: {large / small:.1f} plus the numbers' growth)")
    print(f"(quinebox verify --sandbox {args.sandbox} --quiet; repeat {args.repeat}, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
