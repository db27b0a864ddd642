"""Batch grading: a JSONL of model responses in, the same rows with a verdict added out.

Built for eval harnesses grading thousands of untrusted outputs:

* each worker keeps its own pair of sandbox sessions for all the rows it grades,
  so a row costs runs, not sandbox start-ups;
* resumable: rows whose id already has a pass or fail verdict in the output
  file are not graded again, and rows are appended as they finish, so an
  interrupted run loses at most the rows in flight;
* infrastructure errors are kept apart from candidate failures: such a row is
  retried (with a fresh session) and, if it still fails, written with verdict
  ``error``, which a later run grades again and a scorer must not count.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quinebox import backends
from quinebox.api import open_lanes, verify, verify_response
from quinebox.backends.base import Backend
from quinebox.errors import InfraError, UsageError
from quinebox.limits import Limits
from quinebox.report.model import Report, Verdict

#: The key under which each output row carries its grade.
RESULT_KEY = "quinebox"


@dataclass(frozen=True)
class GradeOptions:
    """How to read the rows and how to verify each."""

    text_field: str = "response"
    """The row key holding the model's response (or the program itself, with `raw`)."""
    id_field: str = "id"
    """The row key identifying a row; rows without it are identified by their line number."""
    raw: bool = False
    """True: the field is the program itself; False: extract the program from the response."""
    generations: int = 50
    sequence: str = "fibonacci"
    sandbox: str = "auto"
    jobs: int = 2
    retries: int = 2
    limits: Limits = field(default_factory=Limits.from_env)


@dataclass(frozen=True)
class Row:
    """One input row, as read."""

    line: int
    key: str
    data: dict[str, Any]


@dataclass
class Summary:
    """What a grading run did, for the closing table."""

    graded: int = 0
    skipped: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    failed_checks: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def read_rows(path: Path, options: GradeOptions) -> list[Row]:
    """Every row of the input, validated up front so a bad line stops the run before any work.

    Raises:
        UsageError: a line is not a JSON object, lacks the field, or repeats an id.
    """
    rows: list[Row] = []
    seen: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UsageError(f"{path}:{number}: not JSON ({getattr(exc, 'msg', exc)})") from None
        if not isinstance(data, dict):
            raise UsageError(f"{path}:{number}: a row must be a JSON object")
        if not isinstance(data.get(options.text_field), str):
            raise UsageError(f"{path}:{number}: no text field {options.text_field!r}")
        key = str(data[options.id_field]) if options.id_field in data else f"line-{number}"
        if key in seen:
            raise UsageError(f"{path}:{number}: id {key!r} appears twice")
        seen.add(key)
        rows.append(Row(number, key, data))
    return rows


def already_graded(out: Path) -> set[str]:
    """Ids in the output file with a final (pass or fail) verdict; error rows are graded again."""
    if not out.exists():
        return set()
    return {str(grade.get("id")) for grade in iter_graded(out) if grade.get("verdict") in ("pass", "fail")}


def grade_file(
    source: Path,
    out: Path,
    options: GradeOptions,
    on_row: Callable[[Row, dict[str, Any]], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> Summary:
    """Grade every row not yet graded in `out`, appending results as they finish.

    Raises:
        UsageError: the input is malformed.
        InfraError: the sandbox cannot be started at all (before any row is graded).
    """
    started = time.perf_counter()
    rows = read_rows(source, options)
    done = already_graded(out)
    todo = [row for row in rows if row.key not in done]
    summary = Summary(skipped=len(rows) - len(todo))
    if on_start is not None:
        on_start(len(rows), summary.skipped)
    if not todo:
        summary.seconds = time.perf_counter() - started
        return summary
    sandbox = backends.resolve(options.sandbox)  # fail fast, with the fix, if no sandbox works
    workers = _Workers(sandbox)
    lock = threading.Lock()
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with out.open("a", encoding="utf-8") as sink, ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
            futures = {pool.submit(_grade_row, row, options, workers): row for row in todo}
            for future in as_completed(futures):
                row = futures[future]
                grade = future.result()
                with lock:
                    sink.write(json.dumps({**row.data, RESULT_KEY: grade}, ensure_ascii=False) + "\n")
                    sink.flush()
                summary.graded += 1
                summary.verdicts[grade["verdict"]] += 1
                if grade["verdict"] == "fail":
                    summary.failed_checks[grade["failed_check"]] += 1
                if on_row is not None:
                    on_row(row, grade)
    finally:
        workers.close()
    summary.seconds = time.perf_counter() - started
    return summary


def _grade_row(row: Row, options: GradeOptions, workers: _Workers) -> dict[str, Any]:
    text = row.data[options.text_field]
    attempts = 1 + max(0, options.retries)
    last_error = ""
    for attempt in range(attempts):
        sessions = workers.sessions()
        try:
            kwargs: dict[str, Any] = {
                "generations": options.generations,
                "sequence": options.sequence,
                "limits": options.limits,
                "backend": sessions,
            }
            report = verify(text, **kwargs) if options.raw else verify_response(text, **kwargs)
        except InfraError as exc:
            last_error = str(exc)
            workers.discard()  # the next attempt gets fresh sessions
            time.sleep(0.2 * (attempt + 1))
            continue
        except UsageError as exc:
            return _grade(row, None, error=f"unusable row: {exc}")
        return _grade(row, report)
    return _grade(row, None, error=f"infrastructure error after {attempts} attempts: {last_error}")


def _grade(row: Row, report: Report | None, error: str | None = None) -> dict[str, Any]:
    if report is None:
        return {
            "id": row.key,
            "verdict": Verdict.ERROR.value,
            "failed_check": None,
            "failed_generation": None,
            "score": None,
            "reason": error,
        }
    failure = report.failure
    return {
        "id": row.key,
        "verdict": report.verdict.value,
        "failed_check": failure.check if failure else None,
        "failed_generation": failure.generation if failure else None,
        "score": report.score,
        "reason": failure.reason if failure else "every check passed",
        "generations": len(report.generations),
        "seconds": round(report.duration_ms / 1000, 3),
    }


class _Workers:
    """Two open sandbox sessions per worker thread, reused across the rows that thread grades."""

    def __init__(self, sandbox: str) -> None:
        self._sandbox = sandbox
        self._local = threading.local()
        self._all: list[Backend] = []
        self._lock = threading.Lock()

    def sessions(self) -> list[Backend]:
        current: list[Backend] | None = getattr(self._local, "sessions", None)
        if current is None:
            current = open_lanes(self._sandbox)
            with self._lock:
                self._all.extend(current)
            self._local.sessions = current
        return current

    def discard(self) -> None:
        current: list[Backend] | None = getattr(self._local, "sessions", None)
        self._local.sessions = None
        for backend in current or []:
            backend.close()

    def close(self) -> None:
        with self._lock:
            for backend in self._all:
                backend.close()
            self._all.clear()


def iter_graded(out: Path) -> Iterator[dict[str, Any]]:
    """The grades in an output file, for renderers (JUnit) and callers."""
    for text in out.read_text(encoding="utf-8").splitlines():
        try:
            data = json.loads(text)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get(RESULT_KEY), dict):
            yield data[RESULT_KEY]
