"""Become one Python candidate: what runs before the candidate's first line.

The zygote (see `zygote.py`) compiles this module once per session and calls
`main` in every Python candidate it forks. `main` reads the run's key from
fd 4, the source from /box/prog.py (sighted) or from stdin to its end (blind,
as ``python3 -``), instruments the interpreter, forgets everything it read,
and executes the candidate as ``__main__``.

Assume the candidate has read this file. What it adds is evidence, never the
wall:

* an audit hook that writes every suspicious event on fd 3 the moment it
  happens, before the call it reports returns;
* a work counter (function entries and loop back-edges, in every thread) that
  can only advance, with `sys.monitoring` on 3.12+ and `sys.settrace` on 3.11;
* a final record on fd 3 carrying the run's key, which lives only in the
  closure of the finishing function: a record the candidate writes itself
  cannot carry it, and a run that ends without it is evidence too.

The kernel keeps fd 3 open and in place (the seccomp filter refuses to close
or replace it); the supervisor checks every line. Records, one per line,
fields hex-encoded where they carry text:

    E <name> <args>      an audit event
    T <what>             tampering seen by the launcher itself
    W <work>             the work budget ran out
    F <key> <work> <n>   the end: work counted, n records written before it
"""

from __future__ import annotations

import os
import sys

#: Audit events that are always evidence, whatever their arguments.
ALWAYS = frozenset(
    (
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
        "ctypes.call_function",
        "ctypes.string_at",
        "ctypes.wstring_at",
        "ctypes.create_string_buffer",
        "ctypes.get_errno",
        "mmap.__new__",
        "shutil.copyfile",
        "shutil.rmtree",
        "shutil.move",
        "sys.settrace",
        "sys.setprofile",
        "sys.addaudithook",
        "sys.monitoring.register_callback",
        "sys._current_frames",
        "sys._current_exceptions",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "code.__new__",
        "function.__new__",
        "fcntl.fcntl",
        "fcntl.ioctl",
        "fcntl.flock",
        "fcntl.lockf",
        "os.putenv",
        "os.unsetenv",
        "resource.setrlimit",
        "resource.prlimit",
    )
)
#: Reaching for the interpreter's frames or code objects: its own text read from memory.
REFLECTION = frozenset(("sys._getframe", "object.__getattr__", "object.__setattr__", "object.__delattr__"))
#: Library modules that take the caller's frame only to read its module's name.
_NAME_READERS = ("/collections/__init__.py", "/enum.py", "/typing.py", "/logging/__init__.py", "/warnings.py")
#: Library modules that read frames and code to print a traceback or a warning.
_REPORTERS = ("/traceback.py", "/linecache.py", "/warnings.py", "/tokenize.py")
#: The attributes whose reading Python audits: a frame, or a code object.
_WATCHED_ATTRIBUTES = frozenset(
    ("f_code", "__code__", "tb_frame", "gi_frame", "cr_frame", "ag_frame", "gi_code", "cr_code", "ag_code")
)
_MAX_EVENTS = 64
#: Calls that would start a process or a program. The wall refuses each; a program that keeps trying
#: is looping on the refusal, and its run is ended at `_STARTS_ALLOWED` attempts.
_STARTS = frozenset(
    {"os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen", "pty.spawn"}
)
_STARTS_ALLOWED = 16
_MAX_ARG_CHARS = 200
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
META_FD = 3
KEY_FD = 4


#: The file name the supervisor compiles this launcher under; its frames are neither counted nor shown.
LAUNCHER_FILE = "<quinebox>"


