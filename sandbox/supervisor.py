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

How a run starts (docs/threat-model.md tells why):

    supervisor ── fork ──> warden: own session; new user, pid, IPC and mount
                           namespaces (when the kernel allows them)
                  warden ── fork ──> init (pid 1): fresh tmpfs on every
                           writable area, empty /proc, the sighted source
                  init ── fork ──> candidate: fds 0-5, rlimits, seccomp,
                           then execve of a new interpreter (launch_python,
                           or the language's interpreter and its launcher,
                           or a compiled program from memory)

Nothing of the supervisor survives the execve: the candidate's process holds
only the launcher, its key and its source. Init measures the candidate's CPU
time with wait4, outside it, and the namespaces go with init, taking every
process, IPC object and mount of the run along.
"""

from __future__ import annotations

import base64
import json
import marshal
import os
import resource
import selectors
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import confine  # noqa: E402  (sibling module, found through the line above)

PROTOCOL = 3
# Protocol lines from the host are small; anything larger is a broken host.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
META_CAP = 256 * 1024
#: A compiled program larger than this is not sent back.
ARTIFACT_CAP = 32 * 1024 * 1024
SANDBOX_DIR = os.path.dirname(os.path.abspath(__file__))
#: Files a run left behind, named in its reply at most.
LEFT_BEHIND_SHOWN = 8
META_FD = confine.META_FD
EXEC_FD = confine.EXEC_FD
#: Each writable area of a run is a new tmpfs of this size.
AREA_BYTES = 64 * 1024 * 1024
#: The `-c` program of every run: read the launcher's code from fd 5 and run it.
BOOTSTRAP = (
    "import marshal,os\n"
    "b=[]\n"
    "while c:=os.read(5,1<<20):b.append(c)\n"
    "os.close(5);c=marshal.loads(b''.join(b));del b\n"
    "exec(c)"
)
INTERPRETER_FLAGS = ("-I", "-S", "-X", "utf8", "-B")


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
        #: Set at start: whether each run gets namespaces of its own, and whether the filter loads.
        self.fresh = False
        self.seccomp = False
        self.launcher = b""
        #: The session's inotify instance (see `confine.open_watches`), or -1.
        self.watches = -1
        self.interpreter = os.path.realpath(sys.executable)


def main(argv: list[str]) -> int:
    config = Config(argv)
    confine.protect_self()
    _take_init_duties(config)
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "launch_python.py"), "rb") as handle:
        config.launcher = marshal.dumps(compile(handle.read(), "<quinebox>", "exec", dont_inherit=True))
    config.fresh, config.seccomp = _probe(config)
    config.watches = confine.open_watches()
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
            reply = run_once(config, request)
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
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            confine.fresh_namespaces()
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
        self.cpu_s = int(limits.get("cpu_s", 10))
        self.mem_mb = int(limits.get("mem_mb", 512))
        self.output_cap = int(limits.get("output_bytes", 1 << 20))
        self.pids = int(limits.get("pids", 64))
        self.work_budget = int(limits.get("work", 2_000_000))
        self.key = os.urandom(16).hex()
        self.recipe = Recipe(request.get("language"))
        self.binary = base64.b64decode(str(request["binary"])) if request.get("binary") else b""
        self.collect = str(request["collect"]) if request.get("collect") else ""


class Recipe:
    """How to start a program of one language, as the host's language record says (Python by default).

    Argument templates may name ``{source}`` (the sighted file), ``{launcher}``
    (a file of this folder that counts work and audits, loaded by the
    interpreter) and ``{box}``. A recipe with a ``binary`` runs that binary from
    memory (a compiled program); ``processes`` lets the program fork and exec
    (a shell, a compiler); ``channel`` says whether the launcher speaks the
    keyed audit protocol on fd 3.
    """

    def __init__(self, data: object) -> None:
        spec = dict(data) if isinstance(data, dict) else {}
        self.name = str(spec.get("name", "python"))
        self.python = self.name == "python"
        self.source_name = os.path.basename(str(spec.get("source_name", "prog.py"))) or "prog.py"
        self.argv = [str(a) for a in spec.get("argv", [])]
        self.blind_argv = [str(a) for a in spec.get("blind_argv", [])]
        self.launcher = os.path.basename(str(spec["launcher"])) if spec.get("launcher") else ""
        self.processes = bool(spec.get("processes"))
        self.channel = bool(spec.get("channel", self.python))
        self.address_space_mb = int(spec.get("address_space_mb", 0))


def run_once(config: Config, request: dict[str, object]) -> dict[str, object]:
    run = _Run(request)
    if not config.fresh:
        _wipe(config.writable)
        confine.remove_ipc()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    meta_r, meta_w = os.pipe()
    status_r, status_w = os.pipe()
    started = time.monotonic()
    warden = os.fork()
    if warden == 0:
        try:
            for fd in (out_r, err_r, meta_r, status_r):
                os.close(fd)
            _warden(config, run, out_w, err_w, meta_w, status_w)
        finally:
            os._exit(126)
    run.source = b""
    for fd in (out_w, err_w, meta_w, status_w):
        os.close(fd)
    meta_cap = ARTIFACT_CAP if run.collect else META_CAP
    outcome = _collect(warden, out_r, err_r, meta_r, status_r, started + run.wall_s, run.output_cap, meta_cap)
    wall_ms = (time.monotonic() - started) * 1000
    if not config.fresh:
        _kill_everything_else(config)
        _wipe(config.writable)
        confine.remove_ipc()
    if outcome.error:
        return {"error": outcome.error}
    return _reply(outcome, wall_ms, run)


def _warden(config: Config, run: _Run, out_w: int, err_w: int, meta_w: int, status_w: int) -> None:
    """The run's own session and namespaces; waits for init, whose death ends everything of the run."""
    os.setsid()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(0)
    confine.die_with_parent(signal.SIGKILL)
    keep = {out_w, err_w, meta_w, status_w, *((config.watches,) if config.watches >= 0 else ())}
    _close_all_but(keep)
    try:
        if config.fresh:
            confine.fresh_namespaces()
    except OSError as exc:
        _fail(status_w, f"namespaces: {exc}")
    init = os.fork()
    if init == 0:
        try:
            _init(config, run, out_w, err_w, meta_w, status_w)
        finally:
            os._exit(126)
    for fd in (out_w, err_w, meta_w):
        os.close(fd)
    run.source = b""
    _, status = os.waitpid(init, 0)
    os._exit(0 if os.WIFEXITED(status) else 1)


