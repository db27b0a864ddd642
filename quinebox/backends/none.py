"""No wall at all: the supervisor as a plain child process.

Only ever used when asked for by name; every report says "not isolated". The
candidate can read the host's files, reach the network and leave processes
that escape its session. Useful for debugging a candidate, never for grading
untrusted output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

from typing_extensions import override

from quinebox.backends._supervised import Channel, ProcessChannel, SupervisedBackend, sandbox_sources
from quinebox.errors import BackendUnavailable


class NoneBackend(SupervisedBackend):
    """The supervisor as a child process of the host, in a private temp dir."""

    name = "none"

    def __init__(self) -> None:
        super().__init__()
        self._tmp: str | None = None

    @property
    @override
    def isolation(self) -> str:
        return "not isolated"

    @property
    @override
    def isolated(self) -> bool:
        return False

    @override
    def _start(self) -> Channel:
        self._remove_tmp()  # a restart after a lost session starts in a fresh folder, not beside the old one
        self._tmp = tempfile.mkdtemp(prefix="quinebox-none-")
        guest = os.path.join(self._tmp, "guest")
        box = os.path.join(self._tmp, "box")
        os.mkdir(guest)
        os.mkdir(box)
        for name, data in sandbox_sources().items():
            with open(os.path.join(guest, name), "wb") as handle:
                handle.write(data)
        argv = [
            sys.executable,
            "-I",
            "-S",
            "-X",
            "utf8",
            "-B",
            os.path.join(guest, "supervisor.py"),
            f"--box={box}",
            f"--writable={box}",
        ]
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=box,
                start_new_session=True,
            )
        except OSError as exc:
            raise BackendUnavailable(f"none: cannot start the supervisor: {exc}") from exc
        return ProcessChannel(process)

    @override
    def close(self) -> None:
        super().close()
        self._remove_tmp()

    def _remove_tmp(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
