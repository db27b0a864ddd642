"""quinebox's pytest plugin: verify quine chains from tests, and do nothing until asked.

Three ways in, sharing one set of defaults (generations, sequence, sandbox):

* the ``quinebox`` fixture, whose ``verify(path_or_source, **options)`` returns a `Report`;
* the ``@pytest.mark.quinebox(generations=…, sequence=…, sandbox=…)`` marker, defaults for one test;
* the ``quinebox_files`` ini setting: glob patterns, relative to rootdir, whose files become test items
  that pass or fail with their verdict. A pattern may carry its own settings after it
  (``lucas/*.py sequence=lucas generations=10``); the first pattern matching a file gives them.

Each default comes from the first source that sets it: marker > command line > environment > ini >
built-in default (keyword arguments to ``verify`` win over all of them). Every source that is set is
validated where it is read, and a bad value is a `pytest.UsageError` naming that source.

Failures of quinebox's own inputs are one line each, never a traceback into quinebox: a missing
candidate file or an unusable option fails the test with the message, a bad marker value errors the
test naming the marker. A program in a language quinebox does not judge yet is a skip, with the
language named.

The sandbox failing is never the candidate's fault (see `quinebox.errors`), so it is never a test
failure. `BackendUnavailable` while the sandbox is ``auto`` skips the test: nothing here can run it and
no wall was asked for. Any other `InfraError`, including a named sandbox that cannot run, reports the
test as an *error*. Name a sandbox (``--quinebox-sandbox bwrap``) in CI so a missing wall cannot pass
as a skip.

Unconfigured, the plugin only registers its options and marker: no header line, no import of
quinebox.api or of any sandbox, no collection of candidate files.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr, TracebackStyle  # typing only: Item.repr_failure's signature

    from quinebox.report.model import Report

GENERATIONS_DESC = "N --next steps: verify programs P0..PN, at least 1 (default 50; env QUINEBOX_GENERATIONS)."
SANDBOX_DESC = "Sandbox for quinebox: auto (default), bwrap, docker or none (env QUINEBOX_SANDBOX)."
SEQUENCE_DESC = "Sequence for quinebox: fibonacci (default), lucas, or two seeds like 2,1."
LANGUAGE_DESC = "Language for quinebox: auto (default), python, javascript, ruby, c or bash (env QUINEBOX_LANGUAGE)."
FILES_DESC = (
    "Glob patterns, relative to rootdir, of candidate programs to collect and verify as test items; "
    "each may be followed by its own settings: PATTERN [generations=N] [sequence=S] [sandbox=NAME] [language=L]."
)
MARKER_DESC = (
    "quinebox(generations=N, sequence=S, sandbox=NAME, language=L): this test's defaults for the quinebox fixture "
    "(over --quinebox-*, QUINEBOX_* and ini settings)."
)
INFRA_NOTE = "quinebox: the sandbox failed, not the candidate; reported as an error, not a failure"

DEFAULT_GENERATIONS = 50
SETTING_KEYS = ("generations", "sequence", "sandbox", "language")
ENV_VARS = {"generations": "QUINEBOX_GENERATIONS", "sandbox": "QUINEBOX_SANDBOX", "language": "QUINEBOX_LANGUAGE"}
INFRA_ATTR = "quinebox_infra_error"


@dataclass(frozen=True)
class Settings:
    """Defaults for one verification; `configured` when any command line, environment or ini source set one."""

    generations: int = DEFAULT_GENERATIONS
    sequence: str = "fibonacci"
    sandbox: str = "auto"
    language: str = "auto"
    files: tuple[str, ...] = ()
    configured: bool = False
    file_settings: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    """Each ``quinebox_files`` pattern with the settings written after it, in ini order."""

    def options(self) -> dict[str, Any]:
        return {
            "generations": self.generations,
            "sequence": self.sequence,
            "sandbox": self.sandbox,
            "language": self.language,
        }


SETTINGS_KEY = pytest.StashKey[Settings]()
CANDIDATES_KEY = pytest.StashKey[dict[Path, dict[str, Any]]]()
REPORTS_KEY: pytest.StashKey[list[tuple[str, Report]]] = pytest.StashKey()


# Hooks, in the order pytest calls them.


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("quinebox", "quinebox: verify quine chains")
    group.addoption("--quinebox-generations", metavar="N", default=None, help=GENERATIONS_DESC)
    group.addoption("--quinebox-sandbox", metavar="NAME", default=None, help=SANDBOX_DESC)
    group.addoption("--quinebox-language", metavar="NAME", default=None, help=LANGUAGE_DESC)
    parser.addini("quinebox_generations", GENERATIONS_DESC, type="string", default="")
    parser.addini("quinebox_sandbox", SANDBOX_DESC, type="string", default="")
    parser.addini("quinebox_sequence", SEQUENCE_DESC, type="string", default="")
    parser.addini("quinebox_language", LANGUAGE_DESC, type="string", default="")
    parser.addini("quinebox_files", FILES_DESC, type="linelist", default=[])


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_DESC)
    config.stash[SETTINGS_KEY] = session_settings(config)


def pytest_report_header(config: pytest.Config) -> list[str]:
    settings = config.stash[SETTINGS_KEY]
    if not settings.configured:
        return []
    parts = [f"{key}={getattr(settings, key)}" for key in SETTING_KEYS]
    parts += [f"files={', '.join(settings.files)}"] if settings.files else []
    return ["quinebox: " + ", ".join(parts)]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> QuineboxFile | None:
    if not parent.config.stash[SETTINGS_KEY].files:
        return None
    if file_path.resolve() not in candidate_files(parent.config):
        return None
    return QuineboxFile.from_parent(parent, path=file_path)


class SandboxFailed(pytest.fail.Exception):  # type: ignore[name-defined,misc]
    """The sandbox failed, shown as one line; the test is reported as an error, never a failure."""


@pytest.fixture(name="quinebox")
def quinebox_fixture(request: pytest.FixtureRequest) -> Verifier:
    """Verify candidates with this test's defaults: ``quinebox.verify(path_or_source, **options) -> Report``."""
    node = request.node
    reports: list[tuple[str, Report]] = []
    node.stash[REPORTS_KEY] = reports
    problem = None
    try:
        settings = item_settings(node, request.config.stash[SETTINGS_KEY])
    except pytest.UsageError as exc:
        problem = str(exc)
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    return Verifier(settings, request.config.rootpath, reports)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when != "call" or not report.failed or not _uses_quinebox(item):
        return report
    if call.excinfo is not None and (is_infra_error(call.excinfo) or call.excinfo.errisinstance(SandboxFailed)):
        setattr(report, INFRA_ATTR, True)
    for label, verified in item.stash.get(REPORTS_KEY, []):
        if not verified.passed:
            report.sections.append((f"quinebox report: {label}", render_text(verified, label)))
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(
    report: pytest.TestReport | pytest.CollectReport, config: pytest.Config
) -> tuple[str, str, str] | None:
    if report.when == "call" and report.failed and getattr(report, INFRA_ATTR, False):
        return "error", "E", "ERROR"
    return None


