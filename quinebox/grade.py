"""Batch grading: a JSONL of model responses in, the same rows with a verdict added out.

Built for eval harnesses grading thousands of untrusted outputs:

* each worker keeps its own pair of sandbox sessions for all the rows it grades,
  so a row costs runs, not sandbox start-ups;
* resumable, never mixing settings: every grade carries the ``settings`` it was
  graded with (generations, sequence, next flag, limits, sandbox asked for and
  used, language, quinebox version). A row whose id already has a final grade
  (pass, fail, not_judged) with the same settings is not graded again; rows
  graded with other settings stop the run with a usage error naming the
  difference, unless ``regrade`` says to grade them again (their old grades are
  then dropped from the file). Rows are appended as they finish, so an
  interrupted run loses at most the rows in flight;
* infrastructure errors are kept apart from candidate failures: such a row is
  retried (with a fresh session) and, if it still fails, written with verdict
  ``error``, which a later run grades again and a scorer must not count;
* rows that need no sandbox (no program in the response, or a language not
  judged) are graded first, so they are written even when the sandbox fails;
* the summary covers the whole output file, not only this run's rows.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quinebox import __version__, backends
from quinebox.api import check_generations, open_lanes, verify, verify_response
from quinebox.backends.base import Backend
from quinebox.errors import InfraError, QuineboxError, UsageError
from quinebox.languages import resolve_language
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
    language: str = "auto"
    """``auto`` or a language's name; a row's own ``language`` field, when it has one, wins."""
    allow_reflection: bool = False
    """The code-golf view of `integrity` (see `quinebox.verify`)."""
    jobs: int = 2
    retries: int = 2
    limits: Limits = field(default_factory=Limits.from_env)
    shard: tuple[int, int] | None = None
    """(K, N): grade only the rows whose `shard_of` id is K of N; None grades every row."""
    next_flag: str = "--next"
    regrade: bool = False
    """Grade again the rows of the output graded with other settings (else they are a usage error)."""
    full_reports: bool = False
    """Store each row's whole report (``Report.to_dict()``) under ``quinebox.report``."""

    def __post_init__(self) -> None:
        check_generations(self.generations)
        if self.language != "auto":
            resolve_language(self.language, b"")


@dataclass(frozen=True)
class Row:
    """One input row, as read."""

    line: int
    key: str
    data: dict[str, Any]


@dataclass
class Summary:
    """What a grading run did, for the closing table; `whole` sums up the whole output file."""

    graded: int = 0
    skipped: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    failed_checks: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    whole: FileSummary | None = None


@dataclass
class FileSummary:
    """Every grade of an output file (the latest per id), as a grader reports it.

    Only judged rows (pass, fail) count in the pass rate and the mean score; not_judged and error
    rows are counted apart, so that neither a language not judged nor a broken sandbox counts as 0.
    """

    rows: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    failing: dict[str, list[str]] = field(default_factory=dict)
    """Check name -> ids of the rows that failed it first (``extract``: no program)."""
    not_judged: dict[str, list[str]] = field(default_factory=dict)
    """Language -> ids of the rows in it."""
    errors: list[str] = field(default_factory=list)
    mean_score: float | None = None

    @property
    def judged(self) -> int:
        return self.verdicts.get("pass", 0) + self.verdicts.get("fail", 0)

    @property
    def pass_rate(self) -> float | None:
        return self.verdicts.get("pass", 0) / self.judged if self.judged else None

    @property
    def pass_rate_stderr(self) -> float | None:
        """The standard error of the pass rate, sqrt(p (1 - p) / n), over the judged rows."""
        rate = self.pass_rate
        return None if rate is None else math.sqrt(rate * (1 - rate) / self.judged)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "judged": self.judged,
            "verdicts": dict(self.verdicts),
            "pass_rate": self.pass_rate,
            "pass_rate_stderr": self.pass_rate_stderr,
            "mean_score": self.mean_score,
            "failing": self.failing,
            "not_judged": self.not_judged,
            "errors": self.errors,
        }


