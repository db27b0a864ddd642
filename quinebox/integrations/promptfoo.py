"""A promptfoo Python assertion: the program in the model's output, verified in quinebox's sandbox.

    # promptfooconfig.yaml
    defaultTest:
      assert:
        - type: python
          value: file:///path/to/quinebox/integrations/promptfoo.py

(``python -c "import quinebox.integrations.promptfoo as m; print(m.__file__)"`` prints the
path.) promptfoo calls ``get_assert(output, context)``, which returns a GradingResult:
``pass`` and ``score`` for the verdict (1.0 or 0.0; ``config.reward: partial`` in the
assertion's config gives partial credit instead), a ``reason``, one ``componentResults``
entry per check, and ``namedScores`` with each check, ``pass`` and ``score``.

The test's vars (``context["vars"]``) may set ``generations`` (default 20) and
``sequence`` (default fibonacci); so may the assertion's ``config``. An infrastructure error
raises `quinebox.InfraError`, which promptfoo records as an error of the test, not a failure
of the model; so does a ``not_judged`` program (`NotJudged`), which is no failure either.
"""

from __future__ import annotations

from typing import Any

from quinebox.checks import CHECKS
from quinebox.integrations._grader import DEFAULT_GENERATIONS, check_values, default_grader
from quinebox.integrations.rewards import NotJudged
from quinebox.report.model import Report

__all__ = ["get_assert", "grading_result"]


def get_assert(output: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """The entry point promptfoo calls: verify the program in `output` and grade it.

    Raises:
        InfraError: the sandbox failed twice.
        NotJudged: the program is in a language quinebox does not judge yet.
    """
    context = context or {}
    settings = {**(context.get("vars") or {}), **(context.get("config") or {})}
    grader = default_grader(
        int(settings.get("generations", DEFAULT_GENERATIONS)),
        "fibonacci",
        str(settings.get("sandbox", "auto")),
    )
    report = grader.verify(str(output), sequence=str(settings.get("sequence", "fibonacci")))
    return grading_result(report, str(settings.get("reward", "binary")))


def grading_result(report: Report, reward: str = "binary") -> dict[str, Any]:
    """A report as a promptfoo GradingResult.

    Raises:
        NotJudged: the report did not judge the candidate.
    """
    score = report.reward(reward)
    if score is None:
        raise NotJudged(report.not_judged or report.error or f"verdict {report.verdict.value}: not judged")
    outcomes = {check.name: check for check in report.checks}
    components = []
    for name in CHECKS:
        outcome = outcomes.get(name)
        passed = outcome is not None and outcome.passed
        reason = outcome.reason if outcome is not None else "not run: " + _failure_text(report)
        components.append(
            {"pass": passed, "score": 1.0 if passed else 0.0, "reason": f"{name}: {reason}", "assertion": None}
        )
    return {
        "pass": report.passed,
        "score": score,
        "reason": _failure_text(report),
        "componentResults": components,
        "namedScores": check_values(report),
    }


def _failure_text(report: Report) -> str:
    failure = report.failure
    if failure is None:
        return f"pass: every check passed over {len(report.generations)} programs"
    where = "" if failure.generation is None else f" at generation {failure.generation}"
    return f"fail: {failure.check}{where}: {failure.reason}"
