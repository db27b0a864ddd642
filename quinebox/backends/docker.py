"""The docker wall: one container per session, the supervisor as its main process.

Why this shape:

* **One container per session, not per run.** A container start costs a
  hundred milliseconds or more and a chain needs about two hundred runs; the
  supervisor already gives every run a fresh box, fresh processes and wiped
  tmpfs inside the container. Runs travel over the container's attached
  stdin/stdout (one hijacked HTTP connection, frames demultiplexed here),
  never through a ``docker exec`` per run.
* **The wall:** no network, read-only root, sized tmpfs for /box, /tmp and
  /dev/shm, a memory and a pids limit, every capability dropped,
  no-new-privileges, a private IPC namespace, no log driver (the protocol
  would otherwise be written to disk), and a fresh unprivileged uid per
  session. The uid is fresh for the reason bwrap uses one when run as root:
  the kernel counts RLIMIT_NPROC per uid across the whole host, so a shared
  uid (the image's 10001) would let one session's fork bomb starve another's
  candidate and make the process limit depend on what else is running.
* **docker-init is PID 1** (``init=True``) and the supervisor its child, as
  under bwrap, where bwrap is PID 1. It reaps orphans and forwards SIGTERM;
  the supervisor's ``kill(-1)`` after each run spares PID 1 by kernel rule; and
  a candidate that kills its supervisor ends the session as it would under
  bwrap (a PID-1 supervisor would silently ignore the kill, which the
  conformance suite does not accept as a result).
* **Nothing outlives its owner for long.** ``close()`` removes the container
  (and ``auto_remove`` does when the supervisor exits). A host killed without
  closing drops the attach connection; the engine then closes the
  supervisor's stdin (``stdin_once``) and it exits. A supervisor stuck in a
  run when that happens still dies at its time-to-live (``--ttl``,
  QUINEBOX_DOCKER_TTL), and every process sweeps, on its first docker
  session, containers whose owner process is gone (pid missing, or reused by
  a process that started later) or whose expiry label is past.
* **Errors are translated at this edge** by `map_docker_errors`: docker SDK,
  requests and socket errors become `BackendUnavailable` when the engine or
  the image is missing (the message names the fix), `ImageBuildError` for
  builds, and `SupervisorError`/`InfraError` otherwise. A session lost
  during a run is blamed on the candidate only if the engine still answers
  and a new container starts; otherwise it is an `InfraError`.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import secrets
import selectors
import socket
import tarfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import docker.types
import requests
from typing_extensions import override

from quinebox.backends._supervised import BACKSTOP_S, Channel, SupervisedBackend
from quinebox.backends.base import RunRequest
from quinebox.errors import (
    BackendUnavailable,
    ImageBuildError,
    InfraError,
    QuineboxError,
    SupervisorError,
    UsageError,
)
from quinebox.images import DIGEST_LABEL, GUEST_DIR, BuildProgress, guest_digest, guest_files, image_name
from quinebox.record import RunResult

SESSION_LABEL = "org.quinebox.session"
"""A uuid per session; every quinebox container carries it, so it is what the sweep lists by."""
OWNER_LABEL = "org.quinebox.owner"
"""The host pid of the process that opened the session."""
OWNER_START_LABEL = "org.quinebox.owner-start"
"""That process's start time (field 22 of /proc/<pid>/stat), so a reused pid does not look like the owner."""
OWNER_HOST_LABEL = "org.quinebox.owner-host"
"""Boot id and pid namespace of the owner; owners elsewhere are judged by the expiry alone."""
EXPIRES_LABEL = "org.quinebox.expires"
"""Unix time after which the container is fair game for any sweep."""

