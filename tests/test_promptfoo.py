"""The promptfoo assertion: as a plain function always, and through `promptfoo eval` with the echo provider
where promptfoo is installed (``npm install -g promptfoo``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import quinebox
from quinebox.checks import CHECKS
from quinebox.integrations import promptfoo

ROOT = Path(__file__).resolve().parent.parent
GOOD = (ROOT / "fixtures" / "good" / "percent_r.py").read_text()
OFF_BY_ONE = (ROOT / "fixtures" / "bad" / "off_by_one.py").read_text()
ANSWERS = [f"```python\n{GOOD}```", f"Try this:\n```python\n{OFF_BY_ONE}```", "I would rather not."]
CONTEXT = {"vars": {"generations": 5, "sandbox": "bwrap"}}


@pytest.mark.needs_bwrap
def test_get_assert_returns_a_grading_result_per_check() -> None:
    good, bad, none = (promptfoo.get_assert(answer, CONTEXT) for answer in ANSWERS)
    assert (good["pass"], good["score"]) == (True, 1.0)
    assert (bad["pass"], bad["score"]) == (False, 0.0) and bad["reason"].startswith("fail: sequence")
    assert none["pass"] is False and "extract" in none["reason"]
    for result in (good, bad, none):
        assert [c["reason"].split(":")[0] for c in result["componentResults"]] == list(CHECKS)
        assert set(result["namedScores"]) == {*CHECKS, "pass", "score"}
    assert {c["reason"].split(":")[0]: c["pass"] for c in bad["componentResults"]}["sequence"] is False
    assert bad["namedScores"]["runs"] == 1.0 and bad["namedScores"]["sequence"] == 0.0
    partial = promptfoo.get_assert(ANSWERS[1], {"vars": CONTEXT["vars"], "config": {"reward": "partial"}})
    assert 0.0 < partial["score"] < 1.0


def test_an_infrastructure_error_is_raised_not_a_failure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # bwrap cannot be found
    with pytest.raises(quinebox.InfraError):
        promptfoo.get_assert(ANSWERS[0], {"vars": {"generations": 2, "sandbox": "bwrap"}})


@pytest.mark.needs_bwrap
@pytest.mark.skipif(shutil.which("promptfoo") is None, reason="promptfoo is not installed (npm install -g promptfoo)")
def test_promptfoo_eval_with_the_echo_provider(tmp_path: Path) -> None:
    config = {
        "prompts": ["{{answer}}"],
        "providers": ["echo"],
        "defaultTest": {
            "assert": [{"type": "python", "value": f"file://{promptfoo.__file__}"}],
            "vars": CONTEXT["vars"],
        },
        "tests": [{"vars": {"answer": answer}} for answer in ANSWERS],
    }
    (tmp_path / "promptfooconfig.json").write_text(json.dumps(config))
    env = {
        **os.environ,
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_CONFIG_DIR": str(tmp_path / "home"),
        "PROMPTFOO_PYTHON": sys.executable,
    }
    command = ["promptfoo", "eval", "-c", "promptfooconfig.json", "-o", "out.json", "--no-cache", "--no-progress-bar"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    results = sorted(json.loads((tmp_path / "out.json").read_text())["results"]["results"], key=lambda r: r["testIdx"])
    assert [r["success"] for r in results] == [True, False, False], done.stdout[-2000:]
    inner = results[1]["gradingResult"]["componentResults"][0]
    assert len(inner["componentResults"]) == len(CHECKS)
    assert results[1]["gradingResult"]["namedScores"]["sequence"] == 0
