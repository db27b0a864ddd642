"""Batch grading over JSONL, as eval harnesses run it: the real CLI, the real sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD = (ROOT / "fixtures" / "good" / "percent_r.py").read_text()
EXEC = (ROOT / "fixtures" / "good" / "exec_payload.py").read_text()
OFF_BY_ONE = (ROOT / "fixtures" / "bad" / "off_by_one.py").read_text()

ROWS = [
    {
        "id": "fenced",
        "response": f"Here is the program:\n\n```python\n{GOOD}```\n\nRun it with --next.",
        "want": "pass",
    },
    {"id": "tilde-untagged", "response": f"~~~\n{EXEC}~~~\n", "want": "pass"},
    {"id": "unfenced", "response": GOOD, "want": "pass"},
    {"id": "no-program", "response": "Sorry, I can't help with that.", "want": "fail:extract"},
    {"id": "truncated", "response": f"```python\n{GOOD[:150]}", "want": "fail:runs"},
    {"id": "off-by-one", "response": f"```py\n{OFF_BY_ONE}```", "want": "fail:sequence"},
    {"id": "with-usage", "response": f"```python\n{GOOD}```\n```bash\npython3 prog.py --next\n```", "want": "pass"},
]


def grade(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quinebox", "grade", *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.needs_bwrap
def test_mixed_responses_get_the_right_verdict_and_a_second_run_does_no_work(tmp_path: Path) -> None:
    samples, out, junit = tmp_path / "samples.jsonl", tmp_path / "graded.jsonl", tmp_path / "grade.xml"
    samples.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    first = grade(
        str(samples),
        "--out",
        str(out),
        "--sandbox",
        "bwrap",
        "--generations",
        "10",
        "--jobs",
        "2",
        "--junit-xml",
        str(junit),
    )
    assert first.returncode == 0, first.stderr
    graded = {row["id"]: row for row in map(json.loads, out.read_text().splitlines())}
    assert set(graded) == {row["id"] for row in ROWS}
    for row in ROWS:
        result = graded[row["id"]]
        assert result["response"] == row["response"]  # the input row comes back whole
        grade_ = result["quinebox"]
        got = grade_["verdict"] if grade_["verdict"] == "pass" else f"fail:{grade_['failed_check']}"
        assert got == row["want"], (row["id"], grade_)
        assert isinstance(grade_["reason"], str) and grade_["score"] is not None
    assert "fail: sequence" in first.stderr and "graded 7 rows" in first.stderr
    suite = ET.parse(junit).getroot()
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("7", "3", "0")

    before = out.read_text()
    second = grade(str(samples), "--out", str(out), "--sandbox", "bwrap", "--generations", "10")
    assert second.returncode == 0
    assert out.read_text() == before
    assert "graded 0 rows" in second.stderr and "7 already graded" in second.stderr


@pytest.mark.needs_bwrap
def test_an_interrupted_run_resumes_where_it_stopped(tmp_path: Path) -> None:
    samples, out = tmp_path / "samples.jsonl", tmp_path / "graded.jsonl"
    samples.write_text(json.dumps(ROWS[0]) + "\n")
    assert grade(str(samples), "--out", str(out), "--sandbox", "bwrap", "--generations", "5").returncode == 0
    samples.write_text("".join(json.dumps(row) + "\n" for row in ROWS[:3]))
    errored = {**ROWS[1], "quinebox": {"id": "tilde-untagged", "verdict": "error"}}
    with out.open("a") as sink:
        sink.write(json.dumps(errored) + "\n" + '{"id": "unfen')  # cut mid-line
    result = grade(str(samples), "--out", str(out), "--sandbox", "bwrap", "--generations", "5")
    assert result.returncode == 0, result.stderr
    assert "graded 2 rows" in result.stderr  # the error row is graded again, the passed one is not


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": 1, "response": "x"}\nnot json\n', "samples.jsonl:2: not JSON"),
        ('{"id": 1, "text": "x"}\n', "samples.jsonl:1: no text field 'response'"),
        ('{"id": 1, "response": "x"}\n{"id": 1, "response": "y"}\n', "id '1' appears twice"),
        ("[1, 2]\n", "a row must be a JSON object"),
    ],
)
def test_malformed_input_is_a_usage_error_before_any_work(tmp_path: Path, content: str, message: str) -> None:
    samples = tmp_path / "samples.jsonl"
    samples.write_text(content)
    result = grade(str(samples), "--out", str(tmp_path / "out.jsonl"))
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.needs_bwrap
def test_verify_from_response(tmp_path: Path) -> None:
    answer = tmp_path / "answer.md"
    answer.write_text(f"Sure!\n\n```python\n{GOOD}```\n")
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "quinebox",
            "verify",
            "--from-response",
            str(answer),
            "-n",
            "5",
            "--sandbox",
            "bwrap",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    report = json.loads(ok.stdout)
    assert report["notes"] == ["program extracted from the response (only-block)"]
    assert report["extraction"]["rule"] == "only-block" and report["extraction"]["block"] == 1
    answer.write_text("I would rather not.")
    none = subprocess.run(
        [
            sys.executable,
            "-m",
            "quinebox",
            "verify",
            "--from-response",
            str(answer),
            "--json",
            "--sandbox",
            "bwrap",
            "--junit-xml",
            str(tmp_path / "v.xml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert none.returncode == 1
    assert json.loads(none.stdout)["failure"] == {
        "check": "extract",
        "generation": None,
        "reason": "no program in this response",
    }
    failure = ET.parse(tmp_path / "v.xml").getroot().find("testcase/failure")
    assert failure is not None and failure.get("message") == "no program in this response"


def _rows(out: Path) -> dict[str, dict[str, object]]:
    return {row["id"]: row["quinebox"] for row in map(json.loads, out.read_text().splitlines())}


@pytest.mark.needs_bwrap
def test_rows_carry_settings_and_a_resume_never_mixes_them(tmp_path: Path) -> None:
    samples, out = tmp_path / "samples.jsonl", tmp_path / "graded.jsonl"
    samples.write_text("".join(json.dumps(row) + "\n" for row in ROWS[:3]))
    assert grade(str(samples), "--out", str(out), "--sandbox", "bwrap", "-n", "5").returncode == 0
    settings = _rows(out)["fenced"]["settings"]
    assert isinstance(settings, dict)
    assert {k: settings[k] for k in ("generations", "sequence", "next_flag", "sandbox", "sandbox_used")} == {
        "generations": 5,
        "sequence": "fibonacci",
        "next_flag": "--next",
        "sandbox": "bwrap",
        "sandbox_used": "bwrap",
    }
    assert settings["language"] == "auto" and settings["quinebox_version"] and settings["limits"]["work"]
    before = out.read_text()
    for changed in (("-n", "6"), ("-n", "5", "--sequence", "lucas"), ("-n", "5", "--sandbox", "none")):
        args = ("--sandbox", "bwrap", *changed) if "--sandbox" not in changed else changed
        refused = grade(str(samples), "--out", str(out), *args)
        assert refused.returncode == 2, refused.stderr
        assert "graded with other settings" in refused.stderr and "--regrade" in refused.stderr
        assert out.read_text() == before  # nothing mixed in
    assert "generations: 5 -> 6" in grade(str(samples), "--out", str(out), "--sandbox", "bwrap", "-n", "6").stderr
    again = grade(str(samples), "--out", str(out), "--sandbox", "bwrap", "-n", "6", "--regrade")
    assert again.returncode == 0, again.stderr
    rows = [json.loads(line)["quinebox"] for line in out.read_text().splitlines()]
    assert len(rows) == 3 and {row["settings"]["generations"] for row in rows} == {6}


@pytest.mark.needs_bwrap
def test_summary_covers_the_whole_file_and_rows_record_extraction(tmp_path: Path) -> None:
    samples, out = tmp_path / "samples.jsonl", tmp_path / "graded.jsonl"
    hs = "```haskell\nmain :: IO ()\nmain = print 0\n```\n"
    rows = [*ROWS[:2], ROWS[3], ROWS[5], {"id": "hs", "response": hs}]
    samples.write_text("".join(json.dumps(row) + "\n" for row in rows[:2]))
    assert grade(str(samples), "--out", str(out), "--sandbox", "bwrap", "-n", "5").returncode == 0
    samples.write_text("".join(json.dumps(row) + "\n" for row in rows))
    second = grade(str(samples), "--out", str(out), "--sandbox", "bwrap", "-n", "5", "--full-reports")
    assert second.returncode == 0, second.stderr
    # The whole file: 2 pass, 2 fail, 1 not judged; pass rate 2/4 with its standard error 0.25.
    assert "5 rows, 4 judged: pass rate 0.500 ± 0.250" in second.stderr, second.stderr
    assert "failed extract: no-program" in second.stderr and "failed sequence: off-by-one" in second.stderr
    assert "not judged (haskell): hs" in second.stderr
    graded = _rows(out)
    assert graded["hs"]["verdict"] == "not_judged" and graded["hs"]["score"] is None
    assert graded["hs"]["language"] == "haskell"
    assert graded["fenced"]["extraction"] == {
        "rule": "only-block",
        "reason": graded["fenced"]["extraction"]["reason"],  # type: ignore[index]
        "block": 1,
        "line": 4,
    }
    assert "report" not in graded["fenced"] and graded["off-by-one"]["report"]["verdict"] == "fail"  # type: ignore[index]
    assert graded["fenced"]["programs"] == 6


@pytest.mark.needs_bwrap
def test_grade_reads_stdin(tmp_path: Path) -> None:
    out = tmp_path / "graded.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "quinebox", "grade", "-", "--out", str(out), "--sandbox", "bwrap", "-n", "3"],
        input=json.dumps(ROWS[0]) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert _rows(out)["fenced"]["verdict"] == "pass"


def test_rows_that_need_no_sandbox_are_written_when_the_sandbox_fails(tmp_path: Path) -> None:
    samples, out = tmp_path / "samples.jsonl", tmp_path / "graded.jsonl"
    samples.write_text("".join(json.dumps(row) + "\n" for row in (ROWS[0], ROWS[3])))
    env = {**os.environ, "PATH": str(tmp_path / "no-bin")}
    result = subprocess.run(
        [sys.executable, "-m", "quinebox", "grade", str(samples), "--out", str(out), "--sandbox", "bwrap"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 3, result.stderr
    assert list(_rows(out)) == ["no-program"]


def test_zero_generations_is_a_usage_error(tmp_path: Path) -> None:
    samples = tmp_path / "samples.jsonl"
    samples.write_text(json.dumps(ROWS[0]) + "\n")
    for args in (("-n", "0"),):
        result = grade(str(samples), "--out", str(tmp_path / "o.jsonl"), *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr
    env = {**os.environ, "QUINEBOX_GENERATIONS": "0"}
    result = subprocess.run(
        [sys.executable, "-m", "quinebox", "verify", "-"], input="print(0)\n", capture_output=True, text=True, env=env
    )
    assert result.returncode == 2 and "0 is not in the range x>=1" in result.stderr
