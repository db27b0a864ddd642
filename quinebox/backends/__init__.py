"""Sandbox walls by name: bwrap, docker, none (and fake, for tests without a sandbox).

Heavy dependencies stay behind the name: the docker SDK is imported only when
the docker backend is chosen.
"""

from __future__ import annotations

from collections.abc import Callable

from quinebox.backends.base import Backend, RunRequest
from quinebox.errors import BackendUnavailable, UsageError

NAMES = ("auto", "bwrap", "docker", "none")


def _bwrap() -> Backend:
    from quinebox.backends.bwrap import BwrapBackend

    return BwrapBackend()


def _docker() -> Backend:
    try:
        from quinebox.backends.docker import DockerBackend
    except ImportError as exc:
        raise BackendUnavailable(
            f"docker: the docker SDK is not installed ({exc.name}); install it with: pip install 'quinebox[docker]'"
        ) from None
    return DockerBackend()


def _none() -> Backend:
    from quinebox.backends.none import NoneBackend

    return NoneBackend()


FACTORIES: dict[str, Callable[[], Backend]] = {"bwrap": _bwrap, "docker": _docker, "none": _none}


def problems(name: str) -> str | None:
    """None when the named wall can be built here, else why not and the fix."""
    if name == "bwrap":
        from quinebox.backends.bwrap import available

        return available()
    if name == "docker":
        try:
            from quinebox.backends.docker import available as docker_available
        except ImportError as exc:
            return f"docker: the docker SDK is not installed ({exc.name}); pip install 'quinebox[docker]'"
        return docker_available()
    if name == "none":
        return None
    raise UsageError(f"unknown sandbox {name!r}; choose one of: {', '.join(NAMES)}")


def resolve(name: str) -> str:
    """The concrete wall for a name: auto prefers docker (engine and image present), then bwrap.

    Raises:
        BackendUnavailable: auto found neither; the message carries both fixes.
    """
    if name != "auto":
        problems(name)  # validates the name
        return name
    reasons = []
    for candidate in ("docker", "bwrap"):
        problem = problems(candidate)
        if problem is None:
            return candidate
        reasons.append(problem)
    raise BackendUnavailable("no sandbox works here: " + "; ".join(reasons))


def create(name: str) -> Backend:
    """A new, unopened backend by concrete name."""
    try:
        factory = FACTORIES[name]
    except KeyError:
        raise UsageError(f"unknown sandbox {name!r}; choose one of: {', '.join(NAMES)}") from None
    return factory()


__all__ = ["Backend", "RunRequest", "NAMES", "create", "resolve", "problems"]
