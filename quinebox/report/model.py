"""The report: frozen, JSON-ready dataclasses, separate from every renderer.

Field names here are a public contract (reports, tests and users depend on
them); `quinebox schema` prints the JSON Schema that documents each one.

Schema version 2 (from version 1): verdict ``not_judged`` (a language quinebox
does not judge yet, named in ``language`` and ``not_judged``), ``score`` null
for ``error`` and ``not_judged``, ``score`` counts proven ``--next`` steps out
of N (it was generations out of N+1), and the new fields ``language`` and
``extraction``; ``config`` always holds the same keys, ``sandbox`` among them.

Schema version 3 (from 2): every judged language (``language`` is python,
javascript, ruby, c or bash), ``config["language"]`` (as asked: auto or a name),
``backend.interpreter`` (the version of the language's interpreter or compiler)
and each run's ``opens`` (opens of the sighted source file, seen from outside).

Two words are kept apart: **generations** is N, the number of ``--next`` steps
asked for (``-n``, ``config["generations"]``); **programs** is how many programs
were recorded, P0..Pk, at most N+1 (``len(report.generations)``, one entry per
program, indexed by its generation).
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 3
#: Programs larger than this many bytes are not carried in the report (only their sha256 and size).
SOURCE_LIMIT = 256 * 1024
#: The evidence fields every renderer shows first, in this order, when a check has them.
EVIDENCE_KEYS = (
    "expected",
    "printed",
    "previous",
    "call",
    "run",
    "status",
    "exit_code",
    "message",
    "growth",
    "with_file",
    "without_file",
    "first",
    "again",
    "printed_bytes",
)


class Verdict(enum.StrEnum):
    """The outcome; only pass and fail judge the candidate, so only they carry a score.

    pass: every check passed; fail: any check failed (the candidate's fault); error: the
    infrastructure failed (never the candidate's fault); not_judged: the program is in a
    language quinebox does not judge yet (never a failure).
    """

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    NOT_JUDGED = "not_judged"

    @property
    def judged(self) -> bool:
        """Whether the verdict is about the candidate (pass or fail), and so counts in scores."""
        return self in (Verdict.PASS, Verdict.FAIL)


@dataclass(frozen=True)
class CheckOutcome:
    """One check's result, as reported."""

    name: str
    passed: bool
    reason: str
    generation: int | None
    evidence: dict[str, Any]


@dataclass(frozen=True)
class Failure:
    """The failure to read first: earliest generation, then the stable check order."""

    check: str
    generation: int | None
    reason: str


@dataclass(frozen=True)
class RunSummary:
    """One run of one program: how it ended and what it cost."""

    status: str
    exit_code: int | None
    signal: int | None
    wall_ms: float
    cpu_ms: float
    work: int | None
    stdout_bytes: int
    stdout_truncated: bool
    stderr_truncated: bool
    events: list[str]
    opens: int | None = None
    """Opens of the sighted source file seen from outside the run (inotify); None for blind runs."""


@dataclass(frozen=True)
class GenerationSummary:
    """Program k: its number, its identity and its runs."""

    index: int
    number: str | None
    """The integer its default run printed, as a decimal string (exact at any size); None if none."""
    sha256: str
    size: int
    runs: dict[str, RunSummary]
    source: str | None = None
    """The program's text, when it is strict UTF-8 and at most `SOURCE_LIMIT` bytes; else None."""
    source_base64: str | None = None
    """The program's bytes in base64, when they are not UTF-8 (and at most `SOURCE_LIMIT`); else None."""

    def judged(self, kind: str) -> RunSummary | None:
        """The run that stands for `kind` (``default`` or ``next``): the sighted one, else its blind twin."""
        return self.runs.get(kind) or self.runs.get(f"{kind}_blind")


@dataclass(frozen=True)
class Extraction:
    """How the program was picked out of a model's response (absent when the program was given as is)."""

    rule: str
    """Machine name of the rule that chose (see `quinebox.extract`), e.g. ``answer-block`` or ``none``."""
    reason: str
    """One line for humans: which block, where, and why it was chosen."""
    candidates: int
    """How many code blocks the response holds, of any language."""
    block: int | None = None
    """1-based index of the chosen block among them; None for unfenced code or no program."""
    line: int | None = None
    """1-based line of the response where the chosen program starts; None when there is none."""


@dataclass(frozen=True)
class Backend:
    """The wall the candidate ran in: what was used and measured (`Report.config` says what was asked)."""

    name: str
    isolated: bool
    isolation: str
    python: str | None = None
    work_counter: str | None = None
    language: str = "python"
    """The language the programs were judged as."""
    interpreter: str | None = None
    """The version of that language's interpreter or compiler in the sandbox, as it reports it."""


@dataclass(frozen=True)
class Report:
    """The whole verdict with its evidence; `to_json()` is what `--json` prints."""

    verdict: Verdict
    failure: Failure | None
    checks: list[CheckOutcome]
    generations: list[GenerationSummary]
    score: float | None
    """Partial credit in [0, 1]: the share of the N ``--next`` steps proven before the first failure.

    Step k -> k+1 is proven when program k+1 passed every check at its generation, so a failure
    at generation g proves g - 1 steps (none for g = 0 or 1): ``max(g - 1, 0) / N``. A pass is
    1.0; a program that ignores ``--next`` (``print(0)``) gets 0.0. It depends only on the first
    failure, never on how far recording went (``keep_going``). None when the candidate was not
    judged (verdict error or not_judged), so averages never count those. See `reward`.
    """
    backend: Backend | None
    """What ran the candidate (an object: measured facts); None when nothing ran."""
    config: dict[str, Any]
    """What the verification was asked to do (a dict of settings: generations, sequence, next_flag,
    keep_going, sandbox, limits), with defaults filled in."""
    duration_ms: float
    stopped_early: str | None = None
    error: str | None = None
    """For verdict error only: what failed in the infrastructure."""
    schema_version: int = SCHEMA_VERSION
    quinebox_version: str = ""
    notes: list[str] = field(default_factory=list)
    language: str = "python"
    """The language the program is written in: the one judged, or for not_judged the one detected."""
    not_judged: str | None = None
    """For verdict not_judged only: why, naming the language."""
    extraction: Extraction | None = None
    """How the program was found in a response; None when the program was given directly."""

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS

    def reward(self, mode: str = "binary") -> float | None:
        """The report as a reward for training, None when the candidate was not judged.

        ``binary`` is 1.0 for pass and 0.0 for fail; ``partial`` is `score`, partial credit in
        which trivial programs get nothing.

        None for error and not_judged: drop the sample, never reward it 0.

        Raises:
            ValueError: an unknown mode.
        """
        if mode not in ("binary", "partial"):
            raise ValueError(f"reward mode must be 'binary' or 'partial', got {mode!r}")
        if not self.verdict.judged:
            return None
        if mode == "binary":
            return 1.0 if self.passed else 0.0
        return self.score

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        """One line for `assert report` and logs: the verdict, the failure to read first and its key evidence."""

        def brief(value: Any) -> str:
            if isinstance(value, list):
                return "[" + ", ".join(brief(v) for v in value) + "]"
            text = value if isinstance(value, str) and value.isdigit() else repr(value)
            return text if len(text) <= 60 else f"{text[:28]}…{text[-28:]}"

        if self.verdict is Verdict.ERROR:
            return f"<Report error: {self.error}>"
        if self.verdict is Verdict.NOT_JUDGED:
            return f"<Report not_judged: {self.not_judged}>"
        if self.failure is None:
            last = self.generations[-1].number if self.generations else None
            return f"<Report {self.verdict.value}: {len(self.generations)} programs, last number {brief(last)}>"
        where = "" if self.failure.generation is None else f" at generation {self.failure.generation}"
        outcome = self.check(self.failure.check)
        evidence = outcome.evidence if outcome is not None else {}
        shown = [f"{k}={brief(evidence[k])}" for k in ("expected", "printed", "call", "run") if k in evidence]
        stderr = str(evidence.get("stderr") or "").strip().splitlines()
        shown += [f"stderr={brief(stderr[-1])}"] if stderr else []
        extra = f" [{', '.join(shown)}]" if shown else ""
        return f"<Report fail: {self.failure.check} failed{where}: {self.failure.reason}{extra}>"

    def check(self, name: str) -> CheckOutcome | None:
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        return data

    def to_json(self, *, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """Rebuild a report from `to_dict()` output (for graders reading stored results)."""
        failure = data.get("failure")
        backend = data.get("backend")
        extraction = data.get("extraction")
        score = data.get("score")
        return cls(
            verdict=Verdict(data["verdict"]),
            failure=Failure(**failure) if failure else None,
            checks=[CheckOutcome(**c) for c in data.get("checks", [])],
            generations=[
                GenerationSummary(**{**g, "runs": {k: RunSummary(**r) for k, r in g["runs"].items()}})
                for g in data.get("generations", [])
            ],
            score=None if score is None else float(score),
            backend=Backend(**backend) if backend else None,
            config=dict(data.get("config", {})),
            duration_ms=float(data.get("duration_ms", 0.0)),
            stopped_early=data.get("stopped_early"),
            error=data.get("error"),
            schema_version=int(data.get("schema_version", SCHEMA_VERSION)),
            quinebox_version=str(data.get("quinebox_version", "")),
            notes=list(data.get("notes", [])),
            language=str(data.get("language", "python")),
            not_judged=data.get("not_judged"),
            extraction=Extraction(**extraction) if extraction else None,
        )
