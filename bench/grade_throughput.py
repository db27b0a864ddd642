"""Batch grading throughput: 40 mixed candidates at 50 generations, `quinebox grade --jobs 2`.

    python bench/grade_throughput.py [--sandbox bwrap] [--jobs 2] [--generations 50] [--repeat 3]

The candidates are the labelled fixtures (good, bad, cheats) that end quickly, cycled to 40
rows and wrapped in fenced responses. Each repeat grades them into a fresh output file with
the real CLI, from process start to exit. Prints every repeat and the median, in candidates
per minute.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
#: Good chains and failures of several kinds; none sleeps or floods, so the figure is about grading.
CANDIDATES = [
    "good/percent_r.py",
    "good/exec_payload.py",
    "good/format_braces.py",
    "good/repr_body.py",
    "good/hex_payload.py",
    "bad/off_by_one.py",
    "bad/crash_at_generation_7.py",
    "bad/history_list.py",
    "bad/syntax_error.py",
    "cheats/open_file.py",
]


def samples(count: int) -> str:
    rows = []
    for i in range(count):
        source = (FIXTURES / CANDIDATES[i % len(CANDIDATES)]).read_text()
        rows.append({"id": f"c{i}", "response": f"Here is the program:\n\n```python\n{source}```\n"})
    return "".join(json.dumps(row) + "\n" for row in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sandbox", default="bwrap")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--generations", type=int, default=50)
    parser.add_argument("--candidates", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rates = []
    with tempfile.TemporaryDirectory(prefix="grade-bench-") as folder:
        source = Path(folder) / "samples.jsonl"
        source.write_text(samples(args.candidates))
        for k in range(args.repeat):
            out = Path(folder) / f"graded-{k}.jsonl"
            command = [sys.executable, "-m", "quinebox", "grade", str(source), "--out", str(out), "-q"]
            command += ["--sandbox", args.sandbox, "--jobs", str(args.jobs), "--generations", str(args.generations)]
            started = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True)
            seconds = time.perf_counter() - started
            if done.returncode not in (0, 1):
                sys.exit(f"grade failed ({done.returncode}): {done.stderr.strip()}")
            rows = len(out.read_text().splitlines())
            rates.append(rows / seconds * 60)
            print(f"repeat {k + 1}: {rows} candidates in {seconds:.1f} s = {rates[-1]:.0f} per minute")
    print(
        f"grade {args.candidates} mixed candidates, -n {args.generations}, --jobs {args.jobs}, {args.sandbox}: "
        f"median {statistics.median(rates):.0f} candidates per minute over {args.repeat} repeats"
    )


if __name__ == "__main__":
    main()