# What the hooks hand out: the fixture's object, and candidate files as items.


class Verifier:
    """What the ``quinebox`` fixture returns: `quinebox.verify` with this test's defaults."""

    def __init__(self, settings: Settings, rootpath: Path, reports: list[tuple[str, Report]]) -> None:
        self.settings = settings
        self._rootpath = rootpath
        self._reports = reports

    def __repr__(self) -> str:
        return "quinebox(" + ", ".join(f"{key}={value!r}" for key, value in self.settings.options().items()) + ")"

    def verify(self, program: str | bytes | os.PathLike[str], **options: Any) -> Report:
        """Verify a candidate; keyword options (any of `quinebox.verify`'s) override this test's defaults.

        A `pathlib.Path` (any `os.PathLike`) is a path. A `str` is a path when it is one line ending in
        ``.py``, and must then name an existing file (relative paths resolve like `open`, against the
        working directory); any other `str`, and `bytes`, is the source itself.

        Raises:
            InfraError: the sandbox failed; pytest reports the test as an error, not a failure.
            UsageError: quinebox cannot use an option, or the named file cannot be read.
        """
        __tracebackhide__ = True
        from quinebox.errors import UsageError

        target = as_program(program)
        merged = {**self.settings.options(), **options}
        skippable = merged["sandbox"] == "auto" and "backend" not in options
        problem = None
        try:
            report = run_verify(target, merged, skip_if_unavailable=skippable, one_line=True)
        except UsageError as exc:
            problem = f"quinebox: {exc}"
        if problem is not None:  # failed outside the except block, so no chained traceback is shown
            pytest.fail(problem, pytrace=False)
        self._reports.append((_label(target, self._rootpath), report))
        skip_not_judged(report)
        return report


