"""The per-run limits the supervisor is sent: the CPU limit that leaves the budget room, the backstop, a deadline."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quinebox.errors import UsageError
from quinebox.limits import CPU_S_PER_WORK_UNIT, Limits

limits = st.builds(
    Limits,
    wall_s=st.floats(0.1, 600),
    cpu_s=st.integers(1, 600),
    work=st.integers(1, 10**9),
    longest_s=st.one_of(st.just(0.0), st.floats(0.1, 3600)),
)


@given(limits)
def test_where_the_budget_ends_a_run_the_cpu_limit_leaves_it_room(chosen: Limits) -> None:
    assert chosen.cpu_limit(budget_ends_run=False) == chosen.cpu_s
    cpu = chosen.cpu_limit(budget_ends_run=True)
    assert cpu >= chosen.cpu_s
    assert cpu >= chosen.work * CPU_S_PER_WORK_UNIT
    assert cpu == chosen.cpu_s or cpu - 1 < chosen.work * CPU_S_PER_WORK_UNIT  # no more room than that


@given(limits, st.booleans())
def test_the_supervisor_is_sent_the_cpu_limit_and_an_explicit_backstop(chosen: Limits, counted: bool) -> None:
    sent = chosen.sent(counted)
    assert sent["cpu_s"] == chosen.cpu_limit(counted)
    assert sent["longest_s"] == chosen.longest_run_s(counted) > 0
    if not chosen.longest_s:
        assert sent["longest_s"] == chosen.wall_s + 4 * chosen.cpu_limit(counted)
    assert {k: v for k, v in sent.items() if k not in ("cpu_s", "longest_s")} == {
        k: v for k, v in chosen.to_dict().items() if k not in ("cpu_s", "longest_s")
    }


@given(limits, st.floats(0.01, 10_000), st.booleans())
def test_a_run_within_a_deadline_ends_by_it_however_busy(chosen: Limits, left: float, counted: bool) -> None:
    bounded = chosen.within(left)
    assert bounded.longest_run_s(counted) <= max(left, chosen.longest_run_s(counted))
    assert bounded.longest_run_s(counted) <= left or bounded == chosen
    assert bounded.wall_s <= chosen.wall_s
    assert chosen.within(None) == chosen


def test_the_backstop_comes_from_the_environment_and_zero_means_derived() -> None:
    assert Limits.from_env({"QUINEBOX_LONGEST_S": "7.5"}).longest_s == 7.5
    assert Limits.from_env({}).longest_run_s(budget_ends_run=True) == 10 + 4 * 10
    with pytest.raises(UsageError, match="QUINEBOX_LONGEST_S"):
        Limits.from_env({"QUINEBOX_LONGEST_S": "soon"})
    with pytest.raises(UsageError, match="longest_s"):
        Limits(longest_s=-1).validated()
