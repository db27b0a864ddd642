"""After any verification, no process it started is left running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typing_extensions import override

from quinebox.backends._supervised import Channel, ProcessChannel
from quinebox.backends.bwrap import UID_RANGE
from quinebox.backends.none import NoneBackend
from quinebox.errors import SupervisorError

HOSTILE = Path(__file__).resolve().parent.parent / "fixtures" / "hostile"


def sandbox_processes(uids: set[int] | None = None) -> list[str]:
    """Live processes (zombies already exited) running as one of the fresh uids of root-started bwrap sessions.

    With `uids`, only those sessions' processes: other verifications may be running on the machine.
    """
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                uid = os.stat(f"/proc/{name}").st_uid
                with open(f"/proc/{name}/stat", "rb") as handle:
                    state = handle.read().rsplit(b")", 1)[1].split()[0]
                ours = UID_RANGE[0] <= uid < UID_RANGE[1] if uids is None else uid in uids
                if ours and state != b"Z":
                    with open(f"/proc/{name}/cmdline", "rb") as handle:
                        found.append(f"{name}: {handle.read()!r}")
            except OSError:
                continue
    return found


@pytest.mark.needs_bwrap
@pytest.mark.skipif(os.geteuid() != 0, reason="session uids are only used when quinebox runs as root")
@pytest.mark.parametrize("fixture", ["daemon_writes_later.py", "fork_bomb.py", "sleep_forever.py"])
def test_no_process_outlives_a_verification(fixture: str) -> None:
    before = set(sandbox_processes())  # other verifications may be running on this machine
    subprocess.run(
        [
            sys.executable,
            "-m",
            "quinebox",
            "verify",
            str(HOSTILE / fixture),
            "--sandbox",
            "bwrap",
            "--quiet",
            "--generations",
            "3",
            "--timeout",
            "2",
        ],
        timeout=120,
        check=False,
    )
    assert set(sandbox_processes()) - before == set()


class _StillbornNone(NoneBackend):
    """The none wall whose supervisor is killed the moment it starts: open() fails after its folder is made."""

    @override
    def _start(self) -> Channel:
        channel = super()._start()
        assert isinstance(channel, ProcessChannel)
        channel.process.kill()
        self.folder = self._tmp
        return channel


def test_a_session_that_fails_to_open_leaves_nothing_behind() -> None:
    backend = _StillbornNone()
    with pytest.raises(SupervisorError, match="did not start"):
        with backend:
            pass
    assert backend.folder is not None and not os.path.exists(backend.folder)
    with pytest.raises(SupervisorError):
        backend.open()  # a second try fails the same way, and cleans up the same way
    assert not os.path.exists(backend.folder)
