"""Warm sandbox lanes shared by the reward adapters, the service and the Ray actors.

A training step scores hundreds of completions, and opening a sandbox costs far more
than one run, so a `Grader` keeps open lane pairs (sighted and blind) and lends one
pair to each verification. It is safe to call from many threads at once: at most
``max_lanes`` pairs exist, and a caller beyond that waits for a pair to come back.

An infrastructure error closes the pair that saw it, and the verification is tried
once more on a freshly opened pair; a second failure propagates as `InfraError`, so
each caller can map it to its framework's "unscored". After a fork the child opens
its own lanes and never touches the parent's.

`default_grader` gives one grader per process and per set of options, so module-level
reward functions keep their lanes warm across calls.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from quinebox.backends.base import Backend
from quinebox.checks import CHECKS
from quinebox.errors import InfraError, UsageError
from quinebox.limits import Limits
from quinebox.report.model import Report
from quinebox.sequences import parse_sequence

DEFAULT_GENERATIONS = 20
"""Bounded by default: a reward is computed for every completion of every step."""


@dataclass(frozen=True)
class GraderOptions:
    """What every verification of one grader is asked to do."""

    generations: int = DEFAULT_GENERATIONS
    sequence: str = "fibonacci"
    sandbox: str = "auto"
    limits: Limits = field(default_factory=Limits.from_env)
    max_lanes: int = field(default_factory=lambda: os.cpu_count() or 1)
    """Lane pairs open at most, hence verifications at once."""

    def validated(self) -> GraderOptions:
        if self.generations < 0:
            raise UsageError(f"generations must be 0 or more, got {self.generations}")
        if self.max_lanes < 1:
            raise UsageError(f"max_lanes must be 1 or more, got {self.max_lanes}")
        parse_sequence(self.sequence)
        self.limits.validated()
        return self


class Grader:
    """Verifies programs or whole responses on warm lanes; thread-safe."""

    def __init__(self, options: GraderOptions | None = None) -> None:
        self.options = (options or GraderOptions()).validated()
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(self.options.max_lanes)
        self._free: list[list[Backend]] = []
        self._pid = os.getpid()
        self._closed = False

    def verify(self, text: str, *, raw: bool = False, **overrides: Any) -> Report:
        """The report for a response (the program is extracted) or, with `raw`, for the program itself.

        Lanes do not depend on what is verified, so `overrides` (``generations``, ``sequence``,
        ``next_flag``, ``keep_going``, ``limits``: as for `quinebox.verify`) change one call only.

        Raises:
            InfraError: the sandbox failed twice, on two different lane pairs.
            UsageError: the program cannot be used (too large).
        """
        from quinebox.api import verify, verify_response

        run = verify if raw else verify_response
        options = {
            "generations": self.options.generations,
            "sequence": self.options.sequence,
            "limits": self.options.limits,
            **overrides,
        }
        with self._slots:
            try:
                return self._attempt(run, text, options)
            except InfraError:
                return self._attempt(run, text, options)  # once more, on a freshly opened pair

    def _attempt(self, run: Any, text: str, options: dict[str, Any]) -> Report:
        with self._lanes() as lanes:
            try:
                report: Report = run(text, backend=lanes, **options)
            except UsageError:
                raise
            except BaseException:
                lanes.clear()  # a pair that saw an error (or an interrupt) is closed, never lent again
                raise
            return report

    def close(self) -> None:
        """Close every idle lane; lanes lent out close when they come back."""
        with self._lock:
            self._closed = True
            free, self._free = self._free, []
        if self._pid == os.getpid():
            for pair in free:
                _close(pair)

    @contextmanager
    def _lanes(self) -> Iterator[list[Backend]]:
        """Lend a pair; it goes back to the pool unless the caller emptied it (a broken pair)."""
        pair = self._take()
        borrowed = list(pair)
        try:
            yield pair
        finally:
            if not pair:
                _close(borrowed)
            else:
                self._give(pair)

    def _take(self) -> list[Backend]:
        with self._lock:
            if self._closed:
                raise InfraError("the grader is closed")
            if self._pid != os.getpid():  # forked: the parent's lanes are not ours to use or close
                self._free, self._pid = [], os.getpid()
            if self._free:
                return self._free.pop()
        from quinebox import backends
        from quinebox.api import open_lanes

        return open_lanes(backends.resolve(self.options.sandbox))

    def _give(self, pair: list[Backend]) -> None:
        with self._lock:
            if not self._closed and self._pid == os.getpid():
                self._free.append(pair)
                return
        if self._pid == os.getpid():
            _close(pair)


def _close(pair: list[Backend]) -> None:
    for backend in pair:
        try:
            backend.close()
        except Exception:  # noqa: BLE001 - closing is best effort; the wall reaps its own processes
            pass


_defaults: dict[tuple[Any, ...], Grader] = {}
_defaults_lock = threading.Lock()


def default_grader(
    generations: int = DEFAULT_GENERATIONS,
    sequence: str = "fibonacci",
    sandbox: str = "auto",
    limits: Limits | None = None,
    max_lanes: int | None = None,
) -> Grader:
    """This process's grader for these options, created on first use and closed at exit."""
    options = GraderOptions(
        generations=generations,
        sequence=sequence,
        sandbox=sandbox,
        limits=limits if limits is not None else Limits.from_env(),
        max_lanes=max_lanes or os.cpu_count() or 1,
    )
    key = (os.getpid(), options)
    with _defaults_lock:
        grader = _defaults.get(key)
        if grader is None:
            grader = _defaults[key] = Grader(options)
        return grader


@atexit.register
def _close_defaults() -> None:
    with _defaults_lock:
        graders = [g for (pid, _), g in _defaults.items() if pid == os.getpid()]
        _defaults.clear()
    for grader in graders:
        grader.close()


def check_values(report: Report) -> dict[str, float]:
    """1.0 or 0.0 per check in the stable order (a check not run counts 0.0), then ``pass`` and ``score``."""
    passed = {check.name: check.passed for check in report.checks}
    values = {name: 1.0 if passed.get(name, False) else 0.0 for name in CHECKS}
    values["pass"] = 1.0 if report.passed else 0.0
    values["score"] = report.score or 0.0  # None (not judged) logs as 0.0; rewards never use this value
    return values
