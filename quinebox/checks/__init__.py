"""The checks: each a pure function from the recorded chain to a CheckResult.

Stable names, in the order used to pick a report's first failure when two
checks fail at the same generation: runs, output, sequence, self-similarity,
integrity, linear-time, determinism.

Each check is also a `Judge` that takes the chain one generation at a time
(see `_judge`): `ChainJudge` runs them all while the chain is recorded, and
`run_checks` is the same judges fed a whole recorded chain, so the early stop
and the final verdict cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable

from quinebox.checks._judge import Judge
from quinebox.checks._result import CheckOptions, CheckResult
from quinebox.checks.determinism import DeterminismJudge, check_determinism
from quinebox.checks.integrity import IntegrityJudge, check_integrity
from quinebox.checks.linear_time import LinearTimeJudge, check_linear_time
from quinebox.checks.output import OutputJudge, check_output
from quinebox.checks.runs import RunsJudge, check_runs
from quinebox.checks.self_similarity import SelfSimilarityJudge, check_self_similarity
from quinebox.checks.sequence import SequenceJudge, check_sequence
from quinebox.record import Chain, Generation

Check = Callable[[Chain, CheckOptions], CheckResult]

CHECKS: dict[str, Check] = {
    "runs": check_runs,
    "output": check_output,
    "sequence": check_sequence,
    "self-similarity": check_self_similarity,
    "integrity": check_integrity,
    "linear-time": check_linear_time,
    "determinism": check_determinism,
}

JUDGES: dict[str, type[Judge]] = {
    "runs": RunsJudge,
    "output": OutputJudge,
    "sequence": SequenceJudge,
    "self-similarity": SelfSimilarityJudge,
    "integrity": IntegrityJudge,
    "linear-time": LinearTimeJudge,
    "determinism": DeterminismJudge,
}

__all__ = ["CHECKS", "Check", "CheckOptions", "CheckResult", "ChainJudge", "run_checks", "first_failure"]


class ChainJudge:
    """Every selected check, fed a chain one generation at a time; each looks only at what is new."""

    def __init__(self, options: CheckOptions, names: tuple[str, ...] | None = None) -> None:
        self.judges = [judge(options) for name, judge in JUDGES.items() if names is None or name in names]

    def add(self, generation: Generation) -> CheckResult | None:
        """Judge the next generation; the first failure so far (see `first_failure`), if any."""
        found = [failure for judge in self.judges if (failure := judge.add(generation)) is not None]
        return first_failure(found)

    def results(self, final: bool = True) -> list[CheckResult]:
        """Every check's result over what was fed, in the stable order."""
        return [judge.finish(final) for judge in self.judges]


def run_checks(chain: Chain, options: CheckOptions, names: tuple[str, ...] | None = None) -> list[CheckResult]:
    """Every selected check over the chain, in the stable order."""
    judge = ChainJudge(options, names)
    for generation in chain.generations:
        judge.add(generation)
    return judge.results(final=not options.partial)


def first_failure(results: list[CheckResult]) -> CheckResult | None:
    """The failure a person should read first: earliest generation, then the stable order."""
    failures = [r for r in results if not r.passed]
    if not failures:
        return None
    order = list(CHECKS)
    return min(failures, key=lambda r: (r.generation if r.generation is not None else 1 << 30, order.index(r.name)))
