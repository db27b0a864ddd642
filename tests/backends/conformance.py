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
from quinebox.languages import LANGUAGES
from quinebox.limits import Limits
from quinebox.record import RunResult, Status

Behaviour = Callable[[Backend], None]
BEHAVIOURS: dict[str, Behaviour] = {}

KNOWN_FAILURES: dict[str, dict[str, str]] = {
    "none": {
        "host_files_invisible": "not isolated: the candidate reads the host's files",
        "no_writes_outside_sandbox": "not isolated: the candidate can write where its user can",
        "no_network": "not isolated: the network is the host's",
        "fresh_state_per_run": "not isolated: /tmp and /dev/shm are the host's",
        "posix_ipc_does_not_survive": "not isolated: POSIX shared memory lives in the host's /dev/shm",
    },
}


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
def timeout_ends_the_run(backend: Backend) -> None:
    """Busy in C (neither idle nor counted work): the CPU limit ends it, not the wall clock."""
    started = time.monotonic()
    result = run(backend, "sum(range(10**13))", wall_s=0.5, cpu_s=2, work=100_000)
    assert result.status is Status.TO and "cpu time" in result.message, result
    # The kernel counts the limit by ticks, wait4 exactly: under load they differ by a tenth.
    assert result.cpu_ms > 1000, result
    assert time.monotonic() - started < 8


@behaviour
def the_cpu_limit_holds_for_the_run_not_each_process(backend: Backend) -> None:
    """A shell that spins in six processes at once is ended once they have spent the CPU limit together.

    Each process's rlimit would let every one of them spend it, and the shell would wait for them all.
    """
    source = b"for i in 1 2 3 4 5 6; do ( while :; do :; done ) & done; wait\n"
    started = time.monotonic()
    result = backend.run(RunRequest(source, (), True, Limits(wall_s=2, cpu_s=2), "bash"))
    assert result.status is Status.TO and "together" in result.message, result
    assert time.monotonic() - started < 4


@behaviour
def waiting_ends_at_the_wall_limit(backend: Backend) -> None:
    """Waking often enough never to be idle, and waiting most of the time: the wall limit ends it."""
    started = time.monotonic()
    result = run(backend, "import time\nwhile True:\n    time.sleep(0.2)", wall_s=1.0)
    elapsed = time.monotonic() - started
    assert result.status is Status.TO and "wall time" in result.message, result
    assert 1.0 <= elapsed < 4, elapsed


#: A counted loop of cheap system calls, spinning until its work budget ends it.
SPINNER = "import os\nwhile True:\n    os.getppid()"


@behaviour
def a_loaded_machine_does_not_end_a_busy_run(backend: Backend) -> None:
    """A busy run's wall limit counts only its waiting: alone or with every core taken, the budget ends it.

    The budget takes more than twice the wall limit in CPU time: a clock that counted the time on a
    core, or queued for one, would end the run first, and by how much would depend on the load.
    """
    alone = run(backend, SPINNER, wall_s=0.25, work=1_000_000)
    assert alone.status is Status.WL, alone
    burners = [os.fork() for _ in range(2 * (os.cpu_count() or 1))]
    if 0 in burners:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pass
        os._exit(0)
    try:
        loaded = run(backend, SPINNER, wall_s=0.25, work=1_000_000)
    finally:
        for pid in burners:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    assert loaded.status is Status.WL, loaded
    assert loaded.wall_ms > 250, loaded  # it did wait for cores, longer than the wall limit


@behaviour
def sleeping_ends_at_once(backend: Backend) -> None:
    """Asleep in every thread, using no CPU: ended as out of time within a second, not at the wall limit."""
    for source in (
        "import time\ntime.sleep(600)",
        "import threading\na, b = threading.Lock(), threading.Lock()\na.acquire(); b.acquire()\n"
        "threading.Thread(target=a.acquire).start()\nb.acquire()",  # a deadlock
    ):
        result = run(backend, source, wall_s=10.0)
        assert result.status is Status.TO and result.message.startswith("idle: "), result
        assert result.wall_ms < 2000, result


@behaviour
def waiting_on_a_busy_thread_is_not_idle(backend: Backend) -> None:
    """The main thread asleep in a join while another thread computes: the run is working, not idle."""
    source = """
        import threading, time
        def spin():
            end = time.thread_time() + 1.0
            while time.thread_time() < end:
                pass
        worker = threading.Thread(target=spin)
        worker.start()
        worker.join()
        print("done")
    """
    result = run(backend, source, wall_s=10.0, work=10**9)
    assert result.status is Status.OK and result.stdout == b"done\n", result


@behaviour
def opens_of_a_killed_run_never_count_in_the_next(backend: Backend) -> None:
    """The session's one file watch outlives runs: what a killed run left queued is not the next run's."""
    killed = run(backend, "import time\nfor _ in range(50):\n    open(__file__).close()\ntime.sleep(600)", wall_s=1.0)
    assert killed.status is Status.TO, killed
    for _ in range(3):
        plain = run(backend, "print(1)")
        assert (plain.stdout, plain.opens) == (b"1\n", LANGUAGES["python"].source_opens), plain


