"""The one number a default run prints, read exactly as Python writes it; integers of any size as text.

Python refuses ``str()`` and ``int()`` of more than 4300 digits by default (a
guard against quadratic conversion of untrusted text). The host must still
handle a correct chain that gets there, so conversions past the limit go
through `int_text` and `text_int`, which lift it under a lock for the one
conversion and put it back. Digits are counted without any conversion.
"""

from __future__ import annotations

import re
import sys
import threading

from quinebox.record import Chain, RunKind
from quinebox.sequences import digit_count

__all__ = ["MAX_DIGITS", "digit_count", "int_text", "parse_number", "printed_numbers", "short_number", "text_int"]

#: Output longer than this is not read as a number at all (the conversion is quadratic).
MAX_DIGITS = 100_000

_CANONICAL = re.compile(rb"(?:0|-?[1-9][0-9]*)\n?")
_LIMIT_LOCK = threading.Lock()

# Text that is one number in some spelling: the non-canonical ones get a reason of their own.
_NUMBERISH = re.compile(r"\ufeff?\s*[+-]?[\d_]+\s*")
_NEAR_MISSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\ufeff"), "printed a byte order mark before the number"),
    (re.compile(r"\r"), "ended the line with a carriage return"),
    (re.compile(r"^\s*-[0_]+\s*$"), "printed -0, which Python prints as 0"),
    (re.compile(r"\+"), "printed a leading plus sign, which Python never prints"),
    (re.compile(r"_"), "printed digit separators ('_'), which Python never prints"),
    (re.compile(r"(?![0-9])\d"), "printed non-ASCII digits"),
    (re.compile(r"^\s*-?0[0-9]"), "printed leading zeros"),
    (re.compile(r"^\s|\s\n?\Z|\n."), "printed whitespace or lines around the number"),
)


def int_text(value: int) -> str:
    """``str(value)`` for an integer of any size."""
    try:
        return str(value)
    except ValueError:
        with _LIMIT_LOCK:
            old = sys.get_int_max_str_digits()
            sys.set_int_max_str_digits(0)
            try:
                return str(value)
            finally:
                sys.set_int_max_str_digits(old)


def text_int(text: str | bytes, base: int = 10) -> int:
    """``int(text, base)`` for digits of any length; raises ValueError as int() does for bad text."""
    try:
        return int(text, base)
    except ValueError:
        if base in (2, 4, 8, 16, 32) or len(text) <= 640:
            raise  # powers of two have no limit, and under 640 digits no limit applies: the text is bad
        with _LIMIT_LOCK:
            old = sys.get_int_max_str_digits()
            sys.set_int_max_str_digits(0)
            try:
                return int(text, base)
            finally:
                sys.set_int_max_str_digits(old)


def short_number(value: int) -> str:
    """A number a person can read in one line: a long one by its ends and its length."""
    digits = digit_count(value)
    if digits <= 40:
        return str(value)
    sign = "-" if value < 0 else ""
    head = abs(value) // 10 ** (digits - 18)
    tail = abs(value) % 10**18
    return f"{sign}{head}...{tail:018d} ({digits} digits)"


def parse_number(stdout: bytes) -> int | str:
    """The integer printed, exactly as ``print(n)`` writes it, or the reason it is not."""
    try:
        text = stdout.decode("utf-8", "strict")
    except UnicodeDecodeError as exc:
        return f"output is not valid UTF-8 (byte {exc.start}: {stdout[exc.start : exc.start + 1]!r})"
    if not stdout:
        return "printed nothing"
    if len(stdout) > MAX_DIGITS:
        return f"printed {len(stdout):,} bytes, more than any number quinebox reads ({MAX_DIGITS:,} digits)"
    if not _CANONICAL.fullmatch(stdout):
        if _NUMBERISH.fullmatch(text):
            for pattern, why in _NEAR_MISSES:
                if pattern.search(text):
                    return why
        return "printed something other than exactly one integer"
    return text_int(stdout.rstrip(b"\n"))


def printed_numbers(chain: Chain) -> list[int | None]:
    """Per generation, the number its default run printed, or None where it printed no valid one."""
    numbers: list[int | None] = []
    for generation in chain.generations:
        run = generation.judged(RunKind.DEFAULT)
        value = parse_number(run.stdout) if run is not None and run.ok else None
        numbers.append(value if isinstance(value, int) else None)
    return numbers
