"""The embedded default on Linux: bubblewrap around the supervisor.

Every namespace is unshared (no network, own pid space), the session dies
with its parent, capabilities are dropped, and only the interpreter's own
files are bound read-only: never the host's home, /tmp, /root or /etc. The
guest code is copied in through file descriptors, so no host path of
quinebox's own is visible either. When quinebox runs as root, the sandbox
runs under a fresh unprivileged uid of its own, so that the process limit
counts this session alone and the candidate owns nothing on the host.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from typing_extensions import override

from quinebox.backends._supervised import Channel, ProcessChannel, SupervisedBackend, sandbox_sources
from quinebox.backends.base import RunRequest
from quinebox.errors import BackendUnavailable

GUEST_DIR = "/opt/quinebox/sandbox"
WRITABLE = ("/box", "/tmp", "/dev/shm")
TMPFS_BYTES = 64 * 1024 * 1024
#: Interpreters tried in order when none is named; the first outside any home directory wins.
INTERPRETERS = ("/usr/bin/python3", "/usr/local/bin/python3")
#: Every bwrap is started from this one long-lived thread. --die-with-parent is PR_SET_PDEATHSIG, which
#: fires when the *thread* that started the child ends: a session started from a short-lived thread
#: (a lane's worker, a grader's) would die with it. This thread lives as long as the process.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quinebox-bwrap-spawner")
#: Fresh uids for root-started sessions come from this range, far from any real account.
UID_RANGE = (1_000_000, 2_000_000_000)


@dataclass(frozen=True)
class Interpreter:
    """The Python that runs inside the wall, and the host directories it needs."""

    path: str
    binds: tuple[str, ...]


def find_interpreter(explicit: str | None = None) -> Interpreter:
    """The sandbox interpreter: QUINEBOX_PYTHON, or the system's python3."""
    chosen = explicit or os.environ.get("QUINEBOX_PYTHON")
    candidates = [chosen] if chosen else [*INTERPRETERS, shutil.which("python3") or ""]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            real = os.path.realpath(candidate)
            prefix = _prefix_of(real)
            binds = tuple(sorted({"/usr", prefix} if not prefix.startswith("/usr") else {"/usr"}))
            return Interpreter(real, binds)
    raise BackendUnavailable(
        "bwrap: no python3 interpreter found for the sandbox; install python3 or set QUINEBOX_PYTHON"
    )


def _prefix_of(executable: str) -> str:
    # <prefix>/bin/python3.x -> <prefix>
    return os.path.dirname(os.path.dirname(executable))


class BwrapBackend(SupervisedBackend):
    """bubblewrap (Linux user namespaces) around one supervisor."""

    name = "bwrap"

    def __init__(self, python: str | None = None) -> None:
        super().__init__()
        self._python = python
        # One fresh uid per session, kept across restarts: the process limit counts this session alone.
        self._uid: int | None = (
            UID_RANGE[0] + secrets.randbelow(UID_RANGE[1] - UID_RANGE[0]) if os.geteuid() == 0 else None
        )

    @property
    def uid(self) -> int | None:
        """The host uid the sandbox runs as when quinebox runs as root; None otherwise."""
        return self._uid

    @property
    @override
    def isolation(self) -> str:
        return "bubblewrap: all namespaces unshared, no network, capabilities dropped, read-only /usr"

    @override
    def _start(self) -> Channel:
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise BackendUnavailable(
                "bwrap: bubblewrap is not installed; install it (Debian/Ubuntu: apt-get install bubblewrap)"
            )
        interpreter = find_interpreter(self._python)
        files = sandbox_sources()
        pipes: list[int] = []
        argv = [bwrap, *self._wall_args(interpreter)]
        for name, data in files.items():
            read_fd, write_fd = os.pipe()
            pipes.append(read_fd)
            _fill(write_fd, data)
            argv += ["--perms", "0444", "--ro-bind-data", str(read_fd), f"{GUEST_DIR}/{name}"]
        # bwrap's new root and /dev are writable tmpfs: a channel between runs unless made read-only.
        argv += ["--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/box"]
        argv += [
            interpreter.path,
            "-I",
            "-S",
            "-X",
            "utf8",
            "-B",
            f"{GUEST_DIR}/supervisor.py",
            "--owns-pid-namespace",
            "--writable=" + ":".join(WRITABLE),
        ]
        try:
            process = _SPAWNER.submit(
                subprocess.Popen,
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=pipes,
                user=self._uid,
                group=self._uid,
                extra_groups=[] if self._uid is not None else None,
                start_new_session=True,
            ).result()
        except OSError as exc:
            raise BackendUnavailable(f"bwrap: cannot start bubblewrap: {exc}") from exc
        finally:
            for fd in pipes:
                os.close(fd)
        return ProcessChannel(process)

    def _wall_args(self, interpreter: Interpreter) -> list[str]:
        args = [
            "--unshare-all",
            "--unshare-user",
            "--die-with-parent",
            "--new-session",
            "--uid",
            "1000",
            "--gid",
            "1000",
            "--hostname",
            "quinebox",
            "--cap-drop",
            "ALL",
            "--clearenv",
            "--setenv",
            "PATH",
            "/usr/bin:/bin",
            "--setenv",
            "LANG",
            "C.UTF-8",
        ]
        for path in interpreter.binds:
            args += ["--ro-bind", path, path]
        for top in ("bin", "lib", "lib32", "lib64", "sbin"):
            host = f"/{top}"
            if os.path.islink(host):
                args += ["--symlink", os.readlink(host), host]
            elif os.path.isdir(host):
                args += ["--ro-bind", host, host]
        args += ["--proc", "/proc", "--dev", "/dev"]
        for area in WRITABLE:
            args += ["--size", str(TMPFS_BYTES), "--perms", "1777", "--tmpfs", area]
        return args

    @override
    def _limits_for(self, request: RunRequest) -> dict[str, float | int]:
        limits = super()._limits_for(request)
        if self._uid is None:
            # Not root: the process limit counts every process of this user, so add what is already there.
            limits["pids"] = int(limits["pids"]) + _processes_of(os.getuid())
        return limits


def _fill(write_fd: int, data: bytes) -> None:
    """Write a small file into a pipe bwrap will copy from; pipe buffers hold 64 KiB."""
    if len(data) > 60_000:
        raise BackendUnavailable("bwrap: a guest file is too large to pass through a pipe")
    os.write(write_fd, data)
    os.close(write_fd)


def _processes_of(uid: int) -> int:
    count = 0
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.stat(f"/proc/{name}").st_uid == uid:
                    count += 1
            except OSError:
                pass
    return count


def available() -> str | None:
    """None when bwrap can run here, else the reason with its fix."""
    if not sys.platform.startswith("linux"):
        return "bwrap: needs Linux"
    if shutil.which("bwrap") is None:
        return "bwrap: bubblewrap is not installed; install it (Debian/Ubuntu: apt-get install bubblewrap)"
    return None
