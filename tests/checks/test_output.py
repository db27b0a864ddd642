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
        (b"5\r\n", "ended the line with a carriage return"),
        (b" 5\n", "printed whitespace or lines around the number"),
        (b"05\n", "printed leading zeros"),
        (b"5\n\n", "printed whitespace or lines around the number"),
        (b"-0\n", "printed -0, which Python prints as 0"),
        (b"+5\n", "printed a leading plus sign, which Python never prints"),
        (b"1_000\n", "printed digit separators ('_'), which Python never prints"),
        ("\u0665\n".encode(), "printed non-ASCII digits"),
        (b"\xef\xbb\xbf5\n", "printed a byte order mark before the number"),
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


# Exactly what print(n) writes for a Python int, and nothing else Python's int() would accept.

_ARABIC_INDIC = str.maketrans("0123456789", "".join(chr(0x660 + d) for d in range(10)))
_FORMS = {
    "minus zero": lambda n: "-" + "0" * (1 + n % 3),
    "plus sign": lambda n: f"+{abs(n)}",
    "separators": lambda n: f"{n:_}" if abs(n) >= 1000 else f"{n}_0",
    "leading zeros": lambda n: f"0{abs(n)}" if n >= 0 else f"-0{abs(n)}",
    "arabic-indic digits": lambda n: str(n).translate(_ARABIC_INDIC),
    "crlf": lambda n: f"{n}\r",
    "bom": lambda n: f"\ufeff{n}",
    "space": lambda n: f" {n}",
    "tab": lambda n: f"{n}\t",
}


@given(st.integers(), st.sampled_from(sorted(_FORMS)), st.booleans())
def test_every_non_canonical_form_is_rejected_with_a_reason(value: int, form: str, newline: bool) -> None:
    text = _FORMS[form](value) + ("\n" if newline else "")
    if text.rstrip("\n") == str(value):
        return  # some forms coincide with the canonical one for some values (no digits to translate)
    reason = parse_number(text.encode())
    assert isinstance(reason, str), (form, text)
    assert reason != "printed something other than exactly one integer", (form, text)
    result = check_output(chain_of([0, text.encode()]), CheckOptions())
    assert not result.passed and result.generation == 1 and reason in result.reason


@given(st.integers())
def test_what_python_prints_is_read_back_exactly(value: int) -> None:
    printed = f"{value}\n".encode()
    assert parse_number(printed) == value
    assert parse_number(printed.rstrip(b"\n")) == value


def test_numbers_past_the_int_string_limit_round_trip_both_ways() -> None:
    from quinebox.checks._numbers import int_text, text_int

    value = 3**30000  # 14,314 digits
    text = int_text(value)
    assert len(text) == 14314 and text_int(text) == value
    assert parse_number(text.encode() + b"\n") == value
    with pytest.raises(ValueError):
        text_int("12x" * 300)
