"""Every labelled fixture, through the real CLI and the real sandbox, gives the verdict its manifest names."""

from __future__ import annotations

import os
import tempfile

import pytest

from tests.conftest import require_sandbox, sandbox_problem
from tests.fixture_runs import CANARY, CHECKS, FIXTURES, MANIFEST, SEEN_OUTPUT, Fixture, run_of
from tests.test_cleanup import sandbox_processes


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
        assert fixture.timeout is None or fixture.timeout > 0, fixture
    kinds = {f.path.split("/")[0] for f in MANIFEST}
    assert {"good", "bad", "cheats", "hostile"} <= kinds
    assert sum(f.verdict == "pass" for f in MANIFEST) >= 8
    assert sum(f.verdict == "fail" and f.path.startswith("bad/") for f in MANIFEST) >= 8


@pytest.mark.parametrize("sandbox", ["bwrap", "docker"])
@pytest.mark.parametrize("fixture", MANIFEST, ids=[f.path for f in MANIFEST])
def test_fixture_verdict(fixture: Fixture, sandbox: str) -> None:
    require_sandbox(sandbox)
    run = run_of(sandbox, fixture)
    code, report = run.code, run.report
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
