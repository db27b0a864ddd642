"""`sequence`: the numbers printed are consecutive terms of the chosen sequence.

The start may be anywhere: the first two numbers fix the position, after
which every number must be the sum of the two before it. A lone first number
must at least be a term.
"""

from __future__ import annotations

from typing_extensions import override

from quinebox.checks._judge import Judge, judge_whole
from quinebox.checks._numbers import int_text, parse_number, short_number
from quinebox.checks._result import CheckOptions, CheckResult, failed, passed
from quinebox.record import Chain, Generation, RunKind

NAME = "sequence"


def check_sequence(chain: Chain, options: CheckOptions) -> CheckResult:
    return judge_whole(SequenceJudge(options), chain)


class SequenceJudge(Judge):
    """Carries the first number and the last two of the gap-free prefix of printed numbers."""

    name = NAME

    def __init__(self, options: CheckOptions) -> None:
        super().__init__(options)
        self.first: int | None = None
        self.last: list[int] = []
        self.count = 0
        self.gap = False
        """A number is missing: only the gap-free prefix can be checked; the gap is another check's."""

    @override
    def _add(self, generation: Generation) -> CheckResult | None:
        if self.gap:
            return None
        run = generation.judged(RunKind.DEFAULT)
        value = parse_number(run.stdout) if run is not None and run.ok else None
        if not isinstance(value, int) or generation.index != self.count:
            self.gap = True
            return None
        spec = self.options.sequence
        k, self.count = self.count, self.count + 1
        previous, self.last = self.last, (self.last + [value])[-2:]
        if k == 0:
            self.first = value
            if not spec.contains(value):
                return failed(NAME, 0, f"{_short(value)} is not a term of {spec.name}", printed=int_text(value))
            return None
        if k == 1:
            if not spec.consecutive(previous[0], value):
                expected = spec.successors(previous[0])
                return failed(
                    NAME,
                    1,
                    f"expected {_alternatives(expected)} after {_short(previous[0])}, printed {_short(value)}",
                    expected=[int_text(e) for e in expected],
                    printed=int_text(value),
                    previous=[int_text(previous[0])],
                )
            return None
        expected_value = previous[0] + previous[1]
        if value != expected_value:
            return failed(
                NAME,
                k,
                f"expected {_short(expected_value)}, printed {_short(value)}",
                expected=[int_text(expected_value)],
                printed=int_text(value),
                previous=[int_text(p) for p in previous],
            )
        return None

    @override
    def _finish(self, final: bool) -> CheckResult:
        if self.first is None:
            return passed(NAME, "no numbers to check", numbers=0)
        spec, last = self.options.sequence, self.last[-1]
        return passed(
            NAME,
            f"{self.count} consecutive terms of {spec.name}, from {_short(self.first)} to {_short(last)}",
            numbers=self.count,
            first=int_text(self.first),
            last=int_text(last),
        )


_short = short_number


def _alternatives(values: list[int]) -> str:
    return " or ".join(_short(v) for v in values) if values else "a term of the sequence"
