"""verify-50 on a correct chain, against the same 101 runs with the bare interpreter.

    python bench/verify_vs_bare.py [--sandbox bwrap] [--repeat 5] [--generations 50]

Prints the median wall time of the whole `quinebox verify` command (process
start to exit, every check on), and of the 101 plain `python3 prog.py` and
`python3 prog.py --next` runs it stands for, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHAIN = b"""import sys
a, b = 0, 1
s = 'import sys\\na, b = %d, %d\\ns = %r\\nprint(s %% (b, a + b, s) if sys.argv[1:] == ["--next"] else a)'
print(s % (b, a + b, s) if sys.argv[1:] == ["--next"] else a)
"""


def bare_runs(python: str, source: bytes, generations: int, folder: Path) -> float:
    """Wall seconds for P0..PN run plainly: default run each, --next run for all but the last."""
    started = time.perf_counter()
    program = folder / "prog.py"
    for k in range(generations + 1):
        program.write_bytes(source)
        subprocess.run([python, str(program)], check=True, capture_output=True, cwd=folder)
        if k < generations:
            source = subprocess.run(
                [python, str(program), "--next"], check=True, capture_output=True, cwd=folder
            ).stdout
    return time.perf_counter() - started


def verify_once(program: Path, sandbox: str, generations: int) -> float:
    quinebox = shutil.which("quinebox") or sys.exit("quinebox is not installed (pip install -e .)")
    started = time.perf_counter()
    result = subprocess.run(
        [quinebox, "verify", str(program), "--generations", str(generations), "--sandbox", sandbox, "--quiet"],
        capture_output=True,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"verify exited {result.returncode}: {result.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox", default="bwrap")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--generations", type=int, default=50)
    parser.add_argument(
        "--python", default="/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        program = folder / "p0.py"
        program.write_bytes(CHAIN)
        verify_once(program, args.sandbox, args.generations)  # warm the page cache
        verify = [verify_once(program, args.sandbox, args.generations) for _ in range(args.repeat)]
        bare = [bare_runs(args.python, CHAIN, args.generations, folder) for _ in range(args.repeat)]
    runs = 2 * args.generations + 1
    v, b = statistics.median(verify), statistics.median(bare)
    print(f"{'what':44} {'median s':>9} {'min s':>7}")
    print(f"{f'quinebox verify --generations {args.generations} ({args.sandbox})':44} {v:9.3f} {min(verify):7.3f}")
    print(f"{f'{runs} bare runs ({os.path.basename(args.python)}, no sandbox)':44} {b:9.3f} {min(bare):7.3f}")
    print(f"ratio verify / bare: {v / b:.2f}x   (repeat {args.repeat}, {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
