"""How far CPU-time verdicts sit from the rule: the worst linear chain against the best super-linear one.

    python bench/cpu_margin.py [--sandbox bwrap] [--repeat 3] [--load]

Verifies every correct fixture and every fixture that fails `linear-time` on CPU time rather than on
the work count (work done in C, in threads, in compiled programs), each to its last generation
(``keep_going``), `--repeat` times, with both cores kept busy by `--load`. For each series of
per-generation CPU times it finds the least upper-band factor at which some linear cost explains them
(`quinebox.checks._cpu.least_tolerance`; the check uses 2.5). Prints each fixture's worst (linear) or
best (super-linear) factor, then the two margins: 2.5 over the worst linear factor, and the best
super-linear factor over 2.5.
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
import tomllib
from pathlib import Path

from quinebox.api import verify
from quinebox.checks._cpu import TOLERANCE, least_tolerance
from quinebox.record import RunKind

ROOT = Path(__file__).resolve().parent.parent
FAMILIES = {
    "default": (RunKind.DEFAULT, RunKind.DEFAULT_BLIND, RunKind.DEFAULT_AGAIN),
    "next": (RunKind.NEXT, RunKind.NEXT_BLIND, RunKind.NEXT_AGAIN),
}


def fixtures() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Correct chains, and the failures that CPU time (not the work count) has to catch."""
    entries = tomllib.loads((ROOT / "fixtures" / "manifest.toml").read_text())["fixture"]
    linear = [e for e in entries if e["verdict"] == "pass"]
    grows = [e for e in entries if e.get("check") == "linear-time"]
    return linear, grows


def factors(entry: dict[str, object], sandbox: str) -> tuple[list[float], str | None]:
    """One least factor per run family of one verification, and the measure its failure rests on."""
    report = verify(
        ROOT / "fixtures" / str(entry["path"]),
        generations=int(entry.get("generations", 50)),  # type: ignore[call-overload]
        sequence=str(entry.get("sequence", "fibonacci")),
        sandbox=sandbox,
        keep_going=True,
    )
    found = []
    for kinds in FAMILIES.values():
        times: list[float | None] = []
        for generation in report.generations:
            runs = [generation.runs[k.value] for k in kinds if k.value in generation.runs]
            ok = [run.cpu_ms for run in runs if run.status == "OK"]
            times.append(min(ok) if ok else None)
        if sum(t is not None for t in times) >= 3:
            found.append(least_tolerance(times))
    outcome = report.check("linear-time")
    return found, None if outcome is None or outcome.passed else outcome.evidence.get("measure")


def _burn(stop: float) -> None:
    while time.monotonic() < stop:
        sum(i * i for i in range(10_000))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sandbox", default="bwrap")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--load", action="store_true", help="keep both cores busy while measuring")
    args = parser.parse_args()
    burners = []
    if args.load:
        stop = time.monotonic() + 3600
        burners = [multiprocessing.get_context("spawn").Process(target=_burn, args=(stop,)) for _ in range(2)]
        for burner in burners:
            burner.start()
    try:
        linear, grows = fixtures()
        worst_linear = (0.0, "")
        best_growth = (float("inf"), "")
        for entry in linear:
            worst = max(max(factors(entry, args.sandbox)[0], default=1.0) for _ in range(args.repeat))
            print(f"linear       {worst:8.2f}  {entry['path']}", flush=True)
            worst_linear = max(worst_linear, (worst, str(entry["path"])))
        for entry in grows:
            measured = [factors(entry, args.sandbox) for _ in range(args.repeat)]
            if any(measure != "cpu_ms" for _, measure in measured):
                continue  # the work count decides it: CPU time is not what catches this one
            best = min(max(found, default=1.0) for found, _ in measured)
            print(f"super-linear {best:8.2f}  {entry['path']}", flush=True)
            best_growth = min(best_growth, (best, str(entry["path"])))
    finally:
        for burner in burners:
            burner.terminate()
            burner.join()
    floor = " (the search's floor: a line explains every one with no slack)" if worst_linear[0] <= 1.0 else ""
    print(
        f"worst linear factor {worst_linear[0]:.2f} ({worst_linear[1]}): margin {TOLERANCE / worst_linear[0]:.2f}x"
        + floor
    )
    print(f"best super-linear factor {best_growth[0]:.2f} ({best_growth[1]}): margin {best_growth[0] / TOLERANCE:.2f}x")
    print(f"(rule: {TOLERANCE}; {args.sandbox}, repeat {args.repeat}, {'both cores busy' if args.load else 'idle'})")


if __name__ == "__main__":
    main()
