"""The checks judged one generation at a time agree with the checks over the whole chain; big numbers pass."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

import quinebox
from quinebox.backends.base import RunRequest
from quinebox.backends.fake import FakeBackend, ok
from quinebox.checks import ChainJudge, first_failure, run_checks
from quinebox.checks._numbers import digit_count, int_text
from quinebox.checks._result import CheckOptions
from quinebox.record import Chain, RunResult
from quinebox.sequences import FIBONACCI
from tests.checks.chains import chain_of


def _fib_pair(n: int) -> tuple[int, int]:
    """(F(n), F(n+1)) by fast doubling: a start far along the sequence without walking there."""
    if n == 0:
        return 0, 1
    a, b = _fib_pair(n // 2)
    c = a * (2 * b - a)
    d = a * a + b * b
    return (d, c + d) if n % 2 else (c, d)


@settings(max_examples=40, deadline=None)
@given(
    numbers=st.lists(st.one_of(st.sampled_from(FIBONACCI.terms(30)), st.integers(0, 900)), min_size=1, max_size=25),
    works=st.lists(st.integers(0, 10**6), min_size=25, max_size=25),
)
def test_the_early_stop_never_disagrees_with_the_final_verdict(numbers: list[int], works: list[int]) -> None:
    chain = chain_of(list(numbers), works=works[: len(numbers)])
    judge = ChainJudge(CheckOptions(partial=True))
    for m, generation in enumerate(chain.generations):
        early = judge.add(generation)
        prefix = Chain(chain.generations[: m + 1], chain.requested)
        again = first_failure(run_checks(prefix, CheckOptions(partial=True)))
        assert (early is None) == (again is None)
        if early is not None and again is not None:
            assert (early.name, early.generation) == (again.name, again.generation)
            # and once failed, the final verdict over the stopped chain says the same
            final = first_failure(run_checks(prefix, CheckOptions(partial=True)))
            assert final is not None and (final.name, final.generation) == (early.name, early.generation)
            break


def test_a_chain_of_ten_thousand_digit_numbers_passes() -> None:
    start = 47_840  # F(47840) has 9,998 digits
    first, second = _fib_pair(start)
    terms = [first, second]
    while len(terms) < 14:
        terms.append(terms[-1] + terms[-2])
    printed = [int_text(t).encode() + b"\n" for t in terms]

    def handler(request: RunRequest) -> RunResult:
        k = int(request.source.split()[-1])
        return ok(f"# generation {k + 1}\n".encode()) if request.argv else ok(printed[k])

    report = quinebox.verify(b"# generation 0\n", generations=12, backend=FakeBackend(handler))
    assert report.passed, report.failure
    assert digit_count(terms[0]) >= 9_990 and report.generations[12].number == int_text(terms[12])
    sequence = next(c for c in report.checks if c.name == "sequence")
    assert "digits)" in sequence.reason
