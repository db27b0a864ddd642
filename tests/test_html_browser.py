"""The HTML pages in a real browser: headless chromium renders them, we read the rendered DOM and its network log.

Pages come from the real CLI and the bwrap sandbox: a passing chain, naive recursion (which fails
linear-time), and a grade run. Screenshots are saved next to the pages; with UPDATE_SCREENSHOTS=1 they
are also written to docs/, where the README shows them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from quinebox.report._html import read_embedded_json
from quinebox.report.graded import graded_rows, read_graded
from quinebox.report.model import Report
from quinebox.report.render_html import REPORT_ID, render_grade
from tests.conftest import require_sandbox

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
GOOD = ROOT / "fixtures" / "good" / "repr_body.py"
NAIVE = ROOT / "fixtures" / "bad" / "naive_recursive.py"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)

pytestmark = [pytest.mark.slow, pytest.mark.needs_bwrap]


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the browser tests, but chromium is not installed")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return found


def browse(page: Path, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """One headless chromium run on a fresh profile."""
    profile = work / f"profile-{len(list(work.glob('profile-*')))}"
    command = [chromium_path(), *FLAGS, f"--user-data-dir={profile}", *args, page.as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=True)


def rendered_dom(page: Path, work: Path) -> str:
    return browse(page, work, "--dump-dom").stdout


def page_requests(page: Path, work: Path) -> list[str]:
    """Every URL the page itself asked the network for, from chromium's NetLog.

    The browser's own background requests (update checks) are made for no page; a request
    made for the page carries the file:// network isolation key of the page's frame.
    """
    log = work / f"{page.stem}-{len(list(work.glob('*.netlog')))}.netlog"
    browse(page, work, f"--log-net-log={log}", "--dump-dom")
    data = json.loads(log.read_text(encoding="utf-8"))
    names = {number: name for name, number in data["constants"]["logEventTypes"].items()}
    urls = []
    for event in data["events"]:
        params = event.get("params") or {}
        if names.get(event["type"]) == "URL_REQUEST_START_JOB" and "url" in params:
            if "file://" in str(params.get("network_isolation_key")) or params.get("initiator") == "null":
                urls.append(str(params["url"]))
    return urls


def screenshot(page: Path, work: Path, name: str, height: int, *args: str) -> Path:
    shot = work / name
    browse(page, work, f"--screenshot={shot}", f"--window-size=1280,{height}", *args)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    if os.environ.get("UPDATE_SCREENSHOTS"):
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(shot, DOCS / name)
    return shot


class Dom(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None], list[str]]] = []
        self._svgs: list[dict[str, str | None]] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "svg":
            self._svgs.append(found)
        inside = [f"{s.get('data-plot')}/{s.get('data-scale')}" for s in self._svgs]
        self.elements.append((tag, found, inside))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self._svgs:
            self._svgs.pop()

    def points(self, plot: str, series: str) -> list[int]:
        return [
            int(str(a["data-generation"]))
            for _, a, inside in self.elements
            if a.get("data-series") == series and inside[-1:] == [plot]
        ]

    def details(self) -> dict[str, bool]:
        return {str(a.get("id")): "open" in a for t, a, _ in self.elements if t == "details" and a.get("id")}

    def urls(self) -> list[str]:
        return [str(a[k]) for _, a, _ in self.elements for k in ("src", "href", "xlink:href", "action") if k in a]


def cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "quinebox", *args], capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_sandbox("bwrap")
    chromium_path()
    return tmp_path_factory.mktemp("html")


@pytest.fixture(scope="module")
def passing(work: Path) -> tuple[Path, Report]:
    page = work / "pass.html"
    result = cli("verify", str(GOOD), "-n", "8", "--sandbox", "bwrap", "--json", "-q", "--html", str(page))
    assert result.returncode == 0, result.stderr.decode()
    return page, Report.from_dict(json.loads(result.stdout))


@pytest.fixture(scope="module")
def failing(work: Path) -> tuple[Path, Report]:
    page = work / "naive.html"
    args = ["--json", "-q", "--html", str(page), "--save-programs", str(work / "programs")]
    result = cli("verify", str(NAIVE), "-n", "20", "--sandbox", "bwrap", *args)
    assert result.returncode == 1, result.stderr.decode()
    return page, Report.from_dict(json.loads(result.stdout))


@pytest.fixture(scope="module")
def graded(work: Path) -> Path:
    samples = work / "samples.jsonl"
    rows = [
        {"id": "good", "response": f"Here it is:\n```python\n{GOOD.read_text()}```\n"},
        {"id": "naive", "response": f"```python\n{NAIVE.read_text()}```\nIt recurses."},
        {"id": "prose", "response": "I cannot write that program."},
    ]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    page, out = work / "grade.html", work / "graded.jsonl"
    result = cli("grade", str(samples), "-o", str(out), "-n", "20", "--sandbox", "bwrap", "-q", "--html", str(page))
    assert result.returncode == 0, result.stderr.decode()
    return page


def test_passing_report_in_the_browser(work: Path, passing: tuple[Path, Report]) -> None:
    page, report = passing
    dom = Dom(rendered_dom(page, work))
    n = report.config["generations"]
    assert dom.points("work/linear", "default") == list(range(n + 1))
    assert dom.points("work/linear", "next") == list(range(n))  # program N is not asked for its successor
    assert dom.points("cpu/linear", "default") == list(range(n + 1))
    assert dom.points("work/log", "default") == list(range(n + 1))
    assert [k for k, is_open in dom.details().items() if is_open] == ["program-0"]
    assert [u for u in dom.urls() if not u.startswith("#")] == []
    assert Report.from_dict(read_embedded_json(page.read_text(encoding="utf-8"), REPORT_ID)) == report
    screenshot(page, work, "report-pass.png", 1000)


def test_naive_recursion_fails_visibly_in_the_browser(work: Path, failing: tuple[Path, Report]) -> None:
    page, report = failing
    assert report.failure is not None and report.failure.check == "linear-time"
    at = report.failure.generation
    assert at is not None
    dom = Dom(rendered_dom(page, work))
    recorded = list(range(len(report.generations)))
    assert recorded[-1] == at  # recording stopped where it failed
    assert dom.points("work/linear", "default") == recorded
    assert dom.points("work/linear", "next") == recorded
    opened = dom.details()
    assert opened[f"program-{at}"] and opened["program-0"]
    assert [k for k, is_open in opened.items() if is_open] == ["program-0", f"program-{at}"]
    failing_row = [a for t, a, _ in dom.elements if t == "tr" and a.get("id") == f"gen-{at}"]
    assert failing_row and failing_row[0].get("class") == "failing"
    assert [u for u in dom.urls() if not u.startswith("#")] == []
    screenshot(page, work, "report-naive-recursion.png", 1000)
    screenshot(page, work, "report-naive-recursion-dark.png", 1000, "--force-dark-mode")


def test_saved_programs_match_the_report(work: Path, failing: tuple[Path, Report]) -> None:
    import hashlib

    _, report = failing
    files = sorted((work / "programs").iterdir())
    assert [f.name for f in files] == [f"gen-{g.index:03d}.py" for g in report.generations]
    assert [hashlib.sha256(f.read_bytes()).hexdigest() for f in files] == [g.sha256 for g in report.generations]


def test_grade_report_in_the_browser(work: Path, graded: Path) -> None:
    dom = Dom(rendered_dom(graded, work))
    rows = [a.get("data-row") for t, a, _ in dom.elements if t == "details" and "row" in str(a.get("class"))]
    assert sorted(str(r) for r in rows) == ["good", "naive", "prose"]
    bars = sorted(str(a.get("data-check")) for t, a, _ in dom.elements if t == "rect" and a.get("data-check"))
    assert bars == ["extract", "linear-time"]
    assert [u for u in dom.urls() if not u.startswith("#")] == []
    # the screenshot opens the failing row, as a reader would
    shown = work / "grade.html"
    rows_read = list(graded_rows(read_graded(work / "graded.jsonl")))
    opened = work / "grade-open.html"
    opened.write_text(render_grade(rows_read, "samples.jsonl", opened={"naive"}), encoding="utf-8")
    assert shown.exists()
    screenshot(opened, work, "grade.png", 1100)


def test_nothing_is_fetched_and_the_check_would_see_it(
    work: Path, passing: tuple[Path, Report], failing: tuple[Path, Report], graded: Path
) -> None:
    for page in (passing[0], failing[0], graded):
        assert page_requests(page, work) == [], page.name
    # Controls: the same page with an outside image is seen fetching it once its CSP is removed,
    # and with the CSP in place the image is never requested.
    text = failing[0].read_text(encoding="utf-8")
    leak = '<img src="http://127.0.0.1:9/leak.png">'
    with_csp = work / "inject-with-csp.html"
    with_csp.write_text(text.replace("<h1>", leak + "<h1>", 1), encoding="utf-8")
    without = work / "inject-without-csp.html"
    lines = with_csp.read_text(encoding="utf-8").splitlines()
    without.write_text("\n".join(line for line in lines if "Content-Security-Policy" not in line), encoding="utf-8")
    assert page_requests(without, work) == ["http://127.0.0.1:9/leak.png"]
    assert page_requests(with_csp, work) == []
