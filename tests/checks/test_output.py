from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quinebox.checks._numbers import parse_number
from quinebox.checks._result import CheckOptions
from quinebox.checks.output import check_output
from tests.checks.chains import chain_of


@given(st.integers())
def test_any_integer_with_or_without_newline_parses(value: int) -> None:
    assert parse_number(f"{value}\n".encode()) == value
    assert parse_number(str(value).encode()) == value


@pytest.mark.parametrize(
    ("printed", "reason"),
    [
        (b"The answer is 5\n", "printed something other than exactly one integer"),
        (b"5\n8\n", "printed something other than exactly one integer"),
        (b"", "printed nothing"),
        (b"5\r\n", "printed something other than exactly one integer"),
        (b" 5\n", "printed something other than exactly one integer"),
        (b"05\n", "printed something other than exactly one integer"),
        (b"5\n\n", "printed something other than exactly one integer"),
        (b"\xff5\n", "output is not valid UTF-8 (byte 0: b'\\xff')"),
    ],
)
def test_malformed_output_fails(printed: bytes, reason: str) -> None:
    assert parse_number(printed) == reason
    result = check_output(chain_of([0, 1, printed]), CheckOptions())
    assert not result.passed and result.generation == 2
    assert result.reason.startswith(f"program 2 {reason}")


def test_huge_numbers_parse_beyond_the_int_string_limit() -> None:
    value = (10**5000 - 1) // 9 * 7  # 5000 sevens
    digits = "7" * 5000
    assert parse_number(digits.encode()) == value
