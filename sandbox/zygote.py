"""The zygote: one pristine interpreter per session that forks every run, and the run's side of the wall.

Assume the candidate can read this file. The supervisor starts the zygote once per session, as a
new ``python3 -I -S -X utf8 -B zygote.py`` with the session's settings in argv. It imports what a
Python run needs (the launcher, compiled but not armed; ``threading``; the seccomp filter's code),
freezes its heap, and then only waits. For each run the supervisor sends it five file descriptors
on a socket and not one byte of the run; it forks the run's init and closes them. It never holds a
source, a request, a key or a result, and every fork leaves it as it was, so every run starts from
the same state:

    zygote ── fork into new user, pid, IPC and mount namespaces (one clone) ──>
              init, pid 1 of the run: its own session; forks the candidate first, mounts a new
                       tmpfs on every writable area and an empty /proc, and only then reads the run
                       (settings, key, source) from the supervisor's pipe and writes the sighted source
              init ── fork ──> candidate: its settings from init; fds 0-4, rlimits, the seccomp
                       filter; then a Python candidate runs the launcher in this very interpreter,
                       and any other language executes its interpreter or its compiled program

Init forks the candidate before it has read anything of the run, so the candidate's memory is the
zygote's. Init measures the candidate's CPU time with wait4, from outside it; the namespaces go
with init, taking every process, IPC object and mount of the run along.
"""

from __future__ import annotations

import gc
import marshal
import os
import resource
import shutil
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import confine  # noqa: E402  (sibling module, found through the line above)

del sys.path[0]

META_FD = confine.META_FD
EXEC_FD = confine.EXEC_FD
KEY_FD = 4
#: The zygote's end of its socket to the supervisor.
SOCKET_FD = 3
#: The session's inotify instance, when there is one.
WATCHES_FD = 4
#: The descriptors of one run, in the order the supervisor sends them.
RUN_FDS = ("stdout", "stderr", "meta", "status", "params")
STATUS = RUN_FDS.index("status")
#: Each writable area of a run is a new tmpfs of this size.
AREA_BYTES = 64 * 1024 * 1024
SANDBOX_DIR = os.path.dirname(os.path.abspath(__file__))
#: Files a run left behind, named in its reply at most.
LEFT_BEHIND_SHOWN = 8
#: A compiled program larger than this is not sent back.
ARTIFACT_CAP = 32 * 1024 * 1024
#: The file name the launcher is compiled under (see launch_python.LAUNCHER_FILE).
LAUNCHER_FILE = "<quinebox>"


class Config:
    """How this session was started; the same argv for the supervisor and its zygote."""

    def __init__(self, argv: list[str]) -> None:
        #: Only inside its own pid namespace may the supervisor kill strays after a run.
        self.owns_pid_namespace = "--owns-pid-namespace" in argv
        self.box = "/box"
        self.writable: list[str] = []
        #: Seconds the supervisor lives at most (0: no limit); bounds a session whose host vanished.
        self.ttl_s = 0
        #: Whether each run gets namespaces of its own, and whether the filter loads (the supervisor probes).
        self.fresh = "--fresh" in argv
        self.seccomp = "--seccomp" in argv
        #: The session's inotify instance (see `confine.open_watches`), or -1.
        self.watches = WATCHES_FD if "--watches" in argv else -1
        for arg in argv:
            if arg.startswith("--box="):
                self.box = arg.split("=", 1)[1]
            if arg.startswith("--writable="):
                self.writable = [p for p in arg.split("=", 1)[1].split(":") if p]
            if arg.startswith("--ttl="):
                self.ttl_s = max(int(arg.split("=", 1)[1]), 0)
        # Only the box is wiped unless the wall says which areas are its own.
        self.writable = self.writable or [self.box]
        self.work_dir = os.path.join(self.box, "work")
        #: The session's ids, which each run's new user namespace maps to themselves.
        self.uid, self.gid = os.getuid(), os.getgid()

    def argv(self) -> list[str]:
        """The argv that makes the same Config in the zygote."""
        flags = [f"--box={self.box}", f"--writable={':'.join(self.writable)}"]
        flags += ["--fresh"] * self.fresh + ["--seccomp"] * self.seccomp + ["--watches"] * (self.watches >= 0)
        return flags


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


