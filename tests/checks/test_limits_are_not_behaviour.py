"""Which limit stops a run first is the machine's doing, not the program's: it never reads as a difference."""

from __future__ import annotations

import itertools

import pytest

from quinebox.checks._result import CheckOptions
from quinebox.checks.determinism import check_determinism
from quinebox.checks.integrity import check_integrity
from quinebox.record import STOPPED_BY_A_LIMIT, Chain, Generation, RunKind, Status
from tests.checks.chains import run

LIMITED = sorted(STOPPED_BY_A_LIMIT)


@pytest.mark.parametrize(("first", "second"), list(itertools.product(LIMITED, repeat=2)))
def test_two_runs_stopped_by_any_limits_behave_alike(first: Status, second: Status) -> None:
    assert run(b"1\n", status=first, exit_code=None).same_behaviour(run(b"", status=second, exit_code=None))


@pytest.mark.parametrize("limited", LIMITED)
@pytest.mark.parametrize("other", [Status.OK, Status.RE, Status.SG, Status.OL, Status.XX])
def test_a_limit_against_any_other_ending_is_a_difference(limited: Status, other: Status) -> None:
    assert not run(b"", status=limited, exit_code=None).same_behaviour(run(b"", status=other, exit_code=1))


def test_a_sighted_run_out_of_time_and_a_blind_one_out_of_work_is_not_reading_its_source() -> None:
    """The flake this ends: a program reading stdin forever met the wall clock on one run, the budget on another."""
    sighted = run(b"", status=Status.TO, exit_code=None, work=None)
    blind = run(b"", status=Status.WL, exit_code=None, work=None)
    again = run(b"", status=Status.TO, exit_code=None, work=None)
    runs = {RunKind.DEFAULT: sighted, RunKind.DEFAULT_BLIND: blind, RunKind.DEFAULT_AGAIN: again}
    generation = Generation(0, b"import sys\nsys.stdin.read()\n", runs)
    chain = Chain((generation,), 1)
    assert check_integrity(chain, CheckOptions()).passed
    assert check_determinism(chain, CheckOptions()).passed
