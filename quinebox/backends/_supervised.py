"""The host half of the supervisor protocol, shared by every wall that runs it.

A wall only has to start `sandbox/supervisor.py` and hand back a `Channel`
(bytes in, lines out). Everything coming back is untrusted: line sizes are
capped, JSON is validated field by field, and bytes stay bytes.
"""

from __future__ import annotations

import abc
import base64
import binascii
import hashlib
import json
import os
import selectors
import subprocess
import time
from dataclasses import replace
from importlib import resources
from typing import Any

from quinebox.backends.base import Backend, RunRequest
from quinebox.errors import InfraError, SupervisorError
from quinebox.languages import Compile, Language, language
from quinebox.record import AuditEvent, RunResult, Status

#: Seconds the host waits beyond the run's own wall limit before it calls the session dead.
BACKSTOP_S = 5.0
HELLO_TIMEOUT_S = 30.0
GRACEFUL_EXIT_S = 2.0
READ_SLICE_S = 0.1
PROTOCOL = 3
SANDBOX_FILES = ("supervisor.py", "zygote.py", "launch_python.py", "confine.py", "launch_node.js", "launch_ruby.rb")
#: Compiled programs a session keeps (a verification needs two per generation at most at once).
COMPILED_CACHE = 16


def sandbox_sources() -> dict[str, bytes]:
    """The guest-side files, read from the installed package data."""
    root = resources.files("quinebox._sandbox")
    return {name: root.joinpath(name).read_bytes() for name in SANDBOX_FILES}


class Channel(abc.ABC):
    """A byte pipe to one supervisor."""

    @abc.abstractmethod
    def send(self, data: bytes) -> None:
        """Write bytes; raise OSError when the other end is gone."""

    def say_goodbye(self, data: bytes) -> None:
        """Write a last message that has no reply (the exit op), so that `close` need not wait for one."""
        self.send(data)

    @abc.abstractmethod
    def read_line(self, timeout: float, limit: int) -> bytes | None:
        """One line without its newline; None at end of stream; TimeoutError past `timeout`."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop the supervisor and release everything."""

    def diagnostics(self) -> str:
        """What the wall said on its way down, for error messages."""
        return ""


