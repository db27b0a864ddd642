"""The in-sandbox server: one request in, one fresh, limited, audited run out.

Runs inside the wall (bubblewrap, a container, or, when asked for by name, no
wall at all), stdlib-only, and assumes the candidate can read this file.

Protocol: JSON lines. The supervisor first writes a hello record
(``{"hello": "quinebox-supervisor", "protocol": 3, ...}``), then answers every
request on stdin with exactly one line on stdout:

    {"op": "run", "id": 7, "source": <base64>, "argv": ["--next"],
     "sighted": true, "limits": {"wall_s", "cpu_s", "mem_mb", "output_bytes",
     "pids", "work"}, "language": <Recipe>, "binary": <base64>,
     "collect": "prog"}

``language`` says how to start the program (see `Recipe`; Python when
absent), ``binary`` is a compiled program to run from memory, and
``collect`` names a file the run leaves in its working directory that the
reply carries back as ``artifact`` (a compile step).
    {"op": "ping", "id": 8}          -> {"id": 8, "pong": true}
    {"op": "version", "id": 9, "argv": ["node", "--version"]}
                                     -> {"id": 9, "version": "v20.20.2"}
    {"op": "exit"}                   -> the supervisor exits

A run reply carries ``status`` (OK, RE, SG, TO, OL, WL, XX), ``exit_code``,
``signal``, base64 ``stdout``/``stderr`` with ``*_truncated`` flags,
``wall_ms``, ``cpu_ms``, ``work``, ``events``, ``opens`` (opens of the
sighted source file, counted by inotify outside the run) and a human-only
``message``;
a run that could not be started gets ``{"id", "error"}`` instead, which the
host reports as an infrastructure error, never as the candidate's.

How a run starts (docs/threat-model.md tells why): the supervisor never forks a
run itself. At the start of the session it executes the zygote (`zygote.py`),
a new interpreter that holds no request; for each run it sends the zygote the
run's five pipes and nothing else, then writes the run's settings and source
on the last of them, which only init, pid 1 of the run, reads, after it has
forked the candidate:

    zygote ── fork into new namespaces ──> init (pid 1) ── fork ──> candidate

The candidate is a copy of the zygote: nothing of the supervisor, of a
request or of another run exists in it. Init measures its CPU time with
wait4, outside it, and the namespaces go with init, taking every process, IPC
object and mount of the run along.
"""

from __future__ import annotations

import base64
import json
import marshal
import os
import selectors
import shutil
import signal
import socket
import sys
import time
from typing import NamedTuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import confine  # noqa: E402  (sibling modules, found through the line above)
import zygote  # noqa: E402
from zygote import ARTIFACT_CAP, Config, Recipe  # noqa: E402

PROTOCOL = 3
# Protocol lines from the host are small; anything larger is a broken host.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
META_CAP = 256 * 1024
#: Seconds the zygote may take to load before the session is called broken.
ZYGOTE_READY_S = 30.0
#: Forks the zygote makes before the first run (see `Zygote._warm_up`).
WARM_UP_FORKS = 2
#: Seconds a run may sit idle (every thread of every process asleep, no CPU time spent) before it is ended.
IDLE_S = 0.5
#: How often a running run is looked at for being idle.
IDLE_POLL_S = 0.1
#: The cores a run's processes can spend CPU time on at once.
CORES = len(os.sched_getaffinity(0))