class CandidateFailed(Exception):
    """A collected candidate failed a check: a result, rendered by `QuineboxItem.repr_failure`."""

    def __init__(self, report: Report) -> None:
        super().__init__(repr(report))
        self.report = report


class QuineboxFile(pytest.File):
    """A candidate program matched by ``quinebox_files``: one item, its verification."""

    def collect(self) -> Iterable[pytest.Item]:
        yield QuineboxItem.from_parent(self, name="quinebox")


class QuineboxItem(pytest.Item):
    """Verifies one candidate file with the session's defaults; fails with the verdict panel."""

    def runtest(self) -> None:
        base = self.config.stash[SETTINGS_KEY]
        overrides = candidate_files(self.config).get(self.path.resolve(), {})
        settings = item_settings(self, replace(base, **overrides) if overrides else base)
        report = run_verify(self.path, settings.options(), skip_if_unavailable=settings.sandbox == "auto")
        skip_not_judged(report)
        if not report.passed:
            raise CandidateFailed(report)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        label = _label(self.path, self.config.rootpath)
        if isinstance(excinfo.value, CandidateFailed):
            return render_text(excinfo.value.report, label)
        if is_infra_error(excinfo):
            return f"infrastructure error, {label} was not judged: {excinfo.typename}: {excinfo.value}"
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"quinebox {_label(self.path, self.config.rootpath)}"


# Resolution: which defaults apply, which files are candidates, and running one verification.


def session_settings(config: pytest.Config) -> Settings:
    """Command line > environment > ini > default; every source that is set is validated."""
    values: dict[str, Any] = {}
    for key in SETTING_KEYS:
        for where, raw in _session_sources(config, key):
            if raw is not None and raw.strip():
                values.setdefault(key, VALIDATORS[key](raw, where))
    where = _ini_where(config, "quinebox_files")
    entries = tuple(parse_files_line(line, where) for line in config.getini("quinebox_files"))
    files = tuple(pattern for pattern, _ in entries)
    return Settings(**values, files=files, configured=bool(values or files), file_settings=entries)


def parse_files_line(line: str, where: str) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """``PATTERN [key=value ...]``: the pattern and its validated settings."""
    pattern, *pairs = line.split()
    settings: list[tuple[str, Any]] = []
    for pair in pairs:
        key, eq, raw = pair.partition("=")
        if not eq or key not in SETTING_KEYS:
            raise pytest.UsageError(
                f"quinebox: {where}: after {pattern!r}, expected key=value with key one of "
                f"{', '.join(SETTING_KEYS)}, got {pair!r}"
            )
        settings.append((key, VALIDATORS[key](raw, f"{where} ({pattern} {key}=...)")))
    return validate_pattern(pattern, where), tuple(settings)


def item_settings(item: pytest.Item, base: Settings) -> Settings:
    """The session's settings under the item's ``quinebox`` markers (the closest marker setting a key wins)."""
    values: dict[str, Any] = {}
    for marker in item.iter_markers("quinebox"):
        where = f"@pytest.mark.quinebox on {item.nodeid}"
        if marker.args:
            raise pytest.UsageError(f"quinebox: {where}: takes keyword arguments only: {', '.join(SETTING_KEYS)}")
        for key, raw in marker.kwargs.items():
            if key not in SETTING_KEYS:
                raise pytest.UsageError(
                    f"quinebox: {where}: unknown argument {key!r}; expected one of {', '.join(SETTING_KEYS)}"
                )
            value = VALIDATORS[key](raw, f"@pytest.mark.quinebox({key}=...) on {item.nodeid}")
            values.setdefault(key, value)
    return replace(base, **values) if values else base


