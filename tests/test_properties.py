"""Rules that hold for whole families of chains, checked through the real sandbox.

Generated correct chains (random starting pair anywhere in the sequence, random
template style) pass; a single mutation of one fails with the check that names it.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quinebox
from quinebox.backends.bwrap import BwrapBackend
from quinebox.sequences import FIBONACCI
from tests.chain_templates import MUTATIONS, STYLES, reads_own_file

pytestmark = pytest.mark.needs_bwrap
GENERATIONS = 8
TERMS = FIBONACCI.terms(320)


@pytest.fixture(scope="module")
def sessions():
    with BwrapBackend() as sighted, BwrapBackend() as blind:
        yield [sighted, blind]


starts = st.integers(min_value=0, max_value=300)
styles = st.sampled_from(sorted(STYLES))
sandbox_settings = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@sandbox_settings
@given(start=starts, style=styles)
def test_generated_correct_chains_pass(sessions, start: int, style: str) -> None:
    source = STYLES[style](TERMS[start], TERMS[start + 1])
    report = quinebox.verify(source, generations=GENERATIONS, backend=sessions)
    assert report.passed, report.failure
    assert report.generations[-1].number == str(TERMS[start + GENERATIONS])


@sandbox_settings
@given(start=starts, style=styles, mutation=st.sampled_from(sorted(MUTATIONS)))
def test_single_mutations_fail_with_the_expected_check(sessions, start: int, style: str, mutation: str) -> None:
    changes, check = MUTATIONS[mutation]
    source = STYLES[style](TERMS[start], TERMS[start + 1], **changes)
    report = quinebox.verify(source, generations=GENERATIONS, backend=sessions)
    assert report.failure is not None and report.failure.check == check, (mutation, report.failure)


@sandbox_settings
@given(start=starts, style=styles)
def test_reading_its_own_file_fails_integrity_at_generation_zero(sessions, start: int, style: str) -> None:
    source = reads_own_file(STYLES[style](TERMS[start], TERMS[start + 1]))
    report = quinebox.verify(source, generations=GENERATIONS, backend=sessions)
    assert report.failure is not None
    assert (report.failure.check, report.failure.generation) == ("integrity", 0)
    assert "open(" in report.failure.reason and "prog.py" in report.failure.reason
