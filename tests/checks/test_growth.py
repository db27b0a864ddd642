from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from quinebox.checks._growth import Growth, classify, extra_work

GENS = 51
#: The most per-run noise the doubling rule (extra[2k] <= 2.5 * extra[k] + 100) absorbs on any straight line.
#: Worst case: noise N at generations 0 and 2k, none at k, and slope * k just under N, so extra[k] is 0 and
#: extra[2k] is about 2N; the rule holds while 2N <= 100. A little under 50 leaves room for the rounding.
NOISE = 48


def curve(f, base: int = 500) -> list[int]:
    return [base + int(f(k)) for k in range(GENS)]


@given(slope=st.floats(0, 500), noise=st.lists(st.integers(0, NOISE), min_size=GENS, max_size=GENS))
def test_linear_with_bounded_noise_is_at_most_linear(slope: float, noise: list[int]) -> None:
    works = [500 + int(slope * k) + noise[k] for k in range(GENS)]
    assert classify(extra_work(works)).at_most_linear


@given(noise=st.lists(st.integers(0, 100), min_size=GENS, max_size=GENS))
def test_constant_with_noise_is_constant(noise: list[int]) -> None:
    result = classify(extra_work([1000 + n for n in noise]))
    assert result.growth is Growth.CONSTANT


@given(coefficient=st.floats(1, 100))
def test_quadratic_is_caught_at_fifty_generations(coefficient: float) -> None:
    result = classify(extra_work(curve(lambda k: coefficient * k * k)))
    assert not result.at_most_linear
    assert result.growth is Growth.QUADRATIC


@given(base=st.floats(1.3, 2.0), scale=st.floats(1, 50))
def test_exponential_is_caught_and_named(base: float, scale: float) -> None:
    works = [int(scale * base**k) for k in range(30)]
    result = classify(extra_work(works))
    assert not result.at_most_linear
    assert result.growth is Growth.EXPONENTIAL


def test_naive_recursion_call_counts_fail_by_generation_ten() -> None:
    calls = [1, 1]
    for _ in range(2, 31):
        calls.append(calls[-1] + calls[-2] + 1)
    result = classify(extra_work(calls))
    assert result.violation is not None and result.violation[1] <= 10
    assert result.growth is Growth.EXPONENTIAL


def test_violation_is_the_first_doubling_pair() -> None:
    works = [0] * 20 + [10_000] * 31
    result = classify(extra_work(works))
    assert result.violation == (10, 20)


def test_missing_counts_are_skipped() -> None:
    assert classify(extra_work([None, 5, 6])).growth is Growth.CONSTANT
    assert classify(extra_work([10, None, 30, None, 50])).at_most_linear