TTL_ENV = "QUINEBOX_DOCKER_TTL"
#: An OCI runtime registered with the engine, e.g. ``runsc`` (gVisor) for hostile workloads.
RUNTIME_ENV = "QUINEBOX_DOCKER_RUNTIME"
DEFAULT_TTL_S = 3600
#: The host retires a session this long before its supervisor's time-to-live could end it mid-run.
RETIRE_MARGIN_S = 10.0
#: Added to the expiry label beyond the time-to-live, so a sweep never races a living session.
EXPIRY_SLACK_S = 60
PING_TIMEOUT_S = 2.0
API_TIMEOUT_S = 60.0
SEND_TIMEOUT_S = 30.0
REMOVE_WAIT_S = 10

#: The launch the bwrap and none walls use: isolated, no site, UTF-8 mode, no bytecode writes.
SUPERVISOR_ARGV = ("python3", "-I", "-S", "-X", "utf8", "-B", f"{GUEST_DIR}/supervisor.py")
WRITABLE = ("/box", "/tmp", "/dev/shm")
#: Wiped by the supervisor around every run: the tmpfs mounts, and the IPC namespace's POSIX message
#: queues, which the engine mounts writable for everyone and which would otherwise outlive a run.
WIPED = (*WRITABLE, "/dev/mqueue")
#: The mount takes its mode from the image's directory (755 for /box), so it is owned by the session's uid.
TMPFS_OPTIONS = "rw,nosuid,nodev,noexec,size=64m,mode=1777,uid={uid},gid={uid}"
MEM_LIMIT = "1g"
PIDS_LIMIT = 128
#: Fresh uids for sessions come from this range, far from any real account (as bwrap's root mode).
UID_RANGE = (1_000_000, 2_000_000_000)
DIAGNOSTICS_BYTES = 16 * 1024
#: Guest code larger than this in the image is not what quinebox ships.
GUEST_ARCHIVE_CAP = 16 * 1024 * 1024

DEFAULT_HOST = "unix:///var/run/docker.sock"
START_FIX = "start it (sudo scripts/start-dockerd.sh, or systemctl start docker) or point DOCKER_HOST at it"
BUILD_FIX = "run `quinebox image build`"


# --------------------------------------------------------------------------------------------------------------------
# Errors at the edge


def _engine_unreachable(detail: str, image: str | None) -> InfraError:
    host = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    return BackendUnavailable(f"docker: the engine does not answer at {host} ({detail}); {START_FIX}")


def _image_missing(detail: str, image: str | None) -> InfraError:
    return BackendUnavailable(f"docker: the sandbox image {image or '(unnamed)'} is missing; {BUILD_FIX}")


def _docker_exception(detail: str, image: str | None) -> InfraError:
    # The SDK wraps a failed first contact (version negotiation) in a bare DockerException.
    if "Error while fetching server API version" in detail:
        return _engine_unreachable(detail, image)
    return InfraError(f"docker: {detail}")


_Factory = Callable[[str, "str | None"], InfraError]

