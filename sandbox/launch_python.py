"""Run one Python candidate inside a forked child of the supervisor.

This module runs next to untrusted code: it is stdlib-only, imports nothing
from the host package and holds no secrets. The supervisor forks, sets
limits and file descriptors, then calls `run_candidate`, which never returns.

What it adds around the candidate:

* an audit hook, installed before the candidate's first instruction, that
  reports every file access beyond the interpreter's own library, every
  write, socket, process, signal and ctypes load as an event on the meta fd;
* a deterministic work counter (function entries plus loop back-edges),
  with `sys.monitoring` on 3.12+ and `sys.settrace` on 3.11, and a work
  budget: the run is stopped, not timed out, once the budget is spent;
* the same view of itself the candidate would get from `python3 prog.py`
  (sighted) or `python3 -` (blind, no file anywhere).

The meta fd carries one JSON object per line; keys are documented in the
host's report schema (`quinebox schema`): `event`, `work`, `work_exceeded`.
"""

from __future__ import annotations

import os
import sys

#: Audit events that are always evidence of a side channel, whatever their arguments.
_ALWAYS = (
    "os.listdir",
    "os.scandir",
    "glob.glob",
    "os.remove",
    "os.rename",
    "os.rmdir",
    "os.mkdir",
    "os.truncate",
    "os.chmod",
    "os.chown",
    "os.link",
    "os.symlink",
    "os.utime",
    "os.chdir",
    "os.fork",
    "os.forkpty",
    "os.system",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.startfile",
    "os.kill",
    "os.killpg",
    "signal.pthread_kill",
    "subprocess.Popen",
    "pty.spawn",
    "socket.__new__",
    "socket.connect",
    "socket.bind",
    "socket.getaddrinfo",
    "socket.gethostbyname",
    "socket.sendto",
    "socket.sendmsg",
    "ctypes.dlopen",
    "ctypes.dlsym",
    "ctypes.cdata",
    "ctypes.addressof",
    "mmap.__new__",
    "shutil.copyfile",
    "shutil.rmtree",
    "shutil.move",
    "sys.settrace",
    "sys.setprofile",
    "sys.addaudithook",
    "sys.monitoring.register_callback",
    "fcntl.ioctl",
    "os.putenv",
    "os.unsetenv",
    "resource.setrlimit",
)
# Python reads the candidate's own file to show a warning or a traceback; that is
# the interpreter at work, not the candidate. Content the candidate gets that way
# is still caught by comparing the blind run with the sighted one.
_REPORTING_MODULES = ("/warnings.py", "/traceback.py")
# The import system lists sys.path folders to find modules; that is the interpreter at work.
_IMPORT_SCANS = frozenset({"os.listdir", "os.scandir"})
_MAX_EVENTS = 64
_MAX_ARG_CHARS = 200
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


