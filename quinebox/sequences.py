"""The integer sequences a chain may walk: x(n+1) = x(n) + x(n-1) from two seeds.

Fibonacci (0, 1) is the default, Lucas (2, 1) is built in, and any other
pair of seeds can be named as ``"a,b"``. A chain may start anywhere in its
sequence: its first two numbers fix the position.
"""

from __future__ import annotations

from dataclasses import dataclass

from quinebox.errors import UsageError


@dataclass(frozen=True)
class Sequence:
    """A Fibonacci-like sequence, given by its name and first two terms."""

    name: str
    seeds: tuple[int, int]

    def terms(self, count: int) -> list[int]:
        a, b = self.seeds
        out = []
        for _ in range(count):
            out.append(a)
            a, b = b, a + b
        return out

    def contains(self, value: int) -> bool:
        """Whether `value` is a term (index 0 or later)."""
        a, b = self.seeds
        for _ in range(_step_bound(value)):
            if a == value:
                return True
            if a > value and b > value and a <= b:
                return False
            a, b = b, a + b
        return False

    def successors(self, value: int) -> list[int]:
        """Every term that may follow `value` (1 in Fibonacci may be followed by 1 or 2)."""
        found: list[int] = []
        a, b = self.seeds
        for _ in range(_step_bound(value)):
            if a == value and b not in found:
                found.append(b)
            if a > value and b > value and a <= b:
                break
            a, b = b, a + b
        return found

    def consecutive(self, first: int, second: int) -> bool:
        """Whether `second` follows `first` somewhere in the sequence, walking back to the seeds."""
        a, b = first, second
        for _ in range(_step_bound(max(abs(first), abs(second)))):
            if (a, b) == self.seeds:
                return True
            if a < 0 or b < 0:
                return False
            a, b = b - a, a
        return False


def _step_bound(value: int) -> int:
    # Terms grow at least like phi**n once positive: 1.44 steps per bit suffice. Counted in bits,
    # since str() of an integer past 4300 digits raises.
    return 3 * abs(value).bit_length() // 2 + 16


def digit_count(value: int) -> int:
    """Decimal digits of `value` (sign aside), for integers of any size, without converting to text."""
    n = abs(value)
    if n < 10:
        return 1
    # 10**(d-1) <= n < 10**(d+1) for d = floor(bits * log10(2)); one power of ten tells which.
    d = int(n.bit_length() * 0.30102999566398120)
    return d + 1 if n >= 10**d else d


FIBONACCI = Sequence("fibonacci", (0, 1))
LUCAS = Sequence("lucas", (2, 1))
BUILT_IN = {s.name: s for s in (FIBONACCI, LUCAS)}


def parse_sequence(text: str) -> Sequence:
    """``fibonacci``, ``lucas``, or two seeds ``"a,b"`` for any other x(n+1) = x(n) + x(n-1)."""
    key = text.strip().lower()
    if key in BUILT_IN:
        return BUILT_IN[key]
    parts = key.split(",")
    if len(parts) == 2:
        try:
            seeds = (int(parts[0]), int(parts[1]))
        except ValueError:
            pass
        else:
            if seeds[0] < 0 or seeds[1] < 0:
                raise UsageError(f"sequence seeds must not be negative: {text!r}")
            if seeds == (0, 0):
                # 0, 0, 0, ... never grows: every program could print 0 and pass.
                raise UsageError(f"sequence seeds {text!r} do not grow: at least one seed must be positive")
            return Sequence(f"{seeds[0]},{seeds[1]}", seeds)
    raise UsageError(f"unknown sequence {text!r}: use fibonacci, lucas, or two seeds like 2,1")
