from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quinebox.checks._result import CheckOptions
from quinebox.checks.sequence import check_sequence
from quinebox.errors import UsageError
from quinebox.sequences import FIBONACCI, LUCAS, parse_sequence
from tests.checks.chains import chain_of

FIB = CheckOptions(sequence=FIBONACCI)


@given(start=st.integers(min_value=0, max_value=400), length=st.integers(min_value=1, max_value=40))
def test_any_window_of_fibonacci_passes(start: int, length: int) -> None:
    numbers = FIBONACCI.terms(start + length)[start:]
    assert check_sequence(chain_of(numbers), FIB).passed


@given(
    start=st.integers(min_value=0, max_value=200),
    length=st.integers(min_value=3, max_value=30),
    where=st.data(),
    delta=st.integers(min_value=1, max_value=5),
)
def test_a_single_wrong_number_fails_at_its_generation(
    start: int, length: int, where: st.DataObject, delta: int
) -> None:
    numbers = FIBONACCI.terms(start + length)[start:]
    k = where.draw(st.integers(min_value=2, max_value=length - 1))
    numbers[k] += delta
    result = check_sequence(chain_of(numbers), FIB)
    assert not result.passed and result.generation == k
    assert result.evidence["expected"] == [str(numbers[k - 1] + numbers[k - 2])]


@given(start=st.integers(min_value=0, max_value=100), length=st.integers(min_value=2, max_value=20))
def test_lucas_passes_as_lucas_and_fails_as_fibonacci(start: int, length: int) -> None:
    numbers = LUCAS.terms(start + length)[start:]
    assert check_sequence(chain_of(numbers), CheckOptions(sequence=LUCAS)).passed
    # Walking back from a Lucas pair only ever meets Lucas pairs, never Fibonacci's (0, 1).
    assert not check_sequence(chain_of(numbers), FIB).passed


def test_sixty_digit_start() -> None:
    terms = FIBONACCI.terms(300)
    numbers = terms[285:300]
    assert len(str(numbers[0])) == 60
    assert check_sequence(chain_of(numbers), FIB).passed


def test_off_by_one_skips_a_term() -> None:
    numbers = [0, 1, 1, 2, 3, 8, 13]
    result = check_sequence(chain_of(numbers), FIB)
    assert not result.passed and result.generation == 5
    assert result.reason == "expected 5, printed 8"


def test_second_number_must_follow_the_first() -> None:
    result = check_sequence(chain_of([5, 9, 14]), FIB)
    assert not result.passed and result.generation == 1
    assert result.evidence["expected"] == ["8"]


def test_one_may_be_followed_by_one_or_two() -> None:
    assert check_sequence(chain_of([1, 1, 2]), FIB).passed
    assert check_sequence(chain_of([1, 2, 3]), FIB).passed
    failing = check_sequence(chain_of([1, 4]), FIB)
    assert failing.reason == "expected 1 or 2 after 1, printed 4"


def test_first_number_must_be_a_term() -> None:
    result = check_sequence(chain_of([4, 7]), FIB)
    assert not result.passed and result.generation == 0


def test_missing_numbers_are_left_to_other_checks() -> None:
    assert check_sequence(chain_of([0, 1, b"oops\n"]), FIB).passed


@pytest.mark.parametrize(("text", "seeds"), [("fibonacci", (0, 1)), ("Lucas", (2, 1)), ("3,7", (3, 7))])
def test_parse_sequence(text: str, seeds: tuple[int, int]) -> None:
    assert parse_sequence(text).seeds == seeds


@pytest.mark.parametrize("text", ["tribonacci", "1,2,3", "-1,2", ""])
def test_parse_sequence_rejects(text: str) -> None:
    with pytest.raises(UsageError):
        parse_sequence(text)


@given(seeds=st.tuples(st.integers(0, 50), st.integers(0, 50)).filter(lambda s: s != (0, 0)), start=st.integers(0, 60))
def test_user_seeds_walk_back_to_their_seeds(seeds: tuple[int, int], start: int) -> None:
    spec = parse_sequence(f"{seeds[0]},{seeds[1]}")
    terms = spec.terms(start + 2)
    assert spec.consecutive(terms[start], terms[start + 1]) or terms[start] > terms[start + 1]
