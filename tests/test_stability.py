"""Verdicts never flip: not between repeated runs, not between an idle machine and a loaded one."""

from __future__ import annotations

import pytest

from tests.conftest import Burners, require_sandbox
from tests.fixture_runs import MANIFEST, WAYS, Fixture, run_of, verify_fixture

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
    report = verify_fixture(fixture)
    failure = report.failure
    works = [g.runs["default"].work if "default" in g.runs else None for g in report.generations]
    return report.verdict.value, failure.check if failure else None, failure.generation if failure else None, works


@pytest.mark.slow
def test_same_verdict_and_work_idle_and_loaded(both_cores_busy: Burners) -> None:
    loaded = {path: outcome(path) for path in WORK_SENSITIVE}
    both_cores_busy.stop()
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
