"""The Inspect scorer, in real evals on Inspect's mock model: the CLI as users run it, and eval() in-process.

No test here reaches the network: the CLI runs inside a fresh network namespace where one can be made,
and every mock reply sets its own token usage (the mock model's own counter would download a tokenizer).
"""

from __future__ import annotations

import gc
import importlib.util
import math
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytest.importorskip("inspect_ai")

from inspect_ai import Task, eval  # noqa: E402
from inspect_ai.dataset import Sample  # noqa: E402
from inspect_ai.log import EvalLog, read_eval_log  # noqa: E402
from inspect_ai.model import ModelOutput, ModelUsage, get_model  # noqa: E402
from inspect_ai.solver import generate  # noqa: E402

import quinebox  # noqa: E402
from quinebox.errors import BackendUnavailable, InfraError, UsageError  # noqa: E402
from quinebox.integrations import inspect as scorer_module  # noqa: E402
from quinebox.integrations.inspect import quinebox_scorer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHECK_NAMES = ["runs", "output", "sequence", "self-similarity", "integrity", "linear-time", "determinism"]
GENERATIONS = 10

# inspect_ai's own warnings, not ours to fix: it passes tenacity a deprecated argument, and an
# in-process eval leaves anyio streams for the garbage collector (collected in _eval_in_process).
pytestmark = [
    pytest.mark.filterwarnings("ignore:The 'initial' parameter is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Unclosed <MemoryObjectReceiveStream:ResourceWarning"),
]


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("quinebox_inspect_example", ROOT / "examples" / "inspect_task.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = _load_example()


# -- helpers ---------------------------------------------------------------------------------


def _offline() -> list[str]:
    """A prefix that runs a command with no network at all, where this machine lets us make one."""
    try:
        made = subprocess.run(["unshare", "--net", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        made = False
    return ["unshare", "--net"] if made else []


def _inspect(*args: str, log_dir: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """The inspect command, as its console script runs it: -P keeps the working directory off sys.path.

    (From the root of an editable checkout, the quinebox.egg-info there would hide the install
    record that Inspect reads to namespace the scorer as quinebox/quinebox_scorer.)
    """
    env = {
        **os.environ,
        "INSPECT_LOG_DIR": str(log_dir),
        "INSPECT_CACHE_DIR": str(log_dir / "cache"),
        "INSPECT_DISPLAY": "none",
    }
    return subprocess.run(
        [*_offline(), sys.executable, "-P", "-m", "inspect_ai", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _only_log(log_dir: Path) -> EvalLog:
    logs = sorted(log_dir.glob("*.eval"))
    assert len(logs) == 1, logs
    return read_eval_log(str(logs[0]))


def _means(log: EvalLog) -> dict[str, float]:
    """The mean of each key of the scorer's value, as the eval's results report it."""
    assert log.results is not None
    return {score.name: score.metrics["mean"].value for score in log.results.scores}


def _reply(text: str) -> ModelOutput:
    output = ModelOutput.from_content(model="mockllm/model", content=text)
    output.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    return output


def _mock(replies: dict[str, str]) -> Any:
    """mockllm/model answering each prompt with its reply."""

    def answer(messages: Any, tools: Any, choice: Any, config: Any) -> ModelOutput:
        return _reply(replies[messages[-1].text])

    return get_model("mockllm/model", custom_outputs=answer)


def _eval_in_process(task: Task, replies: dict[str, str], log_dir: Path) -> EvalLog:
    [log] = eval(task, model=_mock(replies), log_dir=str(log_dir), display="none")
    gc.collect()
    return log


# -- the example task through the real CLI -----------------------------------------------------


@pytest.fixture(scope="module")
def demo_log(tmp_path_factory: pytest.TempPathFactory) -> tuple[EvalLog, Path]:
    log_dir = tmp_path_factory.mktemp("inspect-logs")
    result = _inspect(
        "eval",
        "examples/inspect_task.py",
        "--model",
        "mockllm/model",
        "-T",
        "demo=true",
        "-T",
        f"generations={GENERATIONS}",
        "-T",
        "sandbox=bwrap",
        log_dir=log_dir,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return _only_log(log_dir), log_dir


@pytest.mark.needs_bwrap
@pytest.mark.slow
def test_cli_eval_of_the_example_reports_every_check_as_a_metric(demo_log: tuple[EvalLog, Path]) -> None:
    log, _ = demo_log
    assert log.status == "success"
    assert log.eval.model == "mockllm/model"
    assert log.results is not None
    assert [score.name for score in log.results.scores] == ["pass", "score", *CHECK_NAMES]
    assert all(score.scored_samples == 3 and score.unscored_samples == 0 for score in log.results.scores)
    skipped_at = (2 - 1) / GENERATIONS  # the chain that skips terms fails the sequence check at generation 2
    assert _means(log) == pytest.approx(
        {
            "pass": 1 / 3,
            "score": (1 + skipped_at + 0) / 3,
            "runs": 2 / 3,
            "output": 2 / 3,
            "sequence": 1 / 3,
            "self-similarity": 2 / 3,
            "integrity": 2 / 3,
            "linear-time": 2 / 3,
            "determinism": 2 / 3,
        },
        abs=1e-5,
    )
    assert set(log.results.scores[0].metrics) == {"mean", "stderr"}


@pytest.mark.needs_bwrap
@pytest.mark.slow
def test_each_sample_carries_answer_explanation_and_report(demo_log: tuple[EvalLog, Path]) -> None:
    log, _ = demo_log
    assert log.samples is not None
    scores = {sample.id: sample.scores["quinebox_scorer"] for sample in log.samples if sample.scores}
    assert set(scores) == {"canonical", "python3", "explain"}

    good = scores["canonical"]
    assert good.value == {**dict.fromkeys(CHECK_NAMES, 1.0), "pass": 1.0, "score": 1.0}
    assert good.answer is not None and good.answer.startswith("import sys\n") and "```" not in good.answer
    assert good.explanation == f"pass: every check passed over {GENERATIONS} generations ({GENERATIONS + 1} programs)"
    assert good.metadata is not None
    report = quinebox.Report.from_dict(good.metadata)
    assert report.passed and report.backend is not None and report.backend.name == "bwrap"
    assert "program extracted from the response (answer-block)" in report.notes

    wrong = scores["python3"]
    assert isinstance(wrong.value, dict)
    assert wrong.value["sequence"] == 0.0 and wrong.value["pass"] == 0.0 and wrong.value["runs"] == 1.0
    assert wrong.explanation == "fail: sequence at generation 2: expected 1, printed 3"
    assert wrong.metadata is not None and wrong.metadata["failure"]["check"] == "sequence"

    prose = scores["explain"]
    assert prose.value == {**dict.fromkeys(CHECK_NAMES, 0.0), "pass": 0.0, "score": 0.0}
    assert prose.answer is None
    assert prose.explanation == "fail: no program in this response"
    assert prose.reason == "invalid_response_format"
    assert prose.metadata is not None and prose.metadata["failure"]["check"] == "extract"


@pytest.mark.needs_bwrap
@pytest.mark.slow
def test_inspect_score_finds_the_scorer_by_its_registry_name(demo_log: tuple[EvalLog, Path]) -> None:
    _, log_dir = demo_log
    [stored] = sorted(log_dir.glob("*.eval"))
    rescored = log_dir / "rescored" / "log.eval"
    rescored.parent.mkdir()
    result = _inspect(
        "score",
        str(stored),
        "--scorer",
        "quinebox/quinebox_scorer",
        "-S",
        "generations=5",
        "-S",
        "sandbox=bwrap",
        "--action",
        "overwrite",
        "--output-file",
        str(rescored),
        log_dir=log_dir / "rescored",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    log = read_eval_log(str(rescored))
    assert log.status == "success"
    assert _means(log)["pass"] == pytest.approx(1 / 3)
    assert _means(log)["score"] == pytest.approx((1 + (2 - 1) / 5 + 0) / 3, abs=1e-5)


def test_the_entry_point_registers_the_scorer_under_the_quinebox_namespace() -> None:
    assert {ep.value for ep in entry_points(group="inspect_ai") if ep.name == "quinebox"} == {
        "quinebox.integrations.inspect"
    }
    # a fresh interpreter: the lookup itself must load the module, through the entry point
    probe = (
        "import sys\n"
        "from inspect_ai._util.registry import registry_lookup\n"
        "found = registry_lookup('scorer', 'quinebox/quinebox_scorer')\n"
        "from quinebox.integrations.inspect import quinebox_scorer\n"
        "print(found is quinebox_scorer)\n"
    )
    result = subprocess.run([sys.executable, "-P", "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "True", result.stderr


# -- infrastructure errors are unscored, in-process --------------------------------------------


@pytest.mark.needs_bwrap
def test_infra_error_leaves_the_sample_unscored_not_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_averify = scorer_module.averify
    broken = example.CORRECT.replace("a, b = 0, 1", "a, b = 1, 2")

    async def flaky_averify(program: str, **options: Any) -> quinebox.Report:
        if "a, b = 1, 2" in program:
            raise InfraError("supervisor vanished between runs")
        return await real_averify(program, **options)

    monkeypatch.setattr(scorer_module, "averify", flaky_averify)
    prompts = {"good": "one", "wrong": "two", "broken": "three", "empty": "four"}
    replies = {"one": example.CORRECT, "two": example.SKIPS_TERMS, "three": broken, "four": "  \n"}
    task = Task(
        dataset=[Sample(id=key, input=prompt) for key, prompt in prompts.items()],
        solver=generate(),
        scorer=quinebox_scorer(generations=GENERATIONS, sandbox="bwrap"),
    )
    log = _eval_in_process(task, replies, tmp_path)

    assert log.status == "success", log.error
    assert log.results is not None
    assert all(score.scored_samples == 3 and score.unscored_samples == 1 for score in log.results.scores)
    assert _means(log)["pass"] == pytest.approx(1 / 3)  # good / (good, wrong, empty): the broken run is not counted
    assert log.samples is not None
    scores = {sample.id: sample.scores["quinebox_scorer"] for sample in log.samples if sample.scores}
    unscored = scores["broken"]
    assert isinstance(unscored.value, float) and math.isnan(unscored.value)
    assert unscored.reason == "scoring_failed"
    assert unscored.explanation == "error: not scored, the sandbox failed: supervisor vanished between runs"
    assert unscored.answer is not None and "a, b = 1, 2" in unscored.answer
    assert unscored.metadata is not None
    assert unscored.metadata["verdict"] == "error" and unscored.metadata["error"] == "supervisor vanished between runs"
    assert scores["empty"].reason == "no_response"
    assert scores["empty"].explanation == "fail: no program in this response"


def test_a_missing_sandbox_leaves_every_sample_unscored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-path"))  # no bwrap to be found: BackendUnavailable
    task = Task(
        dataset=[Sample(id="good", input="one")],
        solver=generate(),
        scorer=quinebox_scorer(generations=GENERATIONS, sandbox="bwrap"),
    )
    log = _eval_in_process(task, {"one": example.CORRECT}, tmp_path)

    assert log.status == "success"
    assert log.results is not None
    assert all(score.scored_samples == 0 and score.unscored_samples == 1 for score in log.results.scores)
    assert all(math.isnan(score.metrics["mean"].value) for score in log.results.scores)  # not 0: nothing was judged
    assert log.samples is not None and log.samples[0].scores is not None
    score = log.samples[0].scores["quinebox_scorer"]
    assert score.reason == "scoring_failed"
    with pytest.raises(BackendUnavailable) as missing:
        quinebox.verify(quinebox.extract_program(example.CORRECT).program or "", sandbox="bwrap")
    assert score.explanation == f"error: not scored, the sandbox failed: {missing.value}"


# -- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{"sequence": "fibonnaci"}, {"generations": -1}, {"generations": 0}, {"max_concurrent": 0}],
)
def test_impossible_settings_fail_when_the_scorer_is_made(options: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        quinebox_scorer(**options)


HASKELL_ANSWER = """Here it is in Haskell:

```haskell
main :: IO ()
main = print 0
```
"""


def test_a_language_not_judged_is_unscored_naming_it(tmp_path: Path) -> None:
    task = Task(
        dataset=[Sample(id="hs", input="one"), Sample(id="prose", input="two")],
        solver=generate(),
        scorer=quinebox_scorer(generations=GENERATIONS, sandbox="none"),
    )
    log = _eval_in_process(task, {"one": HASKELL_ANSWER, "two": "I cannot."}, tmp_path)
    assert log.status == "success", log.error
    assert log.results is not None
    assert all(score.scored_samples == 1 and score.unscored_samples == 1 for score in log.results.scores)
    assert log.samples is not None
    scores = {sample.id: sample.scores["quinebox_scorer"] for sample in log.samples if sample.scores}
    hs = scores["hs"]
    assert isinstance(hs.value, float) and math.isnan(hs.value)
    assert hs.reason == "not_judged"
    assert hs.explanation is not None and "haskell" in hs.explanation
    assert hs.metadata is not None and hs.metadata["verdict"] == "not_judged" and hs.metadata["score"] is None