def read_rows(path: Path, options: GradeOptions) -> list[Row]:
    """Every row of the input, validated up front so a bad line stops the run before any work.

    Raises:
        UsageError: a line is not a JSON object, lacks the field, or repeats an id.
    """
    rows: list[Row] = []
    seen: set[str] = set()
    try:
        if str(path) == "-":
            lines = sys.stdin.buffer.read().decode("utf-8").splitlines()
        else:
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


#: Verdicts that are not graded again on resume (with the same settings).
FINAL = ("pass", "fail", "not_judged")


def settings_of(options: GradeOptions, sandbox_used: str | None) -> dict[str, Any]:
    """What a grade depends on; two grades are comparable only when these are equal."""
    from quinebox.sequences import parse_sequence

    return {
        "generations": options.generations,
        "sequence": parse_sequence(options.sequence).name,
        "next_flag": options.next_flag,
        "limits": options.limits.to_dict(),
        "sandbox": options.sandbox,
        "sandbox_used": sandbox_used,
        "language": options.language,
        "allow_reflection": options.allow_reflection,
        "raw": options.raw,
        "quinebox_version": __version__,
    }


def setting_differences(stored: object, current: dict[str, Any]) -> list[str]:
    """Each setting that differs, as ``name: old -> new``; a grade with no settings differs in all.

    A stored ``sandbox_used`` of None (the row needed no sandbox) matches any wall.
    """
    if not isinstance(stored, dict):
        return ["settings: none recorded -> these"]
    differences = []
    for key, value in current.items():
        old = stored.get(key)
        if key == "sandbox_used" and (old is None or value is None):
            continue
        if old != value:
            differences.append(f"{key}: {_brief(old)} -> {_brief(value)}")
    return differences


def _brief(value: object) -> str:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)


def already_graded(out: Path) -> set[str]:
    """Ids in the output file with a final (pass, fail or not_judged) verdict; error rows are graded again."""
    if not out.exists():
        return set()
    return {str(grade.get("id")) for grade in iter_graded(out) if grade.get("verdict") in FINAL}


def latest_grades(out: Path) -> dict[str, dict[str, Any]]:
    """The last grade of each id in the output file (a resumed run appends after an error row)."""
    if not out.exists():
        return {}
    return {str(grade.get("id")): grade for grade in iter_graded(out)}


def summarize(out: Path) -> FileSummary:
    """The summary of every row in the output file, the latest grade of each id."""
    summary = FileSummary()
    scores: list[float] = []
    for key, grade in latest_grades(out).items():
        verdict = str(grade.get("verdict"))
        summary.rows += 1
        summary.verdicts[verdict] += 1
        if verdict == "fail":
            summary.failing.setdefault(str(grade.get("failed_check")), []).append(key)
        elif verdict == "not_judged":
            summary.not_judged.setdefault(str(grade.get("language")), []).append(key)
        elif verdict == "error":
            summary.errors.append(key)
        if verdict in ("pass", "fail") and isinstance(grade.get("score"), int | float):
            scores.append(float(grade["score"]))
    summary.mean_score = sum(scores) / len(scores) if scores else None
    return summary