class Zygote:
    """The session's zygote: its pid and our end of its socket; started again if a run ended it."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.pid = -1
        self.channel: socket.socket | None = None
        self.prepared: RunPipes | None = None

    def start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                devnull = os.open("/dev/null", os.O_RDWR)
                layout = {0: devnull, 1: devnull, 2: 2, zygote.SOCKET_FD: theirs.fileno()}
                if self.config.watches >= 0:
                    layout[zygote.WATCHES_FD] = self.config.watches
                moved = {target: zygote._fcntl_dup(fd) for target, fd in layout.items()}
                for target, fd in moved.items():
                    os.dup2(fd, target, inheritable=True)
                zygote._close_all_but(set(layout))
                confine.die_with_parent(signal.SIGKILL)
                for sig in (signal.SIGTERM, signal.SIGALRM):
                    signal.signal(sig, signal.SIG_DFL)
                signal.alarm(0)
                interpreter = os.path.realpath(sys.executable)
                flags = ("-I", "-S", "-X", "utf8", "-B")
                os.execv(interpreter, ["python3", *flags, zygote.__file__, *self.config.argv()])
            finally:
                os._exit(127)
        theirs.close()
        ours.settimeout(ZYGOTE_READY_S)
        try:
            ready = ours.recv(16)
        except OSError:
            ready = b""
        ours.settimeout(None)
        if ready != b"ready":
            ours.close()
            raise OSError("the zygote did not start")
        self.pid, self.channel = pid, ours
        self._warm_up()

    def _warm_up(self) -> None:
        """Two runs that start and fail at once, so that the first real run finds the zygote as every later one.

        The zygote's first forks fill free lists that stay filled (the objects of a received message
        and of a fork); after them every fork leaves the zygote exactly as it found it
        (`interpreter_state_reveals_nothing` in the conformance suite).
        """
        assert self.channel is not None
        nothing = os.open("/dev/null", os.O_RDWR)
        try:
            for _ in range(WARM_UP_FORKS):
                socket.send_fds(self.channel, [b"R"], [nothing] * len(zygote.RUN_FDS))
        finally:
            os.close(nothing)

    def alive(self) -> bool:
        if self.channel is None:
            return False
        try:
            done, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            done = self.pid
        return done == 0

    def prepare(self) -> None:
        """Have the zygote fork the next run now: its init, namespaces and candidate wait for it."""
        if self.prepared is not None:
            return
        if not self.alive():
            if self.channel is not None:
                self.channel.close()
            self.channel = None
            self.start()
        assert self.channel is not None
        pipes = RunPipes()
        try:
            socket.send_fds(self.channel, [b"R"], pipes.theirs)
        except OSError:
            pipes.close()
            raise
        pipes.hand_over()
        self.prepared = pipes

    def take(self) -> RunPipes:
        """The prepared run (one is prepared now if there is none, or if its zygote has ended)."""
        if self.prepared is not None and not self.alive():
            self.prepared.close()
            self.prepared = None
        self.prepare()
        pipes, self.prepared = self.prepared, None
        assert pipes is not None
        return pipes


class RunPipes:
    """One run's pipes: the supervisor's ends, and the run's ends until the zygote has them."""

    def __init__(self) -> None:
        pairs = [os.pipe() for _ in zygote.RUN_FDS]
        self.out, self.err, self.meta, self.status = (r for r, _ in pairs[:4])
        self.params = pairs[4][1]
        self.theirs = [w for _, w in pairs[:4]] + [pairs[4][0]]

    def hand_over(self) -> None:
        for fd in self.theirs:
            os.close(fd)
        self.theirs = []

    def close(self) -> None:
        for fd in (self.out, self.err, self.meta, self.status, self.params, *self.theirs):
            if fd >= 0:
                os.close(fd)
        self.out = self.err = self.meta = self.status = self.params = -1
        self.theirs = []


