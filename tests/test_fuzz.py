"""Random and mutated program texts through the whole pipeline: never a crash, never a hang, always a valid report."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quinebox
from quinebox.backends.bwrap import BwrapBackend
from quinebox.limits import Limits
from quinebox.report.schema import REPORT_SCHEMA

pytestmark = pytest.mark.needs_bwrap
SEEDS = [p.read_bytes() for p in sorted((Path(__file__).resolve().parent.parent / "fixtures" / "good").glob("*.py"))]
LIMITS = Limits(wall_s=3, cpu_s=3, work=200_000)
fuzz_settings = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def sessions():
    with BwrapBackend() as sighted, BwrapBackend() as blind:
        yield [sighted, blind]


@st.composite
def mutated_programs(draw: st.DrawFn) -> bytes:
    source = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(source)))
        action = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if action == "flip" and at < len(source):
            source[at] = draw(st.integers(0, 255))
        elif action == "delete":
            del source[at : at + draw(st.integers(1, 20))]
        elif action == "insert":
            source[at:at] = draw(st.binary(max_size=20))
        else:
            del source[at:]
    return bytes(source)


def check_report(report: quinebox.Report) -> None:
    jsonschema.validate(json.loads(report.to_json()), REPORT_SCHEMA)
    assert report.verdict in (quinebox.Verdict.PASS, quinebox.Verdict.FAIL)
    assert (report.failure is None) == report.passed


@fuzz_settings
@given(program=mutated_programs())
def test_mutated_programs_give_valid_reports(sessions, program: bytes) -> None:
    check_report(quinebox.verify(program, generations=6, limits=LIMITS, backend=sessions))


@fuzz_settings
@given(program=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_random_bytes_give_valid_failing_reports(sessions, program: bytes) -> None:
    report = quinebox.verify(program, generations=3, limits=LIMITS, backend=sessions)
    check_report(report)


@fuzz_settings
@given(response=st.text(max_size=400))
def test_random_responses_give_valid_reports(sessions, response: str) -> None:
    from quinebox.api import verify_response

    check_report(verify_response(response, generations=3, limits=LIMITS, backend=sessions))
