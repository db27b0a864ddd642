"""What every check returns, and the options every check may read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quinebox.sequences import FIBONACCI, Sequence

#: JSON-ready evidence: strings, numbers, booleans, None, and lists/dicts of those.
Evidence = dict[str, Any]


@dataclass(frozen=True)
class CheckResult:
    """One check's finding over the whole recorded chain."""

    name: str
    passed: bool
    reason: str
    """One line a person can act on; for a pass, what was established."""
    generation: int | None = None
    """The first generation at which the check failed; None when it passed."""
    evidence: Evidence = field(default_factory=dict)


@dataclass(frozen=True)
class CheckOptions:
    """What the checks need to know beyond the chain itself."""

    sequence: Sequence = FIBONACCI
    work_budget: int = 2_000_000
    partial: bool = False
    """True while the chain is still being recorded: fail only on what later generations cannot undo."""
    language: str = "python"
    """The judged language the programs are in (a name from `quinebox.languages.LANGUAGES`)."""
    allow_reflection: bool = False
    """The code-golf view: a program may read its own code from memory (frames, toString, declare -f)."""


def passed(name: str, reason: str, **evidence: Any) -> CheckResult:
    return CheckResult(name, True, reason, None, dict(evidence))


def failed(name: str, generation: int, reason: str, **evidence: Any) -> CheckResult:
    return CheckResult(name, False, reason, generation, dict(evidence))


def text_excerpt(data: bytes, limit: int = 400) -> str:
    """Bytes shown to a person: decoded leniently, capped, never raising."""
    text = data.decode("utf-8", "backslashreplace")
    return text if len(text) <= limit else text[:limit] + f"... ({len(data)} bytes)"


def tail_excerpt(data: bytes, limit: int = 800) -> str:
    text = data.decode("utf-8", "backslashreplace").rstrip()
    return text if len(text) <= limit else "..." + text[-limit:]
