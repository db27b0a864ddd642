"""A check fed one generation at a time, carrying its state forward.

The chain driver asks after every generation whether a check has already
failed, so that recording can stop early. Re-judging the whole partial chain
each time would make recording quadratic; instead each check is a `Judge`
that looks only at what the new generation adds. The check's function over a
whole chain feeds the same judge every generation and then finishes it, so
the early stop and the final verdict are one computation and cannot disagree.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from quinebox.checks._result import CheckOptions, CheckResult
from quinebox.record import Chain, Generation


class Judge(ABC):
    """One check over a chain that is still growing."""

    name: ClassVar[str]

    def __init__(self, options: CheckOptions) -> None:
        self.options = options
        self.failure: CheckResult | None = None
        """The first failure found; it sticks, since no later generation can undo it."""

    def add(self, generation: Generation) -> CheckResult | None:
        """Judge what `generation` adds; the check's failure so far, if it has one."""
        if self.failure is None:
            self.failure = self._add(generation)
        return self.failure

    def finish(self, final: bool = True) -> CheckResult:
        """The check's result over every generation fed.

        Args:
            final: the last generation fed is the chain's last (False while recording, or when
                recording stopped early): what only a successor could settle is then left unjudged.
        """
        if self.failure is None:
            self.failure = self._finish(final)
            if self.failure.passed:
                result, self.failure = self.failure, None
                return result
        return self.failure

    @abstractmethod
    def _add(self, generation: Generation) -> CheckResult | None:
        """A failure that `generation` brings and that no later generation can undo, or None."""

    @abstractmethod
    def _finish(self, final: bool) -> CheckResult:
        """A pass, or a failure only the chain's end reveals."""


def judge_whole(judge: Judge, chain: Chain) -> CheckResult:
    """Feed `judge` the whole chain and finish it: the check's function over a recorded chain."""
    for generation in chain.generations:
        if judge.add(generation) is not None:
            break
    return judge.finish(final=not judge.options.partial)