def _read_fd(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def main(mode: str, budget: int, source_path: str, argv: list[str]) -> None:
    """Read the run, instrument the interpreter, run the candidate.

    The frames of `main` and `_run` sit beneath the candidate's and it can
    reach them, so by the time it runs they hold nothing it could use: the
    key and the source are deleted, the finishing function is registered
    with atexit only, and the code object is taken out of its list by the
    call that executes it.
    """
    key = _read_fd(KEY_FD).decode("ascii")
    os.close(KEY_FD)
    sighted = mode == "sighted"
    if sighted:
        with open(source_path, "rb") as handle:
            source = handle.read()
        filename = source_path
    else:
        source = _read_fd(0)
        filename = "<stdin>"
    _add_site_builtins()
    _fresh_main(sighted, filename, argv)
    problem = _undecodable(source, filename)
    code = []
    if problem is None:
        try:
            code.append(compile(source, filename, "exec", dont_inherit=True))
        except (SyntaxError, ValueError) as exc:
            problem = exc
    del source
    roots = tuple(os.path.normpath(p) for p in sys.path if p and os.path.isabs(p) and not p.startswith("/box"))
    status: list[int | None] = [None]
    _instrument(key, budget, filename if sighted else None, roots, status)
    del key
    _run(code, problem, status)


def _add_site_builtins() -> None:
    """The interpreter runs with -S (no site-packages); candidates still expect exit() and quit()."""
    import builtins

    try:
        import _sitebuiltins

        builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")  # type: ignore[attr-defined]
        builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")  # type: ignore[attr-defined]
    except ImportError:
        pass


def _fresh_main(sighted: bool, filename: str, argv: list[str]) -> None:
    """A new __main__, as ``python3 prog.py`` (sighted) or ``python3 -`` (blind) would make it."""
    import importlib.machinery
    import types

    module = types.ModuleType("__main__")
    module.__dict__["__builtins__"] = __builtins__
    module.__spec__ = None
    module.__file__ = filename
    if sighted:
        module.__loader__ = importlib.machinery.SourceFileLoader("__main__", filename)  # type: ignore[attr-defined]
        sys.argv = [filename, *argv]
        sys.path.insert(0, os.path.dirname(filename))
    else:
        module.__loader__ = importlib.machinery.BuiltinImporter  # type: ignore[attr-defined]
        sys.argv = ["-", *argv]
        sys.path.insert(0, "")
    sys.modules["__main__"] = module


def _undecodable(source: bytes, filename: str) -> SyntaxError | None:
    """Python's own refusal of a source that is not UTF-8 and declares no encoding (PEP 263)."""
    for line in source.split(b"\n", 2)[:2]:
        comment = line.lstrip(b" \t\f")
        if comment.startswith(b"#") and (b"coding:" in comment or b"coding=" in comment):
            return None
    try:
        source.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = source.count(b"\n", 0, exc.start) + 1
        message = (
            f"Non-UTF-8 code starting with '\\x{source[exc.start]:02x}' in file {filename} on line {line}, "
            "but no encoding declared; see https://peps.python.org/pep-0263/ for details"
        )
        return SyntaxError(message)
    return None


def _run(code: list[object], problem: BaseException | None, status: list[int | None]) -> None:
    """Execute the candidate as __main__; the interpreter's own exit then runs atexit, and the finish.

    `status` gets the exit status Python will give the run, for the finish to end with.
    """
    namespace = sys.modules["__main__"].__dict__
    if problem is not None:
        _print_exception(problem, bare=isinstance(problem, SyntaxError) and problem.lineno is None)
        status[0] = 1
        raise SystemExit(1)
    try:
        exec(code.pop(), namespace)  # type: ignore[arg-type]
    except SystemExit as exc:
        status[0] = _exit_status(exc.code)
        raise
    except BaseException as exc:  # the candidate's crash is its result, printed as Python would
        _print_exception(exc)
        status[0] = 1
        raise SystemExit(1) from None
    status[0] = 0


def _exit_status(code: object) -> int | None:
    """The status Python exits with for ``SystemExit(code)``; None where only Python itself can tell."""
    if code is None:
        return 0
    if not isinstance(code, int):
        return 1  # Python has printed it to stderr
    exact = type(code) is int or type(code) is bool
    return int(code) if exact and -(2**31) <= code < 2**31 else None


def _flush_and_exit(status: int) -> None:
    """End as the interpreter's own exit would, without tearing the interpreter down.

    Python flushes the standard streams, then every other buffered file as its objects die; the
    teardown itself (every module, every object of the zygote's heap) is 4 ms of CPU a run, spent
    on copies of pages the zygote shares. A failed flush of stdout is status 120, as in Python.
    """
    import gc
    import io

    streams = list({id(s): s for s in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)}.values())
    first = {id(s) for s in streams}  # by identity: a candidate's own __eq__ has no say here
    others = [o for o in gc.get_objects() if isinstance(o, (io.BufferedIOBase, io.TextIOBase)) and id(o) not in first]
    for stream in streams + others:
        try:
            if stream is not None and not stream.closed:
                stream.flush()
        except Exception as exc:
            if stream is sys.stdout:
                status = 120
                try:
                    print(f"Exception ignored in: {stream!r}\n{type(exc).__name__}: {exc}", file=sys.stderr)
                    sys.stderr.flush()
                except Exception:
                    pass
    os._exit(status)


