"""What every sandbox wall must do, as a list of behaviours run against each backend.

Each behaviour is a function taking an opened backend. A backend that cannot
meet one by design lists it in KNOWN_FAILURES with the reason (the `none`
wall isolates nothing), and the suite then asserts that it indeed fails, so
the list cannot go stale.
"""

from __future__ import annotations

import os
import signal
import socket
import textwrap
import time
import uuid
from collections.abc import Callable

from quinebox.backends.base import Backend, RunRequest
from quinebox.limits import Limits
from quinebox.record import RunResult, Status

Behaviour = Callable[[Backend], None]
BEHAVIOURS: dict[str, Behaviour] = {}

KNOWN_FAILURES: dict[str, dict[str, str]] = {
    "none": {
        "host_files_invisible": "not isolated: the candidate reads the host's files",
        "no_writes_outside_sandbox": "not isolated: the candidate can write where its user can",
        "no_network": "not isolated: the network is the host's",
        "daemons_do_not_survive": "not isolated: a setsid() daemon escapes the run's process group",
        "fresh_state_per_run": "not isolated: /tmp and /dev/shm are the host's",
    },
}
if os.geteuid() == 0:
    # root reads any process's /proc entries, dumpable or not
    KNOWN_FAILURES["none"]["supervisor_is_sealed"] = "not isolated: the candidate runs as root, like quinebox"


def behaviour(fn: Behaviour) -> Behaviour:
    BEHAVIOURS[fn.__name__] = fn
    return fn


def run(backend: Backend, source: str, *argv: str, sighted: bool = True, **limits: float) -> RunResult:
    lim = Limits(**limits) if limits else Limits(wall_s=10)  # type: ignore[arg-type]
    return backend.run(RunRequest(textwrap.dedent(source).encode(), tuple(argv), sighted, lim))


def host_pids_with(marker: str) -> list[int]:
    """Processes on the host whose command line carries `marker`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as handle:
                if marker.encode() in handle.read():
                    found.append(int(name))
        except OSError:
            continue
    return found


def gone(marker: str, within_s: float = 3.0) -> bool:
    """Whether every process carrying `marker` is gone; a SIGKILLed process takes a moment to leave /proc."""
    deadline = time.monotonic() + within_s
    while host_pids_with(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def kill_marked(marker: str) -> None:
    for pid in host_pids_with(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@behaviour
def exact_stdout_bytes(backend: Backend) -> None:
    result = run(backend, "import sys\nsys.stdout.buffer.write(b'\\x00ab\\xffc')")
    assert result.status is Status.OK, result
    assert result.stdout == b"\x00ab\xffc"


@behaviour
def argv_and_exit_code(backend: Backend) -> None:
    result = run(backend, "import sys\nprint(sys.argv[1:])\nraise SystemExit(3)", "--next")
    assert result.status is Status.RE and result.exit_code == 3
    assert result.stdout == b"['--next']\n"


@behaviour
def crash_is_a_result_with_traceback(backend: Backend) -> None:
    result = run(backend, "def f():\n    1 / 0\nf()\n")
    assert result.status is Status.RE and result.exit_code == 1
    assert b"ZeroDivisionError" in result.stderr and b"line 2" in result.stderr


@behaviour
def signal_death(backend: Backend) -> None:
    result = run(backend, "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)")
    assert result.status is Status.SG and result.signal == 11


@behaviour
def stdin_is_empty(backend: Backend) -> None:
    result = run(backend, "import sys\nprint(repr(sys.stdin.read()))")
    assert result.stdout == b"''\n"


@behaviour
def blind_run_has_no_file(backend: Backend) -> None:
    result = run(backend, "import os, sys\nprint(sys.argv[0], __file__, os.path.exists(__file__))", sighted=False)
    assert result.stdout == b"- <stdin> False\n"  # as `python3 - < prog.py` has it
    sighted = run(backend, "import sys, os\nprint(os.path.exists(__file__), __file__ == sys.argv[0])")
    assert sighted.stdout == b"True True\n"


@behaviour
def timeout_kills_the_whole_tree(backend: Backend) -> None:
    marker = f"qbx-{uuid.uuid4().hex}"
    source = f"""
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{marker}"])
        time.sleep(600)
    """
    started = time.monotonic()
    try:
        result = run(backend, source, wall_s=1.0)
        assert result.status is Status.TO
        assert time.monotonic() - started < 8
        assert gone(marker)
    finally:
        kill_marked(marker)


@behaviour
def daemons_do_not_survive(backend: Backend) -> None:
    marker = f"qbx-{uuid.uuid4().hex}"
    source = f"""
        import os, sys
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", "{marker}"])
            os._exit(0)
        print("parent done")
    """
    try:
        result = run(backend, source)
        assert result.stdout == b"parent done\n", result
        time.sleep(0.1)
        assert gone(marker)
    finally:
        kill_marked(marker)  # where the wall failed, leave nothing running on the host


@behaviour
def fresh_state_per_run(backend: Backend) -> None:
    name = f"qbx-state-{uuid.uuid4().hex}"
    paths = (name, f"/tmp/{name}", f"/dev/shm/{name}", f"/{name}", f"/dev/{name}")
    writer = f"""
        for path in {paths!r}:
            try:
                with open(path, "w") as handle:
                    handle.write("x")
            except OSError:
                pass
    """
    reader = f"""
        import os
        print([p for p in {paths!r} if os.path.exists(p)], os.listdir("."))
    """
    try:
        run(backend, writer)
        assert run(backend, reader).stdout == b"[] []\n"
    finally:
        for path in paths[1:3]:
            if os.path.exists(path):
                os.unlink(path)


@behaviour
def no_writes_outside_sandbox(backend: Backend) -> None:
    name = f"qbx-{uuid.uuid4().hex}"
    source = f"""
        written = []
        for folder in ("/usr", "/etc", "/", "/var/tmp", "/root", "/home"):
            try:
                with open(folder + "/{name}", "w") as handle:
                    handle.write("x")
                written.append(folder)
            except OSError:
                pass
        print(written)
    """
    result = run(backend, source)
    try:
        assert result.stdout == b"[]\n"
    finally:
        for folder in ("/usr", "/etc", "/", "/var/tmp", "/root", "/home"):
            try:
                os.unlink(f"{folder}/{name}")
            except OSError:
                pass


@behaviour
def host_files_invisible(backend: Backend) -> None:
    secret = f"canary-{uuid.uuid4().hex}"
    home = os.path.expanduser("~")
    planted = [os.path.join(home, f".quinebox-canary-{secret}"), f"/tmp/quinebox-canary-{secret}"]
    for path in planted:
        with open(path, "w") as handle:
            handle.write(secret)
    try:
        source = f"""
            import os
            seen = []
            for top in ({home!r}, "/tmp", "/root", "/home", "/etc"):
                for folder, _, files in os.walk(top):
                    for name in files:
                        try:
                            with open(os.path.join(folder, name), errors="replace") as handle:
                                seen.append(handle.read(200))
                        except OSError:
                            pass
            for path in {planted!r}:
                try:
                    seen.append(open(path).read())
                except OSError:
                    pass
            print(len(seen), "\\n".join(seen))
        """
        result = run(backend, source)
        assert result.status is Status.OK, result
        assert secret.encode() not in result.stdout + result.stderr
    finally:
        for path in planted:
            os.unlink(path)


@behaviour
def no_network(backend: Backend) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        source = f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
                print("connected")
            except OSError as exc:
                print("refused")
        """
        assert run(backend, source).stdout == b"refused\n"