#: Every docker.errors class, most specific first, and what it becomes. A test holds this list complete.
ERROR_MAP: tuple[tuple[type[BaseException], _Factory], ...] = (
    (docker.errors.ImageNotFound, _image_missing),
    (docker.errors.NotFound, lambda d, i: SupervisorError(f"docker: the session's container is gone ({d})")),
    (docker.errors.APIError, lambda d, i: InfraError(f"docker: the engine refused a request ({d})")),
    (docker.errors.BuildError, lambda d, i: ImageBuildError(f"docker: building {i} failed ({d})")),
    (docker.errors.ImageLoadError, lambda d, i: ImageBuildError(f"docker: loading an image failed ({d})")),
    (docker.errors.ContainerError, lambda d, i: SupervisorError(f"docker: the sandbox container failed ({d})")),
    (docker.errors.StreamParseError, lambda d, i: SupervisorError(f"docker: the engine sent a broken stream ({d})")),
    (
        docker.errors.TLSParameterError,
        lambda d, i: BackendUnavailable(f"docker: bad TLS settings ({d}); check DOCKER_TLS_VERIFY, DOCKER_CERT_PATH"),
    ),
    (
        docker.errors.InvalidConfigFile,
        lambda d, i: BackendUnavailable(f"docker: unreadable client config ({d}); fix ~/.docker/config.json"),
    ),
    (
        docker.errors.ContextNotFound,
        lambda d, i: BackendUnavailable(f"docker: no such docker context ({d}); check DOCKER_CONTEXT"),
    ),
    (
        docker.errors.ContextAlreadyExists,
        lambda d, i: BackendUnavailable(f"docker: docker context conflict ({d}); check `docker context ls`"),
    ),
    (
        docker.errors.MissingContextParameter,
        lambda d, i: BackendUnavailable(f"docker: incomplete docker context ({d}); check `docker context ls`"),
    ),
    (
        docker.errors.ContextException,
        lambda d, i: BackendUnavailable(f"docker: unusable docker context ({d}); check `docker context ls`"),
    ),
    (
        docker.errors.InvalidRepository,
        lambda d, i: BackendUnavailable(f"docker: {i!r} is not a valid image name ({d}); set QUINEBOX_IMAGE"),
    ),
    (
        docker.errors.InvalidVersion,
        lambda d, i: BackendUnavailable(f"docker: the engine's API is too old for this request ({d}); upgrade docker"),
    ),
    (docker.errors.InvalidArgument, lambda d, i: InfraError(f"docker: the SDK rejected a request ({d})")),
    (docker.errors.NullResource, lambda d, i: InfraError(f"docker: the SDK rejected a request ({d})")),
    (docker.errors.DeprecatedMethod, lambda d, i: InfraError(f"docker: the SDK rejected a request ({d})")),
    (docker.errors.DockerException, _docker_exception),
    # Transport errors from below the SDK: no engine at the socket, or one that stopped answering.
    (requests.exceptions.ConnectionError, _engine_unreachable),
    (requests.exceptions.Timeout, lambda d, i: InfraError(f"docker: the engine did not answer in time ({d})")),
    (requests.exceptions.RequestException, lambda d, i: InfraError(f"docker: talking to the engine failed ({d})")),
    (OSError, lambda d, i: InfraError(f"docker: talking to the engine failed ({d})")),
)
_MAPPED = tuple(cls for cls, _ in ERROR_MAP)
_MAPPED_OR_INFRA: tuple[type[BaseException], ...] = (*_MAPPED, InfraError)


@contextlib.contextmanager
def map_docker_errors(image: str | None = None) -> Iterator[None]:
    """Turn every docker SDK, requests and OSError exception raised inside into a quinebox `InfraError`.

    Args:
        image: the image the calls concern, named in messages (a missing image names ``quinebox image build``).

    Raises:
        BackendUnavailable: the engine does not answer, the image is missing, or the client is misconfigured.
        ImageBuildError: a build or image load failed.
        SupervisorError: the session's container vanished or sent a broken stream.
        InfraError: anything else the engine or the transport did.
    """
    try:
        yield
    except QuineboxError:
        raise
    except _MAPPED as exc:
        raise translate(exc, image) from exc


def translate(exc: BaseException, image: str | None = None) -> InfraError:
    """The quinebox error for one docker-side exception (see `ERROR_MAP`)."""
    detail = _detail(exc)
    for cls, factory in ERROR_MAP:
        if isinstance(exc, cls):
            return factory(detail, image)
    return InfraError(f"docker: {detail}")


def _detail(exc: BaseException) -> str:
    """One short line about `exc`, free of ``"; "`` so that doctor's problem/fix split stays right."""
    explanation = getattr(exc, "explanation", None)
    text = str(explanation or exc) or type(exc).__name__
    line = " ".join(text.split())
    if len(line) > 300:
        line = line[:297] + "..."
    return line.replace("; ", ", ")


# --------------------------------------------------------------------------------------------------------------------
# The session


