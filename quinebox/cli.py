"""The `quinebox` command: verify, grade, doctor, schema, image, gc.

Human output goes to stderr, data (`--json`) to stdout. Exit codes: 0 pass,
1 fail, 2 usage error, 3 infrastructure error, 130 interrupted. No user ever
sees a traceback: every expected failure becomes a one-line message.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from quinebox.errors import InfraError, UsageError

if TYPE_CHECKING:
    from quinebox.limits import Limits
    from quinebox.report.model import Report

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INFRA, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

app = typer.Typer(
    name="quinebox",
    help="Verify self-reproducing Fibonacci programs (quine chains) in a sandbox, with evidence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Options shared by verify and grade: one definition, one help text.
Generations = Annotated[
    int, typer.Option("--generations", "-n", min=0, envvar="QUINEBOX_GENERATIONS", help="N: run P0..PN (N+1 numbers).")
]
SequenceOpt = Annotated[str, typer.Option("--sequence", help="fibonacci, lucas, or two seeds like 2,1.")]
Sandbox = Annotated[
    str, typer.Option("--sandbox", envvar="QUINEBOX_SANDBOX", help="auto, bwrap, docker or none (none: not isolated).")
]
Timeout = Annotated[float | None, typer.Option("--timeout", help="Wall seconds per run.", min=0.1)]
Memory = Annotated[int | None, typer.Option("--memory", help="Memory limit per process, MiB.", min=16)]
OutputBytes = Annotated[int | None, typer.Option("--output-bytes", help="Output bytes kept per stream.", min=64)]
WorkBudget = Annotated[int | None, typer.Option("--work-budget", help="Work units per run.", min=1000)]
JunitXml = Annotated[Path | None, typer.Option("--junit-xml", help="Also write a JUnit XML report to this path.")]


def _fail(code: int, message: str) -> NoReturn:
    typer.echo(f"quinebox: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def verify(
    program: Annotated[str, typer.Argument(help="Path to the candidate program, or - to read it from stdin.")],
    generations: Generations = 50,
    sequence: SequenceOpt = "fibonacci",
    next_flag: Annotated[str, typer.Option("--next-flag", help="The argument that asks for the next program.")] = (
        "--next"
    ),
    sandbox: Sandbox = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    keep_going: Annotated[bool, typer.Option("--keep-going", help="Do not stop at the first failing generation.")] = (
        False
    ),
    from_response: Annotated[
        bool, typer.Option("--from-response", help="PROGRAM is a model's whole response: find the program in it.")
    ] = False,
    timeout: Timeout = None,
    memory: Memory = None,
    output_bytes: OutputBytes = None,
    work_budget: WorkBudget = None,
    junit_xml: JunitXml = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or report on stderr.")] = False,
) -> None:
    """Run PROGRAM through N --next generations in a sandbox and judge every check."""
    from quinebox.api import read_program, verify_response
    from quinebox.api import verify as run_verify
    from quinebox.report import render_rich

    try:
        source = sys.stdin.buffer.read() if program == "-" else read_program(Path(program))
        limits = _limits(timeout, memory, output_bytes, work_budget)
    except UsageError as exc:
        _fail(EXIT_USAGE, str(exc))
    console = render_rich.stderr_console()
    show_progress = not quiet and console.is_terminal
    progress = render_rich.GenerationProgress(console, generations) if show_progress else None
    options: dict[str, Any] = {
        "generations": generations,
        "sequence": sequence,
        "sandbox": sandbox,
        "next_flag": next_flag,
        "limits": limits,
        "keep_going": keep_going,
        "on_generation": progress.advance if progress is not None else None,
    }
    try:
        if progress is not None:
            progress.start()
        if from_response:
            report = verify_response(source.decode("utf-8", "surrogateescape"), **options)
        else:
            report = run_verify(source, **options)
    except UsageError as exc:
        _stop(progress)
        _fail(EXIT_USAGE, str(exc))
    except InfraError as exc:
        _stop(progress)
        from quinebox.report.build import error_report

        report = error_report(str(exc), {"generations": generations, "sandbox": sandbox}, 0.0)
        _emit(report, as_json, junit_xml, program)
        _fail(EXIT_INFRA, f"infrastructure error: {exc}")
    except KeyboardInterrupt:
        _stop(progress)
        _fail(EXIT_INTERRUPTED, "interrupted")
    _stop(progress)
    _emit(report, as_json, junit_xml, program)
    if not quiet:
        render_rich.render(report, console)
    raise typer.Exit(EXIT_PASS if report.passed else EXIT_FAIL)


def _emit(report: Report, as_json: bool, junit_xml: Path | None, program: str) -> None:
    if as_json:
        typer.echo(report.to_json())
    if junit_xml is not None:
        from quinebox.report.render_junit import verify_junit

        _write(junit_xml, verify_junit(report, "stdin" if program == "-" else Path(program).name))


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(EXIT_USAGE, f"cannot write {path}: {exc.strerror or exc}")


def _stop(progress: object) -> None:
    if progress is not None:
        progress.stop()  # type: ignore[attr-defined]


def _limits(timeout: float | None, memory: int | None, output_bytes: int | None, work: int | None) -> Limits:
    """Defaults, then QUINEBOX_* variables, then the command line."""
    from dataclasses import replace

    from quinebox.limits import Limits

    changes: dict[str, Any] = {
        key: value
        for key, value in (("wall_s", timeout), ("mem_mb", memory), ("output_bytes", output_bytes), ("work", work))
        if value is not None
    }
    if timeout is not None:
        changes["cpu_s"] = max(1, int(timeout + 0.999))
    return replace(Limits.from_env(), **changes).validated()


@app.command()
def grade(
    samples: Annotated[Path, typer.Argument(help="A JSONL file: one JSON object per line.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Graded JSONL; rows already graded there are skipped.")],
    field: Annotated[str, typer.Option("--field", help="The key holding the model's response.")] = "response",
    id_field: Annotated[str, typer.Option("--id-field", help="The key identifying a row.")] = "id",
    raw: Annotated[bool, typer.Option("--raw", help="The field is the program itself, not a response.")] = False,
    generations: Generations = 50,
    sequence: SequenceOpt = "fibonacci",
    sandbox: Sandbox = "auto",
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Verifications at once.")] = 2,
    retries: Annotated[int, typer.Option("--retries", min=0, help="Retries of a row after an infra error.")] = 2,
    timeout: Timeout = None,
    memory: Memory = None,
    output_bytes: OutputBytes = None,
    work_budget: WorkBudget = None,
    junit_xml: JunitXml = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary on stderr.")] = False,
) -> None:
    """Grade every model response in SAMPLES, adding a verdict to each row; resumable."""
    from quinebox.grade import GradeOptions, grade_file, iter_graded
    from quinebox.report import render_rich

    try:
        options = GradeOptions(
            text_field=field,
            id_field=id_field,
            raw=raw,
            generations=generations,
            sequence=sequence,
            sandbox=sandbox,
            jobs=jobs,
            retries=retries,
            limits=_limits(timeout, memory, output_bytes, work_budget),
        )
    except UsageError as exc:
        _fail(EXIT_USAGE, str(exc))
    console = render_rich.stderr_console()
    progress = render_rich.RowProgress(console) if not quiet and console.is_terminal else None
    try:
        if progress is not None:
            progress.start()
        summary = grade_file(
            samples,
            out,
            options,
            on_row=progress.advance if progress is not None else None,
            on_start=progress.set_total if progress is not None else None,
        )
    except UsageError as exc:
        _stop(progress)
        _fail(EXIT_USAGE, str(exc))
    except InfraError as exc:
        _stop(progress)
        _fail(EXIT_INFRA, f"infrastructure error: {exc}")
    except KeyboardInterrupt:
        _stop(progress)
        _fail(EXIT_INTERRUPTED, f"interrupted; graded rows are kept in {out}, run again to resume")
    _stop(progress)
    if junit_xml is not None:
        from quinebox.report.render_junit import grade_junit

        _write(junit_xml, grade_junit(iter_graded(out), samples.name))
    if not quiet:
        render_rich.render_grade_summary(summary, console)
    raise typer.Exit(EXIT_INFRA if summary.verdicts.get("error") else EXIT_PASS)


image_app = typer.Typer(help="The docker sandbox image.", no_args_is_help=True)
app.add_typer(image_app, name="image")


@image_app.command("build")
def image_build(
    tag: Annotated[
        str | None, typer.Option("--tag", help="Image name (default QUINEBOX_IMAGE or quinebox-sandbox:latest).")
    ] = None,
    base_image: Annotated[
        str | None, typer.Option("--base-image", help="BASE_IMAGE build argument, e.g. quinebox-base:bookworm.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No build log on stderr.")] = False,
) -> None:
    """Build the sandbox image from this quinebox's Dockerfile and guest code."""
    from quinebox.images import build_image, image_name

    def show(line: str) -> None:
        if not quiet:
            typer.echo(line.rstrip(), err=True)

    try:
        image_id = build_image(tag, base_image=base_image, progress=show)
    except InfraError as exc:
        _fail(EXIT_INFRA, str(exc))
    except KeyboardInterrupt:
        _fail(EXIT_INTERRUPTED, "interrupted")
    typer.echo(f"built {image_name(tag)} ({image_id})", err=True)


