"""The lm-evaluation-harness task, run offline by `lm_eval.simple_evaluate` with a canned model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from quinebox.checks import CHECKS

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is not installed: pip install lm-eval")
from lm_eval.api.model import LM  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIB = (ROOT / "fixtures" / "good" / "percent_r.py").read_text()
LUCAS = (ROOT / "fixtures" / "good" / "lucas_dict_format.py").read_text()


class CannedLM(LM):
    """Answers each prompt from a fixed table: a good chain for Fibonacci and Lucas, prose otherwise."""

    def __init__(self) -> None:
        super().__init__()
        self.prompts: list[str] = []

    def generate_until(self, requests: list[Any]) -> list[str]:
        answers = []
        for request in requests:
            prompt = request.args[0]
            self.prompts.append(prompt)
            if "Fibonacci numbers" in prompt:
                answers.append(f"Here it is:\n\n```python\n{FIB}```\n")
            elif "Lucas numbers" in prompt:
                answers.append(f"```python\n{LUCAS}```")
            else:
                answers.append("I cannot do that one.")
        return answers

    def loglikelihood(self, requests: list[Any]) -> list[tuple[float, bool]]:
        raise NotImplementedError

    def loglikelihood_rolling(self, requests: list[Any]) -> list[float]:
        raise NotImplementedError


def test_lm_eval_path_prints_the_task_folder() -> None:
    done = subprocess.run([sys.executable, "-m", "quinebox", "lm-eval-path"], capture_output=True, text=True)
    assert done.returncode == 0
    folder = Path(done.stdout.strip())
    assert {"quinebox.yaml", "prompt.md", "utils.py"} <= {p.name for p in folder.iterdir()}
    metrics = [
        line.split(":", 1)[1].strip()
        for line in (folder / "quinebox.yaml").read_text().splitlines()
        if line.strip().startswith("- metric:")
    ]
    assert metrics == ["pass", "score", *CHECKS]


@pytest.mark.needs_bwrap
@pytest.mark.slow
def test_simple_evaluate_offline_scores_each_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("QUINEBOX_SANDBOX", "bwrap")
    monkeypatch.setenv("QUINEBOX_GENERATIONS", "6")
    from quinebox.integrations.lm_eval import task_path

    model = CannedLM()
    results = lm_eval.simple_evaluate(
        model=model,
        tasks=["quinebox"],
        task_manager=TaskManager(include_path=str(task_path())),
        confirm_run_unsafe_code=True,
        log_samples=True,
    )
    assert results is not None
    scores = results["results"]["quinebox"]
    assert scores["pass,none"] == pytest.approx(2 / 3)
    assert scores["score,none"] == pytest.approx(2 / 3)
    for check in CHECKS:
        assert scores[f"{check},none"] == pytest.approx(2 / 3)
    assert len(model.prompts) == 3 and "```python" in model.prompts[0]
    samples = {s["doc"]["id"]: s for s in results["samples"]["quinebox"]}
    assert samples["seeds-3-4"]["pass"] == 0.0 and samples["lucas"]["pass"] == 1.0
