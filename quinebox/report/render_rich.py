"""The human report on a terminal: verdict panel, first failure with evidence, per-generation table.

The only module that imports rich (besides the CLI's progress bar). Honours
NO_COLOR and plain, non-terminal output through rich's own detection.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from quinebox.report.model import EVIDENCE_KEYS, GenerationSummary, Report, Verdict

#: Rows shown in the per-generation table before the middle is elided.
TABLE_ROWS = 12
_STYLE = {
    Verdict.PASS: "bold green",
    Verdict.FAIL: "bold red",
    Verdict.ERROR: "bold yellow",
    Verdict.NOT_JUDGED: "bold blue",
}
#: Work values shown from the start and the end of a long series.
_SERIES_HEAD, _SERIES_TAIL = 12, 4


def render(report: Report, console: Console) -> None:
    """Print the whole human report."""
    console.print(verdict_panel(report))
    if report.failure is not None:
        failed = report.check(report.failure.check)
        if failed is not None and failed.evidence:
            console.print(evidence_view(failed.name, failed.evidence))
    if report.generations:
        console.print(generation_table(report.generations))
    console.print(checks_line(report))


def verdict_panel(report: Report) -> Panel:
    title = Text(report.verdict.value.replace("_", " ").upper(), style=_STYLE[report.verdict])
    lines: list[RenderableType] = []
    if report.verdict is Verdict.ERROR:
        lines.append(Text(f"infrastructure error: {report.error}"))
        lines.append(Text("the candidate was not judged; fix the sandbox and run again", style="dim"))
    elif report.verdict is Verdict.NOT_JUDGED:
        lines.append(Text(str(report.not_judged)))
        lines.append(Text("not a failure and not scored; nothing was run", style="dim"))
    elif report.failure is not None:
        where = f" at generation {report.failure.generation}" if report.failure.generation is not None else ""
        lines.append(Text.assemble((report.failure.check, "bold"), f" failed{where}"))
        lines.append(Text(report.failure.reason))
    else:
        count = len(report.generations)
        last = report.generations[-1].number if report.generations else None
        steps = report.config.get("generations", max(count - 1, 0))
        lines.append(
            Text(
                f"{steps} generations verified ({count} programs), every check passed"
                + (f"; last number {_short(last)}" if last else "")
            )
        )
    if report.extraction is not None:
        lines.append(Text(f"program: {report.extraction.reason}", style="dim"))
    backend = report.backend
    if backend is not None:
        style = "dim" if backend.isolated else "bold yellow"
        lines.append(Text(f"sandbox: {backend.name} ({backend.isolation})", style=style))
    score = "not scored" if report.score is None else f"score {report.score:.3f}"
    lines.append(Text(f"{score} · {report.duration_ms / 1000:.2f}s", style="dim"))
    return Panel(Group(*lines), title=title, title_align="left", border_style=_STYLE[report.verdict], expand=False)


def evidence_view(check: str, evidence: dict[str, Any]) -> RenderableType:
    parts: list[RenderableType] = []
    if check == "linear-time" and evidence.get("work"):
        parts.append(Text.assemble(("work per generation: ", "bold"), _series(evidence["work"])))
    if check == "self-similarity" and isinstance(evidence.get("growth"), list):
        sizes = _series(evidence["growth"])
        raw = evidence.get("raw_bytes")
        start = evidence.get("growth_from", evidence.get("since_generation", 0))
        label = f"size without layout (comments count), from generation {start}: "
        parts.append(Text.assemble((label, "bold"), sizes + (f" (bytes {_series(raw)})" if raw else "")))
    for key in EVIDENCE_KEYS:
        if key == "growth" and check == "self-similarity" and isinstance(evidence.get(key), list):
            continue  # shown above, labelled
        if key in evidence and evidence[key] not in (None, "", []):
            parts.append(Text.assemble((f"{key.replace('_', ' ')}: ", "bold"), _value(evidence[key])))
    for key in ("stderr", "without_file_stderr"):
        if evidence.get(key):
            parts.append(Text(f"{key.replace('_', ' ')}:", style="bold"))
            parts.append(Text(str(evidence[key]), style="red"))
    if evidence.get("diff"):
        parts.append(Syntax(str(evidence["diff"]), "diff", theme="ansi_dark", background_color="default"))
    if not parts:
        return Text("")
    return Panel(Group(*parts), title=f"evidence: {check}", title_align="left", expand=False)


def generation_table(generations: list[GenerationSummary]) -> Table:
    table = Table(title=None, box=None, pad_edge=False, show_edge=False, header_style="bold")
    for name, justify in (
        ("gen", "right"),
        ("number", "right"),
        ("size", "right"),
        ("work", "right"),
        ("ms", "right"),
        ("status", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    rows = generations
    if len(rows) > TABLE_ROWS:
        half = TABLE_ROWS // 2
        rows = [*rows[:half], *rows[-half:]]
    for i, g in enumerate(rows):
        if len(generations) > TABLE_ROWS and i == TABLE_ROWS // 2:
            table.add_row("…", "", "", "", "", "")
        default = g.judged("default")
        statuses = sorted({r.status for r in g.runs.values()})
        table.add_row(
            str(g.index),
            _short(g.number) if g.number is not None else "-",
            f"{g.size:,}",
            "-" if default is None or default.work is None else f"{default.work:,}",
            "-" if default is None else f"{default.wall_ms:.1f}",
            ",".join(statuses),
        )
    return table


def checks_line(report: Report) -> Text:
    """One mark per check (``✓runs ✗output``), so that all seven fit in 80 columns."""
    text = Text()
    for i, check in enumerate(report.checks):
        if i:
            text.append(" ")
        text.append("✓" if check.passed else "✗", style="green" if check.passed else "red")
        text.append(check.name)
    return text


def show_program(report: Report, fallback: str | None, console: Console) -> None:
    """The program that was verified (P0), as recorded in the report, else `fallback`; on the console given."""
    first = report.generations[0] if report.generations else None
    text = first.source if first is not None and first.source is not None else fallback
    if text is None:
        console.print(Text("no program to show", style="dim"))
        return
    console.print(Text("program verified (P0):", style="bold"))
    console.print(Text(text), soft_wrap=True)


def _series(values: list[Any]) -> str:
    """A long series shown as its head and tail: ``12, 12, 14, … 2,000,000``."""
    shown = [("-" if v is None else f"{v:,}" if isinstance(v, int) else str(v)) for v in values]
    if len(shown) > _SERIES_HEAD + _SERIES_TAIL:
        shown = [*shown[:_SERIES_HEAD], "…", *shown[-_SERIES_TAIL:]]
    return ", ".join(shown)


def _short(number: str | None) -> str:
    if number is None:
        return "-"
    return number if len(number) <= 24 else f"{number[:10]}…{number[-10:]} ({len(number)} digits)"


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_short(v) if isinstance(v, str) and v.isdigit() else str(v) for v in value)
    if isinstance(value, str) and value.isdigit():
        return _short(value)
    return str(value)


def stdout_console() -> Console:
    """The console for output the user asked for, such as the verified program."""
    return Console(highlight=False, soft_wrap=True)


def stderr_console() -> Console:
    """The console for human output: stderr, colour only where rich detects a terminal and no NO_COLOR."""
    return Console(stderr=True, highlight=False, soft_wrap=False)


class GenerationProgress:
    """A transient progress bar over generations, drawn only on a terminal."""

    def __init__(self, console: Console, generations: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("verifying"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[number]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self._task = self._progress.add_task("verify", total=generations + 1, number="")

    def start(self) -> None:
        self._progress.start()

    def stop(self) -> None:
        self._progress.stop()

    def advance(self, generation: Any) -> None:
        from quinebox.checks._numbers import parse_number
        from quinebox.record import RunKind

        run = generation.judged(RunKind.DEFAULT)
        value = parse_number(run.stdout) if run is not None else None
        shown = _short(str(value)) if isinstance(value, int) else ""
        self._progress.update(self._task, advance=1, number=shown)


class RowProgress:
    """A transient progress bar over graded rows, drawn only on a terminal."""

    def __init__(self, console: Console) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._progress = Progress(
            TextColumn("grading"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[tally]}"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self._task = self._progress.add_task("grade", total=None, tally="")
        self._tally: dict[str, int] = {}

    def start(self) -> None:
        self._progress.start()

    def stop(self) -> None:
        self._progress.stop()

    def set_total(self, total: int, skipped: int) -> None:
        self._progress.update(self._task, total=total, completed=skipped)

    def advance(self, row: Any, grade: dict[str, Any]) -> None:
        verdict = str(grade.get("verdict"))
        self._tally[verdict] = self._tally.get(verdict, 0) + 1
        tally = " ".join(f"{k} {v}" for k, v in sorted(self._tally.items()))
        self._progress.update(self._task, advance=1, tally=tally)


def render_grade_summary(summary: Any, console: Console) -> None:
    """The closing table of a grading run: the whole output file's verdicts, then what this run did."""
    whole = getattr(summary, "whole", None)
    if whole is not None and whole.rows:
        console.print(_grade_table(whole))
        for line in _grade_lines(whole):
            console.print(line)
    console.print(
        Text(
            f"graded {summary.graded} rows in {summary.seconds:.1f}s; {summary.skipped} already graded, skipped",
            style="dim",
        )
    )


