"""Graded rows as renderers see them: the grade, its full report if stored, and the program.

A grade row written by `quinebox grade` holds the input row's fields plus a
``quinebox`` object with the verdict; with ``--full-reports`` that object also
holds the whole report. Where no report was stored, the program is found again
in the row's response with the same extraction rule, and the page says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quinebox.errors import UsageError
from quinebox.report.model import Failure, Report, Verdict

#: The key under which each output row carries its grade (as in quinebox.grade).
RESULT_KEY = "quinebox"
#: Keys of the grade object that may hold the row's full report.
_REPORT_KEYS = ("report", "full_report")


@dataclass(frozen=True)
class GradedRow:
    """One graded row, ready to show."""

    key: str
    grade: dict[str, Any]
    report: Report | None
    """The full report, when the grade stored one."""
    program: str | None
    program_note: str
    """Where `program` came from, for the reader."""


def read_graded(path: Path) -> list[dict[str, Any]]:
    """The whole rows (input fields and grade) of a graded JSONL file.

    Raises:
        UsageError: the file cannot be read.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    rows = []
    for line in lines:
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get(RESULT_KEY), dict):
            rows.append(data)
    return rows


def graded_rows(rows: Iterable[dict[str, Any]], text_field: str = "response", raw: bool = False) -> Iterator[GradedRow]:
    """Each row with its report and program worked out; the last grade of an id wins (a resumed file)."""
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        latest[str(row[RESULT_KEY].get("id"))] = row
    for key, row in latest.items():
        grade = row[RESULT_KEY]
        report = _stored_report(grade)
        program, note = _program(row, grade, report, text_field, raw)
        yield GradedRow(key, grade, report, program, note)


def row_report(row: GradedRow) -> Report:
    """The row's full report, or the verdict panel's worth of one built from the grade alone."""
    if row.report is not None:
        return row.report
    grade = row.grade
    try:
        verdict = Verdict(str(grade.get("verdict")))
    except ValueError:
        verdict = Verdict.ERROR
    check = grade.get("failed_check")
    failure = Failure(str(check), grade.get("failed_generation"), str(grade.get("reason") or "")) if check else None
    score = grade.get("score")
    seconds = grade.get("seconds")
    settings = grade.get("settings")
    return Report(
        verdict=verdict,
        failure=failure,
        checks=[],
        generations=[],
        score=float(score) if isinstance(score, int | float) else None,
        backend=None,
        config=dict(settings) if isinstance(settings, dict) else {},
        duration_ms=float(seconds) * 1000 if isinstance(seconds, int | float) else 0.0,
        error=str(grade.get("reason")) if verdict is Verdict.ERROR else None,
        notes=["only the grade row was stored; grade with --full-reports to keep every detail"],
    )


@dataclass(frozen=True)
class PassRate:
    """Passes over judged rows (pass or fail; errors and unjudged rows left out), with its uncertainty."""

    passed: int
    judged: int

    @property
    def rate(self) -> float:
        return self.passed / self.judged if self.judged else 0.0

    @property
    def standard_error(self) -> float:
        return math.sqrt(self.rate * (1 - self.rate) / self.judged) if self.judged else 0.0

    def wilson(self, z: float = 1.96) -> tuple[float, float]:
        """The Wilson score interval, which stays inside [0, 1] and is honest at 0 or n passes."""
        n = self.judged
        if n == 0:
            return (0.0, 1.0)
        p = self.rate
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return (max(0.0, centre - half), min(1.0, centre + half))


def pass_rate(rows: Iterable[GradedRow]) -> PassRate:
    verdicts = [str(r.grade.get("verdict")) for r in rows]
    return PassRate(verdicts.count("pass"), verdicts.count("pass") + verdicts.count("fail"))


def _stored_report(grade: dict[str, Any]) -> Report | None:
    for key in _REPORT_KEYS:
        data = grade.get(key)
        if isinstance(data, dict):
            try:
                return Report.from_dict(data)
            except (KeyError, TypeError, ValueError):
                return None
    return None


def _program(
    row: dict[str, Any], grade: dict[str, Any], report: Report | None, text_field: str, raw: bool
) -> tuple[str | None, str]:
    if report is not None and report.generations and report.generations[0].source is not None:
        return report.generations[0].source, "generation 0 of the stored report"
    stored = grade.get("program")
    if isinstance(stored, str):
        return stored, "as stored in the grade row"
    text = row.get(text_field)
    if not isinstance(text, str):
        return None, f"the row has no text field {text_field!r}"
    if raw:
        return text, f"the row's {text_field!r} field, graded as the program itself"
    from quinebox.extract import extract_program

    extraction = extract_program(text)
    if extraction.program is None:
        return None, f"no program in the row's {text_field!r} field: {extraction.reason}"
    return extraction.program, f"found again in the row's {text_field!r} field ({extraction.rule})"
