"""quinebox interrupted or killed mid-verification: the right exit code, nothing left behind, the next run fine."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_cleanup import sandbox_processes

ROOT = Path(__file__).resolve().parent.parent
#: Busy for minutes in one C call: a sleeping run would be ended as idle, a Python loop by its work budget.
BUSY = "sum(range(10**13))\n"
GOOD = ROOT / "fixtures" / "good" / "percent_r.py"

pytestmark = pytest.mark.needs_bwrap


@pytest.fixture
def busy_program(tmp_path: Path) -> Path:
    path = tmp_path / "busy.py"
    path.write_text(BUSY)
    return path


def start_verification(path: Path, before: set[str]) -> subprocess.Popen[bytes]:
    """Start verifying a program that stays busy, and return once its sandbox is up."""
    process = subprocess.Popen(
        [sys.executable, "-m", "quinebox", "verify", str(path), "--sandbox", "bwrap", "--timeout", "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + (20 if os.geteuid() == 0 else 1)  # session uids exist only under root
    while time.monotonic() < deadline and not set(sandbox_processes()) - before:
        time.sleep(0.05)
    time.sleep(0.5)  # well inside the first run, which is busy for minutes
    return process


def wait_for_no_sandbox_processes(before: set[str]) -> set[str]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        left = set(sandbox_processes()) - before
        if not left:
            return left
        time.sleep(0.1)
    return set(sandbox_processes()) - before


def verify_good() -> int:
    return subprocess.run(
        [sys.executable, "-m", "quinebox", "verify", str(GOOD), "-n", "10", "--sandbox", "bwrap", "-q"], timeout=60
    ).returncode


def test_ctrl_c_exits_130_and_cleans_up(busy_program: Path) -> None:
    before = set(sandbox_processes())
    process = start_verification(busy_program, before)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 130, stderr.decode()
    assert b"interrupted" in stderr and b"Traceback" not in stderr
    assert wait_for_no_sandbox_processes(before) == set()
    assert verify_good() == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="session uids are only used when quinebox runs as root")
def test_sigkill_leaves_nothing_running(busy_program: Path) -> None:
    before = set(sandbox_processes())
    process = start_verification(busy_program, before)
    assert set(sandbox_processes()) - before, "the sandbox should be running"
    process.kill()
    process.communicate(timeout=20)
    assert wait_for_no_sandbox_processes(before) == set()  # --die-with-parent takes the sandbox down
    assert verify_good() == 0