def _init(config: Config, run: _Run, out_w: int, err_w: int, meta_w: int, status_w: int) -> None:
    """Pid 1 of the run: fresh mounts, the source, the candidate; then its CPU time, measured by wait4."""
    confine.die_with_parent(signal.SIGKILL)
    try:
        if config.fresh:
            confine.fresh_mounts(config.writable, AREA_BYTES)
        os.makedirs(config.work_dir, exist_ok=True)
        if run.sighted:
            with open(_source_path(config, run), "wb") as handle:
                handle.write(run.source)
            os.chmod(_source_path(config, run), 0o444)
    except OSError as exc:
        _fail(status_w, f"mounts: {exc}")
    # Every open of the sighted file, by any process of the run, seen from outside it.
    watch = confine.watch_opens(config.watches, _source_path(config, run)) if run.sighted else -1
    program = -1
    if run.binary:
        program = os.memfd_create("prog", os.MFD_CLOEXEC)
        _write_all(program, run.binary)
        run.binary = b""
    src_r, src_w = os.pipe()
    key_r, key_w = os.pipe()
    code_r, code_w = os.pipe()
    candidate = os.fork()
    if candidate == 0:
        try:
            for fd in (src_w, key_w, code_w):
                os.close(fd)
            if config.watches >= 0:
                os.close(config.watches)
            if run.recipe.python:
                _become_candidate(config, run, src_r, out_w, err_w, meta_w, key_r, code_r, status_w)
            else:
                _become_program(config, run, src_r, out_w, err_w, meta_w, key_r, program, status_w)
        except BaseException as exc:  # a wall that would not rise: the host's problem, never the candidate's
            _fail(status_w, f"candidate setup: {exc}")
        finally:
            os._exit(126)
    for fd in (src_r, key_r, code_r, out_w, err_w, *(() if run.collect else (meta_w,))):
        os.close(fd)
    os.write(status_w, b"P %d\n" % candidate)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    # In this order the candidate reads them: the launcher, its key, its source (blind runs only).
    if program >= 0:
        os.close(program)
    code = config.launcher if run.recipe.python else b""
    for fd, data in ((code_w, code), (key_w, run.key.encode()), (src_w, b"" if run.sighted else run.source)):
        try:
            _write_all(fd, data)
        except OSError:
            pass
        os.close(fd)
    run.source = b""
    _, status, usage = os.wait4(candidate, 0)
    cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
    opens = confine.count_opens(config.watches, watch)
    if run.collect:
        _send_artifact(os.path.join(config.work_dir, run.collect), meta_w)
    else:
        for path in _left_behind(config, run):
            os.write(status_w, b"C " + path.encode("utf-8", "replace").hex().encode() + b"\n")
    os.write(status_w, b"S %d %.3f %d\n" % (status, cpu_ms, -1 if opens is None else opens))
    if config.fresh:
        try:
            os.kill(-1, signal.SIGKILL)  # pid 1 of its namespace: every thread and process of the run
        except OSError:
            pass
    os._exit(0)