@behaviour
def output_cap_keeps_truncated_output(backend: Backend) -> None:
    result = run(backend, "import sys\nwhile True:\n    sys.stdout.write('y' * 4096)", output_bytes=10_000, wall_s=10)
    assert result.status is Status.OL
    assert result.stdout_truncated and result.stdout == b"y" * 10_000


@behaviour
def work_budget_stops_loops(backend: Backend) -> None:
    result = run(backend, "while True:\n    pass", work=50_000, wall_s=10)
    assert result.status is Status.WL
    assert result.work is not None and result.work > 50_000


@behaviour
def work_is_counted_deterministically(backend: Backend) -> None:
    source = "def f(n):\n    return n\nfor i in range(100):\n    f(i)\nprint('done')"
    counts = {run(backend, source).work for _ in range(3)}
    assert len(counts) == 1 and next(iter(counts)) >= 200  # 100 calls + 100 back-edges, at least


@behaviour
def audit_events_are_reported(backend: Backend) -> None:
    result = run(backend, "open(__file__).read()\nimport os\nos.listdir('/')")
    names = [event.name for event in result.events]
    assert names[:2] == ["open", "os.listdir"], result.events
    assert "prog.py" in result.events[0].args


@behaviour
def imports_are_not_events(backend: Backend) -> None:
    result = run(backend, "import json, textwrap, fractions, decimal\nprint(1)")
    assert result.status is Status.OK and result.events == ()


@behaviour
def killing_the_supervisor_is_a_result(backend: Backend) -> None:
    result = run(backend, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport time\ntime.sleep(5)")
    assert result.status in (Status.XX, Status.SG, Status.RE, Status.TO)
    assert run(backend, "print('still here')").stdout == b"still here\n"


@behaviour
def supervisor_is_sealed(backend: Backend) -> None:
    """The candidate shares the supervisor's uid, but cannot reach its pipes, memory or environment."""
    source = """
        import os
        supervisor = os.getppid()
        for path in ("fd/1", "fd", "environ", "mem"):
            try:
                if path == "fd/1":
                    os.close(os.open(f"/proc/{supervisor}/{path}", os.O_WRONLY))
                elif path == "fd":
                    os.listdir(f"/proc/{supervisor}/fd")
                else:
                    open(f"/proc/{supervisor}/{path}", "rb").read(1)
                print(path, "open")
            except OSError:
                print(path, "denied")
    """
    result = run(backend, source)
    assert result.stdout == b"fd/1 denied\nfd denied\nenviron denied\nmem denied\n", result