class DockerBackend(SupervisedBackend):
    """One container from the quinebox image, holding one supervisor, for the whole session."""

    name = "docker"

    def __init__(self, image: str | None = None, *, ttl_s: int | None = None) -> None:
        """Name the image and the time-to-live; nothing touches the engine until `open`.

        Args:
            image: the sandbox image; default QUINEBOX_IMAGE, else ``quinebox-sandbox:latest``.
            ttl_s: seconds a container may live; default QUINEBOX_DOCKER_TTL, else 3600.

        Raises:
            UsageError: QUINEBOX_DOCKER_TTL or QUINEBOX_IMAGE holds an unusable value.
        """
        super().__init__()
        self.image = image_name(image)
        self.ttl_s = ttl_s if ttl_s is not None else _ttl_from_env()
        if self.ttl_s <= 0:
            raise UsageError(f"the docker time-to-live must be positive, got {self.ttl_s}")
        self.container_id: str | None = None
        """The running container, for inspection; None between sessions."""
        self._api: Any = None
        self._retire_at = 0.0

    @property
    @override
    def isolation(self) -> str:
        return (
            "docker container: no network, read-only root, all capabilities dropped, no-new-privileges, "
            "fresh unprivileged uid, memory and process limits"
        )

    @override
    def _start(self) -> Channel:
        with map_docker_errors(self.image):
            if self._api is None:
                self._api = _client(API_TIMEOUT_S)
            api = self._api
            _sweep_once(api)
            image_id = str(api.inspect_image(self.image)["Id"])
            container_id = str(api.create_container(**_container_spec(api, image_id, self.ttl_s))["Id"])
        stream: Any = None
        channel: DockerChannel | None = None
        try:
            with map_docker_errors(self.image):
                _check_guest_code(api, container_id, image_id, self.image)
                # Attached before the start, so that not a byte of the hello is missed.
                stream = api.attach_socket(container_id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
                channel = DockerChannel(api, container_id, stream)
                api.start(container_id)
        except BaseException:
            if channel is not None:
                channel.close()  # removes the container; never raises for the engine's sake
            else:
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
                with contextlib.suppress(*_MAPPED):
                    _remove(api, container_id)
            raise
        self.container_id = container_id
        self._retire_at = time.monotonic() + self.ttl_s - RETIRE_MARGIN_S
        return channel

    @override
    def run(self, request: RunRequest) -> RunResult:
        # A supervisor past its time-to-live exits even mid-run, which would read as the candidate's
        # doing; so a session that might reach it during this run is replaced before the run starts.
        if self._channel is not None and time.monotonic() + request.limits.wall_s + BACKSTOP_S > self._retire_at:
            self._drop_channel()
        return super().run(request)

    @override
    def _lost_during_run(self, why: str) -> RunResult:
        """Ask the engine before blaming the candidate: a session lost with the engine is an InfraError."""
        api = self._api
        if api is not None and not self._shut:
            try:
                with map_docker_errors(self.image):
                    _probe_engine(PING_TIMEOUT_S)
                    api.ping()
            except InfraError as exc:
                self._drop_channel()
                raise InfraError(f"docker: the engine went away during a run ({why}): {exc}") from exc
        return super()._lost_during_run(why)

    @override
    def close(self) -> None:
        try:
            super().close()
        finally:
            self.container_id = None
            api, self._api = self._api, None
            if api is not None:
                with contextlib.suppress(*_MAPPED):
                    api.close()


class DockerChannel(Channel):
    """The attached stdin and multiplexed stdout/stderr of one container.

    Without a tty the engine frames output: an 8-byte header (stream type,
    three zero bytes, big-endian payload size) before each chunk. Stdout
    frames carry the protocol; stderr frames are kept, capped, for error
    messages. Frames are demultiplexed as bytes arrive, so a frame that
    claims a huge size costs nothing until its bytes come, and the line size
    cap applies to the protocol text alone.
    """

    def __init__(self, api: Any, container_id: str, stream: Any) -> None:
        sock = getattr(stream, "_sock", stream)
        if not isinstance(sock, socket.socket):
            raise BackendUnavailable(
                "docker: this DOCKER_HOST transport gives no socket to attach to; use a unix:// or tcp:// DOCKER_HOST"
            )
        self.container_id = container_id
        self._api = api
        self._stream = stream  # holds the HTTP response; dropping it could close the socket under us
        self._sock = sock
        sock.settimeout(SEND_TIMEOUT_S)
        self._selector = selectors.DefaultSelector()
        self._selector.register(sock, selectors.EVENT_READ)
        self._stdout = bytearray()
        self._scanned = 0
        self._stderr: deque[bytes] = deque()
        self._stderr_bytes = 0
        self._header = bytearray()
        self._kind = 0
        self._remaining = 0
        self._eof = False
        self._closed = False

    @override
    def send(self, data: bytes) -> None:
        if self._closed:
            raise OSError("the docker channel is closed")
        self._sock.sendall(data)

    @override
    def read_line(self, timeout: float, limit: int) -> bytes | None:
        deadline = time.monotonic() + timeout
        while True:
            newline = self._stdout.find(b"\n", self._scanned)
            if newline >= 0:
                line = bytes(self._stdout[:newline])
                del self._stdout[: newline + 1]
                self._scanned = 0
                return line
            self._scanned = len(self._stdout)
            if len(self._stdout) > limit:
                raise SupervisorError(f"docker: the supervisor sent a line longer than {limit} bytes")
            if self._eof or self._closed:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the supervisor did not answer in time")
            if not self._buffered() and not self._selector.select(remaining):
                continue
            try:
                chunk = self._sock.recv(1 << 20)
            except (TimeoutError, BlockingIOError, InterruptedError):
                continue
            if not chunk:
                self._eof = True
                continue
            self._feed(chunk)

    def _buffered(self) -> bool:
        # A TLS socket may hold decrypted bytes that select() cannot see.
        pending = getattr(self._sock, "pending", None)
        return bool(pending()) if callable(pending) else False

    def _feed(self, chunk: bytes) -> None:
        position = 0
        while position < len(chunk):
            if self._remaining == 0:
                need = 8 - len(self._header)
                self._header += chunk[position : position + need]
                position += need
                if len(self._header) < 8:
                    return
                header, self._header = bytes(self._header), bytearray()
                if header[0] > 3 or header[1:4] != b"\0\0\0":
                    raise SupervisorError("docker: the attach stream is not multiplexed as expected (tty on?)")
                self._kind = header[0]
                self._remaining = int.from_bytes(header[4:8], "big")
                continue
            part = chunk[position : position + self._remaining]
            position += len(part)
            self._remaining -= len(part)
            if self._kind in (0, 1):  # 0 is stdin echoed on stdout, per the engine's docs
                self._stdout += part
            else:
                self._keep_stderr(part)

    def _keep_stderr(self, part: bytes) -> None:
        self._stderr.append(part)
        self._stderr_bytes += len(part)
        while self._stderr_bytes > DIAGNOSTICS_BYTES and len(self._stderr) > 1:
            self._stderr_bytes -= len(self._stderr.popleft())

    @override
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        # Removal kills the container first, so a reader in another thread sees the stream end
        # rather than a socket closed under it.
        try:
            _probe_engine(PING_TIMEOUT_S)
            _remove(self._api, self.container_id)
        except _MAPPED_OR_INFRA as exc:
            note = f"\nquinebox: could not remove container {self.container_id[:12]}: {_detail(exc)}"
            self._keep_stderr(note.encode())
        # Closing the attach connection also closes the supervisor's stdin (stdin_once): should the
        # removal have failed, an idle supervisor still exits and auto_remove takes the container.
        for thing in (self._stream, self._sock):
            with contextlib.suppress(OSError):
                thing.close()
        self._selector.close()

    @override
    def diagnostics(self) -> str:
        if not self._eof and not self._closed:
            # Give a dying supervisor a moment to finish its traceback.
            with contextlib.suppress(TimeoutError, OSError, SupervisorError):
                self.read_line(0.5, 1 << 20)
        text = b"".join(self._stderr).decode("utf-8", "replace").strip()
        return text.splitlines()[-1] if text else ""


def _ttl_from_env() -> int:
    text = os.environ.get(TTL_ENV)
    if text is None or not text.strip():
        return DEFAULT_TTL_S
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"{TTL_ENV}={text!r} is not a whole number of seconds") from None
    if value <= 0:
        raise UsageError(f"{TTL_ENV} must be positive, got {value}")
    return value


