"""The checks: each a pure function from the recorded chain to a CheckResult.

Stable names, in the order used to pick a report's first failure when two
checks fail at the same generation: runs, output, sequence, self-similarity,
integrity, linear-time, determinism.
"""

from __future__ import annotations

from collections.abc import Callable

from quinebox.checks._result import CheckOptions, CheckResult
from quinebox.checks.determinism import check_determinism
from quinebox.checks.integrity import check_integrity
from quinebox.checks.linear_time import check_linear_time
from quinebox.checks.output import check_output
from quinebox.checks.runs import check_runs
from quinebox.checks.self_similarity import check_self_similarity
from quinebox.checks.sequence import check_sequence
from quinebox.record import Chain

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

__all__ = ["CHECKS", "Check", "CheckOptions", "CheckResult", "run_checks", "first_failure"]


def run_checks(chain: Chain, options: CheckOptions, names: tuple[str, ...] | None = None) -> list[CheckResult]:
    """Every selected check over the chain, in the stable order."""
    return [check(chain, options) for name, check in CHECKS.items() if names is None or name in names]


def first_failure(results: list[CheckResult]) -> CheckResult | None:
    """The failure a person should read first: earliest generation, then the stable order."""
    failures = [r for r in results if not r.passed]
    if not failures:
        return None
    order = list(CHECKS)
    return min(failures, key=lambda r: (r.generation if r.generation is not None else 1 << 30, order.index(r.name)))