def _become_candidate(
    config: Config,
    run: _Run,
    src_r: int,
    out_w: int,
    err_w: int,
    meta_w: int,
    key_r: int,
    code_r: int,
    status_w: int,
) -> None:
    """Set fds 0-5, limits and the filter, then execute a new interpreter: never returns."""
    stdin = _enter_run(config, run, src_r)
    interpreter = os.open(config.interpreter, os.O_RDONLY | os.O_CLOEXEC)
    _place_fds({0: stdin, 1: out_w, 2: err_w, META_FD: meta_w, 4: key_r, 5: code_r}, interpreter, status_w)
    _set_limits(run, run.mem_mb)
    if config.seccomp:
        confine.lock_down()
    mode = "sighted" if run.sighted else "blind"
    argv = ["python3", *INTERPRETER_FLAGS, "-c", BOOTSTRAP, mode, str(run.work_budget), config.source_path, "--"]
    os.execve(EXEC_FD, [*argv, *run.argv], _run_env())


def _enter_run(config: Config, run: _Run, src_r: int) -> int:
    """The candidate's own session in the work dir, dying with init; returns the fd its stdin will be."""
    confine.die_with_parent(signal.SIGKILL)
    os.setsid()
    os.chdir(config.work_dir)
    return src_r if not run.sighted else os.open("/dev/null", os.O_RDONLY)


def _place_fds(layout: dict[int, int], executable: int, status_w: int) -> None:
    """Each fd of `layout` at its target, the executable at EXEC_FD (closed on exec), nothing else open.

    First out of the way (above the targets), then into place; the status pipe closes on exec.
    """
    moved = {target: _fcntl_dup(fd) for target, fd in layout.items()}
    moved_exec = _fcntl_dup(executable)
    moved_status = _fcntl_dup(status_w)
    for target, fd in moved.items():
        os.dup2(fd, target, inheritable=True)
    os.dup2(moved_exec, EXEC_FD, inheritable=False)
    _close_all_but({*layout, EXEC_FD, moved_status})


def _run_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME", "TZ")}


def _set_limits(run: _Run, mem_mb: int) -> None:
    """The run's rlimits, and default dispositions for the signals the supervisor handles."""
    mem = mem_mb * 1024 * 1024
    for name, value in (
        (resource.RLIMIT_CPU, (run.cpu_s, run.cpu_s + 1)),
        (resource.RLIMIT_AS, (mem, mem)),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_FSIZE, (16 * 1024 * 1024, 16 * 1024 * 1024)),
        (resource.RLIMIT_NOFILE, (256, 256)),
        (resource.RLIMIT_NPROC, (run.pids, run.pids)),
    ):
        try:
            resource.setrlimit(name, value)
        except (ValueError, OSError):
            pass
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)


def _become_program(
    config: Config,
    run: _Run,
    src_r: int,
    out_w: int,
    err_w: int,
    meta_w: int,
    key_r: int,
    program: int,
    status_w: int,
) -> None:
    """Like `_become_candidate`, for a language's interpreter or a compiled program: never returns."""
    recipe = run.recipe
    stdin = _enter_run(config, run, src_r)
    template = recipe.argv if run.sighted or not recipe.blind_argv else recipe.blind_argv
    fields = {
        "source": _source_path(config, run),
        "launcher": os.path.join(SANDBOX_DIR, recipe.launcher) if recipe.launcher else "",
        "box": config.box,
    }
    argv = [part.format(**fields) for part in template]
    if program >= 0:
        executable = program
    else:
        found = shutil.which(argv[0], path=os.environ.get("PATH", os.defpath))
        if found is None:
            raise OSError(f"{argv[0]} is not installed in the sandbox")
        executable = os.open(found, os.O_RDONLY | os.O_CLOEXEC)
    layout = {0: stdin, 1: out_w, 2: err_w}
    if recipe.channel:
        layout |= {META_FD: meta_w, 4: key_r}
    _place_fds(layout, executable, status_w)
    _set_limits(run, max(run.mem_mb, recipe.address_space_mb))
    if config.seccomp:
        confine.lock_down(processes=recipe.processes, channel=recipe.channel)
    os.execve(EXEC_FD, argv + run.argv, _run_env())