class Launch:
    """What a Python candidate hands the launcher: the zygote's only return value, in the candidate."""

    def __init__(self, mode: str, budget: int, source_path: str, argv: list[str]) -> None:
        self.mode, self.budget, self.source_path, self.argv = mode, budget, source_path, argv


def serve(config: Config, launcher: dict[str, object]) -> Launch:
    """Fork a run's init for every message on the socket; return only in a Python candidate."""
    # The kernel reaps each init: reaping it here would make the zygote's allocations depend on
    # how fast the last run ended, and the next run would see it in where its objects land.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    gc.disable()
    gc.freeze()  # the candidate's collections then never walk the zygote's heap
    channel = socket.socket(fileno=SOCKET_FD)
    channel.send(b"ready")
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(channel, 1, len(RUN_FDS))
        except OSError:
            os._exit(0)
        if not message or len(fds) != len(RUN_FDS):
            for fd in fds:
                os.close(fd)
            if not message:
                os._exit(0)  # the supervisor is gone
            continue
        try:
            init = confine.fork_fresh() if config.fresh else os.fork()
        except OSError as exc:
            _tell(fds[STATUS], b"X namespaces: " + str(exc).encode("utf-8", "replace")[:2000] + b"\n")
            init = -1
        if init == 0:
            channel.close()
            return _init(config, dict(zip(RUN_FDS, fds, strict=True)))
        for fd in fds:
            os.close(fd)


def _tell(status_w: int, line: bytes) -> None:
    """One line on a run's status pipe, which the supervisor drains; a run it has given up on is not waited for."""
    try:
        os.write(status_w, line)
    except OSError:
        pass