class ProcessChannel(Channel):
    """A supervisor that is a child process of the host (bwrap, none)."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self._in = process.stdin
        self._out_fd = process.stdout.fileno()
        os.set_blocking(self._out_fd, False)
        self._buffer = bytearray()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._out_fd, selectors.EVENT_READ)
        self._pending = False
        self._closed = False

    def send(self, data: bytes) -> None:
        self._pending = True
        self._in.write(data)
        self._in.flush()

    def say_goodbye(self, data: bytes) -> None:
        # No reply comes: an idle supervisor exits on it, and close() lets it, with no kill and no wait.
        self._in.write(data)
        self._in.flush()

    def read_line(self, timeout: float, limit: int) -> bytes | None:
        deadline = time.monotonic() + timeout
        while True:
            newline = self._buffer.find(b"\n")
            if newline >= 0:
                line = bytes(self._buffer[:newline])
                del self._buffer[: newline + 1]
                self._pending = False
                return line
            if len(self._buffer) > limit:
                raise SupervisorError(f"supervisor sent a line longer than {limit} bytes")
            if self._closed:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("supervisor did not answer in time")
            # Short slices: a reader in another thread must notice close() promptly.
            if not self._selector.select(min(remaining, READ_SLICE_S)):
                continue
            try:
                chunk = os.read(self._out_fd, 1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                return None
            self._buffer.extend(chunk)

    def close(self) -> None:
        # Idle, a graceful exit lets the wall take itself down in order (SIGKILL to the outer bwrap
        # would orphan its inner half as a zombie). Mid-run, the run is abandoned: kill at once.
        if self._pending and self.process.poll() is None:
            self.process.kill()
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass  # a dead supervisor's stdin refuses the final flush
        try:
            self.process.wait(timeout=GRACEFUL_EXIT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        # Only now, with the process gone, release the fds a reader in another thread may be using.
        self._closed = True
        time.sleep(READ_SLICE_S if self._pending else 0)
        self._selector.close()
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def diagnostics(self) -> str:
        stderr = self.process.stderr
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return ""
        if stderr is None:
            return ""
        try:
            os.set_blocking(stderr.fileno(), False)
            text = (stderr.read(4096) or b"").decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""
        return text.splitlines()[-1] if text else ""


class SupervisedBackend(Backend):
    """A wall around `sandbox/supervisor.py`; subclasses only say how to start it."""

    def __init__(self) -> None:
        self._channel: Channel | None = None
        self._shut = False
        self._next_id = 0
        self._binaries: dict[tuple[str, bool], bytes] = {}
        self.hello: dict[str, Any] = {}

    @abc.abstractmethod
    def _start(self) -> Channel:
        """Start a supervisor inside the wall.

        Raises:
            BackendUnavailable: the wall cannot be built here.
        """

    def open(self) -> None:
        self._shut = False
        if self._channel is not None:
            return
        try:
            channel = self._start()
            self.hello = self._greeted(channel)
        except BaseException:
            self.close()  # whatever the start made (a folder, a container) goes with it: no caller need remember
            raise
        self._channel = channel

    def _greeted(self, channel: Channel) -> dict[str, Any]:
        """The supervisor's hello on a channel just started; the channel is closed if there is none."""
        try:
            line = channel.read_line(HELLO_TIMEOUT_S, 4096)
        except TimeoutError:
            channel.close()
            raise SupervisorError(f"{self.name}: the supervisor did not start within {HELLO_TIMEOUT_S:.0f}s") from None
        hello = _parse_json(line)
        if not hello or hello.get("hello") != "quinebox-supervisor" or hello.get("protocol") != PROTOCOL:
            detail = channel.diagnostics()
            channel.close()
            raise SupervisorError(f"{self.name}: the supervisor did not start" + (f": {detail}" if detail else ""))
        return hello

    def run(self, request: RunRequest) -> RunResult:
        spoken = language(request.language)
        extra: dict[str, Any] = {"language": spoken.recipe()}
        if spoken.compile is not None:
            compiled = self._compiled(request, spoken, spoken.compile)
            if isinstance(compiled, RunResult):
                return compiled
            extra["binary"] = base64.b64encode(compiled).decode()
        reply = self._exchange(request, extra)
        return reply if isinstance(reply, RunResult) else _run_result(reply)

    def interpreter_version(self, name: str) -> str | None:
        """What the language's interpreter (or compiler) in this wall says its version is; None if it is missing."""
        spoken = language(name)
        if self._channel is None:
            self.open()
        assert self._channel is not None
        self._next_id += 1
        try:
            self._channel.send(json.dumps({"op": "version", "id": self._next_id, "argv": spoken.version_argv}).encode())
            self._channel.send(b"\n")
            line = self._channel.read_line(HELLO_TIMEOUT_S, 4096)
        except (OSError, TimeoutError) as exc:
            self._drop_channel()
            raise SupervisorError(
                f"{self.name}: the supervisor did not say the {spoken.title} version ({exc})"
            ) from None
        reply = _parse_json(line)
        if reply is None or reply.get("id") != self._next_id:
            self._drop_channel()
            raise SupervisorError(f"{self.name}: the supervisor sent a malformed reply")
        version = reply.get("version")
        return str(version) if isinstance(version, str) else None

    def _compiled(self, request: RunRequest, spoken: Language, compile: Compile) -> bytes | RunResult:
        """The program compiled in this session (sighted from its file, blind from stdin), cached by source hash.

        A compiler that refuses the program, or runs out of its limits, is the candidate's failure:
        it comes back as the run's result, with the compiler's messages as its stderr.
        """
        key = (hashlib.sha256(request.source).hexdigest(), request.sighted)
        cached = self._binaries.get(key)
        if cached is not None:
            return cached
        limits = replace(request.limits, wall_s=compile.wall_s, cpu_s=compile.cpu_s, mem_mb=compile.mem_mb)
        build = replace(request, argv=(), limits=limits)
        reply = self._exchange(build, {"language": spoken.compile_recipe(compile), "collect": compile.output})
        if isinstance(reply, RunResult):
            return reply
        result = _run_result(reply)
        binary = _bytes(reply.get("artifact"))
        if not result.ok or not binary:
            why = result.message or "it left no program"
            return replace(result, stdout=b"", work=None, message=f"the compiler refused the program ({why})")
        if len(self._binaries) >= COMPILED_CACHE:
            self._binaries.pop(next(iter(self._binaries)))
        self._binaries[key] = binary
        return binary

    def _exchange(self, request: RunRequest, extra: dict[str, Any]) -> dict[str, Any] | RunResult:
        """One run request and its reply; a lost session comes back as the run's result (see `_lost_during_run`)."""
        if self._shut:
            raise SupervisorError(f"{self.name}: the session was closed")
        if self._channel is None:
            self.open()
        assert self._channel is not None
        self._next_id += 1
        message = {
            "op": "run",
            "id": self._next_id,
            "source": base64.b64encode(request.source).decode(),
            "argv": list(request.argv),
            "sighted": request.sighted,
            "limits": self._limits_for(request),
            **extra,
        }
        limit = request.limits.output_bytes * 3 + (1 << 20) + (48 << 20 if "collect" in extra else 0)
        try:
            self._channel.send(json.dumps(message).encode() + b"\n")
            line = self._channel.read_line(longest_run_s(request) + BACKSTOP_S, limit)
        except (OSError, ValueError, TimeoutError) as exc:
            return self._lost_during_run(str(exc) or type(exc).__name__)
        if line is None:
            return self._lost_during_run("the supervisor exited")
        reply = _parse_json(line)
        if reply is None or reply.get("id") != self._next_id:
            self._drop_channel()
            raise SupervisorError(f"{self.name}: the supervisor sent a malformed reply")
        if "error" in reply:
            # The run could not be started (a wall would not rise): never the candidate's doing.
            raise SupervisorError(f"{self.name}: {str(reply['error'])[:500]}")
        return reply

    def _limits_for(self, request: RunRequest) -> dict[str, float | int]:
        return request.limits.sent(language(request.language).budget_ends_run)

    def _lost_during_run(self, why: str) -> RunResult:
        """The supervisor died or stalled mid-run: the candidate did it, unless the wall cannot come back.

        A candidate runs as the supervisor's user and can signal it, so a lost
        session during a run is first taken as the candidate's doing. To keep
        infrastructure faults (a stopped container engine) from being scored as
        candidate failures, the session is restarted at once: if that fails,
        the error propagates as InfraError.
        """
        if self._shut:
            raise SupervisorError(f"{self.name}: the session was closed during a run")
        self._drop_channel()
        try:
            self.open()
        except InfraError as exc:
            raise InfraError(f"{self.name}: the sandbox was lost during a run and cannot restart: {exc}") from exc
        return RunResult(
            status=Status.XX,
            exit_code=None,
            signal=None,
            stdout=b"",
            stderr=b"",
            wall_ms=0.0,
            cpu_ms=0.0,
            work=None,
            message=f"the sandbox supervisor was lost during this run ({why})",
        )

    def close(self) -> None:
        self._shut = True
        self._drop_channel()

    def _drop_channel(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None:
            try:
                channel.say_goodbye(b'{"op": "exit"}\n')
            except OSError:
                pass
            channel.close()


def longest_run_s(request: RunRequest) -> float:
    """The wall-clock seconds the supervisor lets this run last at most."""
    return request.limits.longest_run_s(language(request.language).budget_ends_run)


def _parse_json(line: bytes | None) -> dict[str, Any] | None:
    if not line:
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _run_result(reply: dict[str, Any]) -> RunResult:
    try:
        status = Status(str(reply.get("status")))
    except ValueError:
        raise SupervisorError(f"supervisor reported unknown status {reply.get('status')!r}") from None
    events = tuple(
        AuditEvent(str(e[0])[:100], str(e[1])[:500])
        for e in reply.get("events") or []
        if isinstance(e, list) and len(e) == 2
    )[:64]
    return RunResult(
        status=status,
        exit_code=_int_or_none(reply.get("exit_code")),
        signal=_int_or_none(reply.get("signal")),
        stdout=_bytes(reply.get("stdout")),
        stderr=_bytes(reply.get("stderr")),
        wall_ms=_float(reply.get("wall_ms")),
        cpu_ms=_float(reply.get("cpu_ms")),
        work=_int_or_none(reply.get("work")),
        stdout_truncated=reply.get("stdout_truncated") is True,
        stderr_truncated=reply.get("stderr_truncated") is True,
        events=events,
        message=str(reply.get("message") or "")[:500],
        opens=_int_or_none(reply.get("opens")),
    )


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _float(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _bytes(value: object) -> bytes:
    if not isinstance(value, str):
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise SupervisorError("supervisor sent output that is not base64") from None