def _grade_table(whole: Any) -> Table:
    table = Table(title=None, box=None, header_style="bold", pad_edge=False)
    table.add_column("outcome")
    table.add_column("rows", justify="right")
    table.add_column("share", justify="right")
    total = max(whole.rows, 1)
    passed = whole.verdicts.get("pass", 0)
    table.add_row(Text("pass", style="green"), str(passed), f"{passed / total:.0%}")
    for check, ids in sorted(whole.failing.items(), key=lambda item: (-len(item[1]), item[0])):
        table.add_row(Text(f"fail: {check}", style="red"), str(len(ids)), f"{len(ids) / total:.0%}")
    for language, ids in sorted(whole.not_judged.items()):
        label = f"not judged: {language} (not scored)"
        table.add_row(Text(label, style="blue"), str(len(ids)), f"{len(ids) / total:.0%}")
    if whole.errors:
        errors = len(whole.errors)
        table.add_row(Text("error (infrastructure, not scored)", style="yellow"), str(errors), f"{errors / total:.0%}")
    return table


def _grade_lines(whole: Any) -> list[Text]:
    """Totals over the judged rows, then the ids behind each failing check."""
    lines = []
    if whole.judged:
        mean = "-" if whole.mean_score is None else f"{whole.mean_score:.3f}"
        lines.append(
            Text(
                f"{whole.rows} rows, {whole.judged} judged: pass rate {whole.pass_rate:.3f} "
                f"± {whole.pass_rate_stderr:.3f} (standard error), mean score {mean}"
            )
        )
    else:
        lines.append(Text(f"{whole.rows} rows, none judged"))
    for check, ids in sorted(whole.failing.items()):
        lines.append(Text(f"failed {check}: {_ids(ids)}", style="dim"))
    for language, ids in sorted(whole.not_judged.items()):
        lines.append(Text(f"not judged ({language}): {_ids(ids)}", style="dim"))
    if whole.errors:
        lines.append(Text(f"errors: {_ids(whole.errors)}", style="dim"))
    return lines


def _ids(ids: list[str], limit: int = 20) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