def _init(config: Config, fds: dict[str, int]) -> Launch:
    """Pid 1 of the run: its own session and ids, the candidate, then the run's settings, mounts and source; wait4."""
    status_w = fds["status"]
    try:
        # Its pid as the supervisor sees it, first on the pipe (fixed width: the bytes must not depend on
        # how many runs came before); inside its namespace it is 1, and /proc is still the session's here.
        os.write(status_w, b"W %010d\n" % (int(os.readlink("/proc/self")) if config.fresh else os.getpid()))
        if config.fresh:
            confine.map_own_ids(config.uid, config.gid)
        os.setsid()
        for sig in (signal.SIGTERM, signal.SIGALRM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        confine.die_with_parent(signal.SIGKILL)
        _close_all_but({*fds.values(), *((config.watches,) if config.watches >= 0 else ())})
    except (OSError, ValueError) as exc:
        _fail(status_w, f"namespaces: {exc}")
    try:
        setup_r, setup_w = os.pipe()
        src_r, src_w = os.pipe()
        key_r, key_w = os.pipe()
        binary_r, binary_w = os.pipe()
    except OSError as exc:
        _fail(status_w, f"init: {exc}")
    candidate = os.fork()
    if candidate == 0:
        for fd in (setup_w, src_w, key_w, binary_w, fds["params"], *((config.watches,) if config.watches >= 0 else ())):
            os.close(fd)
        return _candidate(config, fds, setup_r, src_r, key_r, binary_r)
    for fd in (setup_r, src_r, key_r, binary_r, fds["stdout"], fds["stderr"]):
        os.close(fd)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    try:
        if config.fresh:
            confine.fresh_mounts(config.writable, AREA_BYTES)
    except OSError as exc:
        _fail(status_w, f"mounts: {exc}")
    # Everything above is made before the run is asked for (see `Zygote.prepare` in the supervisor).
    try:
        run = marshal.loads(_read_all(fds["params"]))
        os.close(fds["params"])
        recipe = Recipe(run["recipe"])
        source_path = os.path.join(config.box, recipe.source_name)
        os.makedirs(config.work_dir, exist_ok=True)
        if run["sighted"]:
            with open(source_path, "wb") as handle:
                handle.write(run["source"])
            os.chmod(source_path, 0o444)
    except (OSError, ValueError, EOFError, KeyError, TypeError) as exc:
        _fail(status_w, f"the run's settings: {exc}")
    # Every open of the sighted file, by any process of the run, seen from outside it.
    watch = confine.watch_opens(config.watches, source_path) if run["sighted"] else -1
    if not run["collect"]:
        os.close(fds["meta"])
    setup = {k: v for k, v in run.items() if k not in ("key", "source", "binary")}
    # In this order the candidate reads them: its settings, a compiled program, its key, its source.
    for fd, data in (
        (setup_w, marshal.dumps(setup)),
        (binary_w, run["binary"]),
        (key_w, run["key"].encode()),
        (src_w, b"" if run["sighted"] else run["source"]),
    ):
        try:
            _write_all(fd, data)
        except OSError:
            pass
        os.close(fd)
    os.write(status_w, b"P %d\n" % candidate)  # the candidate has all it was sent: it runs on its own now
    run = {}
    _, status, usage = os.wait4(candidate, 0)
    cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
    opens = confine.count_opens(config.watches, watch)
    if setup["collect"]:
        _send_artifact(os.path.join(config.work_dir, setup["collect"]), fds["meta"])
    else:
        for path in _left_behind(config, source_path if setup["sighted"] else ""):
            os.write(status_w, b"C " + path.encode("utf-8", "replace").hex().encode() + b"\n")
    os.write(status_w, b"S %d %.3f %d\n" % (status, cpu_ms, -1 if opens is None else opens))
    if config.fresh:
        try:
            os.kill(-1, signal.SIGKILL)  # pid 1 of its namespace: every thread and process of the run
        except OSError:
            pass
    os._exit(0)


def _candidate(config: Config, fds: dict[str, int], setup_r: int, src_r: int, key_r: int, binary_r: int) -> Launch:
    """Wait for the settings, set fds, limits and the filter; return to run the launcher, or execute."""
    status_w = fds["status"]
    try:
        confine.die_with_parent(signal.SIGKILL)
        setup = marshal.loads(_read_all(setup_r))
        os.close(setup_r)
        recipe = Recipe(setup["recipe"])
        os.setsid()
        os.chdir(config.work_dir)
        stdin = src_r if not setup["sighted"] else os.open("/dev/null", os.O_RDONLY)
        layout = {0: stdin, 1: fds["stdout"], 2: fds["stderr"]}
        if recipe.channel:
            layout |= {META_FD: fds["meta"], KEY_FD: key_r}
        limits = setup["limits"]
        source_path = os.path.join(config.box, recipe.source_name)
        if recipe.python:
            os.close(binary_r)
            status_w = _place_fds(layout, None, status_w)
            _set_limits(limits, int(limits["mem_mb"]))
            # As a new interpreter has them: broken pipes raise, ^C is KeyboardInterrupt.
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            if config.seccomp:
                confine.lock_down(interpreter=False)
            os.close(status_w)
            # The type attribute cache keeps, in each slot, the last name looked up there, some of them held
            # by nothing else: which depends on the runs before, and a name freed or kept when its slot is
            # reused shows in the candidate's allocation count. Every run starts with the cache empty.
            sys._clear_type_cache()
            gc.enable()
            gc.collect()  # the gc's counts start from zero, whatever the zygote did before the fork
            mode = "sighted" if setup["sighted"] else "blind"
            return Launch(mode, int(limits["work"]), source_path, [str(a) for a in setup["argv"]])
        _become_program(config, recipe, setup, source_path, layout, binary_r, status_w)
    except BaseException as exc:  # a wall that would not rise: the host's problem, never the candidate's
        _fail(status_w, f"candidate setup: {exc}")
    os._exit(126)


def _become_program(
    config: Config,
    recipe: Recipe,
    setup: dict[str, object],
    source_path: str,
    layout: dict[int, int],
    binary_r: int,
    status_w: int,
) -> None:
    """A language's interpreter, or a compiled program from memory, executed in place: never returns."""
    binary = _read_all(binary_r)
    os.close(binary_r)
    template = recipe.argv if setup["sighted"] or not recipe.blind_argv else recipe.blind_argv
    fields = {
        "source": source_path,
        "launcher": os.path.join(SANDBOX_DIR, recipe.launcher) if recipe.launcher else "",
        "box": config.box,
    }
    argv = [part.format(**fields) for part in template]
    if binary:
        executable = os.memfd_create("prog", os.MFD_CLOEXEC)
        _write_all(executable, binary)
        del binary
    else:
        found = shutil.which(argv[0], path=os.environ.get("PATH", os.defpath))
        if found is None:
            raise OSError(f"{argv[0]} is not installed in the sandbox")
        executable = os.open(found, os.O_RDONLY | os.O_CLOEXEC)
    status_w = _place_fds(layout, executable, status_w)
    try:
        limits = dict(setup["limits"])  # type: ignore[call-overload]
        _set_limits(limits, max(int(limits["mem_mb"]), recipe.address_space_mb))
        if config.seccomp:
            confine.lock_down(processes=recipe.processes, channel=recipe.channel)
        os.execve(EXEC_FD, argv + [str(a) for a in setup["argv"]], _run_env())  # type: ignore[attr-defined]
    except BaseException as exc:  # told on the status pipe where it is now
        _fail(status_w, f"candidate setup: {exc}")


def _place_fds(layout: dict[int, int], executable: int | None, status_w: int) -> int:
    """Each fd of `layout` at its target, the executable at EXEC_FD, nothing else open; returns the status fd.

    First out of the way (above the targets), then into place; the executable and the status pipe
    close on exec.
    """
    moved = {target: _fcntl_dup(fd) for target, fd in layout.items()}
    moved_status = _fcntl_dup(status_w)
    moved_exec = None if executable is None else _fcntl_dup(executable)
    for target, fd in moved.items():
        os.dup2(fd, target, inheritable=True)
    keep = {*layout, moved_status}
    if moved_exec is not None:
        os.dup2(moved_exec, EXEC_FD, inheritable=False)
        keep.add(EXEC_FD)
    _close_all_but(keep)
    return moved_status


def _run_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME", "TZ")}


def _set_limits(limits: dict[str, object], mem_mb: int) -> None:
    """The run's rlimits, and default dispositions for the signals the zygote's line handles."""
    cpu_s, pids, mem = int(limits["cpu_s"]), int(limits["pids"]), mem_mb * 1024 * 1024  # type: ignore[call-overload]
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
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM, signal.SIGPIPE, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)


