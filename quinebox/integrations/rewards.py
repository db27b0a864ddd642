"""Reward functions for RL trainers: TRL, verl and OpenRLHF, with no dependency on any of them.

Each function takes its framework's own arguments, finds the program in each completion,
verifies it with a bounded number of generations (20 unless told otherwise) on warm
sandbox lanes kept per process (`quinebox.integrations._grader`), and returns the
framework's own shape. The reward is `Report.reward`: with ``reward="binary"`` (the
default) 1.0 for a verdict ``pass`` and 0.0 for ``fail``; with ``reward="partial"`` the
report's score, partial credit for the ``--next`` steps proven before the first failure.
A completion with no program is a failure, rewarded 0.0.

A verdict that does not judge the candidate gets no reward, never a 0.0: an
infrastructure error (the sandbox failed twice, on two lane pairs), and ``not_judged``
(a program in a language quinebox does not judge yet). Each comes back as the
framework's own "unscored":


- **TRL** (``GRPOTrainer(reward_funcs=[trl_reward])``): ``None`` for that completion.
  TRL turns it into NaN and leaves it out of the reward sum; a row where every reward
  function returned None is logged by TRL as unscorable. ``atrl_reward`` is the async
  variant, which TRL runs concurrently with its other async reward functions.
- **verl** (``custom_reward_function.path`` to this file, ``name: compute_score``, or
  ``compute_score_batch`` with ``reward_manager: batch``): verl has no "unscored", so the
  choice is the caller's, by ``reward_kwargs``: ``on_infra_error="raise"`` (the default)
  raises `InfraError` and stops the step, because a zero would silently teach the policy
  that a correct program is wrong; ``on_infra_error="zero"`` scores 0.0 and sets
  ``infra_error`` to 1.0, so the rate can be watched in verl's reward metrics. A
  ``not_judged`` row always scores 0.0 with ``not_judged`` set to 1.0 (raising would stop
  training for one answer in another language).
- **OpenRLHF** (``--remote_rm_url`` to this file): `reward_func` raises (`InfraError`, or
  `NotJudged`); OpenRLHF catches the exception and keeps the sample with no reward, its own
  way of leaving a sample unscored.

The options (``generations``, ``sequence``, ``sandbox``, ``reward``) can be given per call
as keyword arguments (verl's ``reward_kwargs`` arrive that way), or fixed once with
`make_trl_reward`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from quinebox.checks import CHECKS
from quinebox.errors import InfraError, QuineboxError, UsageError
from quinebox.integrations._grader import DEFAULT_GENERATIONS, Grader, check_values, default_grader
from quinebox.report.build import no_program_report
from quinebox.report.model import Report, Verdict

__all__ = [
    "atrl_reward",
    "compute_score",
    "compute_score_batch",
    "make_trl_reward",
    "openrlhf_rewards",
    "NotJudged",
    "reward_func",
    "trl_reward",
]

RewardKind = Literal["binary", "partial"]
TrlReward = Callable[..., list[float | None]]
AsyncTrlReward = Callable[..., Coroutine[Any, Any, list[float | None]]]

# Trailing special tokens that OpenRLHF's query keeps (it decodes with skip_special_tokens=False).
_END_TOKENS = re.compile(r"(?:\s*(?:<\|[A-Za-z0-9_]{1,40}\|>|</s>|<eos>))+\s*\Z")


class NotJudged(QuineboxError):
    """The program is in a language quinebox does not judge yet: no reward, never a zero."""


def make_trl_reward(
    *,
    generations: int = DEFAULT_GENERATIONS,
    sequence: str = "fibonacci",
    sandbox: str = "auto",
    reward: RewardKind = "binary",
    asynchronous: bool = False,
) -> TrlReward | AsyncTrlReward:
    """A TRL reward function with fixed options; its ``__name__`` (TRL's log name) is ``quinebox``.

    Raises:
        UsageError: an option cannot be used (checked here, before training starts).
    """
    _reward_kind(reward)
    grader = default_grader(generations, sequence, sandbox)

    def quinebox(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        return _trl_rewards(grader, completions, reward, kwargs)

    async def quinebox_async(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
        return await asyncio.to_thread(_trl_rewards, grader, completions, reward, kwargs)

    if asynchronous:
        quinebox_async.__name__ = quinebox_async.__qualname__ = "quinebox"
        return quinebox_async
    return quinebox


def trl_reward(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
    """TRL GRPOTrainer reward: one float per completion, None where the sandbox failed.

    Args:
        prompts: the prompts (unused: the program is in the completion).
        completions: strings, or message lists (``[{"role": "assistant", "content": ...}]``).
        **kwargs: TRL's extras (``completion_ids``, ``trainer_state``, ``log_metric``, dataset
            columns) are accepted; ``generations``, ``sequence``, ``sandbox`` and ``reward``
            set the options.
    """
    grader = _grader_from(kwargs)
    return _trl_rewards(grader, completions, _reward_kind(kwargs.get("reward", "binary")), kwargs)


async def atrl_reward(prompts: list[Any], completions: list[Any], **kwargs: Any) -> list[float | None]:
    """`trl_reward` for TRL's async path: the verifications run in worker threads."""
    return await asyncio.to_thread(trl_reward, prompts, completions, **kwargs)


