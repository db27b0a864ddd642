"""Every labelled fixture, through the real CLI and the real sandbox, gives the verdict its manifest names."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from quinebox.report.schema import REPORT_SCHEMA
from tests.conftest import require_sandbox, sandbox_problem
from tests.test_cleanup import sandbox_processes

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CHECKS = ("runs", "output", "sequence", "self-similarity", "integrity", "linear-time", "determinism")


@dataclass(frozen=True)
class Fixture:
    path: str
    verdict: str
    check: str | None
    alt: tuple[str, ...]
    generation: int | None
    sequence: str
    generations: int
    why: str


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
            why=entry.get("why", ""),
        )
        for entry in data["fixture"]
    ]


MANIFEST = load_manifest()


def test_manifest_is_complete_and_consistent() -> None:
    listed = {f.path for f in MANIFEST}
    on_disk = {
        str(p.relative_to(FIXTURES))
        for p in FIXTURES.rglob("*")
        if p.is_file() and p.parent != FIXTURES and not p.name.startswith("make_")
    }
    assert on_disk == listed
    for fixture in MANIFEST:
        assert fixture.verdict in ("pass", "fail"), fixture
        assert (fixture.check is None) == (fixture.verdict == "pass"), fixture
        assert all(name in CHECKS for name in (fixture.check, *fixture.alt) if name), fixture
        assert fixture.why, fixture
    kinds = {f.path.split("/")[0] for f in MANIFEST}
    assert {"good", "bad", "cheats", "hostile"} <= kinds
    assert sum(f.verdict == "pass" for f in MANIFEST) >= 8
    assert sum(f.verdict == "fail" and f.path.startswith("bad/") for f in MANIFEST) >= 8


CANARY = f"qbx-canary-{uuid.uuid4().hex}"
SEEN_OUTPUT: list[bytes] = []


@pytest.fixture(scope="module", autouse=True)
def canaries() -> Iterator[None]:
    """Secrets planted in the host's home and /tmp while the fixtures run; no output may ever hold them."""
    paths = [Path.home() / f".{CANARY}", Path(tempfile.gettempdir()) / CANARY]
    for path in paths:
        path.write_text(CANARY)
    try:
        yield
    finally:
        for path in paths:
            path.unlink(missing_ok=True)


def verify(fixture: Fixture, sandbox: str) -> tuple[int, dict[str, object]]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "quinebox",
            "verify",
            str(FIXTURES / fixture.path),
            "--json",
            "--quiet",
            "--sandbox",
            sandbox,
            "--generations",
            str(fixture.generations),
            "--sequence",
            fixture.sequence,
        ],
        capture_output=True,
        timeout=120,
    )
    SEEN_OUTPUT.extend((result.stdout, result.stderr))
    assert result.returncode in (0, 1), result.stderr.decode(errors="replace")[-2000:]
    report = json.loads(result.stdout)
    jsonschema.validate(report, REPORT_SCHEMA)
    return result.returncode, report


@pytest.mark.parametrize("sandbox", ["bwrap", "docker"])
@pytest.mark.parametrize("fixture", MANIFEST, ids=[f.path for f in MANIFEST])
def test_fixture_verdict(fixture: Fixture, sandbox: str) -> None:
    require_sandbox(sandbox)
    code, report = verify(fixture, sandbox)
    failure = report["failure"]
    if fixture.verdict == "pass":
        assert (code, report["verdict"], failure) == (0, "pass", None)
        return
    assert code == 1 and report["verdict"] == "fail", report
    assert isinstance(failure, dict)
    assert failure["check"] in (fixture.check, *fixture.alt), failure
    if fixture.generation is not None and failure["check"] == fixture.check:
        assert failure["generation"] == fixture.generation, failure


def test_after_the_whole_suite_nothing_is_left_and_no_canary_leaked() -> None:
    """Runs after every fixture above (pytest keeps file order): the host is as it was."""
    assert SEEN_OUTPUT, "the fixtures ran before this test"
    assert not [out for out in SEEN_OUTPUT if CANARY.encode() in out]
    assert sandbox_processes() == []
    leftovers = [name for name in os.listdir(tempfile.gettempdir()) if name.startswith("quinebox-")]
    assert leftovers == []
    if sandbox_problem("docker") is None:
        import docker

        client = docker.from_env()
        try:
            assert client.containers.list(all=True, filters={"label": "org.quinebox.session"}) == []
        finally:
            client.close()
