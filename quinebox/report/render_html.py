"""The report as one self-contained HTML page: verdict, plots, tables, the programs, the data.

Pure functions from the model to a string, so pages are golden-testable. A page
fetches nothing and runs no script (its CSP says so); it reads the same with
JavaScript off, in light and in dark. Every candidate-made string is escaped,
and the report itself rides along as JSON that `Report.from_dict` reads back.
"""

from __future__ import annotations

import base64
import difflib
import json
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from typing import Any

from quinebox.checks._growth import RATIO, SLACK
from quinebox.report._html import attr, embedded_json, number_cell, page, short_number, text
from quinebox.report._svg import Plot, Series, bar_chart, line_plot
from quinebox.report.graded import GradedRow, pass_rate
from quinebox.report.model import EVIDENCE_KEYS, GenerationSummary, Report, RunSummary, Verdict

#: The id of the embedded report JSON (`read_embedded_json(page, REPORT_ID)`).
REPORT_ID = "quinebox-report"
#: The id of the embedded grades JSON on a grade page.
GRADES_ID = "quinebox-grades"
#: Programs larger than this (characters, both sides together) are not diffed.
DIFF_LIMIT = 200_000
#: Lines of one diff shown before the rest is cut.
DIFF_LINES = 3000

#: What each check's failure means, in words a person reads before any number.
HEADLINES = {
    "runs": "A program crashed, or ran into a limit",
    "output": "A program did not print exactly one integer",
    "sequence": "A number is not the next term of the sequence",
    "self-similarity": "The programs stopped being copies of one another",
    "integrity": "A program looked at its own source or a side channel",
    "linear-time": "The work per generation blows up: it grows faster than linearly",
    "determinism": "Running a program again gave different output",
    "extract": "No program was found in the response",
}
_RUN_ORDER = ("default", "next", "default_blind", "next_blind", "default_again", "next_again", "replay")
_EVIDENCE_KEYS = (*EVIDENCE_KEYS, "stderr")


def render(report: Report) -> str:
    """The verify page for one report."""
    body = "\n".join(
        [
            "<h1>quinebox report</h1>",
            verdict_section(report),
            plots_section(report),
            checks_section(report),
            generations_section(report),
            programs_section(report),
            settings_section(report),
        ]
    )
    title = f"quinebox: {report.verdict.value}" + (f" ({report.failure.check})" if report.failure else "")
    return page(title, body, embedded_json(report.to_dict(), REPORT_ID))


def render_grade(rows: Sequence[GradedRow], title: str = "grade", opened: Collection[str] = ()) -> str:
    """The grade page: pass rate, failing checks, and every row expandable to its details (`opened` open)."""
    verdicts = Counter(str(r.grade.get("verdict")) for r in rows)
    failing = Counter(str(r.grade.get("failed_check")) for r in rows if r.grade.get("verdict") == "fail")
    rate = pass_rate(rows)
    low, high = rate.wilson()
    if rate.judged:
        rate_html = (
            f'<p><span class="rate">{rate.rate:.1%}</span> pass rate '
            f"({rate.passed} of {rate.judged} judged rows; ± {rate.standard_error:.1%} standard error; "
            f"95% Wilson interval {low:.1%} to {high:.1%})</p>"
        )
    else:
        rate_html = "<p>no row was judged (pass or fail)</p>"
    outcome = "".join(
        f'<tr><td><span class="badge {_verdict_class(v)}">{text(v)}</span></td><td class="num">{n}</td>'
        f'<td class="num">{n / max(len(rows), 1):.0%}</td></tr>'
        for v, n in sorted(verdicts.items(), key=lambda item: (_VERDICT_ORDER.get(item[0], 9), item[0]))
    )
    errors = verdicts.get("error", 0)
    note = (
        f'<p class="warn">{errors} row(s) hit an infrastructure error: not the model\'s fault, not scored, '
        "graded again on the next run.</p>"
        if errors
        else ""
    )
    body = "\n".join(
        [
            f"<h1>quinebox grade: {text(title)}</h1>",
            f'<section class="summary">{rate_html}{note}',
            '<table class="outcomes"><thead><tr><th>outcome</th><th class="num">rows</th>'
            f'<th class="num">share</th></tr></thead><tbody>{outcome}</tbody></table></section>',
            "<h2>Failing checks</h2>",
            f"<figure>{bar_chart('rows failing each check', failing.most_common())}</figure>",
            f"<h2>Rows ({len(rows)})</h2>",
            _rows_list(rows, opened),
        ]
    )
    data = [{"id": r.key, **{k: v for k, v in r.grade.items() if k not in ("report", "full_report")}} for r in rows]
    return page(f"quinebox grade: {title}", body, embedded_json(data, GRADES_ID))


