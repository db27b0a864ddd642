"""Shared test setup: a clean environment, and sandbox availability that never skips silently in CI."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator

import pytest

from quinebox import backends

_STRIPPED = ("NO_COLOR", "FORCE_COLOR", "COLUMNS", "TERM")


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests see neither colour settings nor QUINEBOX_* overrides from the developer's shell."""
    for name in list(os.environ):
        if name in _STRIPPED or name.startswith("QUINEBOX_"):
            monkeypatch.delenv(name, raising=False)
    yield


def sandbox_problem(name: str) -> str | None:
    """Why the named wall cannot run here, or None."""
    return backends.problems(name)


def require_sandbox(name: str) -> None:
    """Skip when the wall is missing, except in CI, where a missing wall is a failure."""
    problem = sandbox_problem(name)
    if problem is None:
        return
    if os.environ.get("CI") and name in ("bwrap", "docker") and not os.environ.get("QUINEBOX_TEST_NO_" + name.upper()):
        pytest.fail(f"CI must run the {name} tests, but: {problem}")
    pytest.skip(problem)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for name in ("bwrap", "docker"):
            if item.get_closest_marker(f"needs_{name}") is not None:
                item.add_marker(pytest.mark.usefixtures(f"_needs_{name}"))


@pytest.fixture
def _needs_bwrap() -> None:
    require_sandbox("bwrap")


@pytest.fixture
def _needs_docker() -> None:
    require_sandbox("docker")


def _burn(stop: float) -> None:
    while time.monotonic() < stop:
        sum(i * i for i in range(10_000))


class Burners:
    """One process spinning on each core, until `stop` or the end of the test."""

    def __init__(self, seconds: float) -> None:
        stop = time.monotonic() + seconds
        self.processes = [
            multiprocessing.get_context("spawn").Process(target=_burn, args=(stop,)) for _ in range(os.cpu_count() or 2)
        ]
        for process in self.processes:
            process.start()

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
            process.join()


@pytest.fixture
def both_cores_busy() -> Iterator[Burners]:
    burners = Burners(1800)
    try:
        yield burners
    finally:
        burners.stop()
