"""Classify how work grows with the generation index, by doubling.

Work counts are exact (function entries plus loop back-edges), so the test
can be strict without being flaky: for every k with 2k recorded, the extra
work at 2k (over generation 0) may be at most RATIO times the extra work at k,
plus SLACK units for constant noise (an import that happens to run, a branch
taken once). Linear growth doubles; quadratic quadruples; exponential explodes.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

#: Extra work may at most grow this much when the generation index doubles.
RATIO = 2.5
#: Units of extra work that are never held against a program.
SLACK = 100


class Growth(enum.StrEnum):
    CONSTANT = "constant"
    LINEAR = "linear"
    QUADRATIC = "quadratic"
    POLYNOMIAL = "polynomial"
    EXPONENTIAL = "exponential"


@dataclass(frozen=True)
class Classification:
    growth: Growth
    violation: tuple[int, int] | None = None
    """The first (k, 2k) pair whose growth broke the linear bound."""
    ratio: float | None = None
    """Extra work at 2k over extra work at k, for the violating pair."""

    @property
    def at_most_linear(self) -> bool:
        return self.violation is None


def extra_work(works: Sequence[int | None]) -> list[int | None]:
    """Work over generation 0, floored at 0; None where a run reported none."""
    if not works or works[0] is None:
        return [None for _ in works]
    base = works[0]
    return [None if w is None else max(w - base, 0) for w in works]


def classify(extra: Sequence[int | None]) -> Classification:
    """Classify growth of extra work indexed by generation (index 0 is generation 0)."""
    violation: tuple[int, int] | None = None
    ratios: list[float] = []
    for k in range(1, len(extra) // 2 + 1):
        small, large = extra[k], extra[2 * k] if 2 * k < len(extra) else None
        if small is None or large is None:
            continue
        if large > RATIO * small + SLACK:
            ratios.append(large / max(small, 1))
            if violation is None:
                violation = (k, 2 * k)
    if violation is None:
        known = [e for e in extra if e is not None]
        growth = Growth.CONSTANT if not known or max(known) <= SLACK else Growth.LINEAR
        return Classification(growth)
    k, double = violation
    ratio = (extra[double] or 0) / max(extra[k] or 0, 1)
    return Classification(_super_linear_kind(extra, ratios), violation, ratio)


def _super_linear_kind(extra: Sequence[int | None], ratios: list[float]) -> Growth:
    known = [e for e in extra if e is not None and e >= 8]
    # Exponential: the step-to-step ratio stays above 1 and does not fade, as a polynomial's does.
    tail = known[-6:]
    steps = [b / a for a, b in zip(tail, tail[1:], strict=False)]
    if len(steps) >= 4 and min(steps) >= 1.25 and steps[-1] >= 0.9 * steps[0]:
        return Growth.EXPONENTIAL
    typical = sorted(ratios)[len(ratios) // 2]
    if typical <= 5.5:
        return Growth.QUADRATIC
    if typical <= 20:
        return Growth.POLYNOMIAL
    return Growth.EXPONENTIAL
