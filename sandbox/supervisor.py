"""The in-sandbox server: one request in, one fresh, limited, audited run out.

Runs inside the wall (bubblewrap, a container, or, when asked for by name, no
wall at all), stdlib-only, and assumes the candidate can read this file.

Protocol: JSON lines. The supervisor first writes a hello record
(``{"hello": "quinebox-supervisor", "protocol": 1, ...}``), then answers every
request on stdin with exactly one line on stdout:

    {"op": "run", "id": 7, "source": <base64>, "argv": ["--next"],
     "sighted": true, "limits": {"wall_s", "cpu_s", "mem_mb", "output_bytes",
     "pids", "work"}}
    {"op": "ping", "id": 8}          -> {"id": 8, "pong": true}
    {"op": "exit"}                   -> the supervisor exits

A run reply carries ``status`` (OK, RE, SG, TO, OL, WL, XX), ``exit_code``,
``signal``, base64 ``stdout``/``stderr`` with ``*_truncated`` flags,
``wall_ms``, ``cpu_ms``, ``work``, ``events`` and a human-only ``message``.
The host's report schema (``quinebox schema``) documents every key.

For each run: wipe every writable area, make a fresh empty working dir,
deliver the source (as /box/prog.py when sighted, nowhere when blind), fork
the candidate into its own session with rlimits, read its output under a byte
cap and a wall deadline, then kill every process but this one and wipe again.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import selectors
import shutil
import signal
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import launch_python  # noqa: E402  (sibling module, found through the line above)

launch_python.preload()

PROTOCOL = 1
# Protocol lines from the host are small; anything larger is a broken host.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
META_CAP = 256 * 1024
META_FD = 3


class Config:
    """How this supervisor was started; set once from argv by the backend."""

    def __init__(self, argv: list[str]) -> None:
        #: Only inside its own pid namespace may the supervisor kill(-1) after a run.
        self.owns_pid_namespace = "--owns-pid-namespace" in argv
        self.box = "/box"
        self.writable: list[str] = []
        #: Seconds this supervisor lives at most (0: no limit); bounds a session whose host vanished.
        self.ttl_s = 0
        for arg in argv:
            if arg.startswith("--box="):
                self.box = arg.split("=", 1)[1]
            if arg.startswith("--writable="):
                self.writable = [p for p in arg.split("=", 1)[1].split(":") if p]
            if arg.startswith("--ttl="):
                self.ttl_s = max(int(arg.split("=", 1)[1]), 0)
        # Only the box is wiped unless the wall says which areas are its own.
        self.writable = self.writable or [self.box]
        self.source_path = os.path.join(self.box, "prog.py")
        self.work_dir = os.path.join(self.box, "work")


def main(argv: list[str]) -> int:
    config = Config(argv)
    _protect_self()
    _take_init_duties(config)
    _add_site_builtins()
    out = sys.stdout.buffer
    _send(
        out,
        {
            "hello": "quinebox-supervisor",
            "protocol": PROTOCOL,
            "python": ".".join(map(str, sys.version_info[:3])),
            "work_counter": "sys.monitoring" if hasattr(sys, "monitoring") else "settrace",
            "pid": os.getpid(),
        },
    )
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline(MAX_REQUEST_BYTES)
        if not line:
            return 0
        try:
            request = json.loads(line)
        except ValueError:
            _send(out, {"error": "request is not JSON"})
            continue
        op = request.get("op")
        if op == "exit":
            return 0
        if op == "ping":
            _send(out, {"id": request.get("id"), "pong": True})
            continue
        if op != "run":
            _send(out, {"id": request.get("id"), "error": f"unknown op {op!r}"})
            continue
        try:
            reply = run_once(config, request)
        except Exception as exc:  # a broken request is the host's bug, reported, never fatal
            reply = {"status": "XX", "message": f"supervisor: {type(exc).__name__}: {exc}"}
        reply["id"] = request.get("id")
        _send(out, reply)


def _send(out: object, record: dict[str, object]) -> None:
    out.write(json.dumps(record).encode() + b"\n")  # type: ignore[attr-defined]
    out.flush()  # type: ignore[attr-defined]


def _protect_self() -> None:
    """Make /proc/<this pid> unreadable and unptraceable by the same-uid candidate."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_dumpable = 4
        libc.prctl(pr_set_dumpable, 0, 0, 0, 0)
    except Exception:
        pass


