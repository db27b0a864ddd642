"""linear-time: the work count, and the CPU-time backstop that no load may flip."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quinebox.checks._cpu import TOLERANCE, CpuSeries, LinearFit, least_tolerance
from quinebox.checks._result import CheckOptions, CheckResult
from quinebox.checks.linear_time import check_linear_time
from quinebox.record import Chain, Generation, RunKind, RunResult, Status

KINDS = (RunKind.DEFAULT, RunKind.DEFAULT_BLIND, RunKind.NEXT, RunKind.NEXT_BLIND)


def _run(cpu_ms: float, work: int | None) -> RunResult:
    return RunResult(Status.OK, 0, None, b"1\n", b"", cpu_ms, cpu_ms, work)


def timed_chain(
    cost: Callable[[int], float], count: int = 51, *, noise: random.Random | None = None, work: int | None = 100
) -> Chain:
    """A chain whose every run took cost(k) ms, times up to 2x load noise when `noise` is given."""
    generations = []
    for k in range(count):
        runs = {}
        for kind in KINDS:
            factor = noise.uniform(1.0, 2.0) if noise is not None else 1.0
            runs[kind] = _run(cost(k) * factor, work)
        generations.append(Generation(k, f"print({k})\n".encode(), runs))
    return Chain(tuple(generations), count - 1)


def check(chain: Chain) -> CheckResult:
    result = check_linear_time(chain, CheckOptions())
    json.dumps(result.evidence)
    return result


def exponential(k: int) -> float:
    return 2.9 * (271 / 2.9) ** (k / 50)


def quadratic(k: int) -> float:
    return 2.9 + (271 - 2.9) * (k / 50) ** 2


@settings(max_examples=150, deadline=None)
@given(
    base=st.sampled_from([3.0, 15.0, 40.0, 120.0, 900.0]),
    slope=st.sampled_from([0.0, 0.2, 1.0, 5.0, 30.0]),
    count=st.sampled_from([51, 201]),
    seed=st.integers(0, 2**32),
)
def test_a_noisy_linear_cost_never_fails(base: float, slope: float, count: int, seed: int) -> None:
    result = check(timed_chain(lambda k: base + slope * k, count, noise=random.Random(seed)))
    assert result.passed, result.reason


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), cost=st.sampled_from([exponential, quadratic]))
def test_exponential_and_quadratic_cpu_always_fail_while_work_stays_flat(
    seed: int, cost: Callable[[int], float]
) -> None:
    result = check(timed_chain(cost, noise=random.Random(seed)))
    assert not result.passed
    assert result.evidence["measure"] == "cpu_ms"
    assert "CPU time" in result.reason and "does not see it" in result.reason
    assert len(result.evidence["cpu_ms_default"]) == result.generation + 1
    assert result.evidence["work"][0] == 100


def test_a_load_burst_over_the_late_generations_does_not_fail() -> None:
    # Every run of the last 20 generations at 2x: exactly what a neighbour's build does to a chain.
    assert check(timed_chain(lambda k: 20.0 * (2 if k > 30 else 1))).passed


def test_a_cheap_program_zero_and_one_stray_slow_run_are_forgiven() -> None:
    assert check(timed_chain(lambda k: 15.0 if k == 0 else 120.0)).passed
    assert check(timed_chain(lambda k: 900.0 if k == 17 else 20.0)).passed


def test_the_floor_keeps_tiny_programs_quiet() -> None:
    # Quadratic, but never more than a few ms above program 0: not held against anyone.
    assert check(timed_chain(lambda k: 1.0 + 0.01 * k * k)).passed


def test_the_early_stop_and_the_final_verdict_agree() -> None:
    chain = timed_chain(exponential, noise=random.Random(7))
    full = check(chain)
    assert not full.passed and full.generation == len(chain.generations) - 1  # judged at the end
    for end in range(1, len(chain.generations)):
        prefix = Chain(chain.generations[:end], chain.requested)
        assert check_linear_time(prefix, CheckOptions(partial=True)).passed  # no early stop disagrees


@pytest.mark.parametrize("seed", range(20))
def test_where_cpu_time_fails_does_not_depend_on_the_noise(seed: int) -> None:
    """Noise moves where the fit breaks, never the generation reported: the end, or 64, 128 ..."""
    for generations in (50, 70, 140):
        chain = timed_chain(lambda k: 3.0 * 1.1**k, generations + 1, noise=random.Random(seed))
        result = check(chain)
        assert not result.passed
        assert result.generation in (64, 128, generations), result.generation


def test_a_missing_counter_says_not_measured_and_relies_on_cpu() -> None:
    passing = check(timed_chain(lambda k: 20.0, work=None))
    assert passing.passed and "not measured" in passing.reason and "CPU time" in passing.reason
    failing = check(timed_chain(exponential, work=None))
    assert not failing.passed and failing.evidence["measure"] == "cpu_ms" and "not measured" in failing.reason


def test_work_that_grows_fails_on_work_and_says_so() -> None:
    chain = timed_chain(lambda k: 20.0)
    works = [100 + k * k * 50 for k in range(len(chain.generations))]
    generations = tuple(
        Generation(g.index, g.source, {kind: _run(20.0, works[g.index]) for kind in KINDS}) for g in chain.generations
    )
    result = check(Chain(generations, chain.requested))
    assert not result.passed and result.evidence["measure"] == "work"
    assert result.evidence["growth"] == "quadratic" and "cpu_ms_next" in result.evidence


def test_the_fastest_run_of_the_same_program_is_the_one_judged() -> None:
    # The sighted run is slow and growing; its blind twin, the same program with the same argument, is not.
    generations = []
    for k in range(51):
        runs = {kind: _run(20.0, 100) for kind in KINDS}
        runs[RunKind.DEFAULT] = _run(exponential(k) + 20, 100)
        generations.append(Generation(k, b"", runs))
    assert check(Chain(tuple(generations), 50)).passed


@pytest.mark.parametrize("k", [1, 5, 50])
def test_the_fit_is_a_polygon_that_only_shrinks(k: int) -> None:
    fit = LinearFit()
    fit.at_most(k, 10.0)
    fit.at_least(k, 5.0)
    assert fit.feasible
    fit.at_least(2 * k, 100.0)
    fit.at_most(3 * k, 20.0)
    assert not fit.feasible


def test_series_rise_is_measured_from_program_zero() -> None:
    series = CpuSeries()
    for k, t in enumerate([10.0, 12.0, 70.0, 75.0]):
        series.add(k, t)
    series.finish()
    # Generation 3's robust time is the smaller of it and its neighbour: 70 ms, 60 above program 0.
    assert series.rise == pytest.approx(60.0)


def _fits(times: list[float], tolerance: float = TOLERANCE) -> bool:
    series = CpuSeries(tolerance=tolerance)
    for k, cpu_ms in enumerate(times):
        series.add(k, cpu_ms)
    series.finish()
    return series.fit.feasible


@settings(max_examples=80, deadline=None)
@given(times=st.lists(st.floats(1.0, 2000.0), min_size=3, max_size=60))
def test_the_least_tolerance_is_where_the_fit_starts_to_hold(times: list[float]) -> None:
    """The bench's margin figure agrees with the check: the fit holds above it and fails below it."""
    least = least_tolerance(times)
    assert _fits(times, least)
    assert least == 1.0 or not _fits(times, least / 1.02)
    assert (least <= TOLERANCE) == _fits(times) or abs(least - TOLERANCE) / TOLERANCE < 0.02


def test_the_least_tolerance_separates_a_line_from_exponential_growth() -> None:
    line = [15.0 + 0.8 * k for k in range(51)]
    grows = [exponential(k) for k in range(51)]
    assert least_tolerance(line) < 1.1
    assert least_tolerance(grows) > 2 * TOLERANCE  # 2.9 ms to 271 ms over 50 generations
