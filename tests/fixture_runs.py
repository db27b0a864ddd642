"""Every labelled fixture, verified once per way, two at a time, and shared by the tests that judge the runs.

The fixture tests, the keep-going tests and the stability tests all need the same verifications: each
fixture on bwrap and on docker through the CLI, and once more through the API with ``keep_going``. Run
once each and cached, those three runs per fixture are also the three runs in a row that must agree.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import tempfile
import tomllib
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema

import quinebox
from quinebox.limits import Limits
from quinebox.report.schema import REPORT_SCHEMA

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CHECKS = ("runs", "output", "sequence", "self-similarity", "integrity", "linear-time", "determinism")
#: Verifications at once: one per core of the machine CI runs on.
AT_ONCE = 2
#: The ways a fixture is verified. Each is run for every fixture at most once per test session.
WAYS = ("bwrap", "docker", "keep-going")


@dataclass(frozen=True)
class Fixture:
    path: str
    verdict: str
    check: str | None
    alt: tuple[str, ...]
    generation: int | None
    sequence: str
    generations: int
    timeout: float | None
    """Wall seconds per run the tests give it; None for the tool's default."""
    why: str

    @property
    def limits(self) -> Limits:
        if self.timeout is None:
            return Limits()
        return Limits(wall_s=self.timeout, cpu_s=max(1, int(self.timeout + 0.999)))


def load_manifest() -> list[Fixture]:
    data = tomllib.loads((FIXTURES / "manifest.toml").read_text())
    return [
        Fixture(
            path=entry["path"],
            verdict=entry["verdict"],
            check=entry.get("check"),
            alt=tuple(entry.get("alt", ())),
            generation=entry.get("generation"),
            sequence=entry.get("sequence", "fibonacci"),
            generations=entry.get("generations", 50),
            timeout=entry.get("timeout"),
            why=entry.get("why", ""),
        )
        for entry in data["fixture"]
    ]


MANIFEST = load_manifest()
CANARY = f"qbx-canary-{uuid.uuid4().hex}"
#: Everything any verification printed or reported, searched for the canary at the end.
SEEN_OUTPUT: list[bytes] = []

Outcome = tuple[str, str | None, int | None, float | None]


@dataclass(frozen=True)
class Run:
    """One verification of one fixture: the CLI's exit code (None through the API) and the report as JSON."""

    code: int | None
    report: dict[str, Any]

    @property
    def outcome(self) -> Outcome:
        """What must never flip: verdict, failing check, failing generation and score."""
        failure = self.report["failure"]
        return (
            self.report["verdict"],
            None if failure is None else failure["check"],
            None if failure is None else failure["generation"],
            self.report["score"],
        )


def run_of(way: str, fixture: Fixture) -> Run:
    """The fixture's run in that way; an error it raised is raised again in the test that asks."""
    result = _runs(way)[fixture.path]
    if isinstance(result, BaseException):
        raise result
    return result


def _cli(sandbox: str) -> Callable[[Fixture], Run]:
    def verify(fixture: Fixture) -> Run:
        timeout = [] if fixture.timeout is None else ["--timeout", str(fixture.timeout)]
        command = [sys.executable, "-m", "quinebox", "verify", str(FIXTURES / fixture.path), "--json", "--quiet"]
        options = ["--sandbox", sandbox, "--generations", str(fixture.generations), "--sequence", fixture.sequence]
        result = subprocess.run([*command, *options, *timeout], capture_output=True, timeout=300)
        SEEN_OUTPUT.extend((result.stdout, result.stderr))
        assert result.returncode in (0, 1), result.stderr.decode(errors="replace")[-2000:]
        report = json.loads(result.stdout)
        jsonschema.validate(report, REPORT_SCHEMA)
        return Run(result.returncode, report)

    return verify


def verify_fixture(fixture: Fixture, **options: Any) -> quinebox.Report:
    """The fixture verified through the API on bwrap, with its manifest's generations, sequence and limits."""
    return quinebox.verify(
        FIXTURES / fixture.path,
        generations=fixture.generations,
        sequence=fixture.sequence,
        sandbox="bwrap",
        limits=fixture.limits,
        **options,
    )


def _keep_going(fixture: Fixture) -> Run:
    report = verify_fixture(fixture, keep_going=True)
    text = report.to_json()
    SEEN_OUTPUT.append(text.encode())
    return Run(None, json.loads(text))


VERIFY: dict[str, Callable[[Fixture], Run]] = {
    "bwrap": _cli("bwrap"),
    "docker": _cli("docker"),
    "keep-going": _keep_going,
}


@functools.cache
def _runs(way: str) -> dict[str, Run | BaseException]:
    verify = VERIFY[way]

    def attempt(fixture: Fixture) -> Run | BaseException:
        try:
            return verify(fixture)
        except Exception as error:  # kept for the one test it belongs to
            return error

    # The compiled languages first, so that a slow compile never ends the batch alone on one core.
    order = sorted(MANIFEST, key=lambda f: (f.path.endswith(".py"), f.path))
    with planted_canaries(), ThreadPoolExecutor(AT_ONCE) as pool:
        return dict(zip((f.path for f in order), pool.map(attempt, order), strict=True))


@contextmanager
def planted_canaries() -> Iterator[None]:
    """Secrets in the host's home and /tmp while fixtures run; no output may ever hold them."""
    paths = [Path.home() / f".{CANARY}", Path(tempfile.gettempdir()) / CANARY]
    for path in paths:
        path.write_text(CANARY)
    try:
        yield
    finally:
        for path in paths:
            path.unlink(missing_ok=True)
