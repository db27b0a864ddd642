"""Load: verifications at once, then many in a row (two at a time), leak nothing: processes, files, memory."""

from __future__ import annotations

import os
import resource
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import quinebox
from quinebox.backends.bwrap import BwrapBackend
from tests.test_cleanup import sandbox_processes

pytestmark = [pytest.mark.needs_bwrap, pytest.mark.slow]
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
AT_ONCE = [
    FIXTURES / p for p in ("good/percent_r.py", "bad/off_by_one.py", "cheats/open_file.py", "hostile/fork_bomb.py")
]
#: The long series keeps to candidates that end fast, so that it stays a test of leaks, not of patience.
IN_A_ROW = [
    FIXTURES / p
    for p in (
        "good/percent_r.py",
        "bad/off_by_one.py",
        "cheats/open_file.py",
        "bad/crash_at_generation_7.py",
        "hostile/kill_everything.py",
    )
]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def temp_entries() -> set[str]:
    return {name for name in os.listdir(tempfile.gettempdir()) if name.startswith("quinebox")}


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


USED_UIDS: set[int] = set()


def series(count: int) -> list[Path]:
    return [IN_A_ROW[i % len(IN_A_ROW)] for i in range(count)]


def verify(path: Path) -> str:
    with BwrapBackend() as sighted, BwrapBackend() as blind:
        USED_UIDS.update(uid for uid in (sighted.uid, blind.uid) if uid is not None)
        return quinebox.verify(path, generations=8, backend=[sighted, blind]).verdict.value


def test_four_at_once_then_two_hundred_in_a_row_leak_nothing() -> None:
    fds, temps = open_fds(), temp_entries()
    with ThreadPoolExecutor(4) as pool:
        verdicts = list(pool.map(verify, AT_ONCE))
    assert verdicts == ["pass", "fail", "fail", "fail"]
    with ThreadPoolExecutor(2) as pool:  # two at a time, as on a two-core grader
        list(pool.map(verify, series(20)))  # warm up allocator and caches before measuring memory
        rss_before = rss_kib()
        assert set(pool.map(verify, series(200))) == {"pass", "fail"}
    growth = rss_kib() - rss_before
    assert open_fds() == fds
    assert temp_entries() == temps
    assert sandbox_processes(USED_UIDS) == []
    assert growth < 20_000, f"resident memory grew {growth} KiB over 200 verifications"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0
