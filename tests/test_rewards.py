"""The reward adapters, called exactly as TRL, verl and OpenRLHF call them, on the real bwrap sandbox.

None of the three frameworks installs here without torch, so each is exercised through the call its
own source makes: TRL's keyword call with its extras, verl's naive and batch managers' keyword calls
after loading the function from a file path, OpenRLHF's positional call in a worker thread after
loading ``reward_func`` from a file path.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import quinebox
from quinebox.api import verify_response
from quinebox.checks import CHECKS
from quinebox.integrations import rewards
from quinebox.integrations._grader import default_grader

ROOT = Path(__file__).resolve().parent.parent
GOOD = (ROOT / "fixtures" / "good" / "percent_r.py").read_text()
EXEC = (ROOT / "fixtures" / "good" / "exec_payload.py").read_text()
OFF_BY_ONE = (ROOT / "fixtures" / "bad" / "off_by_one.py").read_text()

N = 6
OPTIONS: dict[str, Any] = {"generations": N, "sandbox": "bwrap"}
RESPONSES = [
    f"Here it is:\n\n```python\n{GOOD}```\n",
    f"~~~\n{EXEC}~~~\n",
    "Sorry, I cannot write that.",
    f"```py\n{OFF_BY_ONE}```",
    f"```python\n{GOOD[:150]}",
]


def expected() -> list[quinebox.Report]:
    return [verify_response(text, generations=N, sandbox="bwrap") for text in RESPONSES]


def load_by_path(name: str) -> ModuleType:
    """Load rewards.py from its file, as verl's load_extern_object and OpenRLHF's --remote_rm_url do."""
    spec = importlib.util.spec_from_file_location(name, rewards.__file__)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def no_bwrap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, Any]:
    """A real infrastructure failure: bwrap cannot be found. A fresh option set, so no warm lane hides it."""
    monkeypatch.setenv("PATH", str(tmp_path))
    return {"generations": 3, "sandbox": "bwrap"}


@pytest.mark.needs_bwrap
def test_trl_rewards_match_verify_for_strings_and_message_lists() -> None:
    want = [1.0 if report.passed else 0.0 for report in expected()]
    assert want == [1.0, 1.0, 0.0, 0.0, 0.0]
    logged: list[tuple[str, float]] = []
    extras = {
        "completion_ids": [[1, 2]] * len(RESPONSES),
        "trainer_state": object(),
        "log_extra": lambda *a: None,
        "log_metric": lambda name, value: logged.append((name, value)),
        "answer": ["x"] * len(RESPONSES),  # a dataset column
    }
    prompts = ["Write the program."] * len(RESPONSES)
    assert rewards.trl_reward(prompts=prompts, completions=RESPONSES, **extras, **OPTIONS) == want
    conversational = [[{"role": "assistant", "content": text}] for text in RESPONSES]
    chat_prompts = [[{"role": "user", "content": p}] for p in prompts]
    assert rewards.trl_reward(prompts=chat_prompts, completions=conversational, **extras, **OPTIONS) == want
    assert logged == [("quinebox/unscored", 0.0)] * 2


@pytest.mark.needs_bwrap
def test_trl_async_and_factory_rewards_run_under_gather() -> None:
    fixed = rewards.make_trl_reward(asynchronous=True, reward="partial", **OPTIONS)
    assert fixed.__name__ == "quinebox"  # TRL logs the reward under the function's name

    async def as_trl_does() -> list[list[float | None]]:
        kwargs = {"prompts": ["p"] * 3, "completions": RESPONSES[:3], "completion_ids": [[1]] * 3}
        return list(await asyncio.gather(rewards.atrl_reward(**kwargs, **OPTIONS), fixed(**kwargs)))  # type: ignore[misc]

    passed, scored = asyncio.run(as_trl_does())
    assert passed == [1.0, 1.0, 0.0]
    assert scored == [report.reward("partial") for report in expected()[:3]]


@pytest.mark.needs_bwrap
def test_verl_naive_and_batch_managers_get_the_verdicts_with_the_same_keys() -> None:
    module = load_by_path("custom_module")
    want = expected()
    keys = {"score", "pass", "quinebox_score", "infra_error", "not_judged", *CHECKS}
    for text, report in zip(RESPONSES, want, strict=True):
        result = module.compute_score(
            data_source="quine", solution_str=text, ground_truth=None, extra_info={"index": 0}, **OPTIONS
        )
        assert set(result) == keys
        assert result["score"] == result["pass"] == (1.0 if report.passed else 0.0)
        assert result["quinebox_score"] == report.score and result["infra_error"] == result["not_judged"] == 0.0
        for check in report.checks:
            assert result[check.name] == (1.0 if check.passed else 0.0)
    batch = module.compute_score_batch(
        data_sources=["quine"] * len(RESPONSES),
        solution_strs=RESPONSES,
        ground_truths=[None] * len(RESPONSES),
        extra_infos=[{"rollout_reward_scores": {}}] * len(RESPONSES),
        **OPTIONS,
    )
    assert [row["score"] for row in batch] == [1.0 if report.passed else 0.0 for report in want]
    assert all(set(row) == keys for row in batch)


@pytest.mark.needs_bwrap
def test_openrlhf_reward_func_strips_the_prompt_and_special_tokens() -> None:
    module = load_by_path("reward_func")
    prompt = "<|im_start|>user\nWrite it, e.g.\n```python\nprint(0)\n```<|im_end|>\n<|im_start|>assistant\n"
    want = expected()

    async def as_openrlhf_does(text: str) -> dict[str, Any]:
        result: dict[str, Any] = await asyncio.to_thread(
            module.reward_func, [prompt + text + "<|im_end|>"], [prompt], [None]
        )
        return result

    for text, report in zip(RESPONSES, want, strict=True):
        result = asyncio.run(as_openrlhf_does(text))
        assert set(result) == {"rewards", "scores", "extra_logs"}
        assert result["rewards"] == result["scores"] == [1.0 if report.passed else 0.0]
        assert set(result["extra_logs"]) == {*CHECKS, "pass"}


@pytest.mark.needs_bwrap
def test_lanes_stay_warm_and_calls_from_many_threads_get_their_own_answers() -> None:
    grader = default_grader(N, "fibonacci", "bwrap")
    results: dict[int, list[float | None]] = {}

    def call(i: int) -> None:
        order = RESPONSES[i % len(RESPONSES) :] + RESPONSES[: i % len(RESPONSES)]
        results[i] = rewards.trl_reward(prompts=[""] * len(order), completions=order, **OPTIONS)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    base = [1.0, 1.0, 0.0, 0.0, 0.0]
    for i, got in results.items():
        assert got == base[i % 5 :] + base[: i % 5]
    assert default_grader(N, "fibonacci", "bwrap") is grader  # one grader per process and options
    assert 1 <= len(grader._free) <= grader.options.max_lanes  # lanes came back warm, no more than the cap


def test_an_infrastructure_error_is_each_framework_s_unscored(no_bwrap: dict[str, Any]) -> None:
    assert rewards.trl_reward(prompts=["p", "p"], completions=RESPONSES[:2], **no_bwrap) == [None, None]
    with pytest.raises(quinebox.InfraError):
        rewards.compute_score("quine", RESPONSES[0], None, None, **no_bwrap)
    zero = rewards.compute_score("quine", RESPONSES[0], None, None, on_infra_error="zero", **no_bwrap)
    assert zero["score"] == 0.0 and zero["infra_error"] == 1.0
    with pytest.raises(quinebox.InfraError):
        rewards.reward_func([RESPONSES[0]], [""], [None], **no_bwrap)


def test_bad_options_are_usage_errors() -> None:
    with pytest.raises(quinebox.UsageError):
        rewards.make_trl_reward(reward="score")  # type: ignore[arg-type]
    with pytest.raises(quinebox.UsageError):
        rewards.compute_score_batch(["q"], ["x"], [None], on_infra_error="ignore")
    with pytest.raises(quinebox.UsageError):
        rewards.trl_reward(["p"], [42])


@given(st.text())
def test_completion_text_takes_strings_and_assistant_messages(text: str) -> None:
    assert rewards.completion_text(text) == text
    assert rewards.completion_text([{"role": "assistant", "content": text}]) == text
    parts = [{"type": "text", "text": text}, {"type": "image"}]
    assert rewards.completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": parts}]) == text