def main(argv: list[str]) -> int:
    config = Config(argv)
    confine.protect_self()
    _take_init_duties(config)
    config.fresh, config.seccomp = _probe(config)
    config.watches = confine.open_watches()
    spawner = Zygote(config)
    spawner.start()
    out = sys.stdout.buffer
    _send(
        out,
        {
            "hello": "quinebox-supervisor",
            "protocol": PROTOCOL,
            "python": ".".join(map(str, sys.version_info[:3])),
            "work_counter": "sys.monitoring" if hasattr(sys, "monitoring") else "settrace",
            "fresh_namespaces": config.fresh,
            "seccomp": config.seccomp,
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
        if op == "version":
            _send(out, {"id": request.get("id"), "version": _version(request.get("argv"))})
            continue
        if op != "run":
            _send(out, {"id": request.get("id"), "error": f"unknown op {op!r}"})
            continue
        try:
            reply = run_once(config, spawner, request)
        except Exception as exc:  # a broken request or a wall that would not rise: the host's problem
            reply = {"error": f"supervisor: {type(exc).__name__}: {exc}"}
        reply["id"] = request.get("id")
        _send(out, reply)


def _version(argv: object) -> str | None:
    """The first line an interpreter prints about its version (``node --version``), or None."""
    import subprocess

    if not isinstance(argv, list) or not argv or shutil.which(str(argv[0])) is None:
        return None
    try:
        done = subprocess.run([str(a) for a in argv], capture_output=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = (done.stdout or done.stderr).decode("utf-8", "replace").strip().splitlines()
    return lines[0][:200] if lines else None


def _send(out: object, record: dict[str, object]) -> None:
    out.write(json.dumps(record).encode() + b"\n")  # type: ignore[attr-defined]
    out.flush()  # type: ignore[attr-defined]


def _take_init_duties(config: Config) -> None:
    """End on SIGTERM even as PID 1, and end after the time-to-live.

    As PID 1 of a container the kernel drops every signal that has no
    handler, so `docker stop` would hang until its SIGKILL; a handler makes
    SIGTERM end the session at once. The time-to-live is a handler for the
    same reason. Every run's processes reset both.
    """
    if os.getpid() == 1:
        signal.signal(signal.SIGTERM, _end_session)
    if config.ttl_s:
        signal.signal(signal.SIGALRM, _end_session)
        signal.alarm(config.ttl_s)


def _end_session(signum: int, frame: object) -> None:
    os._exit(128 + signum)


def _probe(config: Config) -> tuple[bool, bool]:
    """Whether a child can enter fresh namespaces, and whether the seccomp filter loads."""
    uid, gid = os.getuid(), os.getgid()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            init = confine.fork_fresh()
            if init == 0:
                try:
                    confine.map_own_ids(uid, gid)
                except OSError:
                    os._exit(1)
                os._exit(0)
            _, status = os.waitpid(init, 0)
            code |= 1 if os.waitstatus_to_exitcode(status) else 0
        except OSError:
            code |= 1
        try:
            confine.lock_down()
        except OSError:
            code |= 2
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return False, False
    return not code & 1, not code & 2 and confine.machine_supported()


class _Run:
    """The pipes and facts of one run, as the supervisor holds them."""

    def __init__(self, request: dict[str, object]) -> None:
        self.source = base64.b64decode(str(request["source"]))
        self.argv = [str(a) for a in request.get("argv", [])]  # type: ignore[union-attr]
        self.sighted = bool(request.get("sighted"))
        limits = dict(request.get("limits", {}))  # type: ignore[call-overload]
        self.wall_s = float(limits.get("wall_s", 10))
        self.longest_s = float(limits.get("longest_s", 0)) or self.wall_s
        self.cpu_s = int(limits.get("cpu_s", 10))
        self.mem_mb = int(limits.get("mem_mb", 512))
        self.output_cap = int(limits.get("output_bytes", 1 << 20))
        self.pids = int(limits.get("pids", 64))
        self.work_budget = int(limits.get("work", 2_000_000))
        self.key = os.urandom(16).hex()
        self.recipe = Recipe(request.get("language"))
        self.binary = base64.b64decode(str(request["binary"])) if request.get("binary") else b""
        self.collect = str(request["collect"]) if request.get("collect") else ""
        self.language = request.get("language")

    def params(self) -> dict[str, object]:
        """What init reads on the run's last pipe: everything it and the candidate need, and no more."""
        limits = {"cpu_s": self.cpu_s, "mem_mb": self.mem_mb, "pids": self.pids, "work": self.work_budget}
        recipe = dict(self.language) if isinstance(self.language, dict) else {}
        return {
            "sighted": self.sighted,
            "argv": self.argv,
            "limits": limits,
            "recipe": {str(k): v for k, v in recipe.items()},
            "collect": self.collect,
            "key": self.key,
            "source": self.source,
            "binary": self.binary,
        }


def run_once(config: Config, spawner: Zygote, request: dict[str, object]) -> dict[str, object]:
    run = _Run(request)
    if not config.fresh:
        _wipe(config.writable)
        confine.remove_ipc()
    params = marshal.dumps(run.params())
    run.source = run.binary = b""
    try:
        pipes, started = _start(spawner, params)
    except OSError as exc:
        return {"error": f"zygote: {exc}"}
    meta_cap = ARTIFACT_CAP if run.collect else META_CAP
    outcome = _collect(pipes, _WallClock(started, run.wall_s, run.longest_s, run.cpu_s), run.output_cap, meta_cap)
    wall_ms = (time.monotonic() - started) * 1000
    if not config.fresh:
        _kill_everything_else(config, spawner.pid)
        _wipe(config.writable)
        confine.remove_ipc()
    try:
        spawner.prepare()  # the next run's processes and namespaces, made while the host reads this reply
    except OSError:
        pass  # the next run makes them itself, or says why it cannot
    if outcome.error:
        return {"error": outcome.error}
    if outcome.init is None:
        return {"error": "zygote: the run was never forked"}
    return _reply(outcome, wall_ms, run)


def _start(spawner: Zygote, params: bytes) -> tuple[RunPipes, float]:
    """Hand a prepared run its settings; a prepared run that died meanwhile is replaced, once."""
    for attempt in range(2):
        pipes = spawner.take()
        started = time.monotonic()
        try:
            zygote._write_all(pipes.params, params)
        except BrokenPipeError:
            pipes.close()
            if attempt:
                raise
            continue
        except OSError:
            pass  # init could not read it all: it says why on the status pipe
        os.close(pipes.params)
        pipes.params = -1
        return pipes, started
    raise OSError("no run could be started")


class _Outcome:
    def __init__(self) -> None:
        self.stdout = bytearray()
        self.stderr = bytearray()
        self.meta = bytearray()
        self.status_lines = bytearray()
        self.stdout_truncated = False
        self.stderr_truncated = False
        self.meta_flooded = False
        self.timed_out = False
        self.cpu_spent = False
        self.output_limit = False
        self.status: int | None = None
        self.cpu_ms = 0.0
        self.opens: int | None = None
        self.left_behind: list[str] = []
        self.error = ""
        self.init: int | None = None
        self.idle = False


def _collect(pipes: RunPipes, clock: _WallClock, cap: int, meta_cap: int) -> _Outcome:
    """Read the run's pipes until init reports the candidate's end, the wall limit, or the output cap."""
    out_r, err_r, meta_r, status_r = pipes.out, pipes.err, pipes.meta, pipes.status
    outcome = _Outcome()
    buffers = {out_r: outcome.stdout, err_r: outcome.stderr, meta_r: outcome.meta, status_r: outcome.status_lines}
    selector = selectors.DefaultSelector()
    for fd in buffers:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    open_fds = set(buffers)
    idle = _IdleWatch(IDLE_S)
    while open_fds:
        now = time.monotonic()
        remaining = clock.remaining(outcome.status_lines, now)
        if remaining <= 0 and status_r in open_fds:
            outcome.timed_out, outcome.cpu_spent = True, clock.cpu_spent
            break
        if status_r in open_fds and idle.asleep(outcome.status_lines, now):
            outcome.timed_out = outcome.idle = True
            break
        # Once init is gone, what the run wrote is in the pipes: drain it, briefly.
        ready = selector.select(min(remaining, IDLE_POLL_S) if status_r in open_fds else 0.05)
        if not ready and status_r not in open_fds:
            break
        for key, _ in ready:
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
            limit = meta_cap if fd == meta_r else 65536 if fd == status_r else cap
            room = limit - len(buffer)
            buffer.extend(chunk[: max(room, 0)])
            if fd == status_r and _told_the_end(buffer):
                # Init's last line: what is left of it is its exit, which the run need not wait for.
                selector.unregister(fd)
                open_fds.discard(fd)
            if len(chunk) > room:
                if fd == meta_r:
                    outcome.meta_flooded = True
                elif fd in (out_r, err_r):
                    outcome.output_limit = True
                    if fd == out_r:
                        outcome.stdout_truncated = True
                    else:
                        outcome.stderr_truncated = True
        if outcome.output_limit:
            break
    selector.close()
    pipes.close()
    _read_status(outcome)
    if outcome.init is not None:
        _end_init(outcome.init)
    return outcome


class _IdleWatch:
    """Whether a run has sat idle for `limit` seconds: every thread of every process asleep, no CPU spent.

    A program that only waits (a sleep, a deadlock, a timer) cannot finish its work, so it is ended
    as out of time at once instead of holding its lane until the wall limit. Looked at from outside,
    in /proc of the session: the candidate cannot hide from it or fake it, and a program that is
    runnable but not given a core (a loaded machine) is never idle.
    """

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.init: int | None = None
        self.cpu = -1
        self.since = 0.0
        self.blind = False
        self.next_look = time.monotonic() + IDLE_POLL_S  # a run that ends sooner is never looked at

    def asleep(self, status_lines: bytearray, now: float) -> bool:
        if self.blind or now < self.next_look:
            return False
        self.next_look = now + IDLE_POLL_S
        if self.init is None:
            # Init says "P" once the candidate has all it was sent: from then on it runs on its own.
            init = _status_number(status_lines, b"W")
            if init is None or _status_number(status_lines, b"P") is None:
                return False
            if _children(init) is None:
                self.blind = True  # no /proc children here: the wall limit alone ends a run
                return False
            self.init, self.since = init, now
        sample = _tree_sample(self.init)
        if sample is None:
            return False
        awake, cpu, _ = sample
        if awake or cpu != self.cpu:
            self.cpu, self.since = cpu, now
            return False
        return now - self.since >= self.limit


class _WallClock:
    """When a run has used up its wall limit: the time it spent waiting, neither on a CPU nor queued for one.

    A busy program on a loaded machine gets a smaller share of the cores, and a clock that counted
    that time would end it sooner the busier the machine: its verdict would change with the load.
    So the wall limit counts only the time the run's threads spent asleep or blocked, which is the
    program's own doing (from the kernel's schedstat of every thread under init, outside the
    candidate's reach); a busy run is ended by its CPU limit or its work budget, and by `longest`
    only as a backstop. Where /proc lists no children, the clock is the plain wall clock.

    The CPU limit is an rlimit of each process; a run that may start processes (a shell) could
    spend it in every one of them at once. So the clock also ends a run whose living threads
    together have spent the CPU limit and the second of grace the rlimit's hard limit gives
    (`cpu_spent`), looking as often as that could first happen: a run of one process always meets
    its own rlimit first, and its CPU time is then measured by wait4 as before.
    """

    def __init__(self, started: float, wall_s: float, longest_s: float, cpu_s: float) -> None:
        self.started, self.wall_s, self.cpu_s = started, wall_s, cpu_s + 1  # the rlimit's hard limit
        self.backstop = started + max(longest_s, wall_s)
        # No run can have waited longer than it has lasted, nor spent more CPU than every core gives.
        self.next_look = started + min(wall_s, cpu_s / CORES)
        self.cpu_spent = False

    def remaining(self, status_lines: bytearray, now: float) -> float:
        """Seconds until the run must be looked at again; 0 or less when it is out of time."""
        if now >= self.backstop:
            return 0.0
        if now < self.next_look:
            return self.next_look - now
        init = _status_number(status_lines, b"W")
        if init is not None and _children(init) is None:
            return 0.0  # no children listed here: the plain wall clock
        sample = None if init is None else _tree_sample(init)
        if sample is None:
            self.next_look = now + IDLE_POLL_S  # not started yet, or ending: init is about to say which
            return self.next_look - now
        cpu_s = sample.cpu_ns / 1e9
        if cpu_s >= self.cpu_s:
            self.cpu_spent = True
            return 0.0
        waited = (now - self.started) - cpu_s - sample.queued_ns / 1e9
        if waited >= self.wall_s:
            return 0.0
        wait_left, cpu_left = self.wall_s - waited, max((self.cpu_s - cpu_s) / CORES, IDLE_POLL_S)
        self.next_look = min(now + min(wait_left, cpu_left), self.backstop)
        return self.next_look - now


def _status_number(status_lines: bytearray, kind: bytes) -> int | None:
    for line in bytes(status_lines).splitlines():
        if line.startswith(kind + b" "):
            try:
                return int(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None


def _children(pid: int) -> list[int] | None:
    """The children of `pid` (every thread's), or None where the kernel does not list them."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", "rb") as handle:
                found += [int(p) for p in handle.read().split()]
        except FileNotFoundError:
            return None if task == str(pid) else found
        except (OSError, ValueError):
            continue
    return found


class _TreeSample(NamedTuple):
    awake: bool
    """Some thread is neither asleep nor stopped."""
    cpu_ns: int
    """CPU time of every living thread."""
    queued_ns: int
    """Time every living thread spent runnable but waiting for a core."""


def _tree_sample(init: int) -> _TreeSample | None:
    """Every thread under `init`, from the kernel's /proc: whether one is awake, and their CPU and queue times.

    None when there is no thread under init: the candidate has ended, and init is telling so.
    """
    awake, cpu, queued, seen = False, 0, 0, 0
    pending = _children(init) or []
    while pending:
        pid = pending.pop()
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/stat", "rb") as handle:
                    stat = handle.read()
                with open(f"/proc/{pid}/task/{task}/schedstat", "rb") as handle:
                    times = handle.read().split()
                cpu, queued = cpu + int(times[0]), queued + int(times[1])
            except (OSError, ValueError, IndexError):
                continue
            state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
            awake = awake or state not in (b"S", b"T", b"t")
            seen += 1
        pending += _children(pid) or []
    return _TreeSample(awake, cpu, queued) if seen else None  # no thread at all: the run is ending, not idle


def _told_the_end(status_lines: bytearray) -> bool:
    """Whether init has written its last line: the candidate's status, or why the run could not start."""
    last = status_lines[status_lines.rfind(b"\n", 0, len(status_lines) - 1) + 1 :]
    return status_lines.endswith(b"\n") and last[:2] in (b"S ", b"X ")


def _end_init(init: int) -> None:
    """Every process of the run dies with init (pid 1 of its namespace, or by PDEATHSIG); the kernel reaps it.

    Its pid is not reused before the session's pid counter wraps around, and the session forks
    nothing else meanwhile.
    """
    if init <= 1 or init == os.getpid():
        return  # never the session's own init or this supervisor, whatever a status line said
    for kill in (os.killpg, os.kill):
        try:
            kill(init, signal.SIGKILL)
        except OSError:
            pass


def _read_status(outcome: _Outcome) -> None:
    for line in bytes(outcome.status_lines).splitlines():
        kind, _, rest = line.partition(b" ")
        if kind == b"X":
            outcome.error = rest.decode("utf-8", "replace")
        elif kind == b"W":
            outcome.init = int(rest)
        elif kind == b"C":
            outcome.left_behind.append(bytes.fromhex(rest.decode("ascii", "replace")).decode("utf-8", "replace"))
        elif kind == b"S":
            status, cpu, opens = rest.split()
            outcome.status, outcome.cpu_ms = int(status), float(cpu)
            outcome.opens = None if int(opens) < 0 else int(opens)


def _kill_everything_else(config: Config, spared: int) -> None:
    """Without namespaces of its own a run could leave strays only if it could fork: make sure.

    Everything but pid 1, this supervisor and `spared` (the zygote, which holds nothing of a run).
    """
    if not config.owns_pid_namespace:
        return
    keep = {1, os.getpid(), spared}
    for _ in range(100):
        strays = [p for p in _pids() if p not in keep]
        if not strays:
            return
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        _reap(spared)
        time.sleep(0.002)


def _reap(spared: int) -> None:
    """Reap every ended child but `spared`, whose end `Zygote.alive` must see."""
    for pid in _pids():
        if pid == spared:
            continue
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


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


class _Channel:
    """What the launcher said on fd 3, checked line by line; every problem becomes a tamper event."""

    def __init__(self, meta: bytes, flooded: bool, key: str) -> None:
        self.events: list[list[str]] = []
        self.work: int | None = None
        self.work_exceeded = False
        self.finished = False
        problems: list[str] = []
        records = 0
        lines = meta.split(b"\n")
        if lines and lines[-1]:
            problems.append("an unfinished record")
        for raw in lines[:-1]:
            fields = raw.split(b" ")
            kind = fields[0]
            try:
                if self.finished:
                    problems.append("records after the final one")
                    break
                if kind == b"E" and len(fields) == 3:
                    self.events.append([_unhex(fields[1])[:100], _unhex(fields[2])[:500]])
                    records += 1
                elif kind == b"T" and len(fields) == 2:
                    self.events.append(["tamper.launcher", _unhex(fields[1])[:500]])
                    records += 1
                elif kind == b"W" and len(fields) == 2:
                    self.work, self.work_exceeded = int(fields[1]), True
                elif kind == b"F" and len(fields) == 4:
                    if fields[1].decode("ascii", "replace") != key:
                        problems.append("a final record without the run's key")
                        continue
                    self.finished = True
                    self.work = int(fields[2])
                    if int(fields[3]) != records:
                        problems.append(f"{int(fields[3])} records written, {records} received")
                else:
                    problems.append("a record the launcher does not write")
            except ValueError:
                problems.append("a malformed record")
        if flooded:
            problems.append(f"more than {META_CAP} bytes")
        for problem in dict.fromkeys(problems):
            self.events.append(["tamper.channel", f"the audit channel carried {problem}"])
        if not self.finished and not self.work_exceeded:
            self.work = None


def _unhex(field: bytes) -> str:
    return bytes.fromhex(field.decode("ascii")).decode("utf-8", "replace")


def _reply(outcome: _Outcome, wall_ms: float, run: _Run) -> dict[str, object]:
    spoken = run.recipe.channel and not run.collect
    channel = _Channel(bytes(outcome.meta) if spoken else b"", outcome.meta_flooded and spoken, run.key)
    status = outcome.status
    exit_code = sig = None
    if status is not None:
        exit_code = os.waitstatus_to_exitcode(status)
        if exit_code < 0:
            sig, exit_code = -exit_code, None
    cpu_ms = outcome.cpu_ms
    message = ""
    if channel.work_exceeded:
        code, message = "WL", "work budget exceeded"
    elif outcome.idle:
        code, message = "TO", f"idle: it slept {IDLE_S:g} s without using the CPU, so it was ended"
    elif outcome.cpu_spent:
        code, message = "TO", "cpu time limit exceeded by the run's processes together"
    elif outcome.timed_out:
        code, message = "TO", "wall time limit exceeded"
    elif status is None and not outcome.output_limit:
        code, message = "RE", "the run ended abnormally: its init process was killed"
    elif sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_ms >= run.cpu_s * 1000):
        code, message = "TO", "cpu time limit exceeded"
    elif outcome.output_limit:
        code, message = "OL", "output limit exceeded"
    elif sig is not None:
        code, message = "SG", f"killed by signal {_signal_name(sig)}"
    elif exit_code:
        code, message = "RE", f"exited with status {exit_code}"
    else:
        code = "OK"
    events = channel.events + [["fs.left_behind", path] for path in outcome.left_behind]
    if spoken and code in ("OK", "RE") and not channel.finished:
        events.append(["tamper.channel", "the run ended without its final record (os._exit, or a launcher cut short)"])
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
        "work": channel.work,
        "events": events[:64],
        "message": message,
        "opens": outcome.opens,
        **({"artifact": base64.b64encode(bytes(outcome.meta)).decode()} if run.collect else {}),
    }


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
