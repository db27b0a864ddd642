"""Verdicts never flip: not between repeated runs, not between an idle machine and a loaded one."""

from __future__ import annotations

import multiprocessing
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

import quinebox

pytestmark = pytest.mark.needs_bwrap
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MANIFEST = tomllib.loads((FIXTURES / "manifest.toml").read_text())["fixture"]
#: One of each kind of verdict the work counter decides, plus a correct O(n) chain.
WORK_SENSITIVE = [
    "good/index_loop.py",
    "bad/naive_recursive.py",
    "bad/quadratic_rebuild.py",
    "hostile/infinite_loop.py",
]


def outcome(path: str) -> tuple[str, str | None, int | None, list[int | None]]:
    entry = next(e for e in MANIFEST if e["path"] == path)
    report = quinebox.verify(
        FIXTURES / path,
        generations=entry.get("generations", 50),
        sequence=entry.get("sequence", "fibonacci"),
        sandbox="bwrap",
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
REPEATABLE = [e["path"] for e in MANIFEST if not e["path"].startswith("hostile/")]


@pytest.mark.parametrize("path", REPEATABLE)
def test_three_runs_give_identical_verdicts(path: str) -> None:
    outcomes = {outcome(path)[:3] for _ in range(3)}
    assert len(outcomes) == 1, outcomes