def _left_behind(config: Config, source_path: str) -> list[str]:
    """Files and folders the run left in its writable areas, seen from outside: state it meant to keep.

    A program that needs no file writes none; one that writes a counter to /tmp shows here
    whatever its language, with no audit hook needed.
    """
    found: list[str] = []
    expected = {source_path, config.work_dir}
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


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fail(status_w: int, why: str) -> None:
    try:
        os.write(status_w, b"X " + why.encode("utf-8", "replace")[:2000].replace(b"\n", b" ") + b"\n")
    finally:
        os._exit(127)


def _load_launcher() -> dict[str, object]:
    """The launcher's functions, compiled under its own name and not yet run: nothing is armed."""
    with open(os.path.join(SANDBOX_DIR, "launch_python.py"), "rb") as handle:
        code = compile(handle.read(), LAUNCHER_FILE, "exec", dont_inherit=True)
    namespace: dict[str, object] = {"__name__": "quinebox_launcher", "__builtins__": __builtins__}
    exec(code, namespace)
    for name in ("_thread", "atexit", "itertools", "select", "threading", "importlib.machinery", "types", "fcntl"):
        __import__(name)
    try:
        import _sitebuiltins  # noqa: F401
    except ImportError:
        pass
    return namespace


if __name__ == "__main__":
    confine.protect_self()
    confine.die_with_parent(signal.SIGKILL)
    _launcher = _load_launcher()
    _launch = serve(Config(sys.argv[1:]), _launcher)
    # Only a Python candidate comes here, in a fork of init: what is left of the zygote is code.
    for _name in ("zygote", "confine"):
        sys.modules.pop(_name, None)
    _run = _launcher["main"]
    del _launcher, _name
    _run(_launch.mode, _launch.budget, _launch.source_path, _launch.argv)  # type: ignore[operator]