def render_row(row: GradedRow) -> str:
    """One graded row's page: its full report's page when stored, else the row alone."""
    if row.report is not None:
        return render(row.report)
    return render_grade([row], title=row.key, opened={row.key})


# --- the verify page's sections ------------------------------------------------------------------


def verdict_section(report: Report) -> str:
    """The verdict, the failure to read first in words, then its reason and key evidence."""
    verdict = report.verdict
    lines: list[str] = []
    not_judged = getattr(report, "not_judged", None)
    if verdict is Verdict.ERROR:
        headline = "The sandbox failed: the candidate was not judged"
        lines.append(f"<p>infrastructure error: {text(report.error)}</p>")
    elif not_judged is not None or verdict.value == "not_judged":
        headline = "Not judged: quinebox does not judge this language yet"
        lines.append(f"<p>{text(not_judged or '')}</p>")
    elif report.failure is not None:
        failure = report.failure
        where = "" if failure.generation is None else f" at generation {failure.generation}"
        headline = HEADLINES.get(failure.check, f"{failure.check} failed")
        lines.append(f"<p><b>{text(failure.check)}</b> failed{text(where)}: {text(failure.reason)}</p>")
        outcome = report.check(failure.check)
        if outcome is not None and outcome.evidence:
            lines.append(_key_evidence(outcome.evidence))
        if failure.generation is not None:
            lines.append(
                f'<p><a href="#gen-{failure.generation}">generation {failure.generation} in the table</a> · '
                f'<a href="#program-{failure.generation}">its program</a></p>'
            )
    else:
        last = report.generations[-1].number if report.generations else None
        headline = f"Every check passed over {len(report.generations)} programs"
        if last is not None:
            lines.append(f"<p>last number {number_cell(last)}</p>")
    backend = report.backend
    if backend is not None:
        cls = "muted" if backend.isolated else "warn"
        lines.append(f'<p class="{cls}">sandbox: {text(backend.name)} ({text(backend.isolation)})</p>')
    if report.stopped_early:
        lines.append(f'<p class="muted">{text(report.stopped_early)}</p>')
    score = "not scored" if report.score is None else f"score {report.score:.3f}"
    lines.append(f'<p class="muted">{score} · {report.duration_ms / 1000:.2f}s</p>')
    return (
        f'<section class="verdict {_verdict_class(verdict.value)}" id="verdict">'
        f'<span class="word">{text(verdict.value.replace("_", " ").upper())}</span>'
        f'<span class="headline">{text(headline)}</span>{"".join(lines)}</section>'
    )


def plots_section(report: Report, prefix: str = "") -> str:
    """Work and CPU time per generation, linear by default, log on a radio button (no script)."""
    if not report.generations:
        return ""
    work, cpu = work_plot(report), cpu_plot(report)
    failing = work.failing is not None
    if prefix:  # one scale only where a page holds many plots
        return (
            f'<div class="figs"><figure>{line_plot(work, log=False)}{_legend(True, failing)}</figure>'
            f"<figure>{line_plot(cpu, log=False)}{_legend(False, failing)}</figure></div>"
        )
    # Work spanning more than three decades reads better on a log axis: start there.
    works = [v for s in work.series for _, v in s.points if v is not None and v > 0]
    log_first = bool(works) and max(works) > 1000 * min(works)
    checked = (" checked", "") if not log_first else ("", " checked")
    return (
        '<h2>Work per generation</h2><div class="scale">'
        f'<input type="radio" name="scale" id="scale-linear"{checked[0]}><label for="scale-linear">linear</label>'
        f'<input type="radio" name="scale" id="scale-log"{checked[1]}><label for="scale-log">log scale</label>'
        '<div class="figs">'
        f'<figure class="linear">{line_plot(work, log=False)}{_legend(True, failing)}</figure>'
        f'<figure class="linear">{line_plot(cpu, log=False)}{_legend(False, failing)}</figure>'
        f'<figure class="log">{line_plot(work, log=True)}{_legend(True, failing)}</figure>'
        f'<figure class="log">{line_plot(cpu, log=True)}{_legend(False, failing)}</figure>'
        "</div></div>"
    )


def work_plot(report: Report) -> Plot:
    """Work units of the default and --next runs, and the band the linear-time check allows."""
    return Plot(
        title="work units per generation (function entries plus loop back-edges)",
        unit="work units",
        kind="work",
        series=_series(report, lambda r: None if r.work is None else float(r.work)),
        last=_last_generation(report),
        recorded=len(report.generations),
        requested=_requested(report),
        allowance=linear_allowance(report.generations),
        failing=report.failure.generation if report.failure else None,
        failing_label=_failing_label(report),
    )


