"""Turn a recorded chain and its check results into a Report."""

from __future__ import annotations

from typing import Any

from quinebox import __version__
from quinebox.checks import CheckResult, first_failure
from quinebox.checks._numbers import printed_numbers
from quinebox.record import Chain, RunResult
from quinebox.report.model import (
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
) -> Report:
    first = first_failure(results)
    total = chain.requested + 1
    if first is None:
        verdict, failure, score = Verdict.PASS, None, 1.0
    else:
        verdict = Verdict.FAIL
        failure = Failure(first.name, first.generation, first.reason)
        score = (first.generation or 0) / total
    numbers = printed_numbers(chain)
    generations = [
        GenerationSummary(
            index=g.index,
            number=None if numbers[i] is None else str(numbers[i]),
            sha256=g.sha256,
            size=len(g.source),
            runs={kind.value: _run_summary(run) for kind, run in g.runs.items()},
        )
        for i, g in enumerate(chain.generations)
    ]
    return Report(
        verdict=verdict,
        failure=failure,
        checks=[CheckOutcome(r.name, r.passed, r.reason, r.generation, r.evidence) for r in results],
        generations=generations,
        score=round(score, 6),
        backend=backend,
        config=config,
        duration_ms=round(duration_ms, 3),
        stopped_early=chain.stopped_early,
        quinebox_version=__version__,
        notes=list(chain.notes),
    )


def error_report(message: str, config: dict[str, Any], duration_ms: float, backend: Backend | None = None) -> Report:
    """A report for an infrastructure failure: verdict error, no checks, never a score against the candidate."""
    return Report(
        verdict=Verdict.ERROR,
        failure=None,
        checks=[],
        generations=[],
        score=0.0,
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
    )
