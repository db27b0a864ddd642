"""The one number a default run prints, read strictly."""

from __future__ import annotations

import re

from quinebox.record import Chain, RunKind

_INTEGER = re.compile(rb"-?(?:0|[1-9][0-9]*)\n?")
#: Python refuses int() of more than 4300 digits by default; chains are not expected to get there.
MAX_DIGITS = 100_000


def parse_number(stdout: bytes) -> int | str:
    """The integer printed, or the reason the output is not exactly one integer."""
    try:
        stdout.decode("utf-8", "strict")
    except UnicodeDecodeError as exc:
        return f"output is not valid UTF-8 (byte {exc.start}: {stdout[exc.start : exc.start + 1]!r})"
    if not stdout:
        return "printed nothing"
    if len(stdout) > MAX_DIGITS or not _INTEGER.fullmatch(stdout):
        return "printed something other than exactly one integer"
    text = stdout.decode().rstrip("\n")
    digits = len(text.lstrip("-"))
    if digits > 4000:
        return _big_int(text)
    return int(text)


def _big_int(text: str) -> int | str:
    import sys

    old = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return int(text)
    finally:
        sys.set_int_max_str_digits(old)


def printed_numbers(chain: Chain) -> list[int | None]:
    """Per generation, the number its default run printed, or None where it printed no valid one."""
    numbers: list[int | None] = []
    for generation in chain.generations:
        run = generation.run(RunKind.DEFAULT)
        value = parse_number(run.stdout) if run is not None and run.ok else None
        numbers.append(value if isinstance(value, int) else None)
    return numbers