def cpu_plot(report: Report) -> Plot:
    """CPU milliseconds of the same runs, measured outside the candidate's process."""
    return Plot(
        title="CPU time per generation, measured outside the program",
        unit="CPU ms",
        kind="cpu",
        width=440,
        series=_series(report, lambda r: r.cpu_ms),
        last=_last_generation(report),
        recorded=len(report.generations),
        requested=_requested(report),
        failing=report.failure.generation if report.failure else None,
        failing_label=_failing_label(report),
    )


def linear_allowance(generations: Sequence[GenerationSummary]) -> list[tuple[int, float]]:
    """The most work the linear-time check allows at each even generation 2k.

    Extra work over generation 0 may grow at most RATIO times when the index doubles,
    plus SLACK units: at 2k the ceiling is work(0) + RATIO * extra(k) + SLACK.
    """
    works: list[int | None] = []
    for g in generations:
        counts = [r.work for k in ("default", "next") if (r := g.judged(k)) is not None and r.work is not None]
        works.append(max(counts) if counts else None)
    if not works or works[0] is None:
        return []
    base = works[0]
    band: list[tuple[int, float]] = []
    for double in range(0, len(works), 2):
        half = works[double // 2]
        if half is not None:
            band.append((double, base + RATIO * max(half - base, 0) + SLACK))
    return band


def checks_section(report: Report) -> str:
    if not report.checks:
        return ""
    rows = []
    for c in report.checks:
        mark = '<span class="badge pass">pass</span>' if c.passed else '<span class="badge fail">fail</span>'
        evidence = (
            f"<details><summary>evidence</summary><pre>{text(_json(c.evidence))}</pre></details>" if c.evidence else ""
        )
        gen = "" if c.generation is None else str(c.generation)
        rows.append(
            f'<tr class="{"" if c.passed else "failing"}" data-check="{attr(c.name)}"><td>{text(c.name)}</td>'
            f'<td>{mark}</td><td class="num">{gen}</td><td>{text(c.reason)}{evidence}</td></tr>'
        )
    return (
        '<h2>Checks</h2><table class="checks"><thead><tr><th>check</th><th>result</th><th class="num">gen</th>'
        f"<th>reason</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def generations_section(report: Report) -> str:
    if not report.generations:
        return ""
    kinds = run_kinds(report.generations)
    failing = report.failure.generation if report.failure else None
    head = "".join(f"<th>{text(k.replace('_', ' '))}</th>" for k in kinds)
    rows = []
    for g in report.generations:
        cells = "".join(_run_cell(g.runs.get(k)) for k in kinds)
        cls = ' class="failing"' if g.index == failing else ""
        rows.append(
            f'<tr id="gen-{g.index}"{cls} data-generation="{g.index}"><td class="num">{g.index}</td>'
            f'<td class="num mono">{number_cell(g.number)}</td><td class="num">{g.size:,}</td>{cells}</tr>'
        )
    return (
        "<h2>Generations</h2>"
        '<p class="muted">each run: status, work units · CPU ms; hover for exit code, wall time and events</p>'
        '<table class="generations"><thead><tr><th class="num">gen</th><th class="num">number</th>'
        f'<th class="num">bytes</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def run_kinds(generations: Sequence[GenerationSummary]) -> list[str]:
    """Every run kind present, known ones in their usual order, any new ones after."""
    present = {k for g in generations for k in g.runs}
    known = [k for k in _RUN_ORDER if k in present]
    return known + sorted(present - set(known))


def programs_section(report: Report) -> str:
    """Generation 0 in full, each later one as a diff against the one before; the failing one open."""
    if not report.generations:
        return ""
    failing = report.failure.generation if report.failure else None
    parts = ["<h2>Programs</h2>"]
    previous: str | None = None
    for g in report.generations:
        source = program_text(g)
        is_failing = g.index == failing
        opened = " open" if is_failing or g.index == 0 else ""
        cls = ' class="failing"' if is_failing else ""
        ident = f"{g.size:,} bytes · sha256 {g.sha256[:12]}…"
        mark = " · fails here" if is_failing else ""
        if source is None:
            content, what = '<div class="muted">the program text is not in this report</div>', "not stored"
        elif g.index == 0 or previous is None:
            content, what = f'<pre class="code">\n{text(source)}</pre>', "in full"
        else:
            content, what = _diff(previous, source, g.index)
        parts.append(
            f'<details id="program-{g.index}" data-generation="{g.index}"{cls}{opened}>'
            f"<summary>generation {g.index} · {text(what)} · {text(ident)}{mark}</summary>{content}</details>"
        )
        previous = source
    return "".join(parts)


def program_text(g: GenerationSummary) -> str | None:
    """The program as text for display (bytes that are not UTF-8 shown with replacement characters)."""
    if g.source is not None:
        return g.source
    if g.source_base64 is not None:
        return base64.b64decode(g.source_base64).decode("utf-8", "replace")
    return None


def settings_section(report: Report) -> str:
    items: list[tuple[str, str]] = []
    backend = report.backend
    if backend is not None:
        items.append(("sandbox", f"{backend.name}{'' if backend.isolated else ' (NOT ISOLATED)'}"))
        items.append(("isolation", backend.isolation))
        if backend.work_counter:
            items.append(("work counter", backend.work_counter))
    language = str(getattr(report, "language", None) or report.config.get("language") or "python")
    python = backend.python if backend is not None and language == "python" else None
    items.append(("language", f"{language} {python}" if python else language))
    extraction = getattr(report, "extraction", None)
    if extraction is not None:
        items.append(("program found by", f"{extraction.rule}: {extraction.reason}"))
    items += [(key, _plain(value)) for key, value in _flatten(report.config)]
    items += [
        ("duration", f"{report.duration_ms / 1000:.2f}s"),
        ("quinebox", report.quinebox_version or "unknown"),
        ("schema version", str(report.schema_version)),
    ]
    items += [("note", note) for note in report.notes]
    rows = "".join(f"<dt>{text(k)}</dt><dd>{text(v)}</dd>" for k, v in items)
    return f'<h2>Sandbox and settings</h2><dl class="kv">{rows}</dl>'


# --- helpers -------------------------------------------------------------------------------------

_VERDICT_ORDER = {"pass": 0, "fail": 1, "error": 2}


def _rows_list(rows: Sequence[GradedRow], opened: Collection[str]) -> str:
    head = (
        '<div class="head"><span>id</span><span>verdict</span><span>failed check</span><span>gen</span>'
        "<span>score</span><span>reason</span></div>"
    )
    items = []
    for i, row in enumerate(rows):
        g = row.grade
        verdict = str(g.get("verdict"))
        gen = g.get("failed_generation")
        score = g.get("score")
        summary = (
            f"<span>{text(row.key)}</span>"
            f'<span><span class="badge {_verdict_class(verdict)}">{text(verdict)}</span></span>'
            f"<span>{text(g.get('failed_check') or '')}</span><span>{'' if gen is None else text(gen)}</span>"
            f"<span>{'' if not isinstance(score, int | float) else f'{score:.3f}'}</span>"
            f"<span>{text(g.get('reason') or '')}</span>"
        )
        items.append(
            f'<details class="row" data-row="{attr(row.key)}"{" open" if row.key in opened else ""}>'
            f"<summary>{summary}</summary><div>"
            f"{_row_details(row, i)}</div></details>"
        )
    return f'<div class="rows">{head}{"".join(items)}</div>'


def _row_details(row: GradedRow, index: int) -> str:
    g = row.grade
    facts = [("verdict", str(g.get("verdict"))), ("reason", str(g.get("reason") or ""))]
    for key in ("failed_check", "failed_generation", "score", "generations", "seconds"):
        if g.get(key) is not None:
            facts.append((key.replace("_", " "), _plain(g[key])))
    settings = g.get("settings")
    if isinstance(settings, dict):
        facts += [(f"settings: {k}", _plain(v)) for k, v in _flatten(settings)]
    parts = ['<dl class="kv">' + "".join(f"<dt>{text(k)}</dt><dd>{text(v)}</dd>" for k, v in facts) + "</dl>"]
    if row.program is not None:
        parts.append(f'<p class="muted">the program that was verified ({text(row.program_note)}):</p>')
        parts.append(f'<pre class="code">\n{text(row.program)}</pre>')
    else:
        parts.append(f'<p class="muted">program: {text(row.program_note)}</p>')
    report = row.report
    if report is None:
        parts.append('<p class="muted">no full report stored (grade with --full-reports to keep one)</p>')
    else:
        parts.append(plots_section(report, prefix=f"row{index}-"))
        parts.append(checks_section(report))
        parts.append(generations_section(report).replace(' id="gen-', f' id="row{index}-gen-'))
    return "".join(parts)


def _verdict_class(verdict: str) -> str:
    return verdict if verdict in ("pass", "fail", "error") else "other"


def _series(report: Report, value: Callable[[RunSummary], float | None]) -> list[Series]:
    out = []
    for kind, label in (("default", "default run"), ("next", "--next run")):
        points = [(g.index, value(run)) for g in report.generations if (run := g.judged(kind)) is not None]
        if points:
            out.append(Series(kind, label, points))
    return out


def _requested(report: Report) -> int | None:
    requested = report.config.get("generations")
    return requested if isinstance(requested, int) and requested >= 0 else None


def _last_generation(report: Report) -> int:
    """The x axis: the recorded generations, and past them a stretch (up to N) showing recording stopped."""
    recorded = report.generations[-1].index if report.generations else 0
    requested = _requested(report)
    if requested is None or requested <= recorded:
        return recorded
    return min(requested, max(recorded + 4, recorded * 3 // 2))


def _failing_label(report: Report) -> str:
    failure = report.failure
    if failure is None or failure.generation is None:
        return ""
    return f"✗ {failure.check} fails here"


def _legend(work: bool, failing: bool) -> str:
    allowance = ' · <b class="allow">▒ allowed by linear-time</b>' if work else ""
    fails = ' · <b class="fail">┆ failing generation</b>' if failing else ""
    return (
        '<div class="legend"><b class="default">● default run</b> · <b class="next">● --next run</b>'
        f"{allowance}{fails}</div>"
    )


def _run_cell(run: RunSummary | None) -> str:
    if run is None:
        return '<td class="run muted">-</td>'
    cls = "ok" if run.status == "OK" else "bad"
    work = "-" if run.work is None else f"{run.work:,}"
    details = [f"exit code {run.exit_code}" if run.exit_code is not None else "no exit code"]
    if run.signal is not None:
        details.append(f"signal {run.signal}")
    details += [f"wall {run.wall_ms:.1f} ms", f"CPU {run.cpu_ms:.1f} ms", f"stdout {run.stdout_bytes:,} bytes"]
    if run.stdout_truncated or run.stderr_truncated:
        details.append("output truncated")
    details += [f"event: {e}" for e in run.events[:20]]
    return (
        f'<td class="run" title="{attr(chr(10).join(details))}"><span class="badge {cls}">{text(run.status)}</span>'
        f"<small>{work} · {run.cpu_ms:.1f} ms</small></td>"
    )


def _key_evidence(evidence: dict[str, Any]) -> str:
    items = []
    for key in _EVIDENCE_KEYS:
        value = evidence.get(key)
        if value in (None, "", []):
            continue
        shown = short_number(value, 20) if isinstance(value, str) and value.isdigit() else _plain(value)
        items.append(f"<dt>{text(key.replace('_', ' '))}</dt><dd class='mono'>{text(_cut(shown, 2000))}</dd>")
    return f'<dl class="kv">{"".join(items)}</dl>' if items else ""


def _diff(before: str, after: str, index: int) -> tuple[str, str]:
    if before == after:
        return '<div class="muted">identical to the program before</div>', "identical to the one before"
    if len(before) + len(after) > DIFF_LIMIT:
        return f'<pre class="code">\n{text(after)}</pre>', "in full (too large to diff)"
    lines = list(
        difflib.unified_diff(
            before.splitlines(),
            after.splitlines(),
            f"generation {index - 1}",
            f"generation {index}",
            n=2,
            lineterm="",
        )
    )[2:]
    added = sum(1 for line in lines if line.startswith("+"))
    removed = sum(1 for line in lines if line.startswith("-"))
    shown = []
    for line in lines[:DIFF_LINES]:
        cls = {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "ctx")
        shown.append(f'<span class="{cls}">{text(line) or " "}</span>')
    if len(lines) > DIFF_LINES:
        shown.append(f'<span class="hunk">… {len(lines) - DIFF_LINES:,} more diff lines not shown</span>')
    return f'<pre class="diff">{"".join(shown)}</pre>', f"diff against {index - 1}: +{added} −{removed} lines"


def _flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            out += _flatten(value, f"{prefix}{key}.")
        else:
            out.append((f"{prefix}{key}", value))
    return out


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, int | float | str) or v is None for v in value):
        return ", ".join("-" if v is None else str(v) for v in value)
    return _json(value)


def _json(value: Any) -> str:
    return _cut(json.dumps(value, ensure_ascii=False, indent=1, default=str), 20_000)


def _cut(value: str, limit: int) -> str:
    return value if len(value) <= limit else f"{value[:limit]}… ({len(value) - limit:,} more characters)"
