"""Verdicts never flip: not between repeated runs, not between an idle machine and a loaded one."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterator

import pytest

import quinebox
from tests.conftest import require_sandbox
from tests.fixture_runs import FIXTURES, MANIFEST, WAYS, Fixture, run_of

pytestmark = pytest.mark.needs_bwrap
#: One of each kind of verdict the work counter decides, plus a correct O(n) chain.
WORK_SENSITIVE = [
    "good/index_loop.py",
    "bad/naive_recursive.py",
    "bad/quadratic_rebuild.py",
    "hostile/infinite_loop.py",
]


def outcome(path: str) -> tuple[str, str | None, int | None, list[int | None]]:
    fixture = next(f for f in MANIFEST if f.path == path)
    report = quinebox.verify(
        FIXTURES / path,
        generations=fixture.generations,
        sequence=fixture.sequence,
        sandbox="bwrap",
        limits=fixture.limits,
    )
    failure = report.failure
    works = [g.runs["default"].work if "default" in g.runs else None for g in report.generations]
    return report.verdict.value, failure.check if failure else None, failure.generation if failure else None, works


def _burn(stop: float) -> None:
    while time.monotonic() < stop:
        sum(i * i for i in range(10_000))


@pytest.fixture
def both_cores_busy() -> Iterator[None]:
    stop = time.monotonic() + 600
    burners = [multiprocessing.get_context("spawn").Process(target=_burn, args=(stop,)) for _ in range(2)]
    for burner in burners:
        burner.start()
    try:
        yield
    finally:
        for burner in burners:
            burner.terminate()
            burner.join()


@pytest.mark.slow
def test_same_verdict_and_work_idle_and_loaded(both_cores_busy: None) -> None:
    loaded = {path: outcome(path) for path in WORK_SENSITIVE}
    for burner in multiprocessing.active_children():
        burner.terminate()
        burner.join()
    idle = {path: outcome(path) for path in WORK_SENSITIVE}
    assert loaded == idle


#: Every fixture but the hostile ones, which spend their time against the wall-clock limit.
REPEATABLE = [f for f in MANIFEST if not f.path.startswith("hostile/")]


@pytest.mark.needs_docker
@pytest.mark.parametrize("fixture", REPEATABLE, ids=[f.path for f in REPEATABLE])
def test_three_runs_on_two_walls_give_identical_verdicts(fixture: Fixture) -> None:
    """The fixture's runs on bwrap, on docker and on bwrap again (keeping going): one outcome, three times."""
    require_sandbox("docker")
    outcomes = {way: run_of(way, fixture).outcome for way in WAYS}
    assert len(set(outcomes.values())) == 1, outcomes
