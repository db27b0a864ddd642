"""`determinism`: the same program run again gives byte-identical output.

The chain records a repeat of a sighted run whenever its blind twin behaved
differently; a repeat that differs from the first means the output depends on
chance or the clock (a random salt, a timestamp), not on the program. Where
twins are sampled (`quinebox.chain.twin_generations`), a program that stops
being repeatable is caught at the next generation that has them.
"""

from __future__ import annotations

import difflib

from typing_extensions import override

from quinebox.checks._judge import Judge, judge_whole
from quinebox.checks._result import CheckOptions, CheckResult, failed, passed, text_excerpt
from quinebox.record import TWINS, Chain, Generation, RunKind

NAME = "determinism"


def check_determinism(chain: Chain, options: CheckOptions) -> CheckResult:
    return judge_whole(DeterminismJudge(options), chain)


class DeterminismJudge(Judge):
    """Each generation on its own: a repeated run printed what the first did."""

    name = NAME

    def __init__(self, options: CheckOptions) -> None:
        super().__init__(options)
        self.compared = 0

    @override
    def _add(self, generation: Generation) -> CheckResult | None:
        for twins in TWINS:
            first, again = generation.run(twins.sighted), generation.run(twins.again)
            if first is None:
                continue
            if again is None:
                # no repeat was needed: the blind twin, when there is one, repeated the run identically
                self.compared += twins.blind in generation.runs
                continue
            self.compared += 1
            if first.same_behaviour(again):
                continue
            what = "default" if twins.sighted is RunKind.DEFAULT else "--next"
            return failed(
                NAME,
                generation.index,
                f"program {generation.index} printed different output when its {what} run was repeated",
                run=twins.sighted.value,
                first=text_excerpt(first.stdout),
                again=text_excerpt(again.stdout),
                diff=_diff(first.stdout, again.stdout),
            )
        return None

    @override
    def _finish(self, final: bool) -> CheckResult:
        return passed(NAME, f"{self.compared} repeated runs gave byte-identical output", repeats=self.compared)


def _diff(a: bytes, b: bytes) -> str:
    lines = difflib.unified_diff(
        a.decode("utf-8", "backslashreplace").splitlines(),
        b.decode("utf-8", "backslashreplace").splitlines(),
        "first run",
        "repeated run",
        lineterm="",
        n=1,
    )
    return "\n".join(list(lines)[:40])[:3000]
