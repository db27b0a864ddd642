"""Every exception quinebox raises on purpose.

    QuineboxError
    ├── InfraError            the wall failed, not the candidate: exit 3, never scored
    │   ├── BackendUnavailable    the sandbox cannot be built here (tool, engine or image missing)
    │   ├── SupervisorError       the in-sandbox supervisor broke the protocol or died between runs
    │   └── ImageBuildError       the sandbox image could not be built
    └── UsageError            the caller asked for something impossible: exit 2

A candidate that crashes, loops, floods or cheats is a *result*
(`RunResult.status`), never an exception.
"""

from __future__ import annotations


class QuineboxError(Exception):
    """Base class of every error quinebox raises on purpose."""


class InfraError(QuineboxError):
    """The sandbox or its host failed; the candidate is not to blame."""


class BackendUnavailable(InfraError):
    """The chosen sandbox cannot run on this machine; the message names the fix."""


class SupervisorError(InfraError):
    """The in-sandbox supervisor broke the protocol or vanished outside a run."""


class ImageBuildError(InfraError):
    """The sandbox container image could not be built."""


class UsageError(QuineboxError):
    """An option or input the caller gave cannot be used."""