@app.command("gc")
def collect_garbage(
    everything: Annotated[
        bool, typer.Option("--all", help="Remove every quinebox container, live sessions included.")
    ] = False,
) -> None:
    """Remove quinebox containers whose owner is gone or whose time-to-live is past."""
    from quinebox.images import gc

    try:
        removed = gc(all_=everything)
    except InfraError as exc:
        _fail(EXIT_INFRA, str(exc))
    typer.echo(f"removed {len(removed)} container(s)" + (f": {' '.join(removed)}" if removed else ""), err=True)


@app.command()
def doctor(as_json: Annotated[bool, typer.Option("--json", help="Print findings as JSON.")] = False) -> None:
    """Say which sandboxes work on this machine and, for each that does not, the exact fix."""
    from quinebox.doctor import diagnose

    findings = diagnose()
    if as_json:
        typer.echo(json.dumps([f.to_dict() for f in findings], indent=2))
    else:
        for finding in findings:
            mark = "ok  " if finding.ok else "FAIL"
            typer.echo(f"{mark} {finding.name:7} {finding.detail}", err=True)
            if finding.fix:
                typer.echo(f"     {'':7} fix: {finding.fix}", err=True)
    usable = [f for f in findings if f.ok and f.name in ("bwrap", "docker")]
    raise typer.Exit(EXIT_PASS if usable else EXIT_INFRA)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the --json report."""
    from quinebox.report.schema import REPORT_SCHEMA

    typer.echo(json.dumps(REPORT_SCHEMA, indent=2))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Console-script entry point: exit codes as documented, never a traceback."""
    # Ctrl-C and SIGTERM always interrupt with cleanup, even when started with SIGINT ignored
    # (as background jobs of non-interactive shells are).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        code = app(standalone_mode=False)  # returns the command's exit code instead of exiting
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("quinebox: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # click's usage errors (typer may vendor click) and anything unforeseen
        if type(exc).__name__ == "Abort":
            sys.exit(EXIT_INTERRUPTED)
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(getattr(exc, "exit_code", None), int):
            show()
            sys.exit(EXIT_USAGE)
        typer.echo(f"quinebox: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INFRA)
    sys.exit(code if isinstance(code, int) else EXIT_PASS)
