"""The report: frozen, JSON-ready dataclasses, separate from every renderer.

Field names here are a public contract (reports, tests and users depend on
them); `quinebox schema` prints the JSON Schema that documents each one.
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1


class Verdict(enum.StrEnum):
    """pass: every check passed; fail: any check failed; error: the infrastructure failed."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"


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


@dataclass(frozen=True)
class GenerationSummary:
    """Program k: its number, its identity and its runs."""

    index: int
    number: str | None
    """The integer its default run printed, as a decimal string (exact at any size); None if none."""
    sha256: str
    size: int
    runs: dict[str, RunSummary]


@dataclass(frozen=True)
class Backend:
    """The wall the candidate ran in."""

    name: str
    isolated: bool
    isolation: str
    python: str | None = None
    work_counter: str | None = None


@dataclass(frozen=True)
class Report:
    """The whole verdict with its evidence; `to_json()` is what `--json` prints."""

    verdict: Verdict
    failure: Failure | None
    checks: list[CheckOutcome]
    generations: list[GenerationSummary]
    score: float
    """Fraction of the N+1 generations that passed before the first failure (1.0 for a pass)."""
    backend: Backend | None
    config: dict[str, Any]
    duration_ms: float
    stopped_early: str | None = None
    error: str | None = None
    """For verdict error only: what failed in the infrastructure."""
    schema_version: int = SCHEMA_VERSION
    quinebox_version: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASS

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
        if self.failure is None:
            last = self.generations[-1].number if self.generations else None
            return f"<Report {self.verdict.value}: {len(self.generations)} generations, last number {brief(last)}>"
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
        return cls(
            verdict=Verdict(data["verdict"]),
            failure=Failure(**failure) if failure else None,
            checks=[CheckOutcome(**c) for c in data.get("checks", [])],
            generations=[
                GenerationSummary(**{**g, "runs": {k: RunSummary(**r) for k, r in g["runs"].items()}})
                for g in data.get("generations", [])
            ],
            score=float(data.get("score", 0.0)),
            backend=Backend(**backend) if backend else None,
            config=dict(data.get("config", {})),
            duration_ms=float(data.get("duration_ms", 0.0)),
            stopped_early=data.get("stopped_early"),
            error=data.get("error"),
            schema_version=int(data.get("schema_version", SCHEMA_VERSION)),
            quinebox_version=str(data.get("quinebox_version", "")),
            notes=list(data.get("notes", [])),
        )
