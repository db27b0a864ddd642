"""An Inspect scorer: the program in the model's completion, verified in the sandbox.

    from quinebox.integrations.inspect import quinebox_scorer

    Task(dataset=..., solver=generate(), scorer=quinebox_scorer(generations=50))

Installed with the ``inspect`` extra (``pip install 'quinebox[inspect]'``), the
scorer is also registered with Inspect under ``quinebox/quinebox_scorer``
through the ``inspect_ai`` entry point, so ``inspect score LOG --scorer
quinebox/quinebox_scorer -S generations=50`` regrades a stored log.

Each sample gets one of four outcomes:

- **Scored.** The value is a dict: one key per check (``runs``, ``output``,
  ``sequence``, ...) worth 1.0 when the check passed and 0.0 otherwise, plus
  ``pass`` (1.0 for verdict pass: the binary reward) and ``score`` (the
  report's score: partial credit, the share of the N ``--next`` steps proven
  before the first failure, 0.0 for a program that ignores ``--next``). Every key gets
  the ``mean`` metric, and ``pass`` and ``score`` also ``stderr``. The answer is
  the extracted program, the explanation the verdict and first failure, and the
  metadata the whole report (``Report.from_dict(score.metadata)`` rebuilds it).
- **Scored as a failure, no program.** A completion with no program in it is
  the model's failure: every key is 0.0 and the report's failure is the
  ``extract`` check. Inspect's ``reason`` says ``no_response`` for an empty
  completion and ``invalid_response_format`` otherwise.
- **Unscored, not judged.** A program in a language quinebox does not judge
  yet (JavaScript, Ruby, C...) is not the model's failure: ``Score.unscored``
  with ``reason="not_judged"``, the language named in the explanation, and a
  report with verdict ``not_judged`` as metadata. Nothing is run.
- **Unscored, infrastructure.** When the sandbox fails (`quinebox.InfraError`), the candidate
  was not judged, so counting it as wrong would blame the model for the
  grader's machine. The score is ``Score.unscored()``: a NaN value that Inspect
  leaves out of every metric's numerator and denominator and counts in the
  results' ``unscored_samples``, with ``reason="scoring_failed"`` (Inspect's
  word for "the scorer could not run"), the error in the explanation, and an
  error report (verdict ``error``) as metadata. The model's completion is kept,
  so ``inspect score`` can grade it again once the sandbox works. Raising
  instead would mark the sample as errored and, under Inspect's default
  ``fail_on_error``, stop the whole eval for one broken run.

Any other exception (a `quinebox.UsageError` for an impossible setting, a bug)
propagates, and Inspect records it as the sample's error.

Verification runs in a worker thread (`quinebox.averify`), at most
``max_concurrent`` at a time (Inspect's ``quinebox`` concurrency slot,
default: the number of CPUs), so that runs keep to their time limits however
many samples Inspect scores at once.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from typing import Any

from inspect_ai.scorer import Score, Target, mean, scorer, stderr
from inspect_ai.scorer import Scorer as InspectScorer
from inspect_ai.solver import TaskState
from inspect_ai.util import concurrency

from quinebox.api import averify, check_generations, config_of, extraction_info
from quinebox.checks import CHECKS
from quinebox.errors import InfraError, UsageError
from quinebox.extract import extract_program
from quinebox.languages import is_judged, resolve_language
from quinebox.report.build import error_report, no_program_report, not_judged_report
from quinebox.report.model import Report
from quinebox.sequences import parse_sequence

__all__ = ["quinebox_scorer"]

logger = logging.getLogger(__name__)


@scorer(
    metrics={
        "pass": [mean(), stderr()],
        "score": [mean(), stderr()],
        "*": [mean()],
    }
)
def quinebox_scorer(
    generations: int = 50,
    sequence: str = "fibonacci",
    sandbox: str = "auto",
    max_concurrent: int | None = None,
    language: str = "auto",
) -> InspectScorer:
    """Score a completion by verifying the quine chain it contains.

    Args:
        generations: N, the ``--next`` steps (at least 1); programs P0..PN are run.
        sequence: ``fibonacci``, ``lucas`` or two seeds ``"a,b"``.
        sandbox: ``auto``, ``bwrap``, ``docker`` or ``none`` (unisolated).
        max_concurrent: verifications running at once; None means the number of CPUs.
        language: ``auto`` (the block's fence tag, then its content) or a language's name.

    Raises:
        UsageError: a setting cannot be used (checked here, before any sample is scored).
    """
    check_generations(generations)
    if max_concurrent is not None and max_concurrent < 1:
        raise UsageError(f"max_concurrent must be 1 or more, got {max_concurrent}")
    parse_sequence(sequence)
    asked = "auto" if language.strip().lower() == "auto" else resolve_language(language, b"")
    slots = max_concurrent or os.cpu_count() or 1
    config = config_of({"generations": generations, "sequence": sequence, "sandbox": sandbox, "language": asked})

    async def score(state: TaskState, target: Target) -> Score:
        completion = state.output.completion
        extraction = extract_program(completion)
        if extraction.program is None:
            return _no_program(extraction.reason, config, empty=not completion.strip())
        spoken = extraction.language if asked == "auto" else asked
        if not is_judged(spoken):
            report = replace(not_judged_report(extraction.language, config), extraction=extraction_info(extraction))
            return Score.unscored(
                reason="not_judged",
                answer=extraction.program,
                explanation=f"not judged: {report.not_judged}",
                metadata=report.to_dict(),
            )
        started = time.perf_counter()
        try:
            async with concurrency("quinebox", slots):
                report = await averify(
                    extraction.program, generations=generations, sequence=sequence, sandbox=sandbox, language=spoken
                )
        except InfraError as exc:
            logger.warning("quinebox: sample %s not scored, the sandbox failed: %s", state.sample_id, exc)
            failed = error_report(str(exc), config, (time.perf_counter() - started) * 1000)
            return Score.unscored(
                reason="scoring_failed",
                answer=extraction.program,
                explanation=f"error: not scored, the sandbox failed: {exc}",
                metadata=failed.to_dict(),
            )
        note = f"program extracted from the response ({extraction.rule})"
        report = replace(report, extraction=extraction_info(extraction), notes=[*report.notes, note])
        return Score(
            value=_value(report),
            answer=extraction.program,
            explanation=_explain(report),
            metadata=report.to_dict(),
        )

    return score


def _value(report: Report) -> dict[str, float]:
    """1.0 or 0.0 per check, in the stable order, then ``pass`` and ``score``; a check not run counts 0.0."""
    passed = {check.name: check.passed for check in report.checks}
    value = {name: 1.0 if passed.get(name, False) else 0.0 for name in CHECKS}
    value["pass"] = 1.0 if report.passed else 0.0
    value["score"] = report.score if report.score is not None else 0.0
    return value


def _explain(report: Report) -> str:
    """The verdict, then the failure to read first, e.g. ``fail: sequence at generation 2: expected 1, printed 3``."""
    failure = report.failure
    if failure is None:
        steps = report.config.get("generations")
        return (
            f"{report.verdict.value}: every check passed over {steps} generations ({len(report.generations)} programs)"
        )
    where = "" if failure.generation is None else f" at generation {failure.generation}"
    return f"{report.verdict.value}: {failure.check}{where}: {failure.reason}"


def _no_program(reason: str, config: dict[str, Any], *, empty: bool) -> Score:
    """The model's failure to give a program: every key 0.0, the failure is the ``extract`` check."""
    report = no_program_report(reason, config)
    return Score(
        value=_value(report),
        answer=None,
        explanation=f"fail: {reason}",
        reason="no_response" if empty else "invalid_response_format",
        metadata=report.to_dict(),
    )