@behaviour
def no_new_processes(backend: Backend) -> None:
    """The wall refuses every way to start a process or a program; threads stay allowed."""
    source = """
        import os, subprocess, sys, threading
        for name, start in (
            ("fork", os.fork),
            ("spawn", lambda: os.posix_spawn(sys.executable, [sys.executable, "-c", "0"], {})),
            ("popen", lambda: subprocess.run(["true"])),
            ("exec", lambda: os.execv(sys.executable, [sys.executable, "-c", "print('escaped')"])),
        ):
            try:
                start()
                print(name, "started")
            except OSError as exc:
                print(name, type(exc).__name__)
        seen = []
        thread = threading.Thread(target=lambda: seen.append(1))
        thread.start()
        thread.join()
        print("thread", seen)
    """
    result = run(backend, source)
    assert result.stdout == (
        b"fork PermissionError\nspawn PermissionError\npopen PermissionError\nexec PermissionError\nthread [1]\n"
    ), result


@behaviour
def fork_bomb_ends_at_its_first_fork(backend: Backend) -> None:
    started = time.monotonic()
    result = run(backend, "import os\nwhile True:\n    os.fork()\n")
    assert result.status is Status.RE and b"PermissionError" in result.stderr, result
    assert time.monotonic() - started < 2


@behaviour
def a_program_that_keeps_trying_to_fork_is_ended(backend: Backend) -> None:
    """Refused, caught and tried again: the run ends at the 16th attempt, not at its work budget."""
    started = time.monotonic()
    source = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    result = run(backend, source)
    assert result.status is Status.RE and b"16 refused attempts to start a process" in result.stderr, result
    assert result.work is not None and result.work < 1000, result
    assert time.monotonic() - started < 2


@behaviour
def memory_is_bounded_for_the_run(backend: Backend) -> None:
    """No second process can take a second allowance: five blocks of 200 MB do not fit in 512 MB."""
    source = """
        import threading
        blocks, errors = [], []
        def take():
            try:
                blocks.append(bytearray(200 * 1024 * 1024))
            except MemoryError:
                errors.append(1)
        threads = [threading.Thread(target=take) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print(len(blocks) < 5 and len(errors) > 0)
    """
    result = run(backend, source, wall_s=10, mem_mb=512)
    assert result.stdout == b"True\n", result


@behaviour
def pids_reveal_nothing(backend: Backend) -> None:
    """Every run sees the same pids, whatever ran before it: no counter of runs in the pid sequence."""
    source = "import os, threading\nprint(os.getpid(), os.getppid(), threading.get_native_id())"
    seen = {run(backend, source).stdout for _ in range(3)}
    assert len(seen) == 1, seen


@behaviour
def inode_numbers_reveal_nothing(backend: Backend) -> None:
    source = """
        import os
        with open("f", "w") as handle:
            handle.write("x")
        print(os.stat(".").st_ino, os.stat("f").st_ino, os.stat("/tmp").st_ino)
    """
    seen = {run(backend, source).stdout for _ in range(3)}
    assert len(seen) == 1, seen


@behaviour
def sysv_ipc_does_not_survive(backend: Backend) -> None:
    key = 0x51B0 + os.getpid() % 1000
    writer = f"""
        import ctypes
        libc = ctypes.CDLL(None)
        made = libc.shmget({key}, 4096, 0o1666), libc.semget({key}, 1, 0o1666), libc.msgget({key}, 0o1666)
        print(*(ident >= 0 for ident in made))
    """
    reader = f"""
        import ctypes
        libc = ctypes.CDLL(None)
        print(libc.shmget({key}, 0, 0o666), libc.semget({key}, 0, 0o666), libc.msgget({key}, 0o666))
    """
    assert run(backend, writer).stdout == b"True True True\n"
    assert run(backend, reader).stdout == b"-1 -1 -1\n"


@behaviour
def posix_ipc_does_not_survive(backend: Backend) -> None:
    name = f"qbx-{uuid.uuid4().hex[:12]}"
    writer = f"""
        from multiprocessing import shared_memory
        import ctypes
        block = shared_memory.SharedMemory("{name}", create=True, size=4096)
        block.buf[0] = 7
        rt = ctypes.CDLL("librt.so.1")
        rt.mq_open.restype = ctypes.c_int
        print(rt.mq_open(b"/{name}", 0o100 | 0o2, 0o666, None) >= 0)
    """
    reader = f"""
        from multiprocessing import shared_memory
        import ctypes
        try:
            shared_memory.SharedMemory("{name}")
            print("shm survived")
        except FileNotFoundError:
            print("no shm")
        rt = ctypes.CDLL("librt.so.1")
        print(rt.mq_open(b"/{name}", 0o2) >= 0)
    """
    try:
        run(backend, writer)
        assert run(backend, reader).stdout == b"no shm\nFalse\n"
    finally:
        if os.path.exists(f"/dev/shm/{name}"):
            os.unlink(f"/dev/shm/{name}")


