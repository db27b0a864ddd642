"""The `quinebox` command: verify, doctor, schema.

Human output goes to stderr, data (`--json`) to stdout. Exit codes: 0 pass,
1 fail, 2 usage error, 3 infrastructure error, 130 interrupted. No user ever
sees a traceback: every expected failure becomes a one-line message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from quinebox.errors import InfraError, UsageError

if TYPE_CHECKING:
    from quinebox.limits import Limits

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INFRA, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

app = typer.Typer(
    name="quinebox",
    help="Verify self-reproducing Fibonacci programs (quine chains) in a sandbox, with evidence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _fail(code: int, message: str) -> NoReturn:
    typer.echo(f"quinebox: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def verify(
    program: Annotated[str, typer.Argument(help="Path to the candidate program, or - to read it from stdin.")],
    generations: Annotated[int, typer.Option("--generations", "-n", min=0, help="N: run P0..PN.")] = 50,
    sequence: Annotated[str, typer.Option(help="fibonacci, lucas, or two seeds like 2,1.")] = "fibonacci",
    next_flag: Annotated[
        str, typer.Option("--next-flag", help="The argument that asks for the next program.")
    ] = "--next",
    sandbox: Annotated[str, typer.Option(help="auto, bwrap, docker or none (none: not isolated).")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    keep_going: Annotated[
        bool, typer.Option("--keep-going", help="Do not stop at the first failing generation.")
    ] = False,
    timeout: Annotated[float | None, typer.Option(help="Wall seconds per run.", min=0.1)] = None,
    memory: Annotated[int | None, typer.Option(help="Memory limit per process, MiB.", min=16)] = None,
    output_bytes: Annotated[
        int | None, typer.Option("--output-bytes", help="Output bytes kept per stream.", min=64)
    ] = None,
    work_budget: Annotated[int | None, typer.Option("--work-budget", help="Work units per run.", min=1000)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or report on stderr.")] = False,
) -> None:
    """Run PROGRAM through N --next generations in a sandbox and judge every check."""
    from quinebox.api import read_program
    from quinebox.api import verify as run_verify
    from quinebox.limits import Limits

    try:
        source = sys.stdin.buffer.read() if program == "-" else read_program(Path(program))
        limits = _limits(Limits.from_env(), timeout, memory, output_bytes, work_budget)
    except UsageError as exc:
        _fail(EXIT_USAGE, str(exc))
    from quinebox.report import render_rich

    console = render_rich.stderr_console()
    progress = (
        None if quiet or as_json and not console.is_terminal else render_rich.GenerationProgress(console, generations)
    )
    try:
        if progress is not None:
            progress.start()
        report = run_verify(
            source,
            generations=generations,
            sequence=sequence,
            sandbox=sandbox,
            next_flag=next_flag,
            limits=limits,
            keep_going=keep_going,
            on_generation=progress.advance if progress is not None else None,
        )
    except UsageError as exc:
        _stop(progress)
        _fail(EXIT_USAGE, str(exc))
    except InfraError as exc:
        _stop(progress)
        if as_json:
            from quinebox.report.build import error_report

            typer.echo(error_report(str(exc), {"generations": generations}, 0.0).to_json())
        _fail(EXIT_INFRA, f"infrastructure error: {exc}")
    except KeyboardInterrupt:
        _stop(progress)
        _fail(EXIT_INTERRUPTED, "interrupted")
    _stop(progress)
    if as_json:
        typer.echo(report.to_json())
    if not quiet:
        render_rich.render(report, console)
    raise typer.Exit(EXIT_PASS if report.passed else EXIT_FAIL)


def _stop(progress: object) -> None:
    if progress is not None:
        progress.stop()  # type: ignore[attr-defined]


def _limits(
    base: Limits, timeout: float | None, memory: int | None, output_bytes: int | None, work: int | None
) -> Limits:
    from dataclasses import replace

    changes: dict[str, float | int] = {
        k: v
        for k, v in (("wall_s", timeout), ("mem_mb", memory), ("output_bytes", output_bytes), ("work", work))
        if v is not None
    }
    if timeout is not None:
        changes["cpu_s"] = max(1, int(timeout + 0.999))
    return replace(base, **changes).validated()  # type: ignore[arg-type]


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


def main() -> None:
    """Console-script entry point: exit codes as documented, never a traceback."""
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
