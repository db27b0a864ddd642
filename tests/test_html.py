"""The HTML pages as strings: self-contained, escaped against hostile text, the report round-trips."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import quinebox
from quinebox.backends.base import RunRequest
from quinebox.backends.fake import FakeBackend, ok
from quinebox.record import RunResult
from quinebox.report._html import STYLE, read_embedded_json
from quinebox.report._svg import Plot, Series, line_plot
from quinebox.report.build import error_report
from quinebox.report.graded import GradedRow, PassRate, graded_rows, row_report
from quinebox.report.model import Report
from quinebox.report.programs import program_name, save_programs
from quinebox.report.render_html import (
    GRADES_ID,
    REPORT_ID,
    linear_allowance,
    render,
    render_grade,
    render_row,
)
from quinebox.report.schema import REPORT_SCHEMA
from quinebox.sequences import FIBONACCI

GOLDEN = Path(__file__).parent / "golden"
HOSTILE = "</script><script>alert(1)</script><img src=x onerror=alert(1)><!-- <a href='http://evil'>"
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "h1", "h2", "section", "span", "p", "b", "a", "div",
    "input", "label", "figure", "svg", "line", "text", "rect", "polygon", "polyline", "circle", "path",
    "table", "thead", "tbody", "tr", "th", "td", "details", "summary", "pre", "small", "dl", "dt", "dd", "script",
}  # fmt: skip


def program(index: int, note: str = "") -> bytes:
    return f"# {note} generation {index}\n".encode("utf-8", "surrogatepass")


def handler(work: int = 10, exponential: bool = False, note: str = "", printed: bytes | None = None):  # type: ignore[no-untyped-def]
    """Programs '# note generation k': default prints F(k) (or `printed`), --next gives program k+1."""

    def run(request: RunRequest) -> RunResult:
        index = int(request.source.split()[-1])
        if request.argv:
            return ok(program(index + 1, note), work=work)
        out = printed if printed is not None else f"{FIBONACCI.terms(index + 1)[-1]}\n".encode()
        return ok(out, work=work + (2**index if exponential else index))

    return run


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def parsed(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(page)
    parser.close()
    return parser.tags


def assert_self_contained(page: str) -> None:
    tags = parsed(page)
    assert {t for t, _ in tags} <= ALLOWED_TAGS, {t for t, _ in tags} - ALLOWED_TAGS
    scripts = [a for t, a in tags if t == "script"]
    assert len(scripts) == 1 and scripts[0].get("type") == "application/json"
    for tag, attrs in tags:
        assert "src" not in attrs, tag
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        href = attrs.get("href")
        assert href is None or href.startswith("#"), href
    policy = next(a["content"] for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert policy is not None and "default-src 'none'" in policy and "script-src 'none'" in policy


def roundtrips(page: str, report: Report) -> None:
    embedded = read_embedded_json(page, REPORT_ID)
    assert Report.from_dict(embedded) == Report.from_dict(json.loads(report.to_json()))
    assert embedded == json.loads(report.to_json())


def test_a_passing_report_is_one_self_contained_page_whose_json_round_trips() -> None:
    report = quinebox.verify(program(0), generations=6, backend=FakeBackend(handler()))
    assert report.passed
    page = render(report)
    assert_self_contained(page)
    roundtrips(page, report)
    assert "PASS" in page and "Every check passed over 7 programs" in page
    # the stylesheet is the one the CSP allows by hash, and nothing else styles the page
    digest = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    policy = next(a["content"] for t, a in parsed(page) if t == "meta" and a.get("http-equiv"))
    assert f"style-src 'sha256-{digest}';" in str(policy) and ' style="' not in page


def test_programs_travel_in_the_report_and_validate_against_the_schema() -> None:
    report = quinebox.verify(program(0), generations=3, backend=FakeBackend(handler()))
    assert [g.source for g in report.generations] == [program(k).decode() for k in range(4)]
    jsonschema.validate(report.to_dict()["generations"], REPORT_SCHEMA["properties"]["generations"])


def test_points_per_series_allowance_and_the_failing_generation() -> None:
    report = quinebox.verify(program(0), generations=12, backend=FakeBackend(handler(exponential=True)))
    assert report.failure is not None and report.failure.check == "linear-time"
    failing = report.failure.generation
    assert failing is not None
    page = render(report)
    work_svg = re.search(r'<svg[^>]*data-plot="work" data-scale="linear".*?</svg>', page, re.S)
    assert work_svg is not None
    for series in ("default", "next"):
        recorded = sum(1 for g in report.generations if series in g.runs)
        assert work_svg.group().count(f'data-series="{series}"') == recorded
    assert work_svg.group().count('class="allow"') == 1 and "fails here" in work_svg.group()
    opened = re.findall(r'<details id="program-(\d+)"[^>]*\bopen>', page)
    assert opened == ["0", str(failing)]
    assert f'<tr id="gen-{failing}" class="failing"' in page
    # the band is the linear-time rule itself: the failing generation's work is above it
    band = dict(linear_allowance(report.generations))
    works = {g.index: g.runs["default"].work for g in report.generations}
    assert works[failing] is not None and works[failing] > band[failing]
    assert all(works[k] <= band[k] for k in band if k < failing)  # type: ignore[operator]


def test_hostile_text_is_escaped_everywhere_and_still_round_trips() -> None:
    printed = HOSTILE.encode() + b"\n"
    report = quinebox.verify(
        program(0, HOSTILE), generations=2, backend=FakeBackend(handler(note=HOSTILE, printed=printed))
    )
    assert not report.passed
    page = render(report)
    assert_self_contained(page)
    roundtrips(page, report)
    assert HOSTILE not in page and "&lt;/script&gt;" in page


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(note=st.text(alphabet=st.characters(exclude_characters="\n\r"), max_size=40), printed=st.binary(max_size=40))
def test_any_candidate_text_stays_inert(note: str, printed: bytes) -> None:
    report = quinebox.verify(
        program(0, note), generations=1, backend=FakeBackend(handler(note=note, printed=printed + b"\n"))
    )
    page = render(report)
    assert_self_contained(page)
    roundtrips(page, report)
    page.encode("utf-8")  # writable as UTF-8: no lone surrogate escaped into the page


def test_long_numbers_are_elided_with_the_whole_number_on_hover() -> None:
    report = quinebox.verify(program(0), generations=2, backend=FakeBackend(handler()))
    big = str(7**200)
    generations = [replace(report.generations[0], number=big), *report.generations[1:]]
    page = render(replace(report, generations=generations))
    assert f'title="{big}"' in page and f"{big[:10]}…{big[-10:]} ({len(big)} digits)" in page


def test_new_run_kinds_get_their_own_column() -> None:
    report = quinebox.verify(program(0), generations=2, backend=FakeBackend(handler()))
    g0 = report.generations[0]
    generations = [replace(g0, runs={**g0.runs, "replay": g0.runs["default"]}), *report.generations[1:]]
    page = render(replace(report, generations=generations))
    assert "<th>replay</th>" in page and "<th>default blind</th>" in page


def test_an_infrastructure_error_page() -> None:
    page = render(error_report("daemon gone", {"generations": 5}, 0.0))
    assert_self_contained(page)
    assert "ERROR" in page and "daemon gone" in page and "not judged" in page


def test_saved_programs_match_the_report_byte_for_byte(tmp_path: Path) -> None:
    def binary(request: RunRequest) -> RunResult:  # programs that are not UTF-8 travel as base64
        index = int(request.source.split()[-1])
        if request.argv:
            return ok(b"\xff" + program(index + 1), work=10)
        return ok(f"{FIBONACCI.terms(index + 1)[-1]}\n".encode(), work=10)

    report = quinebox.verify(b"\xff" + program(0), generations=3, backend=FakeBackend(binary))
    assert report.generations[1].source is None and report.generations[1].source_base64 is not None
    written, missing = save_programs(report, tmp_path / "programs")
    assert missing == [] and [p.name for p in written] == [f"gen-00{k}.py" for k in range(4)]
    for path, generation in zip(written, report.generations, strict=True):
        assert hashlib.sha256(path.read_bytes()).hexdigest() == generation.sha256
    assert program_name(replace(report, language="javascript"), 2) == "gen-002.js"


def test_the_plot_is_golden() -> None:
    plot = Plot(
        title="work",
        unit="work units",
        series=[Series("default", "default run", [(0, 10.0), (1, 12.0), (2, None), (3, 80.0)])],
        last=5,
        recorded=4,
        requested=5,
        allowance=[(0, 110.0), (2, 115.0)],
        failing=3,
        failing_label="✗ linear-time fails here",
        kind="work",
    )
    svg = line_plot(plot, log=False) + "\n" + line_plot(plot, log=True) + "\n"
    golden = GOLDEN / "plot.svg"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(svg, encoding="utf-8")
    assert svg == golden.read_text(encoding="utf-8")


# --- grade pages ---------------------------------------------------------------------------------


def graded_file_rows() -> list[dict[str, object]]:
    full = quinebox.verify(program(0), generations=3, backend=FakeBackend(handler()))
    return [
        {"id": "p", "response": "x",
         "quinebox": {"id": "p", "verdict": "pass", "score": 1.0, "report": full.to_dict()}},
        {
            "id": "f",
            "response": f"Here:\n```python\nprint(1)  # {HOSTILE}\n```\n",
            "quinebox": {"id": "f", "verdict": "fail", "failed_check": "output", "failed_generation": 1,
                         "score": 0.0, "reason": f"printed {HOSTILE}"},
        },
        {"id": "e", "response": "no code", "quinebox": {"id": "e", "verdict": "fail", "failed_check": "extract",
                                                         "failed_generation": None, "score": 0.0, "reason": "none"}},
        {"id": "x", "response": "", "quinebox": {"id": "x", "verdict": "error", "reason": "engine stopped"}},
    ]  # fmt: skip


def test_the_grade_page_has_rate_histogram_and_expandable_rows() -> None:
    rows = list(graded_rows(graded_file_rows()))
    page = render_grade(rows, "samples.jsonl")
    assert_self_contained(page)
    assert "33.3%" in page and "1 of 3 judged rows" in page and "95% Wilson interval" in page
    bars = re.findall(r'<rect class="bar" data-check="([^"]+)"', page)
    assert sorted(bars) == ["extract", "output"]
    assert page.count('<details class="row"') == 4
    assert "print(1)" in page and "found again in the row" in page and "generation 0 of the stored report" in page
    assert HOSTILE not in page
    grades = read_embedded_json(page, GRADES_ID)
    assert [g["id"] for g in grades] == ["p", "f", "e", "x"] and "report" not in grades[0]


def test_a_row_page_is_its_full_report_or_the_row_alone() -> None:
    rows = {r.key: r for r in graded_rows(graded_file_rows())}
    assert REPORT_ID in render_row(rows["p"]) and rows["p"].report is not None
    alone = render_row(rows["f"])
    assert GRADES_ID in alone and '<details class="row" data-row="f" open>' in alone
    made = row_report(rows["f"])
    assert made.failure is not None and made.failure.check == "output" and made.failure.generation == 1


def test_pass_rate_uncertainty() -> None:
    low, high = PassRate(1, 3).wilson()
    assert (round(low, 4), round(high, 4)) == (0.0615, 0.7923)
    assert PassRate(0, 0).wilson() == (0.0, 1.0) and PassRate(10, 10).wilson()[1] == 1.0
    assert round(PassRate(1, 4).standard_error, 4) == 0.2165


def test_show_prints_a_rows_panel_and_writes_its_page(tmp_path: Path) -> None:
    graded = tmp_path / "graded.jsonl"
    graded.write_text("".join(json.dumps(r) + "\n" for r in graded_file_rows()), encoding="utf-8")

    def show(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "quinebox", "show", str(graded), *args], capture_output=True, text=True, timeout=60
        )

    result = show("f", "--html", str(tmp_path / "f.html"))
    assert result.returncode == 0, result.stderr
    assert "output failed at generation 1" in result.stderr
    assert '<details class="row" data-row="f" open>' in (tmp_path / "f.html").read_text(encoding="utf-8")
    result = show("p", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["verdict"] == "pass"
    missing = show("nope")
    assert missing.returncode == 2 and "no graded row with id 'nope'" in missing.stderr


def test_grade_rows_without_the_field_degrade_gracefully() -> None:
    row = GradedRow("k", {"id": "k", "verdict": "pass"}, None, None, "the row has no text field 'response'")
    page = render_grade([row])
    assert "the row has no text field" in page and "no full report stored" in page


@pytest.mark.parametrize("verdict", ["pass", "fail", "error", "not_judged"])
def test_every_verdict_renders(verdict: str) -> None:
    row = next(graded_rows([{"id": "a", "quinebox": {"id": "a", "verdict": verdict, "reason": "r"}}]))
    assert "<html" in render_grade([row]) and "<html" in render(row_report(row))
