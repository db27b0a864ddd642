"""Turn a recorded chain and its check results into a Report."""

from __future__ import annotations

import base64
from typing import Any

from quinebox._version import __version__
from quinebox.checks import CheckResult, first_failure
from quinebox.checks._numbers import int_text, printed_numbers
from quinebox.judge import score as step_score
from quinebox.record import Chain, RunResult
from quinebox.report.model import (
    SOURCE_LIMIT,
    Backend,
    CheckOutcome,
    Failure,
    GenerationSummary,
    Report,
    RunSummary,
    Verdict,
)


def build_report(
    chain: Chain,
    results: list[CheckResult],
    backend: Backend,
    config: dict[str, Any],
    duration_ms: float,
    first: CheckResult | None = None,
) -> Report:
    """The report of a judged chain; `first` is the failure to report (by default the first in `results`)."""
    first = first if first is not None else first_failure(results)
    verdict = Verdict.PASS if first is None else Verdict.FAIL
    failure = None if first is None else Failure(first.name, first.generation, first.reason)
    score = step_score(first, chain.requested)
    numbers = printed_numbers(chain)
    generations = [
        GenerationSummary(
            index=g.index,
            number=None if number is None else int_text(number),
            sha256=g.sha256,
            size=len(g.source),
            runs={kind.value: _run_summary(run) for kind, run in g.runs.items()},
            **_source_fields(g.source),
        )
        for number, g in zip(numbers, chain.generations, strict=True)
    ]
    return Report(
        verdict=verdict,
        failure=failure,
        checks=[CheckOutcome(r.name, r.passed, r.reason, r.generation, r.evidence) for r in results],
        generations=generations,
        score=score,
        backend=backend,
        config=config,
        duration_ms=round(duration_ms, 3),
        stopped_early=chain.stopped_early,
        quinebox_version=__version__,
        notes=list(chain.notes),
        language=chain.language,
    )


def error_report(message: str, config: dict[str, Any], duration_ms: float, backend: Backend | None = None) -> Report:
    """A report for an infrastructure failure: verdict error, no checks, score null (never against the candidate)."""
    return Report(
        verdict=Verdict.ERROR,
        failure=None,
        checks=[],
        generations=[],
        score=None,
        backend=backend,
        config=config,
        duration_ms=round(duration_ms, 3),
        error=message,
        quinebox_version=__version__,
    )


def no_program_report(reason: str, config: dict[str, Any]) -> Report:
    """A response with no program in it: the candidate's failure (check ``extract``), scored 0."""
    return Report(
        verdict=Verdict.FAIL,
        failure=Failure("extract", None, reason),
        checks=[],
        generations=[],
        score=0.0,
        backend=None,
        config=config,
        duration_ms=0.0,
        quinebox_version=__version__,
    )


def not_judged_report(language: str, config: dict[str, Any]) -> Report:
    """A program in a language quinebox does not judge yet: nothing run, no failure, score null."""
    return Report(
        verdict=Verdict.NOT_JUDGED,
        failure=None,
        checks=[],
        generations=[],
        score=None,
        backend=None,
        config=config,
        duration_ms=0.0,
        quinebox_version=__version__,
        language=language,
        not_judged=f"the program is in {language}, which quinebox does not judge yet ({_judged_names()})",
    )


def _source_fields(source: bytes) -> dict[str, str]:
    """The program itself, so a report alone can show and restore it: text if UTF-8, else base64."""
    if len(source) > SOURCE_LIMIT:
        return {}
    try:
        return {"source": source.decode("utf-8")}
    except UnicodeDecodeError:
        return {"source_base64": base64.b64encode(source).decode("ascii")}


def _run_summary(run: RunResult) -> RunSummary:
    return RunSummary(
        status=run.status.value,
        exit_code=run.exit_code,
        signal=run.signal,
        wall_ms=round(run.wall_ms, 3),
        cpu_ms=round(run.cpu_ms, 3),
        work=run.work,
        stdout_bytes=len(run.stdout),
        stdout_truncated=run.stdout_truncated,
        stderr_truncated=run.stderr_truncated,
        events=[str(e) for e in run.events],
        opens=run.opens,
    )


def _judged_names() -> str:
    from quinebox.languages import LANGUAGES

    titles = [language.title for language in LANGUAGES.values()]
    return "it judges " + ", ".join(titles[:-1]) + " and " + titles[-1]