def compute_score(
    data_source: Any,
    solution_str: str,
    ground_truth: Any,
    extra_info: Any = None,
    **kwargs: Any,
) -> dict[str, float]:
    """The verl reward (naive manager): ``score``, plus ``pass``, ``quinebox_score``, each check and ``infra_error``.

    Args:
        data_source: the dataset name (unused).
        solution_str: the decoded response.
        ground_truth: unused: the sequence is the task.
        extra_info: unused.
        **kwargs: ``generations``, ``sequence``, ``sandbox``, ``reward``,
            ``on_infra_error`` (``"raise"`` or ``"zero"``); others are ignored.

    Raises:
        InfraError: the sandbox failed and ``on_infra_error`` is ``"raise"``.
    """
    return compute_score_batch([data_source], [solution_str], [ground_truth], [extra_info], **kwargs)[0]


def compute_score_batch(
    data_sources: Sequence[Any],
    solution_strs: Sequence[str],
    ground_truths: Sequence[Any],
    extra_infos: Sequence[Any] | None = None,
    **kwargs: Any,
) -> list[dict[str, float]]:
    """The form verl's batch reward manager calls: one `compute_score` dict per response, in parallel.

    Every dict has the same keys, as verl's ``reward_extra_info`` needs.
    """
    on_infra_error = kwargs.get("on_infra_error", "raise")
    if on_infra_error not in ("raise", "zero"):
        raise UsageError(f"on_infra_error must be 'raise' or 'zero', got {on_infra_error!r}")
    kind = _reward_kind(kwargs.get("reward", "binary"))
    outcomes = _verify_all(_grader_from(kwargs), [str(text) for text in solution_strs])
    results: list[dict[str, float]] = []
    for outcome in outcomes:
        if isinstance(outcome, InfraError) and on_infra_error == "raise":
            raise outcome
        report = None if isinstance(outcome, InfraError) else outcome
        reward = None if report is None else report.reward(kind)
        results.append({"score": 0.0 if reward is None else reward, **_verl_values(report)})
    return results


def reward_func(queries: list[str], prompts: list[str], labels: list[Any], **kwargs: Any) -> dict[str, Any]:
    """OpenRLHF reward (``--remote_rm_url`` to this file): ``{"rewards", "scores", "extra_logs"}``.

    Args:
        queries: prompt and response, decoded together.
        prompts: the prompts, stripped off the front of each query to leave the response.
        labels: unused: the sequence is the task.
        **kwargs: ``generations``, ``sequence``, ``sandbox``, ``reward``.

    Raises:
        InfraError: the sandbox failed; OpenRLHF keeps the sample without a reward.
    """
    return openrlhf_rewards(_grader_from(kwargs), queries, prompts, _reward_kind(kwargs.get("reward", "binary")))


