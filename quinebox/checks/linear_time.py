"""`linear-time`: the work per generation grows at most linearly in the index.

Two measures, and either one failing fails the check; the reason names which.

Work is counted inside the sandbox (function entries plus loop back-edges),
so its verdict is the same on an idle machine and a loaded one (see
`_growth`). A generation's work is the larger of its default and --next runs.
A run that spends the whole work budget fails here, its count a lower bound.
A run whose counter reported nothing is "not measured", never a pass on its
own: the CPU measure then carries the verdict.

CPU time is measured outside the candidate's process, so it sees what the
counter cannot: work done in C calls or in other threads. It is judged for the
default and the --next runs separately, each generation by the fastest run of
the same program with the same arguments (see `_cpu`), with a fit over all
generations and an absolute floor, so that load never flips a verdict. Where
the fit breaks along the chain does vary with load, so CPU time is judged only
at the chain's end and at generations 64, 128, 256 ...: the failure's
generation is one of those, the same every time.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from quinebox.checks._cpu import FLOOR_MS, TOLERANCE, CpuSeries
from quinebox.checks._growth import RATIO, SLACK, Growth, classify, extra_work
from quinebox.checks._judge import Judge, judge_whole
from quinebox.checks._result import CheckOptions, CheckResult, failed, passed
from quinebox.record import Chain, Generation, RunKind, Status

NAME = "linear-time"
_COUNTED = (RunKind.DEFAULT, RunKind.NEXT)
#: Runs of the same program with the same arguments: the fastest of each family is its CPU time.
_FAMILIES = {
    "default": (RunKind.DEFAULT, RunKind.DEFAULT_BLIND, RunKind.DEFAULT_AGAIN),
    "next": (RunKind.NEXT, RunKind.NEXT_BLIND, RunKind.NEXT_AGAIN),
}
_HOW = {
    Growth.CONSTANT: "not at all",
    Growth.LINEAR: "linearly",
    Growth.QUADRATIC: "quadratically",
    Growth.POLYNOMIAL: "faster than quadratically",
    Growth.EXPONENTIAL: "exponentially",
}
_MAX_LIST = 200


def check_linear_time(chain: Chain, options: CheckOptions) -> CheckResult:
    return judge_whole(LinearTimeJudge(options), chain)


class LinearTimeJudge(Judge):
    """Carries the work series and one CPU fit per run family; each generation adds one pair and two times."""

    name = NAME

    def __init__(self, options: CheckOptions) -> None:
        super().__init__(options)
        self.works: list[int | None] = []
        self.cpu = {family: CpuSeries() for family in _FAMILIES}
        self.cpu_series: dict[str, list[float | None]] = {family: [] for family in _FAMILIES}

    @override
    def _add(self, generation: Generation) -> CheckResult | None:
        spent = _budget_spent(generation)
        if spent is not None:
            works = self.works
            return failed(
                NAME,
                generation.index,
                f"program {generation.index} spent the whole work budget ({self.options.work_budget:,} units) "
                f"in its {spent} run; generation 0 needed {_fmt(works[0] if works else None)}",
                measure="work",
                growth="unbounded" if generation.index == 0 else classify(extra_work(works)).growth.value,
                work=works[:_MAX_LIST] + [self.options.work_budget],
                budget=self.options.work_budget,
                **self._cpu_evidence(),
            )
        k = len(self.works)
        self.works.append(_work(generation))
        for family, kinds in _FAMILIES.items():
            times = [r.cpu_ms for kind in kinds if (r := generation.run(kind)) is not None and r.ok]
            fastest = min(times) if times else None
            self.cpu_series[family].append(fastest)
            if fastest is not None:
                self.cpu[family].add(k, fastest)
        if k >= 2 and k % 2 == 0:
            failure = self._work_pair(k // 2, k)
            if failure is not None:
                return failure
        # CPU time is noisy: where along the chain its fit breaks varies from run to run, so it is
        # judged only at fixed generations, and the failure's generation never flips.
        return self._cpu_failure(generation.index) if _cpu_checkpoint(generation.index) else None

    @override
    def _finish(self, final: bool) -> CheckResult:
        if final:
            for series in self.cpu.values():
                series.finish()
            failure = self._cpu_failure(len(self.works) - 1)
            if failure is not None:
                return failure
        classification = classify(extra_work(self.works))
        evidence = self._evidence(classification.growth.value)
        measured = self.works and all(w is not None for w in self.works)
        cpu_note = f"CPU time fits a linear cost within {TOLERANCE:g}x noise"
        if not measured:
            return passed(
                NAME,
                f"work not measured (no work counter reported for some runs); {cpu_note}",
                **evidence,
            )
        base = _fmt(self.works[0])
        how = _HOW[classification.growth]
        return passed(
            NAME, f"work grows {how} with the generation ({base} units at generation 0); {cpu_note}", **evidence
        )

    def _work_pair(self, k: int, double: int) -> CheckResult | None:
        extra = extra_work(self.works)
        small, large = extra[k], extra[double]
        if small is None or large is None or large <= RATIO * small + SLACK:
            return None
        classification = classify(extra)
        return failed(
            NAME,
            double,
            f"work grows {_HOW[classification.growth]}: extra work went from {_fmt(small)} at generation {k} "
            f"to {_fmt(large)} at generation {double} ({large / max(small, 1):.1f}x when linear allows {RATIO}x)",
            measure="work",
            **self._evidence(classification.growth.value),
        )

    def _cpu_failure(self, generation: int) -> CheckResult | None:
        for family, series in self.cpu.items():
            if not series.super_linear:
                continue
            known = [(k, t) for k, t in sorted(series.robust.items())]
            first_k, first_t = known[0]
            peak_k, peak_t = max(known, key=lambda kt: kt[1])
            run = "default" if family == "default" else "--next"
            return failed(
                NAME,
                generation,
                f"CPU time of the {run} run grows faster than linearly: {first_t:.1f} ms at generation {first_k}, "
                f"{peak_t:.1f} ms at generation {peak_k} (program 0: {series.base or 0:.1f} ms), which no linear "
                f"cost explains even with {TOLERANCE:g}x noise; the work count ({self._work_span()}) "
                "does not see it: work done in C calls or in other threads",
                measure="cpu_ms",
                run=run,
                floor_ms=FLOOR_MS,
                tolerance=TOLERANCE,
                **self._evidence(classify(extra_work(self.works)).growth.value),
            )
        return None

    def _work_span(self) -> str:
        known = [w for w in self.works if w is not None]
        if not known:
            return "not measured"
        return f"{_fmt(known[0])} to {_fmt(known[-1])} units"

    def _evidence(self, growth: str) -> dict[str, Any]:
        return {"growth": growth, "work": self.works[:_MAX_LIST], **self._cpu_evidence()}

    def _cpu_evidence(self) -> dict[str, Any]:
        per_generation = [
            max((t for t in times if t is not None), default=None)
            for times in zip(*self.cpu_series.values(), strict=False)
        ]
        return {
            "cpu_ms": [None if c is None else round(c, 1) for c in per_generation][:_MAX_LIST],
            "cpu_ms_default": _rounded(self.cpu_series["default"]),
            "cpu_ms_next": _rounded(self.cpu_series["next"]),
        }


def _cpu_checkpoint(index: int) -> bool:
    """Where a chain still being recorded has its CPU times judged: generations 64, 128, 256 ...

    The end of the chain is judged too (in `_finish`). An exponential cost that doubles every
    two generations from 3 ms reaches the CPU limit near generation 60, so longer chains get
    an earlier look; shorter ones are judged once, whole.
    """
    return index >= 64 and index & (index - 1) == 0


def _rounded(times: list[float | None]) -> list[float | None]:
    return [None if t is None else round(t, 1) for t in times][:_MAX_LIST]


def _budget_spent(generation: Generation) -> str | None:
    for kind in _COUNTED:
        run = generation.judged(kind)
        if run is not None and run.status is Status.WL:
            return "default" if kind is RunKind.DEFAULT else "--next"
    return None


def _work(generation: Generation) -> int | None:
    counts = [r.work for kind in _COUNTED if (r := generation.judged(kind)) is not None and r.work is not None]
    return max(counts) if counts else None


def _fmt(value: int | None) -> str:
    return "not measured" if value is None else f"{value:,}"
