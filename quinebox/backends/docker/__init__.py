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

The package, one job a module, each importing only those above it in this list:

* `_errors`: the translation of engine errors (`map_docker_errors`, `ERROR_MAP`).
* `_container`: one container's life: the engine client, the wall it is
  created with, the owner labels it carries, its removal.
* `_channel`: `DockerChannel`, the attached stdin and multiplexed output.
* `_orphans`: the sweep of containers whose owner is gone.
* `_image`: whether the image is there and current (`available`), its guest
  code check, and the build behind `quinebox image build`.
* `_session`: `DockerBackend`, which ties them together.
"""

# Every public name of the single module this package replaced is still importable from here.
from quinebox.backends.docker._channel import DIAGNOSTICS_BYTES as DIAGNOSTICS_BYTES
from quinebox.backends.docker._channel import SEND_TIMEOUT_S as SEND_TIMEOUT_S
from quinebox.backends.docker._channel import DockerChannel
from quinebox.backends.docker._container import API_TIMEOUT_S as API_TIMEOUT_S
from quinebox.backends.docker._container import EXPIRES_LABEL as EXPIRES_LABEL
from quinebox.backends.docker._container import EXPIRY_SLACK_S as EXPIRY_SLACK_S
from quinebox.backends.docker._container import MEM_LIMIT as MEM_LIMIT
from quinebox.backends.docker._container import OWNER_HOST_LABEL as OWNER_HOST_LABEL
from quinebox.backends.docker._container import OWNER_LABEL as OWNER_LABEL
from quinebox.backends.docker._container import OWNER_START_LABEL as OWNER_START_LABEL
from quinebox.backends.docker._container import PIDS_LIMIT as PIDS_LIMIT
from quinebox.backends.docker._container import PING_TIMEOUT_S as PING_TIMEOUT_S
from quinebox.backends.docker._container import REMOVE_WAIT_S as REMOVE_WAIT_S
from quinebox.backends.docker._container import RUNTIME_ENV as RUNTIME_ENV
from quinebox.backends.docker._container import SESSION_LABEL as SESSION_LABEL
from quinebox.backends.docker._container import SUPERVISOR_ARGV as SUPERVISOR_ARGV
from quinebox.backends.docker._container import TMPFS_OPTIONS as TMPFS_OPTIONS
from quinebox.backends.docker._container import UID_RANGE as UID_RANGE
from quinebox.backends.docker._container import WIPED as WIPED
from quinebox.backends.docker._container import WRITABLE as WRITABLE
from quinebox.backends.docker._errors import BUILD_FIX as BUILD_FIX
from quinebox.backends.docker._errors import DEFAULT_HOST as DEFAULT_HOST
from quinebox.backends.docker._errors import ERROR_MAP, map_docker_errors, translate
from quinebox.backends.docker._errors import START_FIX as START_FIX
from quinebox.backends.docker._image import GUEST_ARCHIVE_CAP as GUEST_ARCHIVE_CAP
from quinebox.backends.docker._image import available, build
from quinebox.backends.docker._orphans import orphaned, sweep
from quinebox.backends.docker._session import DEFAULT_TTL_S as DEFAULT_TTL_S
from quinebox.backends.docker._session import RETIRE_MARGIN_S as RETIRE_MARGIN_S
from quinebox.backends.docker._session import TTL_ENV as TTL_ENV
from quinebox.backends.docker._session import DockerBackend

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