def _take_init_duties(config: Config) -> None:
    """End on SIGTERM even as PID 1, and end after the time-to-live.

    As PID 1 of a container (the image run without --init) the kernel drops
    every signal that has no handler, so `docker stop` would hang until its
    SIGKILL; a handler makes SIGTERM end the session at once, and the kernel
    then ends every process of the namespace. The time-to-live is a handler
    for the same reason: a default SIGALRM would be dropped for PID 1. Under
    bwrap and none the supervisor is never PID 1 and gets no --ttl, so
    nothing changes there. The candidate's child resets both signals.
    """
    if os.getpid() == 1:
        signal.signal(signal.SIGTERM, _end_session)
    if config.ttl_s:
        signal.signal(signal.SIGALRM, _end_session)
        signal.alarm(config.ttl_s)


def _end_session(signum: int, frame: object) -> None:
    os._exit(128 + signum)


def _add_site_builtins() -> None:
    """The supervisor runs with -S (no site-packages); candidates still expect exit() and quit()."""
    import builtins

    try:
        import _sitebuiltins

        builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")  # type: ignore[attr-defined]
        builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")  # type: ignore[attr-defined]
    except ImportError:
        pass


def run_once(config: Config, request: dict[str, object]) -> dict[str, object]:
    source = base64.b64decode(str(request["source"]))
    argv = [str(a) for a in request.get("argv", [])]  # type: ignore[union-attr]
    sighted = bool(request.get("sighted"))
    limits = dict(request.get("limits", {}))  # type: ignore[call-overload]
    wall_s = float(limits.get("wall_s", 10))
    cpu_s = int(limits.get("cpu_s", 10))
    mem_mb = int(limits.get("mem_mb", 512))
    output_cap = int(limits.get("output_bytes", 1 << 20))
    pids = int(limits.get("pids", 64))
    work_budget = int(limits.get("work", 2_000_000))

    _wipe(config.writable)
    os.makedirs(config.work_dir, exist_ok=True)
    if sighted:
        with open(config.source_path, "wb") as handle:
            handle.write(source)
        os.chmod(config.source_path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    meta_r, meta_w = os.pipe()
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    pid = os.fork()
    if pid == 0:  # the candidate's side; never returns
        try:
            _become_candidate(config.work_dir, out_w, err_w, meta_w, cpu_s, mem_mb, pids)
            launch_python.run_candidate(
                source, argv, config.source_path if sighted else None, config.box, META_FD, work_budget
            )
        finally:
            os._exit(126)
    del source
    for fd in (out_w, err_w, meta_w):
        os.close(fd)
    outcome = _collect(pid, out_r, err_r, meta_r, started + wall_s, output_cap)
    wall_ms = (time.monotonic() - started) * 1000
    _kill_everything_else(config, pid)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_ms = ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)) * 1000
    _wipe(config.writable)
    return _reply(outcome, wall_ms, cpu_ms, cpu_s)


def _become_candidate(work_dir: str, out_w: int, err_w: int, meta_w: int, cpu_s: int, mem_mb: int, pids: int) -> None:
    os.setsid()
    devnull = os.open("/dev/null", os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.dup2(meta_w, META_FD)
    os.closerange(META_FD + 1, 65536)
    for fd in (0, 1, 2, META_FD):
        os.set_inheritable(fd, fd != META_FD)
    os.chdir(work_dir)
    mem = mem_mb * 1024 * 1024
    for name, value in (
        (resource.RLIMIT_CPU, (cpu_s, cpu_s + 1)),
        (resource.RLIMIT_AS, (mem, mem)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_FSIZE, (16 * 1024 * 1024, 16 * 1024 * 1024)),
        (resource.RLIMIT_NOFILE, (256, 256)),
        (resource.RLIMIT_NPROC, (pids, pids)),
    ):
        try:
            resource.setrlimit(name, value)
        except (ValueError, OSError):
            pass
    # Python's own buffered streams were set up before the fork: rebind them to the new fds.
    sys.stdin = open(0, closefd=False)  # noqa: SIM115
    sys.stdout = open(1, "w", encoding="utf-8", errors="strict", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1)  # noqa: SIM115
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):
        signal.signal(sig, signal.SIG_DFL)


class _Outcome:
    def __init__(self) -> None:
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.meta = bytearray()
        self.stdout_truncated = False
        self.stderr_truncated = False
        self.timed_out = False
        self.output_limit = False
        self.status = 0