def grade_file(
    source: Path,
    out: Path,
    options: GradeOptions,
    on_row: Callable[[Row, dict[str, Any]], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
    engine: Engine | None = None,
) -> Summary:
    """Grade every row not yet graded in `out` with these settings, appending results as they finish.

    `engine` grades the rows that need a sandbox: `local_engine` (``jobs`` threads) unless
    another is given, such as `quinebox.integrations.ray.RayEngine`.

    Raises:
        UsageError: the input is malformed, or `out` holds rows graded with other settings and
            ``regrade`` is off (the message names the difference and the flag).
        InfraError: the sandbox cannot be started at all; the rows that need no sandbox are written first.
    """
    started = time.perf_counter()
    rows = read_rows(source, options)
    if options.shard is not None:
        rows = [row for row in rows if shard_of(row.key, options.shard[1]) == options.shard[0]]
    todo = _to_grade(rows, out, options)
    summary = Summary(skipped=len(rows) - len(todo))
    if on_start is not None:
        on_start(len(rows), summary.skipped)
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()
    with out.open("a", encoding="utf-8") as sink:

        def write(row: Row, grade: dict[str, Any]) -> None:
            with lock:
                sink.write(json.dumps({**row.data, RESULT_KEY: grade}, ensure_ascii=False) + "\n")
                sink.flush()
                summary.graded += 1
                summary.verdicts[grade["verdict"]] += 1
                if grade["verdict"] == "fail":
                    summary.failed_checks[grade["failed_check"]] += 1
            if on_row is not None:
                on_row(row, grade)

        # Rows with no program, or in a language not judged, need no sandbox: grade them first.
        offline = {row.key: grade for row in todo if (grade := _grade_offline(row, options)) is not None}
        for row in todo:
            if row.key in offline:
                write(row, offline[row.key])
        rest = [row for row in todo if row.key not in offline]
        if rest:
            with closing((engine or local_engine)(rest, options)) as graded:  # its cleanup runs however we leave
                for row, grade in graded:
                    write(row, grade)
    summary.whole = summarize(out)
    summary.seconds = time.perf_counter() - started
    return summary


#: Grades rows that need a sandbox, yielding each with its grade as it finishes (in any order).
Engine = Callable[[list[Row], GradeOptions], Generator[tuple[Row, dict[str, Any]], None, None]]


def local_engine(rows: list[Row], options: GradeOptions) -> Generator[tuple[Row, dict[str, Any]], None, None]:
    """``jobs`` threads on this machine, each with its own warm pair of sandbox sessions."""
    sandbox = backends.resolve(options.sandbox)  # fail fast, with the fix, if no sandbox works
    workers = _Workers(sandbox)
    try:
        with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
            futures = {pool.submit(_grade_row, row, options, workers): row for row in rows}
            for future in as_completed(futures):
                yield futures[future], future.result()
    finally:
        workers.close()


def _to_grade(rows: list[Row], out: Path, options: GradeOptions) -> list[Row]:
    """The rows to grade now; with ``regrade``, the stale grades are first dropped from `out`.

    Raises:
        UsageError: rows of `out` were graded with other settings and ``regrade`` is off.
    """
    previous = latest_grades(out)
    if not previous:
        return list(rows)
    current = settings_of(options, _resolved(options.sandbox))
    stale: dict[str, list[str]] = {}
    todo = []
    for row in rows:
        grade = previous.get(row.key)
        if grade is None or grade.get("verdict") not in FINAL:
            todo.append(row)
            continue
        differences = setting_differences(grade.get("settings"), current)
        if differences:
            stale[row.key] = differences
            todo.append(row)
    if stale and not options.regrade:
        example = next(iter(stale.values()))
        raise UsageError(
            f"{len(stale)} row(s) of {out} were graded with other settings ({'; '.join(example)}); "
            "add --regrade to grade them again with these settings, or write to another --out"
        )
    if stale:
        _drop(out, set(stale))
    return todo


def _resolved(sandbox: str) -> str | None:
    """The wall `sandbox` names here, or None if none works (the grading itself then says why)."""
    try:
        return backends.resolve(sandbox)
    except QuineboxError:
        return None


def _drop(out: Path, keys: set[str]) -> None:
    """Rewrite `out` without the grades of `keys`, through a temporary file renamed into place."""
    kept = []
    for text in out.read_text(encoding="utf-8").splitlines():
        try:
            data = json.loads(text)
        except ValueError:
            continue
        grade = data.get(RESULT_KEY) if isinstance(data, dict) else None
        if isinstance(grade, dict) and str(grade.get("id")) in keys:
            continue
        kept.append(text + "\n")
    partial = out.with_name(out.name + ".partial")
    partial.write_text("".join(kept), encoding="utf-8")
    partial.replace(out)


def _grade_offline(row: Row, options: GradeOptions) -> dict[str, Any] | None:
    """The grade of a row that needs no sandbox (no program, or a language not judged); None otherwise."""
    if options.raw:
        return None
    report = _response_report(row, options, backend=None)
    if report is None:
        return None
    return _grade(row, report, settings=settings_of(options, None), full=options.full_reports)


def _response_report(row: Row, options: GradeOptions, backend: Any) -> Report | None:
    """The row's report if extraction alone decides it (no program, or not judged), else None."""
    from quinebox.extract import extract_program
    from quinebox.languages import is_judged

    extraction = extract_program(row.data[options.text_field], options.next_flag)
    if extraction.program is not None and (is_judged(extraction.language) or _row_language(row, options) != "auto"):
        return None
    return verify_response(row.data[options.text_field], **_verify_options(options, backend, row))


def _row_language(row: Row, options: GradeOptions) -> str:
    """The row's own ``language`` field when it is a non-empty string, else the option."""
    named = row.data.get("language")
    return named.strip() if isinstance(named, str) and named.strip() else options.language


def _verify_options(options: GradeOptions, backend: Any, row: Row) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "generations": options.generations,
        "sequence": options.sequence,
        "next_flag": options.next_flag,
        "limits": options.limits,
        "sandbox": options.sandbox,
        "language": _row_language(row, options),
        "allow_reflection": options.allow_reflection,
    }
    if backend is not None:
        kwargs["backend"] = backend
    return kwargs