def _probe_engine(timeout: float) -> None:
    """Raise BackendUnavailable when nothing listens on the engine's unix socket.

    Tried by hand before the SDK touches an engine that may be gone: the SDK
    leaks the socket of a failed unix connect, and the error it wraps that in
    says less than ours. Other transports are left to the SDK.
    """
    host = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    if not host.startswith("unix://"):
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(timeout)
        try:
            probe.connect(host.removeprefix("unix://"))
        except OSError as exc:
            raise _engine_unreachable(_detail(exc), None) from exc


def _client(timeout: float) -> Any:
    """A low-level client from the environment (DOCKER_HOST and friends); asks the engine its API version."""
    _probe_engine(timeout)
    return docker.from_env(timeout=timeout, use_ssh_client=False).api


def _container_spec(api: Any, image_id: str, ttl_s: int) -> dict[str, Any]:
    uid = UID_RANGE[0] + secrets.randbelow(UID_RANGE[1] - UID_RANGE[0])
    session = uuid.uuid4().hex
    host_config = api.create_host_config(
        network_mode="none",
        read_only=True,
        tmpfs=dict.fromkeys(WRITABLE, TMPFS_OPTIONS.format(uid=uid)),
        mem_limit=MEM_LIMIT,
        memswap_limit=MEM_LIMIT,
        pids_limit=PIDS_LIMIT,
        cap_drop=["ALL"],
        # The supervisor gives every run its own namespaces and its own, stricter seccomp filter
        # (sandbox/confine.py); the engine's default filter refuses the unshare that needs.
        security_opt=["no-new-privileges", "seccomp=unconfined"],
        ipc_mode="private",
        init=True,
        auto_remove=True,
        runtime=os.environ.get(RUNTIME_ENV) or None,
        log_config=docker.types.LogConfig(type=docker.types.LogConfig.types.NONE),
    )
    return {
        "image": image_id,
        "entrypoint": list(SUPERVISOR_ARGV),
        "command": ["--owns-pid-namespace", "--writable=" + ":".join(WIPED), f"--ttl={ttl_s}"],
        "user": f"{uid}:{uid}",
        "stdin_open": True,
        "detach": False,  # with stdin_open: attach stdin, and close it when our attach connection ends
        "tty": False,
        "network_disabled": True,
        "hostname": "quinebox",
        "working_dir": "/box",
        "environment": {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        "labels": _labels(session, ttl_s),
        "name": f"quinebox-{session[:12]}",
        "host_config": host_config,
        "use_config_proxy": False,  # proxy settings of ~/.docker/config.json must not reach the candidate
    }


def _remove(api: Any, container_id: str) -> bool:
    """Remove a container, killing it first; True when this call or a running auto-removal removed it."""
    try:
        api.remove_container(container_id, force=True)
        return True
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: auto_remove is already removing it; wait for that instead
            raise
    with contextlib.suppress(docker.errors.NotFound):
        api.wait(container_id, timeout=REMOVE_WAIT_S, condition="removed")
    return True


_checked_images: set[str] = set()
_checked_lock = threading.Lock()


def _check_guest_code(api: Any, container_id: str, image_id: str, image: str) -> None:
    """Refuse an image whose guest code differs from this quinebox's, once per image id and process.

    The supervisor and the host speak one protocol and share flags such as
    --ttl; a stale image would run old guest code silently. The container is
    created but not started, so its files are the image's own.
    """
    with _checked_lock:
        if image_id in _checked_images:
            return
    chunks, _ = api.get_archive(container_id, GUEST_DIR)
    data = bytearray()
    for chunk in chunks:
        data += chunk
        if len(data) > GUEST_ARCHIVE_CAP:
            break
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(bytes(data)), mode="r:") as archive:
            for member in archive:
                parts = member.name.strip("/").split("/")
                if member.isfile() and len(parts) == 2 and member.size <= GUEST_ARCHIVE_CAP:
                    extracted = archive.extractfile(member)
                    if extracted is not None:
                        found[parts[1]] = extracted.read()
    except tarfile.TarError as exc:
        raise BackendUnavailable(f"docker: the guest code in image {image} is unreadable ({exc}); {BUILD_FIX}") from exc
    differing = sorted(name for name, data in guest_files().items() if found.get(name) != data)
    if differing:
        raise BackendUnavailable(
            f"docker: the image {image} holds other guest code than this quinebox ({', '.join(differing)}); {BUILD_FIX}"
        )
    with _checked_lock:
        _checked_images.add(image_id)