def _collect(pid: int, out_r: int, err_r: int, meta_r: int, deadline: float, cap: int) -> _Outcome:
    outcome = _Outcome()
    buffers = {out_r: outcome.stdout, err_r: outcome.stderr, meta_r: outcome.meta}
    selector = selectors.DefaultSelector()
    for fd in buffers:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    open_fds = set(buffers)
    exited = False
    while open_fds:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            outcome.timed_out = True
            break
        if not exited:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                exited, outcome.status = True, status
        # Once the candidate is gone, stragglers holding its pipes get a short grace only.
        wait = min(remaining, 0.05 if exited else 0.5)
        for key, _ in selector.select(wait):
            fd = int(key.fd)  # type: ignore[arg-type]
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                selector.unregister(fd)
                open_fds.discard(fd)
                continue
            buffer = buffers[fd]
            limit = META_CAP if fd == meta_r else cap
            room = limit - len(buffer)
            buffer.extend(chunk[: max(room, 0)])
            if len(chunk) > room and fd != meta_r:
                outcome.output_limit = True
                if fd == out_r:
                    outcome.stdout_truncated = True
                else:
                    outcome.stderr_truncated = True
        if outcome.output_limit:
            break
        # After the candidate exits, whatever it wrote is already in the pipes; a child it
        # left behind may hold them open forever, so stop once nothing is left to read.
        if exited and not selector.select(0):
            break
    selector.close()
    for fd in buffers:
        os.close(fd)
    if not exited:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
        _, outcome.status = os.waitpid(pid, 0)
    return outcome


def _kill_everything_else(config: Config, pid: int) -> None:
    """Every process of the run dies with it, daemons and setsid() escapees included."""
    if config.owns_pid_namespace:
        me = os.getpid()
        for _ in range(100):
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _reap()
            others = [p for p in _pids() if p not in (1, me)]
            if not others:
                return
            time.sleep(0.002)
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        _reap()


def _reap() -> None:
    while True:
        try:
            done, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if done == 0:
            return


def _pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []


def _wipe(areas: list[str]) -> None:
    for area in areas:
        try:
            entries = os.listdir(area)
        except OSError:
            continue
        for name in entries:
            path = os.path.join(area, name)
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    os.chmod(path, 0o700)
                    shutil.rmtree(path, onerror=_force_remove)
                else:
                    os.unlink(path)
            except OSError:
                pass


def _force_remove(func: object, path: str, exc_info: object) -> None:
    try:
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except OSError:
        pass


def _reply(outcome: _Outcome, wall_ms: float, cpu_ms: float, cpu_s: int) -> dict[str, object]:
    events: list[list[str]] = []
    work: int | None = None
    work_exceeded = False
    for raw in bytes(outcome.meta).splitlines():
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        if not isinstance(record, dict):
            continue
        if "event" in record and isinstance(record["event"], list):
            events.append([str(x)[:500] for x in record["event"][:2]])
        if isinstance(record.get("work"), int):
            work = record["work"]
        if isinstance(record.get("work_exceeded"), int):
            work, work_exceeded = record["work_exceeded"], True
    status = outcome.status
    exit_code = os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) or os.WIFSIGNALED(status) else None
    sig = -exit_code if exit_code is not None and exit_code < 0 else None
    if exit_code is not None and exit_code < 0:
        exit_code = None
    message = ""
    if work_exceeded:
        code, message = "WL", "work budget exceeded"
    elif outcome.timed_out:
        code, message = "TO", "wall time limit exceeded"
    elif sig in (signal.SIGXCPU,) or (sig == signal.SIGKILL and cpu_ms >= cpu_s * 1000):
        code, message = "TO", "cpu time limit exceeded"
    elif outcome.output_limit:
        code, message = "OL", "output limit exceeded"
    elif sig is not None:
        code, message = "SG", f"killed by signal {_signal_name(sig)}"
    elif exit_code:
        code, message = "RE", f"exited with status {exit_code}"
    else:
        code = "OK"
    return {
        "status": code,
        "exit_code": exit_code,
        "signal": sig,
        "stdout": base64.b64encode(bytes(outcome.stdout)).decode(),
        "stderr": base64.b64encode(bytes(outcome.stderr)).decode(),
        "stdout_truncated": outcome.stdout_truncated,
        "stderr_truncated": outcome.stderr_truncated,
        "wall_ms": round(wall_ms, 3),
        "cpu_ms": round(cpu_ms, 3),
        "work": work,
        "events": events,
        "message": message,
    }


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
