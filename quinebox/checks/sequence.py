"""`sequence`: the numbers printed are consecutive terms of the chosen sequence.

The start may be anywhere: the first two numbers fix the position, after
which every number must be the sum of the two before it. A lone first number
must at least be a term.
"""

from __future__ import annotations

from quinebox.checks._numbers import printed_numbers
from quinebox.checks._result import CheckOptions, CheckResult, failed, passed
from quinebox.record import Chain

NAME = "sequence"


def check_sequence(chain: Chain, options: CheckOptions) -> CheckResult:
    spec = options.sequence
    numbers = printed_numbers(chain)
    known = [(k, n) for k, n in enumerate(numbers) if n is not None]
    if not known:
        return passed(NAME, "no numbers to check", numbers=0)
    # Only a gap-free prefix can be checked: a missing number is another check's failure.
    prefix: list[int] = []
    for k, n in enumerate(numbers):
        if n is None or k != len(prefix):
            break
        prefix.append(n)
    if not prefix:
        return passed(NAME, "no numbers to check", numbers=0)
    first = prefix[0]
    if not spec.contains(first):
        return failed(NAME, 0, f"{_short(first)} is not a term of {spec.name}", printed=str(first))
    if len(prefix) >= 2 and not spec.consecutive(first, prefix[1]):
        expected = spec.successors(first)
        return failed(
            NAME,
            1,
            f"expected {_alternatives(expected)} after {_short(first)}, printed {_short(prefix[1])}",
            expected=[str(e) for e in expected],
            printed=str(prefix[1]),
            previous=[str(first)],
        )
    for k in range(2, len(prefix)):
        expected_value = prefix[k - 1] + prefix[k - 2]
        if prefix[k] != expected_value:
            return failed(
                NAME,
                k,
                f"expected {_short(expected_value)}, printed {_short(prefix[k])}",
                expected=[str(expected_value)],
                printed=str(prefix[k]),
                previous=[str(prefix[k - 2]), str(prefix[k - 1])],
            )
    return passed(
        NAME,
        f"{len(prefix)} consecutive terms of {spec.name}, from {_short(first)} to {_short(prefix[-1])}",
        numbers=len(prefix),
        first=str(first),
        last=str(prefix[-1]),
    )


def _short(value: int) -> str:
    text = str(value)
    return text if len(text) <= 40 else f"{text[:18]}...{text[-18:]} ({len(text)} digits)"


def _alternatives(values: list[int]) -> str:
    return " or ".join(_short(v) for v in values) if values else "a term of the sequence"