# --------------------------------------------------------------------------------------------------------------------
# Owners, the sweep


def _have_proc() -> bool:
    return os.path.isdir("/proc/self")


def _start_time(pid: int) -> str:
    """When `pid` started, in clock ticks after boot (field 22 of /proc/<pid>/stat); "" without /proc.

    Raises:
        FileNotFoundError: no such process.
    """
    if not _have_proc():
        return ""
    with open(f"/proc/{pid}/stat", "rb") as handle:
        data = handle.read()
    # The command name (field 2) may hold spaces and parentheses: count from the last ")".
    return data.rpartition(b")")[2].split()[19].decode()


def _owner_host() -> str:
    """This boot of this kernel and this pid namespace: where an owner pid means something."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            boot = handle.read().strip()
        return f"{boot}/{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return socket.gethostname()


def _labels(session: str, ttl_s: int) -> dict[str, str]:
    pid = os.getpid()
    return {
        SESSION_LABEL: session,
        OWNER_LABEL: str(pid),
        OWNER_START_LABEL: _start_time(pid),
        OWNER_HOST_LABEL: _owner_host(),
        EXPIRES_LABEL: str(int(time.time()) + ttl_s + EXPIRY_SLACK_S),
    }


def _owner_alive(pid: int, start: str) -> bool:
    if pid <= 0:
        return False
    if _have_proc():
        try:
            return _start_time(pid) == start
        except (FileNotFoundError, ProcessLookupError):
            return False
        except (OSError, IndexError, UnicodeDecodeError):
            return True  # cannot tell (a hidden /proc): leave it to the expiry
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def orphaned(labels: dict[str, str], now: float | None = None) -> bool:
    """True when nobody will close the container carrying these labels."""
    now = time.time() if now is None else now
    try:
        if float(labels.get(EXPIRES_LABEL, "")) < now:
            return True
    except ValueError:
        return True  # ours by label, but unreadable: no owner can be proven
    if labels.get(OWNER_HOST_LABEL) != _owner_host():
        return False  # another machine or pid namespace: its pids mean nothing here
    try:
        pid = int(labels.get(OWNER_LABEL, ""))
    except ValueError:
        return True
    return not _owner_alive(pid, labels.get(OWNER_START_LABEL, ""))


def _sweep(api: Any, all_: bool) -> list[str]:
    removed = []
    for info in api.containers(all=True, filters={"label": SESSION_LABEL}):
        labels = {str(k): str(v) for k, v in (info.get("Labels") or {}).items()}
        if not (all_ or orphaned(labels)):
            continue
        try:
            if _remove(api, str(info["Id"])):
                removed.append(str(info["Id"])[:12])
        except (docker.errors.APIError, requests.exceptions.RequestException):
            continue  # one stubborn container must not stop the sweep or the session
    return removed


_swept = threading.Event()
_sweep_lock = threading.Lock()


def _sweep_once(api: Any) -> None:
    """The startup sweep: the first docker session of each process collects what dead owners left."""
    if _swept.is_set():
        return
    with _sweep_lock:
        if not _swept.is_set():
            _sweep(api, all_=False)
            _swept.set()


def sweep(all_: bool = False) -> list[str]:
    """Remove orphaned quinebox containers (every one with `all_`); return their short ids.

    Raises:
        BackendUnavailable: the engine does not answer.
        InfraError: the engine refused to list containers.
    """
    with map_docker_errors():
        api = _client(API_TIMEOUT_S)
        try:
            return _sweep(api, all_)
        finally:
            api.close()


# --------------------------------------------------------------------------------------------------------------------
# Availability and the image build


def available(image: str | None = None) -> str | None:
    """None when the engine answers within ~2 s and the image is there; else ``"problem; fix"``."""
    try:
        name = image_name(image)
    except UsageError as exc:
        return f"docker: {exc}; set QUINEBOX_IMAGE to an image name or unset it"
    try:
        with map_docker_errors(name):
            api = _client(PING_TIMEOUT_S)
            try:
                api.ping()
                labels = api.inspect_image(name).get("Config", {}).get("Labels") or {}
            finally:
                api.close()
    except InfraError as exc:
        text = str(exc)
        return text if "; " in text else f"{text}; check the engine with `docker info` and its log"
    digest = labels.get(DIGEST_LABEL)
    if digest is not None and digest != guest_digest():
        return f"docker: the image {name} holds older guest code than this quinebox; {BUILD_FIX}"
    return None


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def build(
    context: Path,
    tag: str,
    *,
    buildargs: dict[str, str],
    labels: dict[str, str],
    progress: BuildProgress | None = None,
) -> str:
    """Build `context` as `tag` with the engine, without network; return the image id.

    Raises:
        BackendUnavailable: the engine does not answer.
        ImageBuildError: the build failed; the message ends with the tail of the build log.
    """
    tail: deque[str] = deque(maxlen=30)

    def failed(reason: str) -> ImageBuildError:
        hint = (
            " Without a registry, build a local base (scripts/build-base-image.sh) and pass it as the base image."
            if "pull" in reason or "registry" in reason or "no such host" in reason or "manifest" in reason
            else ""
        )
        log = "\n".join(tail)
        return ImageBuildError(f"docker: building {tag} failed: {reason}.{hint}" + (f"\n{log}" if log else ""))

    with map_docker_errors(tag):
        api = _client(API_TIMEOUT_S * 10)
        try:
            try:
                for record in api.build(
                    path=str(context),
                    tag=tag,
                    rm=True,
                    forcerm=True,
                    pull=False,
                    buildargs=buildargs,
                    labels=labels,
                    network_mode="none",
                    decode=True,
                    use_config_proxy=False,
                ):
                    text = _ANSI.sub("", str(record.get("stream") or record.get("status") or ""))
                    for line in text.splitlines():
                        if line.strip():
                            tail.append(line.rstrip())
                            if progress is not None:
                                progress(line.rstrip())
                    if record.get("error"):
                        raise failed(" ".join(str(record["error"]).split()))
            except (docker.errors.APIError, docker.errors.BuildError) as exc:
                raise failed(_detail(exc)) from exc
            return str(api.inspect_image(tag)["Id"])
        finally:
            api.close()


__all__ = [
    "DockerBackend",
    "DockerChannel",
    "ERROR_MAP",
    "available",
    "build",
    "map_docker_errors",
    "orphaned",
    "sweep",
    "translate",
]