def _print_exception(exc: BaseException, bare: bool = False) -> None:
    try:
        if bare:
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return
        import traceback

        tb = exc.__traceback__
        # Hide the launcher's own frames, so the traceback reads as Python's would.
        while tb is not None and tb.tb_frame.f_code.co_filename == LAUNCHER_FILE:
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb, file=sys.stderr)
    except Exception:
        pass


def _instrument(
    key: str, budget: int, source_path: str | None, roots: tuple[str, ...], status: list[int | None]
) -> None:
    """Install the audit hook, the work counter and the finish (an atexit function).

    Every name the instruments use at run time is bound here as a local, so
    that nothing the candidate changes in a module (os.write, sys._getframe,
    builtins) reaches them. The key lives only in the closure of `finish`,
    and the hook's state only in the hook's; neither function is reachable
    without an audited call (gc), and what is reachable (the trace function
    through sys.gettrace) is checked, cell by cell, when the run ends.
    """
    import _thread
    import atexit
    import itertools
    import select
    import threading

    write, set_blocking, fsdecode, getcwd, normpath, join = (
        os.write,
        os.set_blocking,
        os.fsdecode,
        os.getcwd,
        os.path.normpath,
        os.path.join,
    )
    getframe, exit_now, get_ident, register = sys._getframe, os._exit, _thread.get_ident, atexit.register
    wait_writable, repr_, isinstance_, str_, int_, len_, any_ = (select.select, repr, isinstance, str, int, len, any)
    written = [0]
    reported = [0]
    starts = [0]
    busy = [False]
    finished = [False]

    def put(kind: str, *fields: str) -> None:
        line = " ".join((kind, *fields)).encode() + b"\n"
        while line:
            try:
                line = line[write(META_FD, line) :]
            except BlockingIOError:
                wait_writable([], [META_FD], [], 1.0)
            except OSError:
                exit_now(125)  # the channel is gone: the supervisor sees a run with no final record
        if kind != "F":
            written[0] += 1

    def report(name: str, args: tuple[object, ...]) -> None:
        if reported[0] >= _MAX_EVENTS:
            return
        reported[0] += 1
        shown = []
        for arg in args:
            try:
                text = repr_(arg)
            except Exception:
                text = "<unrepresentable>"
            shown.append(text if len_(text) <= _MAX_ARG_CHARS else text[:_MAX_ARG_CHARS] + "...")
        put("E", name.encode().hex(), ", ".join(shown)[: 2 * _MAX_ARG_CHARS].encode("utf-8", "replace").hex())

    def tamper(what: str) -> None:
        put("T", what.encode().hex())

    def actor(depth: int) -> str:
        """The file of the frame that caused the event, `depth` frames up."""
        try:
            return getframe(depth + 1).f_code.co_filename
        except ValueError:
            return ""

    def reporting() -> bool:
        """Whether the library is printing a traceback or a warning somewhere up the stack."""
        frame = getframe(2)
        while frame is not None:
            if frame.f_code.co_filename.endswith(_REPORTERS):
                return True
            frame = frame.f_back
        return False

    def suspicious_open(args: tuple[object, ...]) -> bool:
        path = args[0] if args else None
        mode = args[1] if len_(args) > 1 else "r"
        flags = args[2] if len_(args) > 2 else 0
        writing = (isinstance_(mode, str_) and any_(c in mode for c in "wax+")) or (
            isinstance_(flags, int_) and bool(flags & _WRITE_FLAGS)
        )
        if writing:
            return True
        if not isinstance_(path, (str_, bytes)):
            return False  # re-opening an fd it already holds reveals nothing new
        text = fsdecode(path)
        if text == source_path:
            return not reporting()
        full = normpath(text if text.startswith("/") else join(getcwd(), text))
        if full in ("/dev/null", "/dev/urandom"):
            return False
        return not any_(full == root or full.startswith(root + "/") for root in roots)

    def reflection(name: str, args: tuple[object, ...]) -> bool:
        """Reading a frame or a code object, by the candidate's own code rather than the library's."""
        if name != "sys._getframe" and not (len_(args) > 1 and args[1] in _WATCHED_ATTRIBUTES):
            return False
        where = actor(2)
        if where == LAUNCHER_FILE:
            return False
        if where.endswith(_NAME_READERS) and name == "sys._getframe":
            return False
        return not (where.endswith(_REPORTERS) and name != "sys._getframe")

    def hook(name: str, args: tuple[object, ...]) -> None:
        if busy[0] or finished[0]:
            return
        busy[0] = True
        try:
            if name == "open":
                if suspicious_open(args):
                    report(name, args)
            elif name == "sys.settrace" and actor(2).endswith("/threading.py") and threading._trace_hook is tracer:
                return  # threading installing the work counter in a new thread
            elif name in ALWAYS:
                if name in ("os.listdir", "os.scandir") and actor(2).startswith("<frozen importlib"):
                    return  # the import system scanning sys.path
                report(name, args)
                if name in _STARTS:
                    starts[0] += 1
                    if starts[0] >= _STARTS_ALLOWED:
                        # Ended like any program that exits: its exit functions, and the final record, still run.
                        raise SystemExit(f"quinebox: {starts[0]} refused attempts to start a process: the run is ended")
            elif name in REFLECTION:
                if reflection(name, args):
                    report("reflection." + name, args[1:2] if name != "sys._getframe" else args)
            elif name == "compile" and len_(args) > 1 and args[1] == LAUNCHER_FILE:
                tamper("code was compiled under the launcher's name, which the work counter skips")
            elif name == "_thread.start_new_thread":
                traced = tracer is None or threading._trace_hook is tracer  # type: ignore[attr-defined]
                bootstrap = getattr(args[0], "__func__", None) is threading.Thread._bootstrap
                if not (traced and bootstrap):
                    tamper("a thread was started outside the work counter")
        finally:
            busy[0] = False

    counter = itertools.repeat(None, budget)
    tracer, counter_intact = _work_counter(counter, budget)
    if tracer is not None:
        threading.settrace(tracer)
    cells = _closure_cells(tracer)
    real_gettrace, real_threading_gettrace = sys.gettrace, threading.gettrace

    def gettrace() -> object:
        report("sys.gettrace", ())
        return real_gettrace()

    def threading_gettrace() -> object:
        report("sys.gettrace", ())
        return real_threading_gettrace()

    sys.gettrace, threading.gettrace = gettrace, threading_gettrace
    sys.addaudithook(hook)
    main_thread = get_ident()

    def finish() -> None:
        """The last atexit function: check the counter, then write the final record with the key."""
        if finished[0]:
            return
        try:
            getframe(1)
        except ValueError:
            pass  # called by the interpreter's own exit, with no frame beneath: the real end
        else:
            tamper("the run's exit functions were called early")
            register(finish)
            return
        finished[0] = True  # from here on, the hook ignores the launcher's own calls
        if get_ident() != main_thread:
            tamper("the run was finished from another thread")
        problems = []
        if real_gettrace() is not tracer and tracer is not None:
            problems.append("the trace function was replaced")
        if any_(cell.cell_contents is not contents for cell, contents in cells):
            problems.append("the work counter's state was replaced")
        problems += counter_intact()
        for problem in problems:
            tamper(problem)
        try:
            set_blocking(META_FD, True)
        except OSError:
            pass
        put("F", key, str_(budget - counter.__length_hint__()), str_(written[0]))
        if status[0] is not None:
            flush_and_exit(status[0])

    flush_and_exit = _flush_and_exit
    register(finish)