def _grade_row(row: Row, options: GradeOptions, workers: _Workers) -> dict[str, Any]:
    text = row.data[options.text_field]
    attempts = 1 + max(0, options.retries)
    last_error = ""
    settings = settings_of(options, workers.sandbox)
    for attempt in range(attempts):
        sessions = workers.sessions()
        try:
            kwargs = _verify_options(options, sessions, row)
            report = verify(text, **kwargs) if options.raw else verify_response(text, **kwargs)
        except InfraError as exc:
            last_error = str(exc)
            workers.discard()  # the next attempt gets fresh sessions
            time.sleep(0.2 * (attempt + 1))
            continue
        except UsageError as exc:
            return _grade(row, None, error=f"unusable row: {exc}", settings=settings)
        return _grade(row, report, settings=settings, full=options.full_reports)
    return _grade(row, None, error=f"infrastructure error after {attempts} attempts: {last_error}", settings=settings)


def _grade(
    row: Row,
    report: Report | None,
    error: str | None = None,
    *,
    settings: dict[str, Any] | None = None,
    full: bool = False,
) -> dict[str, Any]:
    """The row's ``quinebox`` object: verdict, first failure, score, programs recorded, extraction, settings.

    ``programs`` is how many programs were recorded (P0..Pk, at most N+1); N itself is
    ``settings["generations"]``.
    """
    if report is None:
        return {
            "id": row.key,
            "verdict": Verdict.ERROR.value,
            "failed_check": None,
            "failed_generation": None,
            "score": None,
            "reason": error,
            "settings": settings,
        }
    failure = report.failure
    if report.verdict is Verdict.NOT_JUDGED:
        reason = report.not_judged or "not judged"
    else:
        reason = failure.reason if failure else "every check passed"
    grade: dict[str, Any] = {
        "id": row.key,
        "verdict": report.verdict.value,
        "failed_check": failure.check if failure else None,
        "failed_generation": failure.generation if failure else None,
        "score": report.score,
        "reason": reason,
        "language": report.language,
        "programs": len(report.generations),
        "seconds": round(report.duration_ms / 1000, 3),
        "extraction": None if report.extraction is None else _extraction(report),
        "settings": settings,
    }
    if full:
        grade["report"] = report.to_dict()
    return grade


def _extraction(report: Report) -> dict[str, Any]:
    extraction = report.extraction
    assert extraction is not None
    return {"rule": extraction.rule, "reason": extraction.reason, "block": extraction.block, "line": extraction.line}


