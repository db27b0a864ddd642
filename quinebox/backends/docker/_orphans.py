"""The orphan sweep: removing containers whose owner process is gone or whose expiry label is past.

Every process sweeps once, on its first docker session; ``quinebox gc`` sweeps on demand.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import docker.errors
import requests

from quinebox.backends.docker._container import (
    API_TIMEOUT_S,
    EXPIRES_LABEL,
    OWNER_HOST_LABEL,
    OWNER_LABEL,
    OWNER_START_LABEL,
    SESSION_LABEL,
    _client,
    _have_proc,
    _owner_host,
    _remove,
    _start_time,
)
from quinebox.backends.docker._errors import map_docker_errors


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
