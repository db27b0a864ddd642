"""What a verification recorded: plain, frozen data that the checks read.

The chain driver fills these in; checks and reports only read them. Bytes stay
bytes here: a check decodes them strictly when it needs text.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field


class Status(enum.StrEnum):
    """How one run ended, after isolate's meta codes."""

    OK = "OK"
    """Exited 0 within every limit."""
    RE = "RE"
    """Exited with a non-zero status."""
    SG = "SG"
    """Killed by a signal (its own crash, a memory limit, or someone else's kill)."""
    TO = "TO"
    """Ran past the wall-clock or CPU limit."""
    OL = "OL"
    """Wrote more than the output limit; the output kept is truncated."""
    WL = "WL"
    """Spent the work budget (function entries plus loop back-edges)."""
    XX = "XX"
    """The wall around the run broke during it (the candidate killed the supervisor)."""


#: Endings decided by the sandbox's clocks and budgets rather than by the program's own behaviour.
STOPPED_BY_A_LIMIT = frozenset({Status.TO, Status.WL})


@dataclass(frozen=True)
class AuditEvent:
    """One audited action of the candidate, e.g. ``open('/box/prog.py', 'r')``."""

    name: str
    args: str

    def __str__(self) -> str:
        return f"{self.name}({self.args})"


@dataclass(frozen=True)
class RunResult:
    """One run of one program, as the supervisor measured it."""

    status: Status
    exit_code: int | None
    """Exit status, or None when the run ended by a signal or was killed."""
    signal: int | None
    """The signal that ended the run, if one did."""
    stdout: bytes
    stderr: bytes
    wall_ms: float
    cpu_ms: float
    """CPU time of the candidate's process tree as far as it was reaped; the cross-check for work done in C."""
    work: int | None
    """Work units counted; None when the run died before reporting them."""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    events: tuple[AuditEvent, ...] = ()
    message: str = ""
    """For humans only: why the supervisor chose this status."""
    opens: int | None = None
    """Opens of the sighted source file during the run, by any of its processes, seen from outside (inotify)."""

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def same_behaviour(self, other: RunResult) -> bool:
        """Byte-identical stdout and the same ending: what determinism and integrity compare.

        Two runs that were both stopped by a limit behave alike whichever limit came first: a run that
        spends its work budget and its wall clock at about the same moment meets one or the other by
        machine load, and that race must not read as a difference between the runs.
        """
        if self.status in STOPPED_BY_A_LIMIT and other.status in STOPPED_BY_A_LIMIT:
            return True
        return (self.stdout, self.status, self.exit_code) == (other.stdout, other.status, other.exit_code)


class RunKind(enum.StrEnum):
    """Which run of a generation: default or --next, sighted (file) or blind (no file)."""

    DEFAULT = "default"
    NEXT = "next"
    DEFAULT_BLIND = "default_blind"
    NEXT_BLIND = "next_blind"
    DEFAULT_AGAIN = "default_again"
    NEXT_AGAIN = "next_again"
    REPLAY = "replay"
    """The default run again, once the chain is recorded, as the only run of a fresh sandbox."""


@dataclass(frozen=True)
class Twins:
    """A sighted run, its blind twin, and the repeat of the sighted run recorded when the two differ."""

    sighted: RunKind
    blind: RunKind
    again: RunKind


#: The default run's twins and the --next run's twins, in that order.
TWINS = (
    Twins(RunKind.DEFAULT, RunKind.DEFAULT_BLIND, RunKind.DEFAULT_AGAIN),
    Twins(RunKind.NEXT, RunKind.NEXT_BLIND, RunKind.NEXT_AGAIN),
)


@dataclass(frozen=True)
class Generation:
    """Program k and every run recorded of it."""

    index: int
    source: bytes
    runs: dict[RunKind, RunResult]
    deadline_s: float | None = None
    """Set when the verification's deadline (this many seconds) ended recording at this generation."""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.source).hexdigest()

    def run(self, kind: RunKind) -> RunResult | None:
        return self.runs.get(kind)

    def judged_kind(self, kind: RunKind) -> RunKind:
        """Which run stands for `kind` (DEFAULT or NEXT): the sighted run, or its blind twin when it ran alone.

        A chain carried by its blind runs (`Language.twins_sampled`) runs the sighted twin only
        where it can tell something (see `record_chain`); where both ran and they differ,
        `integrity` or `determinism` fails at this generation, so the sighted run is judged.
        """
        if kind in self.runs:
            return kind
        blind = _BLIND_TWIN.get(kind)
        return blind if blind is not None and blind in self.runs else kind

    def judged(self, kind: RunKind) -> RunResult | None:
        """The run that stands for `kind` (see `judged_kind`)."""
        return self.runs.get(self.judged_kind(kind))


_BLIND_TWIN = {twins.sighted: twins.blind for twins in TWINS}


@dataclass(frozen=True)
class Chain:
    """The whole recorded verification: the generations in order, and why recording stopped."""

    generations: tuple[Generation, ...]
    requested: int
    """N: the chain was asked to reach generation N (N+1 programs)."""
    stopped_early: str | None = None
    """Why fewer than N+1 generations were recorded, if they were."""
    blind: bool = True
    """Whether blind runs were recorded (integrity needs them)."""
    notes: tuple[str, ...] = field(default=())
    language: str = "python"
    """The language the chain was run as (a name from `quinebox.languages.LANGUAGES`)."""
