"""`output`: each default run prints exactly one integer, as strict UTF-8.

A trailing newline is allowed; nothing else is: no prose, no second number,
no leading zeros, no carriage return. Runs that did not end cleanly are the
business of `runs`.
"""

from __future__ import annotations

from quinebox.checks._numbers import parse_number
from quinebox.checks._result import CheckOptions, CheckResult, failed, passed, text_excerpt
from quinebox.record import Chain, RunKind

NAME = "output"


def check_output(chain: Chain, options: CheckOptions) -> CheckResult:
    seen = 0
    for generation in chain.generations:
        run = generation.run(RunKind.DEFAULT)
        if run is None or not run.ok:
            continue
        seen += 1
        value = parse_number(run.stdout)
        if isinstance(value, str):
            return failed(
                NAME,
                generation.index,
                f"program {generation.index} {value}: {text_excerpt(run.stdout, 80)!r}",
                printed=text_excerpt(run.stdout),
                printed_bytes=len(run.stdout),
            )
    return passed(NAME, f"{seen} programs each printed exactly one integer", programs=seen)
