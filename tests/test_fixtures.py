"""Every labelled fixture, through the real CLI and the real sandbox, gives the verdict its manifest names."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest

from quinebox.report.schema import REPORT_SCHEMA
from tests.conftest import require_sandbox

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