def _source_path(config: Config, run: _Run) -> str:
    return os.path.join(config.box, run.recipe.source_name)


def _left_behind(config: Config, run: _Run) -> list[str]:
    """Files and folders the run left in its writable areas, seen from outside: state it meant to keep.

    A program that needs no file writes none; one that writes a counter to /tmp shows here
    whatever its language, with no audit hook needed.
    """
    found: list[str] = []
    expected = {_source_path(config, run) if run.sighted else "", config.work_dir}
    for area in config.writable:
        for root, folders, files in os.walk(area):
            for name in sorted(folders) + sorted(files):
                path = os.path.join(root, name)
                if path not in expected:
                    found.append(path)
                if len(found) >= LEFT_BEHIND_SHOWN:
                    return found
    return found


def _send_artifact(path: str, meta_w: int) -> None:
    """The file a compile run was asked to leave behind, on the meta pipe (nothing when it is missing)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(ARTIFACT_CAP + 1)
    except OSError:
        data = b""
    try:
        _write_all(meta_w, data)
    except OSError:
        pass
    os.close(meta_w)


def _fcntl_dup(fd: int) -> int:
    import fcntl

    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 16)


def _close_all_but(keep: set[int]) -> None:
    start = 0
    for fd in sorted(keep):
        if fd > start:
            os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fail(status_w: int, why: str) -> None:
    try:
        os.write(status_w, b"X " + why.encode("utf-8", "replace")[:2000].replace(b"\n", b" ") + b"\n")
    finally:
        os._exit(127)


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
        self.output_limit = False
        self.status: int | None = None
        self.cpu_ms = 0.0
        self.opens: int | None = None
        self.left_behind: list[str] = []
        self.error = ""


def _collect(
    warden: int, out_r: int, err_r: int, meta_r: int, status_r: int, deadline: float, cap: int, meta_cap: int
) -> _Outcome:
    """Read the run's pipes until init reports the candidate's end, the deadline, or the output cap."""
    outcome = _Outcome()
    buffers = {out_r: outcome.stdout, err_r: outcome.stderr, meta_r: outcome.meta, status_r: outcome.status_lines}
    selector = selectors.DefaultSelector()
    for fd in buffers:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    open_fds = set(buffers)
    while open_fds:
        remaining = deadline - time.monotonic()
        if remaining <= 0 and status_r in open_fds:
            outcome.timed_out = True
            break
        # Once init is gone, what the run wrote is in the pipes: drain it, briefly.
        ready = selector.select(min(remaining, 0.5) if status_r in open_fds else 0.05)
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
    for fd in buffers:
        os.close(fd)
    _end_warden(warden)
    _read_status(outcome)
    return outcome


def _end_warden(warden: int) -> None:
    """Init and the candidate die with the warden (PDEATHSIG); reap it."""
    try:
        os.killpg(warden, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.kill(warden, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.waitpid(warden, 0)
    except ChildProcessError:
        pass


def _read_status(outcome: _Outcome) -> None:
    for line in bytes(outcome.status_lines).splitlines():
        kind, _, rest = line.partition(b" ")
        if kind == b"X":
            outcome.error = rest.decode("utf-8", "replace")
        elif kind == b"C":
            outcome.left_behind.append(bytes.fromhex(rest.decode("ascii", "replace")).decode("utf-8", "replace"))
        elif kind == b"S":
            status, cpu, opens = rest.split()
            outcome.status, outcome.cpu_ms = int(status), float(cpu)
            outcome.opens = None if int(opens) < 0 else int(opens)


def _kill_everything_else(config: Config) -> None:
    """Without namespaces of its own a run could leave strays only if it could fork: make sure."""
    if not config.owns_pid_namespace:
        return
    me = os.getpid()
    for _ in range(100):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _reap()
        if not [p for p in _pids() if p not in (1, me)]:
            return
        time.sleep(0.002)


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