@behaviour
def blind_source_is_nowhere_in_memory(backend: Backend) -> None:
    """A blind run's source (here a comment, which no code object keeps) is in no object it can reach."""
    mark = uuid.uuid4().hex
    source = f"""
        # MARK{mark}
        import gc, sys
        wanted = "MARK" + "{mark}"
        seen, found = set(), []
        def look(value):
            if value is not wanted and isinstance(value, (str, bytes, bytearray, memoryview)):
                text = bytes(value) if not isinstance(value, str) else value.encode("utf-8", "replace")
                if wanted.encode() in text:
                    found.append(type(value).__name__)
        pending = list(gc.get_objects())
        frame = sys._getframe()
        while frame is not None:
            pending += [frame.f_locals, frame.f_globals]
            frame = frame.f_back
        while pending:
            obj = pending.pop()
            if id(obj) in seen:
                continue
            seen.add(id(obj))
            look(obj)
            if isinstance(obj, (dict, list, tuple, set, frozenset)) or hasattr(obj, "__dict__"):
                pending += [r for r in gc.get_referents(obj) if id(r) not in seen]
        print(found)
    """
    result = run(backend, source, sighted=False, wall_s=20)
    assert result.stdout == b"[]\n", result


#: What a candidate can read of its interpreter's state without naming a run: the gc's counts, the
#: allocator's blocks, where new objects land, what is loaded.
INTERPRETER_STATE = """
    import gc, sys, threading
    a, b, c = object(), bytearray(1000), [0] * 50
    print(gc.get_count(), sys.getallocatedblocks(), id(a), id(b), id(c), len(sys.modules), len(gc.get_objects()),
          threading.current_thread().name, threading.active_count())
"""


@behaviour
def interpreter_state_reveals_nothing(backend: Backend) -> None:
    """The same run sees the same interpreter, byte for byte, whatever ran before it in the session.

    Runs start as forks of one zygote: a zygote that kept anything of a run (an allocation, a count,
    a name in the type attribute cache) would show it here as a difference between the first probe
    and a later one. Some differences come back only every few runs, so the probes go on for thirty.
    """
    probes = [run(backend, INTERPRETER_STATE).stdout]
    betweens = (
        "print(sum(range(10**5)))",
        "import json, decimal, fractions\nx = [bytearray(10**6) for _ in range(20)]\nprint(len(x))",
        "raise ValueError('crash')",
        "import threading\nthreading.Thread(target=print).start()",
    )
    for between in betweens * 3:
        run(backend, between)
        run(backend, between, sighted=False)
        probes.append(run(backend, INTERPRETER_STATE).stdout)
    assert len(set(probes)) == 1 and probes[0], probes


@behaviour
def no_run_sees_an_earlier_runs_source(backend: Backend) -> None:
    """A blind run's source is in no later run: the zygote that forks them never holds one."""
    mark = uuid.uuid4().hex
    run(backend, f"# MARK{mark}\nprint(1)", sighted=False)
    source = f"""
        import gc
        wanted = ("MARK" + "{mark}").encode()
        def holds(value):
            if value is wanted or not isinstance(value, (str, bytes)):
                return False
            return wanted in (value if isinstance(value, bytes) else value.encode("utf-8", "replace"))
        found = [type(o).__name__ for o in gc.get_objects() if holds(o)]
        found += ["dict" for o in gc.get_objects() if isinstance(o, dict) for v in o.values() if holds(v)]
        print(found)
    """
    result = run(backend, source, sighted=False)
    assert result.stdout == b"[]\n", result


@behaviour
def audit_channel_cannot_be_closed(backend: Backend) -> None:
    source = """
        import os
        for name, call in (("close", lambda: os.close(3)), ("dup2", lambda: os.dup2(1, 3))):
            try:
                call()
                print(name, "done")
            except OSError as exc:
                print(name, exc.errno)
        os.listdir("/")
    """
    result = run(backend, source)
    assert result.stdout == b"close 1\ndup2 1\n", result
    assert [event.name for event in result.events] == ["os.listdir"], result.events
    assert result.work is not None


@behaviour
def forged_records_are_evidence(backend: Backend) -> None:
    forged = run(backend, "import os\nos.write(3, b'F ' + b'0' * 32 + b' 1 0\\n')\nprint(1)")
    assert any(event.name == "tamper.channel" for event in forged.events), forged.events
    cut = run(backend, "import os\nprint(1, flush=True)\nos._exit(0)")
    assert any(event.name == "tamper.channel" for event in cut.events), cut.events


@behaviour
def cpu_time_is_measured_outside(backend: Backend) -> None:
    result = run(backend, "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass")
    assert result.cpu_ms >= 250, result


@behaviour
def signalling_its_parent_is_harmless(backend: Backend) -> None:
    result = run(backend, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('alive')")
    assert result.status in (Status.OK, Status.XX, Status.RE), result
    assert run(backend, "print('still here')").stdout == b"still here\n"


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
