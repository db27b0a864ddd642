"""A program that carries the answers instead of computing them fails integrity, naming the terms."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quinebox.checks._answers import carried_table
from quinebox.checks._result import CheckOptions
from quinebox.checks.integrity import check_integrity
from quinebox.sequences import FIBONACCI, LUCAS
from tests.checks.chains import chain_of

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TERMS = FIBONACCI.terms(80)

SPELLINGS: dict[str, Callable[[list[int]], str]] = {
    "decimal list": lambda ts: f"T = {ts!r}\n",
    "hex literals": lambda ts: "T = [" + ", ".join(hex(t) for t in ts) + "]\n",
    "octal literals": lambda ts: "T = [" + ", ".join(oct(t) for t in ts) + "]\n",
    "binary literals": lambda ts: "T = [" + ", ".join(bin(t) for t in ts) + "]\n",
    "separated string": lambda ts: f"T = {'|'.join(map(str, ts))!r}.split('|')\n",
    "bare hex string": lambda ts: f"T = {' '.join(format(t, 'x') for t in ts)!r}\n",
    "base64 text": lambda ts: f"T = {base64.b64encode(','.join(map(str, ts)).encode()).decode()!r}\n",
    "base64 numbers": lambda ts: (
        "T = "
        + repr(" ".join(base64.b64encode(t.to_bytes(t.bit_length() // 8 + 1, "big")).decode() for t in ts))
        + "\n"
    ),
}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_a_table_in_any_spelling_fails_and_names_its_terms(spelling: str) -> None:
    k = 20
    table = TERMS[k + 2 : k + 62]
    source = (SPELLINGS[spelling](table) + "print(T[0])\n").encode()
    chain = chain_of([TERMS[k], TERMS[k + 1]], sources=[source, source])
    result = check_integrity(chain, CheckOptions())
    json.dumps(result.evidence)
    assert not result.passed and result.generation == 0, spelling
    assert result.evidence["rule"] == "answers" and result.evidence["carried"] >= 58
    assert str(TERMS[k + 2]) in result.reason and "table of answers" in result.reason


@settings(max_examples=80, deadline=None)
@given(k=st.integers(0, 70), start=st.integers(2, 30), length=st.integers(4, 12))
def test_four_consecutive_future_terms_are_a_table(k: int, start: int, length: int) -> None:
    terms = FIBONACCI.terms(k + start + length + 2)
    table = terms[k + start : k + start + length]
    if min(table) < 10:
        return  # everyday constants are never evidence
    found = carried_table(f"x = {table!r}\n".encode(), terms[k], terms[k + 1])
    assert found is not None and set(table) <= set(found)


@settings(max_examples=80, deadline=None)
@given(k=st.integers(0, 300), extra=st.integers(0, 1))
def test_the_state_and_one_more_term_are_not_a_table(k: int, extra: int) -> None:
    terms = FIBONACCI.terms(k + 5)
    state = terms[k : k + 2 + extra]
    assert carried_table(f"a, b = {state!r}\nprint(a)\n".encode(), terms[k], terms[k + 1]) is None


def test_three_future_terms_are_allowed_four_are_not() -> None:
    assert carried_table(b"x = (89, 144, 233)\n", 34, 55) is None
    assert carried_table(b"x = (89, 144, 233, 377)\n", 34, 55) == (89, 144, 233, 377)


def test_lucas_tables_are_found_for_lucas() -> None:
    terms = LUCAS.terms(40)
    source = f"T = {terms[5:30]!r}\n".encode()
    chain = chain_of([terms[3], terms[4]], sources=[source, source])
    assert not check_integrity(chain, CheckOptions(sequence=LUCAS)).passed


@pytest.mark.parametrize("path", sorted(p.name for p in (FIXTURES / "good").glob("*.py")))
def test_correct_fixtures_carry_no_table(path: str) -> None:
    source = (FIXTURES / "good" / path).read_bytes()
    for k in (0, 1, 10, 60, 300):
        assert (
            carried_table(source, TERMS[k] if k < 80 else FIBONACCI.terms(k + 2)[k], FIBONACCI.terms(k + 2)[k + 1])
            is None
        )


def _noise(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), k=st.sampled_from([0, 3, 10]))
def test_a_random_binary_payload_is_no_table_in_any_encoding(seed: int, k: int) -> None:
    """75 KB of noise spells every small number somewhere; none of it is a table."""
    data = _noise(seed, 75_000)
    for source in (
        f"P = {base64.b64encode(data).decode()!r}\n".encode(),
        f"P = {data.hex()!r}\n".encode(),
        ('P = "' + "".join(f"\\x{b:02x}" for b in data[:20_000]) + '"\n').encode(),
    ):
        assert carried_table(source, TERMS[k], TERMS[k + 1]) is None


@pytest.mark.parametrize("spelling", ["text in base64", "bytes in base64", "byte escapes"])
def test_a_table_hidden_in_binary_noise_is_still_found_in_order(spelling: str) -> None:
    table = TERMS[7:13]  # 13, 21, 34, 55, 89, 144: each fits a byte
    noise = _noise(7, 4_000)
    if spelling == "text in base64":
        blob = noise + b"\n" + ",".join(map(str, table)).encode() + b"\n" + noise
        source = f"P = {base64.b64encode(blob).decode()!r}\n"
    elif spelling == "bytes in base64":
        source = f"P = {base64.b64encode(noise + bytes(table) + noise).decode()!r}\n"
    else:
        source = 'P = "' + "".join(f"\\x{b:02x}" for b in noise[:500] + bytes(table) + noise[:500]) + '"\n'
    found = carried_table(source.encode(), TERMS[5], TERMS[6])
    assert found is not None and set(table) <= set(found), spelling