def _closure_cells(function: object) -> list[tuple[object, object]]:
    """Every closure cell reachable from `function`, with what it holds now."""
    found: list[tuple[object, object]] = []
    seen: set[int] = set()
    pending = [function]
    while pending:
        current = pending.pop()
        for cell in getattr(current, "__closure__", None) or ():
            if id(cell) in seen:
                continue
            seen.add(id(cell))
            contents = cell.cell_contents
            found.append((cell, contents))
            if callable(contents) and hasattr(contents, "__closure__"):
                pending.append(contents)
    return found


def _work_counter(counter, budget):  # type: ignore[no-untyped-def]
    """Start counting work; return the trace function (None under sys.monitoring) and an integrity test.

    `counter` yields `budget` times: each unit of work takes one step, no one
    can give a step back, and running out ends the run with a W record. The
    functions here reach neither the hook nor the key.
    """
    import _thread

    step, write, exit_now = counter.__next__, os.write, os._exit

    def spend() -> None:
        try:
            step()
        except StopIteration:
            write(META_FD, b"W %d\n" % (budget + 1))
            exit_now(137)

    mon = getattr(sys, "monitoring", None)
    if mon is not None:
        tool = 5
        mon.use_tool_id(tool, "quinebox")
        events = mon.events.PY_START | mon.events.JUMP
        disable = mon.DISABLE

        def on_start(code: object, offset: int) -> None:
            spend()

        def on_jump(code: object, src: int, dest: int) -> object:
            if dest > src:
                return disable
            spend()
            return None

        mon.register_callback(tool, mon.events.PY_START, on_start)
        mon.register_callback(tool, mon.events.JUMP, on_jump)
        mon.set_events(tool, events)

        def monitoring_intact() -> list[str]:
            problems = []
            if mon.get_tool(tool) != "quinebox" or mon.get_events(tool) != events:
                problems.append("the work counter was switched off")
            mon.set_events(tool, 0)
            return problems

        return None, monitoring_intact

    import itertools

    calls, returns = itertools.count(), itertools.count()
    get_ident, settrace = _thread.get_ident, sys.settrace
    main_thread = get_ident()
    switched_off: list[bool] = []

    def tracer(frame, event, arg):  # type: ignore[no-untyped-def]
        if event != "call" or frame.f_code.co_filename == LAUNCHER_FILE:
            return None  # the launcher's own work (the audit hook, the finish) is not the candidate's
        spend()
        on_main = get_ident() == main_thread
        if on_main:
            next(calls)
        last = [frame.f_lineno]

        def local(frame, event, arg):  # type: ignore[no-untyped-def]
            if event == "line":
                line = frame.f_lineno
                if line <= last[0]:
                    spend()
                last[0] = line
            elif event == "return":
                if on_main:
                    next(returns)
                if not frame.f_trace_lines and not switched_off:
                    switched_off.append(True)
            return local

        return local

    settrace(tracer)

    def trace_intact() -> list[str]:
        settrace(None)
        problems = []
        if switched_off:
            problems.append("line tracing was switched off in a frame")
        # Every frame the candidate entered has returned.
        if calls.__reduce__()[1][0] != returns.__reduce__()[1][0]:
            problems.append("a frame stopped being traced")
        return problems

    return tracer, trace_intact
