"""The outcomes a careful user meets: not judged, usage errors, null scores, and the CLI's small promises."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from io import StringIO
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

import quinebox
from quinebox.api import verify_response
from quinebox.backends.fake import FakeBackend
from quinebox.errors import UsageError
from quinebox.grade import FileSummary, summarize
from quinebox.languages import is_judged, language_of
from quinebox.report import render_rich
from quinebox.report.build import error_report
from quinebox.report.model import Report, Verdict
from quinebox.report.render_junit import verify_junit
from quinebox.report.schema import REPORT_SCHEMA
from quinebox.sequences import parse_sequence
from tests.test_chain import chain_handler, counter_program

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, cwd: Path = ROOT, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quinebox", *args], capture_output=True, text=True, timeout=120, cwd=cwd, input=stdin
    )


@pytest.mark.parametrize("n", [0, -1, True, 2.0])
def test_generations_below_one_is_a_usage_error_in_the_api(n: object) -> None:
    with pytest.raises(UsageError, match="at least 1"):
        quinebox.verify(counter_program(0), generations=n, backend=FakeBackend(chain_handler))  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="at least 1"):
        verify_response("no program", generations=n)


def test_cli_rejects_zero_generations_before_running_anything() -> None:
    result = cli("verify", "-", "-n", "0", stdin="print(0)\n")
    assert result.returncode == 2 and "0 is not in the range x>=1" in result.stderr


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("console.log(1)\nconst s = 'x';\n", "javascript"),
        ("#!/usr/bin/env ruby\nputs 0\n", "ruby"),
        ("#include <stdio.h>\nint main(void) { return 0; }\n", "c"),
        ('if [ "$1" = --next ]; then cat; else echo 0; fi\n', "bash"),
        ("main :: IO ()\nmain = print 0\n", "haskell"),
        ("print(0)\n", "python"),
        ("def broken(:\n", "python"),  # a broken Python program is judged, and fails, as Python
    ],
)
def test_the_language_is_named_only_on_evidence(text: str, language: str) -> None:
    assert language_of(text) == language
    assert is_judged(language) == (language != "haskell")


def test_a_program_in_another_language_is_not_judged_and_not_scored(tmp_path: Path) -> None:
    program = tmp_path / "fib.hs"
    program.write_text("main :: IO ()\nmain = print 0\n")
    report = quinebox.verify(program, generations=3, backend=FakeBackend(chain_handler))
    assert report.verdict is Verdict.NOT_JUDGED and report.score is None and report.failure is None
    assert report.language == "haskell" and "haskell" in (report.not_judged or "")
    assert report.reward("binary") is None and report.reward("partial") is None
    jsonschema.validate(report.to_dict(), REPORT_SCHEMA)
    assert Report.from_dict(json.loads(report.to_json())) == report
    result = cli("verify", str(program), "--json", "-q")
    assert result.returncode == 4, result.stderr
    assert json.loads(result.stdout)["verdict"] == "not_judged"


def test_an_error_report_has_a_null_score_and_is_valid() -> None:
    report = error_report("engine gone", quinebox.api.config_of({}), 0.0)
    assert report.score is None and report.reward() is None
    jsonschema.validate(report.to_dict(), REPORT_SCHEMA)
    assert Report.from_dict(report.to_dict()).score is None


def test_the_grade_summary_never_averages_errors_or_languages_not_judged(tmp_path: Path) -> None:
    out = tmp_path / "graded.jsonl"
    grades = [
        {"id": "a", "verdict": "pass", "score": 1.0},
        {"id": "b", "verdict": "fail", "failed_check": "runs", "score": 0.5},
        {"id": "c", "verdict": "error", "score": None},
        {"id": "d", "verdict": "not_judged", "language": "ruby", "score": None},
        {"id": "b", "verdict": "fail", "failed_check": "sequence", "score": 0.0},  # a later grade of b wins
    ]
    out.write_text("".join(json.dumps({"quinebox": g}) + "\n" for g in grades))
    whole = summarize(out)
    assert isinstance(whole, FileSummary)
    assert (whole.rows, whole.judged, whole.pass_rate, whole.mean_score) == (4, 2, 0.5, 0.5)
    assert whole.pass_rate_stderr == pytest.approx(0.5 * 0.5**0.5)
    assert whole.failing == {"sequence": ["b"]} and whole.errors == ["c"] and whole.not_judged == {"ruby": ["d"]}


def test_seeds_that_do_not_grow_are_rejected() -> None:
    with pytest.raises(UsageError, match="do not grow"):
        parse_sequence("0,0")
    assert parse_sequence("3,0").seeds == (3, 0)  # 3, 0, 3, 3, 6, ... grows


def test_version_and_short_help() -> None:
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"quinebox {quinebox.__version__}"
    for command in ("verify", "grade"):
        shown = cli(command, "-h")
        assert shown.returncode == 0, shown.stderr
        assert "{" not in shown.stdout and "<int" not in shown.stdout and "<str>" not in shown.stdout, shown.stdout


def test_doctor_prints_its_table_on_stdout() -> None:
    result = cli("doctor")
    assert "bwrap" in result.stdout and "auto" in result.stdout
    assert result.stderr == ""


def test_a_response_verified_as_a_program_gets_a_hint(tmp_path: Path) -> None:
    answer = tmp_path / "answer.md"
    answer.write_text("Here:\n\n```python\nprint(0)\n```\n")
    result = cli("verify", str(answer), "-n", "1", "--sandbox", "none", "-q")
    assert "looks like a model's response" in result.stderr and "--from-response" in result.stderr


def test_junit_classname_is_the_relative_path(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "prog.js").write_text("console.log(0)\n")
    names = set()
    for folder in ("a", "b"):
        junit = tmp_path / f"{folder}.xml"
        cli("verify", f"{folder}/prog.js", "-q", "--junit-xml", str(junit), cwd=tmp_path)
        case = ET.parse(junit).getroot().find("testcase")
        assert case is not None
        names.add(case.get("classname"))
    assert names == {"a/prog.js", "b/prog.js"}


def test_not_judged_is_a_skip_in_junit_not_a_failure() -> None:
    report = quinebox.verify(b"main :: IO ()\nmain = print 0\n", generations=1, backend=FakeBackend(chain_handler))
    suite = ET.fromstring(verify_junit(report, "prog.hs"))
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("0", "0", "1")


def _rendered(report: Report, width: int = 80) -> str:
    console = Console(file=StringIO(), width=width, force_terminal=False, _environ={})
    render_rich.render(report, console)
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_the_checks_line_fits_in_80_columns_and_a_pass_counts_generations_and_programs() -> None:
    report = quinebox.verify(counter_program(0), generations=10, backend=FakeBackend(chain_handler))
    text = _rendered(report)
    line = text.rstrip("\n").splitlines()[-1]
    assert line.startswith("✓runs") and line.endswith("✓determinism") and len(line) <= 80
    assert "10 generations verified (11 programs), every check passed" in text
    assert "score 1.000" in text


def test_an_error_panel_says_not_scored() -> None:
    text = _rendered(error_report("engine gone", {}, 0.0))
    assert "not scored" in text and "score 0" not in text


@pytest.mark.needs_bwrap
def test_the_linear_time_panel_shows_the_work_series() -> None:
    report = quinebox.verify(ROOT / "fixtures" / "bad" / "naive_recursive.py", generations=12, sandbox="bwrap")
    text = _rendered(report, width=120)
    assert "work per generation: 12, 12, 14, 16, 20, 26" in text


@pytest.mark.needs_bwrap
def test_the_self_similarity_panel_labels_its_sizes() -> None:
    report = quinebox.verify(ROOT / "fixtures" / "bad" / "growing_comment.py", generations=3, sandbox="bwrap")
    text = _rendered(report, width=120)
    assert "size without layout (comments count), from generation 0:" in text and "(bytes 423, 484)" in text


@pytest.mark.needs_bwrap
def test_show_program_prints_the_verified_program_on_stdout(tmp_path: Path) -> None:
    answer = tmp_path / "answer.md"
    program = (ROOT / "fixtures" / "good" / "percent_r.py").read_text()
    answer.write_text(
        f"```python\n{program}```\n\n```python\nimport subprocess\nsubprocess.run(['python3', 'x.py'])\n```\n"
    )
    result = cli("verify", "--from-response", str(answer), "-n", "2", "--sandbox", "bwrap", "-q", "--show-program")
    assert result.returncode == 0, result.stderr
    assert program in result.stdout


def test_doctor_fixes_name_no_script_a_pip_install_lacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from quinebox.doctor import _installed_only

    fix = "start it (sudo scripts/start-dockerd.sh, or systemctl start docker) or point DOCKER_HOST at it"
    monkeypatch.chdir(tmp_path)
    assert _installed_only(fix) == "start it (systemctl start docker) or point DOCKER_HOST at it"
    monkeypatch.chdir(ROOT)
    assert _installed_only(fix) == fix
