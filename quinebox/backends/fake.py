"""A backend with no sandbox at all, for testing code that drives backends.

    def handler(request: RunRequest) -> RunResult: ...
    report = quinebox.verify(source, backend=FakeBackend(handler))

Nothing is executed: the handler decides every run's result. Public API, so
that harnesses can test their own plumbing without a sandbox.
"""

from __future__ import annotations

from collections.abc import Callable

from typing_extensions import override

from quinebox.backends.base import Backend, RunRequest
from quinebox.record import RunResult, Status

Handler = Callable[[RunRequest], RunResult]


class FakeBackend(Backend):
    """Answers every run with `handler(request)`; records the requests it saw."""

    name = "fake"

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[RunRequest] = []
        self.opened = False

    @property
    @override
    def isolation(self) -> str:
        return "fake: nothing is executed"

    @property
    @override
    def isolated(self) -> bool:
        return False

    @override
    def open(self) -> None:
        self.opened = True

    @override
    def run(self, request: RunRequest) -> RunResult:
        self.requests.append(request)
        return self.handler(request)

    @override
    def close(self) -> None:
        self.opened = False


def ok(stdout: bytes, *, work: int = 10) -> RunResult:
    """A clean run that printed `stdout`: a convenience for handlers."""
    return RunResult(Status.OK, 0, None, stdout, b"", 1.0, 1.0, work)