def candidate_files(config: pytest.Config) -> dict[Path, dict[str, Any]]:
    """The files the ``quinebox_files`` patterns match under rootdir, each with its pattern's settings.

    Globbed once per session; a file matched by several patterns takes the first one's settings.
    """
    found = config.stash.get(CANDIDATES_KEY, None)
    if found is None:
        found = {}
        for pattern, settings in config.stash[SETTINGS_KEY].file_settings:
            for path in config.rootpath.glob(pattern):
                if path.is_file():
                    found.setdefault(path.resolve(), dict(settings))
        config.stash[CANDIDATES_KEY] = found
    return found


def as_program(program: str | bytes | os.PathLike[str]) -> str | bytes | Path:
    """A path for `os.PathLike` and for one-line str ending in ``.py``; the source itself otherwise."""
    if isinstance(program, os.PathLike):
        return Path(program)
    if isinstance(program, str) and "\n" not in program and program.strip().endswith(".py"):
        return Path(program.strip())
    return program


def run_verify(
    program: str | bytes | Path, options: dict[str, Any], *, skip_if_unavailable: bool, one_line: bool = False
) -> Report:
    """`quinebox.verify`, with a missing ``auto`` sandbox as a skip and infrastructure errors annotated.

    With `one_line`, an infrastructure error becomes `SandboxFailed`: its message, no traceback.
    """
    __tracebackhide__ = True
    from quinebox.api import verify
    from quinebox.errors import BackendUnavailable, InfraError

    try:
        return verify(program, **options)
    except BackendUnavailable as exc:
        if skip_if_unavailable:
            pytest.skip(f"quinebox: {exc} (sandbox auto; name one with --quinebox-sandbox to make this an error)")
        if one_line:
            raise SandboxFailed(f"{INFRA_NOTE}: {type(exc).__name__}: {exc}", pytrace=False) from None
        exc.add_note(INFRA_NOTE)
        raise
    except InfraError as exc:
        if one_line:
            raise SandboxFailed(f"{INFRA_NOTE}: {type(exc).__name__}: {exc}", pytrace=False) from None
        exc.add_note(INFRA_NOTE)
        raise


def skip_not_judged(report: Report) -> None:
    """A program in a language quinebox does not judge yet is a skip, never a failure."""
    if report.verdict.value == "not_judged":
        pytest.skip(f"quinebox: not judged: {report.not_judged}")


def is_infra_error(excinfo: pytest.ExceptionInfo[BaseException]) -> bool:
    """Whether the sandbox failed; without importing quinebox.errors if nothing has yet."""
    errors = sys.modules.get("quinebox.errors")
    return errors is not None and excinfo.errisinstance(errors.InfraError)


def render_text(report: Report, label: str) -> str:
    """The verdict panel as plain text: what failed, where, why, and the evidence."""
    lines: list[str] = []
    failure = report.failure
    if failure is None:
        lines.append(f"{report.verdict.value}: {report.error or 'every check passed'}")
    else:
        where = "" if failure.generation is None else f" at generation {failure.generation}"
        lines.append(f"{failure.check} failed{where}: {failure.reason}")
    lines.append(f"candidate:  {label}")
    if failure is not None:
        lines += [f"check:      {failure.check}", f"generation: {failure.generation}", f"reason:     {failure.reason}"]
        outcome = report.check(failure.check)
        lines += _evidence_lines(outcome.evidence if outcome is not None else {})
    failed = [c.name for c in report.checks if not c.passed]
    passed = [c.name for c in report.checks if c.passed]
    lines.append(f"checks:     failed {', '.join(failed) or 'none'}; passed {', '.join(passed) or 'none'}")
    if report.backend is not None:
        isolated = "" if report.backend.isolated else ", NOT ISOLATED"
        lines.append(f"sandbox:    {report.backend.name} ({report.backend.isolation}{isolated})")
    requested, seconds = report.config.get("generations"), report.duration_ms / 1000
    score = "not scored" if report.score is None else f"{report.score:.3f}"
    lines.append(f"score:      {score} ({requested} generations requested, {seconds:.2f}s)")
    return "\n".join(lines)


_EVIDENCE_KEYS = (
    "expected", "printed", "previous", "call", "run", "status", "exit_code", "message", "growth",
    "with_file", "without_file", "first", "again", "printed_bytes",
)  # fmt: skip


