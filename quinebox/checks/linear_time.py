"""`linear-time`: the work per generation grows at most linearly in the index.

Work is counted inside the sandbox (function entries plus loop back-edges),
so the verdict is the same on an idle machine and a loaded one. A generation's
work is the larger of its default and --next runs. A run that spends the whole
work budget fails here, its count a lower bound. CPU time rides along as
evidence for work done in C, which the counter cannot see.
"""

from __future__ import annotations

from quinebox.checks._growth import Growth, classify, extra_work
from quinebox.checks._result import CheckOptions, CheckResult, failed, passed
from quinebox.record import Chain, Generation, RunKind, Status

NAME = "linear-time"
_COUNTED = (RunKind.DEFAULT, RunKind.NEXT)
_HOW = {
    Growth.CONSTANT: "not at all",
    Growth.LINEAR: "linearly",
    Growth.QUADRATIC: "quadratically",
    Growth.POLYNOMIAL: "faster than quadratically",
    Growth.EXPONENTIAL: "exponentially",
}


def check_linear_time(chain: Chain, options: CheckOptions) -> CheckResult:
    works: list[int | None] = []
    cpu: list[float] = []
    for generation in chain.generations:
        spent = _budget_spent(generation)
        if spent is not None:
            return failed(
                NAME,
                generation.index,
                f"program {generation.index} spent the whole work budget ({options.work_budget:,} units) "
                f"in its {spent} run; generation 0 needed {_fmt(works[0] if works else None)}",
                growth="unbounded" if generation.index == 0 else _growth_so_far(works),
                work=_series(works) + [options.work_budget],
                budget=options.work_budget,
            )
        works.append(_work(generation))
        cpu.append(max((r.cpu_ms for k, r in generation.runs.items() if k in _COUNTED), default=0.0))
    classification = classify(extra_work(works))
    evidence = {
        "growth": classification.growth.value,
        "work": _series(works),
        "cpu_ms": [round(c, 1) for c in cpu][:200],
    }
    if classification.violation is not None:
        k, double = classification.violation
        extra = extra_work(works)
        return failed(
            NAME,
            double,
            f"work grows {_HOW[classification.growth]}: extra work went from {_fmt(extra[k])} at generation {k} "
            f"to {_fmt(extra[double])} at generation {double} ({classification.ratio:.1f}x when linear allows 2.5x)",
            **evidence,
        )
    base = _fmt(works[0] if works else None)
    how = _HOW[classification.growth]
    return passed(NAME, f"work grows {how} with the generation ({base} units at generation 0)", **evidence)


def _budget_spent(generation: Generation) -> str | None:
    for kind in _COUNTED:
        run = generation.run(kind)
        if run is not None and run.status is Status.WL:
            return "default" if kind is RunKind.DEFAULT else "--next"
    return None


def _work(generation: Generation) -> int | None:
    counts = [r.work for k, r in generation.runs.items() if k in _COUNTED and r.work is not None]
    return max(counts) if counts else None


def _growth_so_far(works: list[int | None]) -> str:
    return classify(extra_work(works)).growth.value


def _series(works: list[int | None]) -> list[int | None]:
    return works[:200]


def _fmt(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,}"