class RowGrader:
    """Grades rows one at a time, exactly as `grade_file` does, on lanes it keeps warm between rows.

    For engines that bring their own parallelism (a Ray actor per CPU): one instance per worker.
    """

    def __init__(self, options: GradeOptions) -> None:
        self.options = options
        self._workers = _Workers(backends.resolve(options.sandbox))

    def grade(self, row: Row) -> dict[str, Any]:
        """The ``quinebox`` object of the row, as `grade_file` writes it; infra errors become verdict error."""
        return _grade_row(row, self.options, self._workers)

    def close(self) -> None:
        self._workers.close()


class _Workers:
    """Two open sandbox sessions per worker thread, reused across the rows that thread grades."""

    def __init__(self, sandbox: str) -> None:
        self.sandbox = sandbox
        """The concrete wall (``auto`` resolved), recorded in each grade's settings."""
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


def shard_of(key: str, shards: int) -> int:
    """The shard of a row id: stable across runs, machines and Python versions (not `hash`)."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()[:8], "big") % shards


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N`` as (K, N), with 0 <= K < N.

    Raises:
        UsageError: not of that form.
    """
    k, slash, n = text.partition("/")
    if not (slash and k.isdigit() and n.isdigit() and 0 <= int(k) < int(n)):
        raise UsageError(f"--shard takes K/N with 0 <= K < N, like 0/4; got {text!r}")
    return int(k), int(n)


def merge_files(outs: list[Path], dest: Path) -> Summary:
    """Join graded shards into one file, one row per id, and summarize the whole of it.

    Within one file the last grade of an id wins (a resumed shard appends after an error row);
    across files a final grade (pass, fail, not_judged) wins over an error one. The output is written to a
    temporary file beside `dest` and renamed into place, so an interrupted merge leaves no half file.

    Raises:
        UsageError: a file cannot be read, is the destination itself, two files grade one id
            with a final verdict each (shards of different splits), or rows were graded with other
            settings than the first row (shards of different gradings never mix).
    """
    chosen: dict[str, tuple[Path, dict[str, Any]]] = {}
    reference: tuple[Path, dict[str, Any]] | None = None
    for out in outs:
        if out.resolve() == dest.resolve():
            raise UsageError(f"{out} is also the output of the merge")
        try:
            lines = out.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {out}: {exc}") from None
        for text in lines:
            try:
                row = json.loads(text)
            except ValueError:
                continue  # a line cut short by an interrupted run
            if not (isinstance(row, dict) and isinstance(row.get(RESULT_KEY), dict)):
                continue
            settings = row[RESULT_KEY].get("settings")
            if reference is None and isinstance(settings, dict):
                reference = (out, settings)
            elif reference is not None:
                differences = setting_differences(settings, reference[1])
                if differences:
                    raise UsageError(
                        f"{out} holds rows graded with other settings than {reference[0]} ({differences[0]}): "
                        "merge only the shards of one grading"
                    )
            key = str(row[RESULT_KEY].get("id"))
            final = row[RESULT_KEY].get("verdict") in FINAL
            before = chosen.get(key)
            if before is not None and before[0] != out and before[1][RESULT_KEY].get("verdict") in FINAL:
                if final:
                    raise UsageError(f"id {key!r} is graded in both {before[0]} and {out}: not shards of one split")
                continue
            chosen[key] = (out, row)
    summary = Summary()
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    with partial.open("w", encoding="utf-8") as sink:
        for _, row in chosen.values():
            sink.write(json.dumps(row, ensure_ascii=False) + "\n")
            grade = row[RESULT_KEY]
            summary.graded += 1
            summary.verdicts[str(grade.get("verdict"))] += 1
            if grade.get("verdict") == "fail":
                summary.failed_checks[str(grade.get("failed_check"))] += 1
    partial.replace(dest)
    summary.whole = summarize(dest)
    return summary
