"""One container's life: reaching the engine, the wall it is created with, the owner labels it carries, removal.

The labels name the process that opened the session, so that `_orphans` can
tell when nobody will close the container.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import time
import uuid
from typing import Any

import docker
import docker.errors
import docker.types

from quinebox._image_spec import GUEST_DIR
from quinebox.backends.docker._errors import DEFAULT_HOST, _detail, _engine_unreachable

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
#: Added to the expiry label beyond the time-to-live, so a sweep never races a living session.
EXPIRY_SLACK_S = 60

PING_TIMEOUT_S = 2.0
API_TIMEOUT_S = 60.0
REMOVE_WAIT_S = 10

#: An OCI runtime registered with the engine, e.g. ``runsc`` (gVisor) for hostile workloads.
RUNTIME_ENV = "QUINEBOX_DOCKER_RUNTIME"
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
