"""`output`: each default run prints exactly one integer, as strict UTF-8.

A trailing newline is allowed; nothing else is: exactly what ``print(n)``
writes for a Python int, so no prose, no second number, no ``-0``, no ``+5``,
no ``1_000``, no leading zeros, no non-ASCII digits, no carriage return, no
byte order mark. Each of those gets its own reason. Runs that did not end cleanly are the
business of `runs`.
"""

from __future__ import annotations

from typing_extensions import override

from quinebox.checks._judge import Judge, judge_whole
from quinebox.checks._numbers import parse_number
from quinebox.checks._result import CheckOptions, CheckResult, failed, passed, text_excerpt
from quinebox.record import Chain, Generation, RunKind

NAME = "output"


def check_output(chain: Chain, options: CheckOptions) -> CheckResult:
    return judge_whole(OutputJudge(options), chain)


class OutputJudge(Judge):
    """Each generation on its own: its clean default run printed one canonical integer."""

    name = NAME

    def __init__(self, options: CheckOptions) -> None:
        super().__init__(options)
        self.seen = 0

    @override
    def _add(self, generation: Generation) -> CheckResult | None:
        run = generation.judged(RunKind.DEFAULT)
        if run is None or not run.ok:
            return None
        self.seen += 1
        value = parse_number(run.stdout)
        if isinstance(value, str):
            return failed(
                NAME,
                generation.index,
                f"program {generation.index} {value}: {text_excerpt(run.stdout, 80)!r}",
                printed=text_excerpt(run.stdout),
                printed_bytes=len(run.stdout),
            )
        return None

    @override
    def _finish(self, final: bool) -> CheckResult:
        return passed(NAME, f"{self.seen} programs each printed exactly one integer", programs=self.seen)
