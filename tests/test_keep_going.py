"""Keeping going records more, and changes nothing about the verdict: every fixture, in the real sandbox."""

from __future__ import annotations

import pytest

import quinebox
from quinebox.backends.fake import FakeBackend, ok
from quinebox.limits import Limits
from tests.fixture_runs import FIXTURES, MANIFEST, Fixture, run_of
from tests.test_chain import chain_handler, counter_program

FAILING = [f for f in MANIFEST if f.verdict == "fail"]


def outcome(report: quinebox.Report) -> tuple[str, str | None, int | None, float | None]:
    failure = report.failure
    return (
        report.verdict.value,
        None if failure is None else failure.check,
        None if failure is None else failure.generation,
        report.score,
    )


@pytest.mark.slow
@pytest.mark.needs_bwrap
@pytest.mark.parametrize("fixture", FAILING, ids=[f.path for f in FAILING])
def test_keep_going_gives_the_same_verdict_check_generation_and_score(fixture: Fixture) -> None:
    stopped, kept = run_of("bwrap", fixture), run_of("keep-going", fixture)
    assert kept.outcome == stopped.outcome, (stopped.report["failure"], kept.report["failure"])
    assert len(kept.report["generations"]) >= len(stopped.report["generations"])


@pytest.mark.slow
@pytest.mark.needs_bwrap
def test_naive_recursion_fails_linear_time_at_generation_10_either_way() -> None:
    """The case that started it: 40 generations, exponential work, a budget spent at generation 30."""
    path = FIXTURES / "bad" / "naive_recursive.py"
    limits = Limits(wall_s=3.0, cpu_s=3)  # the runs past the budget only have to reach it, not finish
    stopped = quinebox.verify(path, generations=40, sandbox="bwrap", limits=limits)
    kept = quinebox.verify(path, generations=40, sandbox="bwrap", keep_going=True, limits=limits)
    assert outcome(stopped) == outcome(kept) == ("fail", "linear-time", 10, pytest.approx(9 / 40))
    assert len(kept.generations) > len(stopped.generations) == 11
    # Keeping going adds evidence: the whole work series is there.
    evidence = kept.check("linear-time")
    assert evidence is not None and len(kept.generations) > 11


def test_score_counts_proven_steps_out_of_n() -> None:
    """A failure at generation g proves g - 1 steps; a pass proves all N; a program ignoring --next none."""

    def wrong_at(g: int):  # type: ignore[no-untyped-def]
        def handler(request):  # type: ignore[no-untyped-def]
            if not request.argv and request.source.endswith(f" {g}\n".encode()):
                return ok(b"999\n")
            return chain_handler(request)

        return handler

    for g in (2, 5, 9):
        report = quinebox.verify(counter_program(0), generations=10, backend=FakeBackend(wrong_at(g)))
        assert report.failure is not None and report.failure.generation == g
        assert report.score == pytest.approx((g - 1) / 10)
    passed = quinebox.verify(counter_program(0), generations=10, backend=FakeBackend(chain_handler))
    assert passed.passed and passed.score == 1.0
    assert passed.reward("binary") == 1.0 and passed.reward("partial") == 1.0


@pytest.mark.needs_bwrap
def test_print_zero_gets_nothing_at_any_n() -> None:
    for n in (1, 10, 50):
        report = quinebox.verify("print(0)\n", generations=n, sandbox="bwrap")
        assert report.verdict.value == "fail" and report.score == 0.0
        assert report.reward("partial") == 0.0 and report.reward("binary") == 0.0