class _Meta:
    """Line-oriented JSON writer to the meta fd; survives a closed fd."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        import json

        self._dumps = json.dumps

    def write(self, **fields: object) -> None:
        data = (self._dumps(fields) + "\n").encode()
        try:
            os.write(self.fd, data)
        except OSError:
            pass


class _Auditor:
    def __init__(self, meta: _Meta, allowed_read_roots: tuple[str, ...], source_path: str | None) -> None:
        self.meta = meta
        self.roots = allowed_read_roots
        self.source_path = source_path
        self.count = 0
        self.busy = False
        self.armed = False

    def hook(self, name: str, args: tuple[object, ...]) -> None:
        if not self.armed or self.busy:
            return
        if name == "open":
            if not self._suspicious_open(args):
                return
        elif name not in _ALWAYS:
            return
        elif name in _IMPORT_SCANS and _inside_import_system():
            return
        self.busy = True
        try:
            self.count += 1
            if self.count <= _MAX_EVENTS:
                shown = ", ".join(_short_repr(a) for a in args)
                self.meta.write(event=[name, shown[: _MAX_ARG_CHARS * 2]])
        finally:
            self.busy = False

    def _suspicious_open(self, args: tuple[object, ...]) -> bool:
        path = args[0] if args else None
        mode = args[1] if len(args) > 1 else "r"
        flags = args[2] if len(args) > 2 else 0
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
        )
        if writing:
            return True
        if not isinstance(path, str | bytes):
            return False  # re-opening an fd it already holds (subprocess does) reveals nothing new
        text = os.fsdecode(path)
        if text == self.source_path:
            return not _inside_reporting()
        full = os.path.normpath(os.path.join(os.getcwd(), text)) if not text.startswith("/") else os.path.normpath(text)
        if full in ("/dev/null", "/dev/urandom"):
            return False
        return not any(full == root or full.startswith(root + "/") for root in self.roots)


def _inside_import_system() -> bool:
    frame = sys._getframe(2)
    return frame is not None and frame.f_code.co_filename.startswith("<frozen importlib")


def _inside_reporting() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.endswith(_REPORTING_MODULES):
            return True
        frame = frame.f_back
    return False


def _short_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        text = "<unrepresentable>"
    return text if len(text) <= _MAX_ARG_CHARS else text[:_MAX_ARG_CHARS] + "..."


class _Budget(Exception):
    pass


class _WorkCounter:
    """Counts function entries and loop back-edges; ends the run past the budget."""

    def __init__(self, meta: _Meta, budget: int) -> None:
        self.meta = meta
        self.budget = budget
        self.work = 0
        self.kind = "sys.monitoring" if hasattr(sys, "monitoring") else "settrace"

    def _exceeded(self) -> None:
        self.meta.write(work_exceeded=self.work)
        os._exit(137)

    def start(self) -> None:
        if self.kind == "sys.monitoring":
            self._start_monitoring()
        else:
            sys.settrace(self._trace)

    def stop(self) -> None:
        if self.kind == "sys.monitoring":
            mon = sys.monitoring  # type: ignore[attr-defined]
            mon.set_events(self._tool, 0)
            mon.free_tool_id(self._tool)
        else:
            sys.settrace(None)

    def _start_monitoring(self) -> None:
        mon = sys.monitoring  # type: ignore[attr-defined]
        self._tool = 5
        mon.use_tool_id(self._tool, "quinebox")
        disable = mon.DISABLE

        def on_start(code: object, offset: int) -> None:
            self.work += 1
            if self.work > self.budget:
                self._exceeded()

        def on_jump(code: object, src: int, dest: int) -> object:
            if dest > src:
                return disable
            self.work += 1
            if self.work > self.budget:
                self._exceeded()
            return None

        mon.register_callback(self._tool, mon.events.PY_START, on_start)
        mon.register_callback(self._tool, mon.events.JUMP, on_jump)
        mon.set_events(self._tool, mon.events.PY_START | mon.events.JUMP)

    def _trace(self, frame: object, event: str, arg: object) -> object:
        if event != "call":
            return None
        self.work += 1
        if self.work > self.budget:
            self._exceeded()
        last = [-1]

        def local(frame: object, event: str, arg: object) -> object:
            if event == "line":
                line = frame.f_lineno  # type: ignore[attr-defined]
                if line <= last[0]:
                    self.work += 1
                    if self.work > self.budget:
                        self._exceeded()
                last[0] = line
            return local

        return local


def preload() -> None:
    """Import, once in the supervisor, what every run needs, so that no run pays for it or counts it as work."""
    import atexit  # noqa: F401
    import importlib.machinery  # noqa: F401
    import threading  # noqa: F401
    import traceback  # noqa: F401
    import types  # noqa: F401


def run_candidate(
    source: bytes,
    argv: list[str],
    sighted_path: str | None,
    box: str,
    meta_fd: int,
    work_budget: int,
) -> None:
    """Execute `source` as `__main__` and exit the process; never returns."""
    meta = _Meta(meta_fd)
    # The interpreter's own library may be read (imports do); nothing in the box may.
    roots = tuple(os.path.normpath(p) for p in sys.path if p and os.path.isabs(p) and not p.startswith(box))
    auditor = _Auditor(meta, roots, sighted_path)
    sys.addaudithook(auditor.hook)
    import types

    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = __builtins__
    main.__spec__ = None
    if sighted_path is not None:
        import importlib.machinery

        main.__file__ = sighted_path
        main.__loader__ = importlib.machinery.SourceFileLoader("__main__", sighted_path)  # type: ignore[attr-defined]
        sys.argv = [sighted_path, *argv]
        filename = sighted_path
        sys.path.insert(0, os.path.dirname(sighted_path))
    else:
        import importlib.machinery

        # What `python3 - < prog.py` gives: a __file__ that names no file.
        main.__file__ = "<stdin>"
        main.__loader__ = importlib.machinery.BuiltinImporter  # type: ignore[attr-defined]
        sys.argv = ["-", *argv]
        filename = "<stdin>"
    sys.modules["__main__"] = main
    exit_code = 0
    counter = _WorkCounter(meta, work_budget)
    try:
        code = compile(source, filename, "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:
        _print_exception(exc)
        _finish(meta, auditor, counter, 1, counted=False)
    del source
    counter.start()
    auditor.armed = True
    try:
        exec(code, main.__dict__)
    except SystemExit as exc:
        exit_code = _exit_code_of(exc)
    except BaseException as exc:  # the candidate's crash is its result, printed as Python would
        auditor.armed = False
        counter.stop()
        _print_exception(exc)
        exit_code = 1
    _finish(meta, auditor, counter, exit_code, counted=True)


def _exit_code_of(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except Exception:
        pass
    return 1


def _print_exception(exc: BaseException) -> None:
    try:
        import traceback

        tb = exc.__traceback__
        # hide this launcher's own frame so the traceback reads as Python's would
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb, file=sys.stderr)
    except Exception:
        pass


def _finish(meta: _Meta, auditor: _Auditor, counter: _WorkCounter, exit_code: int, *, counted: bool) -> None:
    # Threads and atexit handlers are still the candidate's code: audited and counted.
    try:
        import threading

        shutdown = getattr(threading, "_shutdown", None)
        if shutdown is not None:
            shutdown()
    except BaseException:
        pass
    try:
        import atexit

        atexit._run_exitfuncs()
    except BaseException:
        pass
    auditor.armed = False
    try:
        counter.stop()
    except Exception:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            if stream is sys.stdout and exit_code == 0:
                exit_code = 120  # as CPython does when stdout cannot be flushed at exit
    meta.write(work=counter.work if counted else 0)
    os._exit(exit_code)
