"""The one contract every sandbox wall implements.

When the candidate fails, that is a result; when the wall fails, that is an
exception. Exiting non-zero, dying on a signal, timing out, flooding output
and spending the work budget all come back as `RunResult.status`. A wall
that cannot be built, a supervisor that breaks the protocol outside a run and
a container engine that vanishes raise `InfraError` subclasses, which the CLI
turns into exit code 3 and graders keep apart from candidate failures.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar

from quinebox.limits import Limits
from quinebox.record import RunResult


@dataclass(frozen=True)
class RunRequest:
    """One run of one program."""

    source: bytes
    argv: tuple[str, ...]
    """Arguments after the program, e.g. ``("--next",)``."""
    sighted: bool
    """True: the source is a file the program may find (``python3 prog.py``); False: no copy anywhere."""
    limits: Limits
    language: str = "python"
    """The name of a judged language (`quinebox.languages.LANGUAGES`)."""


class Backend(abc.ABC):
    """A sandbox session: `open` once, `run` many times, `close` once.

    Each run happens in a fresh working directory with every writable area
    wiped, and no process of one run survives into the next.
    """

    name: ClassVar[str]
    """Registry name: ``bwrap``, ``docker``, ``none`` or ``fake``."""

    @property
    @abc.abstractmethod
    def isolation(self) -> str:
        """One line on what the wall is, shown in every report (``not isolated`` for none)."""

    @property
    def isolated(self) -> bool:
        return True

    @abc.abstractmethod
    def open(self) -> None:
        """Start the session.

        Raises:
            BackendUnavailable: the wall cannot be built here; the message names the fix.
            SupervisorError: the supervisor started but did not answer as it should.
        """

    @abc.abstractmethod
    def run(self, request: RunRequest) -> RunResult:
        """Run one program once and return how it ended; never raises for the candidate's behaviour.

        Raises:
            InfraError: the session broke in a way the candidate cannot have caused.
        """

    def interpreter_version(self, name: str) -> str | None:
        """The version the named language's interpreter reports inside this wall; None when unknown."""
        return None

    @abc.abstractmethod
    def close(self) -> None:
        """End the session and everything in it; safe to call twice."""

    def __enter__(self) -> Backend:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def runs_start_fresh(backend: Backend) -> bool:
    """Whether every run of this session starts in namespaces of its own (its supervisor's hello says so).

    Such a session keeps nothing of one run for the next: it is as cold as a new one.
    """
    hello = getattr(backend, "hello", None) or {}
    return bool(hello.get("fresh_namespaces"))