def _evidence_lines(evidence: Mapping[str, Any]) -> Iterator[str]:
    shown = [key for key in _EVIDENCE_KEYS if evidence.get(key) not in (None, "", [])]
    blocks = [key for key in ("stderr", "without_file_stderr", "diff") if evidence.get(key)]
    if shown or blocks:
        yield "evidence:"
    for key in shown:
        yield f"  {key.replace('_', ' ')}: {_brief(evidence[key])}"
    for key in blocks:
        text = str(evidence[key]).rstrip("\n").splitlines()
        limit = 40 if key == "diff" else 10
        yield f"  {key.replace('_', ' ')}" + (f" (last {limit} of {len(text)} lines):" if len(text) > limit else ":")
        yield from (f"    {line}" for line in (text[:limit] if key == "diff" else text[-limit:]))


def _brief(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_brief(v) for v in value)
    if isinstance(value, str):
        text = value if value.isdigit() else repr(value)
    else:
        text = str(value)
    return text if len(text) <= 200 else f"{text[:98]}…{text[-98:]} ({len(text)} characters)"


def _label(program: str | bytes | Path, rootpath: Path) -> str:
    if not isinstance(program, Path):
        return f"<source, {len(program)} characters>"
    try:
        return program.resolve().relative_to(rootpath.resolve()).as_posix()
    except ValueError:
        return str(program)


def _uses_quinebox(item: pytest.Item) -> bool:
    return isinstance(item, QuineboxItem) or REPORTS_KEY in item.stash


def _session_sources(config: pytest.Config, key: str) -> Iterator[tuple[str, str | None]]:
    """Where a session default may be set, most important first."""
    if key in ENV_VARS:
        yield f"--quinebox-{key}", config.getoption(f"quinebox_{key}")
        yield ENV_VARS[key], os.environ.get(ENV_VARS[key])
    yield _ini_where(config, f"quinebox_{key}"), str(config.getini(f"quinebox_{key}"))


def _ini_where(config: pytest.Config, name: str) -> str:
    return f"ini {name}" + (f" in {config.inipath.name}" if config.inipath is not None else "")


# Validators: each takes the raw value and the label of the source it came from.


def validate_generations(value: object, where: str) -> int:
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, str) and text.isascii() and text.isdigit() and int(text) >= 1:
        return int(text)
    if isinstance(text, int) and not isinstance(text, bool) and text >= 1:
        return text
    raise pytest.UsageError(f"quinebox: {where}: expected a whole number >= 1, got {value!r}")


def validate_sandbox(value: object, where: str) -> str:
    from quinebox.backends import NAMES

    name = value.strip().lower() if isinstance(value, str) else value
    if name not in NAMES:
        raise pytest.UsageError(f"quinebox: {where}: expected one of {', '.join(NAMES)}, got {value!r}")
    return str(name)


def validate_sequence(value: object, where: str) -> str:
    from quinebox.errors import UsageError
    from quinebox.sequences import parse_sequence

    if not isinstance(value, str):
        raise pytest.UsageError(f"quinebox: {where}: expected fibonacci, lucas or two seeds like 2,1, got {value!r}")
    try:
        parse_sequence(value)
    except UsageError as exc:
        raise pytest.UsageError(f"quinebox: {where}: {exc}") from None
    return value.strip()


def validate_language(value: object, where: str) -> str:
    from quinebox.errors import UsageError
    from quinebox.languages import resolve_language

    if not isinstance(value, str):
        raise pytest.UsageError(f"quinebox: {where}: expected auto or a language's name, got {value!r}")
    try:
        return "auto" if value.strip().lower() == "auto" else resolve_language(value, b"")
    except UsageError as exc:
        raise pytest.UsageError(f"quinebox: {where}: {exc}") from None


def validate_pattern(pattern: str, where: str) -> str:
    if Path(pattern).is_absolute():
        raise pytest.UsageError(f"quinebox: {where}: patterns are relative to rootdir, got {pattern!r}")
    return pattern


VALIDATORS = {
    "generations": validate_generations,
    "sequence": validate_sequence,
    "sandbox": validate_sandbox,
    "language": validate_language,
}
