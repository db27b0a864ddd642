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

from quinebox.report.model import GenerationSummary, Report, Verdict

#: Rows shown in the per-generation table before the middle is elided.
TABLE_ROWS = 12
_STYLE = {Verdict.PASS: "bold green", Verdict.FAIL: "bold red", Verdict.ERROR: "bold yellow"}


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
    title = Text(report.verdict.value.upper(), style=_STYLE[report.verdict])
    lines: list[RenderableType] = []
    if report.verdict is Verdict.ERROR:
        lines.append(Text(f"infrastructure error: {report.error}"))
        lines.append(Text("the candidate was not judged; fix the sandbox and run again", style="dim"))
    elif report.failure is not None:
        where = f" at generation {report.failure.generation}" if report.failure.generation is not None else ""
        lines.append(Text.assemble((report.failure.check, "bold"), f" failed{where}"))
        lines.append(Text(report.failure.reason))
    else:
        count = len(report.generations)
        last = report.generations[-1].number if report.generations else None
        lines.append(
            Text(
                f"{count} generations verified, every check passed" + (f"; last number {_short(last)}" if last else "")
            )
        )
    backend = report.backend
    if backend is not None:
        style = "dim" if backend.isolated else "bold yellow"
        lines.append(Text(f"sandbox: {backend.name} ({backend.isolation})", style=style))
    lines.append(Text(f"score {report.score:.3f} · {report.duration_ms / 1000:.2f}s", style="dim"))
    return Panel(Group(*lines), title=title, title_align="left", border_style=_STYLE[report.verdict], expand=False)


def evidence_view(check: str, evidence: dict[str, Any]) -> RenderableType:
    parts: list[RenderableType] = []
    for key in (
        "expected",
        "printed",
        "previous",
        "call",
        "run",
        "status",
        "exit_code",
        "message",
        "growth",
        "with_file",
        "without_file",
        "first",
        "again",
        "printed_bytes",
    ):
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
        default = g.runs.get("default")
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
    text = Text()
    for i, check in enumerate(report.checks):
        if i:
            text.append("  ")
        text.append("✓ " if check.passed else "✗ ", style="green" if check.passed else "red")
        text.append(check.name)
    return text


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

        run = generation.runs.get("default")
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
    """The closing table of a grading run: verdicts, and failures by the check that failed."""
    if summary.graded:
        console.print(_grade_table(summary))
    console.print(
        Text(
            f"graded {summary.graded} rows in {summary.seconds:.1f}s; {summary.skipped} already graded, skipped",
            style="dim",
        )
    )


def _grade_table(summary: Any) -> Table:
    table = Table(title=None, box=None, header_style="bold", pad_edge=False)
    table.add_column("outcome")
    table.add_column("rows", justify="right")
    table.add_column("share", justify="right")
    total = max(summary.graded, 1)
    table.add_row(
        Text("pass", style="green"),
        str(summary.verdicts.get("pass", 0)),
        f"{summary.verdicts.get('pass', 0) / total:.0%}",
    )
    for check, count in summary.failed_checks.most_common():
        table.add_row(Text(f"fail: {check}", style="red"), str(count), f"{count / total:.0%}")
    if summary.verdicts.get("error"):
        errors = summary.verdicts["error"]
        table.add_row(Text("error (infrastructure, not scored)", style="yellow"), str(errors), f"{errors / total:.0%}")
    return table