def openrlhf_rewards(grader: Grader, queries: list[str], prompts: list[str], kind: RewardKind) -> dict[str, Any]:
    """`reward_func` on a given grader (the service's /get_reward uses it too).

    Raises:
        InfraError: the sandbox failed for some query.
        NotJudged: some query's program is in a language quinebox does not judge.
    """
    responses = [_response_of(query, prompt) for query, prompt in zip(queries, prompts, strict=True)]
    reports: list[Report] = []
    for outcome in _verify_all(grader, responses):
        if isinstance(outcome, InfraError):
            raise outcome
        reports.append(outcome)
    rewards = [_judged_reward(report, kind) for report in reports]
    logs = [check_values(report) for report in reports]
    extra_logs = {name: [values[name] for values in logs] for name in (*CHECKS, "pass")}
    return {"rewards": rewards, "scores": rewards, "extra_logs": extra_logs}


def completion_text(completion: Any) -> str:
    """A TRL completion as text: a string as is, a message list as its assistant messages' text."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if not isinstance(completion, list):
        raise UsageError(f"a completion must be a string or a list of messages, got {type(completion).__name__}")
    parts = [_content_text(m.get("content")) for m in completion if isinstance(m, dict) and _is_reply(m)]
    return "\n".join(part for part in parts if part)


def _is_reply(message: dict[str, Any]) -> bool:
    return bool(message.get("role", "assistant") == "assistant")


def _content_text(content: Any) -> str:
    """Message content as text: a string, or the text parts of a multimodal list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _response_of(query: str, prompt: str) -> str:
    """The response part of an OpenRLHF query: after the prompt, without trailing special tokens."""
    at = query.rfind(prompt) if prompt else -1
    response = query[at + len(prompt) :] if at >= 0 else query
    return _END_TOKENS.sub("\n", response)


def _trl_rewards(
    grader: Grader, completions: list[Any], kind: RewardKind, kwargs: dict[str, Any]
) -> list[float | None]:
    outcomes = _verify_all(grader, [completion_text(c) for c in completions])
    rewards = [None if isinstance(o, InfraError) else o.reward(kind) for o in outcomes]
    log_metric = kwargs.get("log_metric")
    if callable(log_metric):  # TRL passes its metric logger; the rate of unscored completions is worth watching
        log_metric("quinebox/unscored", sum(r is None for r in rewards) / max(1, len(rewards)))
    return rewards


def _verify_all(grader: Grader, texts: list[str]) -> list[Report | InfraError]:
    """Every response verified, as many at once as the grader has lanes; an infra error is kept per item."""

    def one(text: str) -> Report | InfraError:
        try:
            return grader.verify(text)
        except InfraError as exc:
            return exc
        except UsageError as exc:  # a program quinebox cannot take (too large) is the completion's failure
            return no_program_report(str(exc), {"generations": grader.options.generations})

    if len(texts) <= 1:
        return [one(text) for text in texts]
    with ThreadPoolExecutor(max_workers=min(len(texts), grader.options.max_lanes)) as pool:
        return list(pool.map(one, texts))


def _grader_from(kwargs: dict[str, Any]) -> Grader:
    return default_grader(
        int(kwargs.get("generations", DEFAULT_GENERATIONS)),
        str(kwargs.get("sequence", "fibonacci")),
        str(kwargs.get("sandbox", "auto")),
    )


def _reward_kind(value: Any) -> RewardKind:
    if value == "binary":
        return "binary"
    if value == "partial":
        return "partial"
    raise UsageError(f"reward must be 'binary' or 'partial', got {value!r}")


def _judged_reward(report: Report, kind: RewardKind) -> float:
    reward = report.reward(kind)
    if reward is None:
        raise NotJudged(report.not_judged or f"verdict {report.verdict.value}: not judged")
    return reward


def _verl_values(report: Report | None) -> dict[str, float]:
    """The per-check values verl logs: the same keys for every row, infra errors included."""
    if report is None:
        values = {name: 0.0 for name in CHECKS}
        return {**values, "pass": 0.0, "quinebox_score": 0.0, "infra_error": 1.0, "not_judged": 0.0}
    values = check_values(report)
    score = values.pop("score")
    judged = 0.0 if report.verdict is Verdict.NOT_JUDGED else 1.0
    return {**values, "quinebox_score": score, "infra_error": 0.0, "not_judged": 1.0 - judged}
