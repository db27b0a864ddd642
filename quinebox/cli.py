"""The `quinebox` command: verify, grade, merge, serve, show, doctor, schema, image, gc, lm-eval-path.

Human output goes to stderr, data (`--json`, and reports asked for such as
`doctor`'s table) to stdout. Exit codes: 0 pass, 1 fail, 2 usage error,
3 infrastructure error, 4 not judged (a language quinebox does not judge yet),
130 interrupted. No user ever
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
EXIT_NOT_JUDGED = 4

app = typer.Typer(
    name="quinebox",
    help="Verify self-reproducing Fibonacci programs (quine chains) in a sandbox, with evidence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _plain_arguments() -> None:
    """Show arguments as click does (``PROGRAM``), not as recent typer does (``{PROGRAM}``, ``PROGRAM <str>``)."""
    from typer.core import TyperArgument

    def usage(self: Any) -> str:
        name = str(self.metavar or self.name).upper()
        return (name if self.required else f"[{name}]") + ("..." if self.nargs != 1 else "")

    if hasattr(TyperArgument, "_usage_display_name"):
        TyperArgument._usage_display_name = usage  # type: ignore[method-assign]
    if hasattr(TyperArgument, "display_type_rich"):
        TyperArgument.display_type_rich = lambda self, ctx: None  # type: ignore[method-assign]


_plain_arguments()


def _show_version(value: bool) -> None:
    if value:
        from quinebox import __version__

        typer.echo(f"quinebox {__version__}")
        raise typer.Exit(EXIT_PASS)


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_show_version, is_eager=True)
    ] = False,
) -> None:
    """Verify self-reproducing Fibonacci programs (quine chains) in a sandbox, with evidence."""


# Options shared by verify and grade: one definition, one help text.
Generations = Annotated[
    int,
    typer.Option(
        "--generations",
        "-n",
        min=1,
        metavar="N",
        envvar="QUINEBOX_GENERATIONS",
        help="N --next steps: run programs P0..PN (N+1 numbers); at least 1.",
    ),
]
SequenceOpt = Annotated[str, typer.Option("--sequence", metavar="S", help="fibonacci, lucas, or two seeds like 2,1.")]
Sandbox = Annotated[
    str,
    typer.Option(
        "--sandbox", metavar="NAME", envvar="QUINEBOX_SANDBOX", help="auto, bwrap, docker or none (none: not isolated)."
    ),
]
LanguageOpt = Annotated[
    str,
    typer.Option(
        "--language",
        metavar="NAME",
        envvar="QUINEBOX_LANGUAGE",
        help="auto (fence tag, extension, shebang, content), python, javascript, ruby, c or bash.",
    ),
]
AllowReflection = Annotated[
    bool,
    typer.Option(
        "--allow-reflection",
        help="Code-golf view: reading its own code from memory passes integrity (reading its file never does).",
    ),
]
Timeout = Annotated[float | None, typer.Option("--timeout", metavar="S", help="Wall seconds per run.", min=0.1)]
Memory = Annotated[int | None, typer.Option("--memory", metavar="MIB", help="Memory limit per process, MiB.", min=16)]
OutputBytes = Annotated[
    int | None, typer.Option("--output-bytes", metavar="N", help="Output bytes kept per stream.", min=64)
]
WorkBudget = Annotated[int | None, typer.Option("--work-budget", metavar="N", help="Work units per run.", min=1000)]
JunitXml = Annotated[
    Path | None, typer.Option("--junit-xml", metavar="PATH", help="Also write a JUnit XML report to this path.")
]
HtmlOut = Annotated[
    Path | None, typer.Option("--html", metavar="PATH", help="Also write a self-contained HTML page to this path.")
]


def _fail(code: int, message: str) -> NoReturn:
    typer.echo(f"quinebox: {message}", err=True)
    raise typer.Exit(code)


@app.command()
def verify(
    program: Annotated[
        str, typer.Argument(metavar="PROGRAM", help="Path to the candidate program, or - to read it from stdin.")
    ],
    generations: Generations = 50,
    sequence: SequenceOpt = "fibonacci",
    next_flag: Annotated[
        str, typer.Option("--next-flag", metavar="FLAG", help="The argument that asks for the next program.")
    ] = "--next",
    sandbox: Sandbox = "auto",
    language: LanguageOpt = "auto",
    allow_reflection: AllowReflection = False,
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
    deadline: Annotated[
        float | None,
        typer.Option(
            "--deadline",
            metavar="SECONDS",
            help="Seconds the whole verification may take; then it fails check runs [env QUINEBOX_DEADLINE_S; 300].",
        ),
    ] = None,
    junit_xml: JunitXml = None,
    html: HtmlOut = None,
    save_programs: Annotated[
        Path | None, typer.Option("--save-programs", help="Write P0..PN into this directory: gen-000.py ...")
    ] = None,
    show_program: Annotated[
        bool, typer.Option("--show-program", help="Print the program that was verified (P0) on stderr.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or report on stderr.")] = False,
) -> None:
    """Run PROGRAM through N --next generations in a sandbox and judge every check.

    Exit codes: 0 pass, 1 fail, 2 usage error, 3 infrastructure error, 4 not judged, 130 interrupted.
    """
    from quinebox.api import read_program, verify_response
    from quinebox.api import verify as run_verify

    try:
        source = sys.stdin.buffer.read() if program == "-" else read_program(Path(program))
        limits = _limits(timeout, memory, output_bytes, work_budget)
    except UsageError as exc:
        _fail(EXIT_USAGE, str(exc))
    progress = None
    if not quiet:  # rich is imported only for a person who will see its output
        from quinebox.report import render_rich

        console = render_rich.stderr_console()
        progress = render_rich.GenerationProgress(console, generations) if console.is_terminal else None
    options: dict[str, Any] = {
        "generations": generations,
        "sequence": sequence,
        "sandbox": sandbox,
        "next_flag": next_flag,
        "limits": limits,
        "keep_going": keep_going,
        "deadline": deadline,
        "language": language,
        "allow_reflection": allow_reflection,
        "on_generation": progress.advance if progress is not None else None,
    }
    if not from_response and _looks_like_response(program, source):
        typer.echo(
            f"quinebox: {program} looks like a model's response (Markdown, code fences); "
            "add --from-response to find the program in it",
            err=True,
        )
    try:
        if progress is not None:
            progress.start()
        if from_response:
            report = verify_response(source.decode("utf-8", "surrogateescape"), **options)
        else:
            report = run_verify(_as_path(program, source), **options)
    except UsageError as exc:
        _stop(progress)
        _fail(EXIT_USAGE, str(exc))
    except InfraError as exc:
        _stop(progress)
        from quinebox.api import config_of
        from quinebox.report.build import error_report

        report = error_report(str(exc), config_of(options), 0.0)
        _emit(report, as_json, junit_xml, program)
        _emit_pages(report, html, None)
        _fail(EXIT_INFRA, f"infrastructure error: {exc}")
    except KeyboardInterrupt:
        _stop(progress)
        _fail(EXIT_INTERRUPTED, "interrupted")
    _stop(progress)
    _emit(report, as_json, junit_xml, program)
    _emit_pages(report, html, save_programs)
    if not quiet:
        render_rich.render(report, console)
    if show_program:
        _show_program(report, source, from_response, as_json)
    raise typer.Exit(_exit_code(report))


def _show_program(report: Report, source: bytes, from_response: bool, as_json: bool) -> None:
    """P0 as verified: on stdout, the user asked for it, unless stdout carries the JSON report."""
    from quinebox.extract import extract_program
    from quinebox.report import render_rich

    text = source.decode("utf-8", "replace")
    fallback = extract_program(text, report.config.get("next_flag", "--next")).program if from_response else text
    console = render_rich.stderr_console() if as_json else render_rich.stdout_console()
    render_rich.show_program(report, fallback, console)


def _exit_code(report: Report) -> int:
    from quinebox.report.model import Verdict

    codes = {Verdict.PASS: EXIT_PASS, Verdict.FAIL: EXIT_FAIL, Verdict.ERROR: EXIT_INFRA}
    return codes.get(report.verdict, EXIT_NOT_JUDGED)


def _as_path(program: str, source: bytes) -> bytes | Path:
    """The path itself when verifying a file (its extension tells the language), the bytes for stdin."""
    return source if program == "-" else Path(program)


def _looks_like_response(program: str, source: bytes) -> bool:
    """A Markdown file, or text with a code fence or Markdown headings: a response, not a program."""
    if Path(program).suffix.lower() in (".md", ".markdown", ".txt"):
        return True
    text = source[:65536].decode("utf-8", "replace")
    return "\n```" in "\n" + text or "\n~~~" in "\n" + text


def _emit(report: Report, as_json: bool, junit_xml: Path | None, program: str) -> None:
    if as_json:
        typer.echo(report.to_json())
    if junit_xml is not None:
        from quinebox.report.render_junit import verify_junit

        _write(junit_xml, verify_junit(report, "stdin" if program == "-" else _relative(program)))


def _relative(program: str) -> str:
    """The path as a JUnit classname: relative to the working directory when under it, so names never collide."""
    import os

    path = Path(program)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return os.path.normpath(program)


def _emit_pages(report: Report, html: Path | None, programs: Path | None) -> None:
    """The HTML page and the saved programs, when asked for."""
    if html is not None:
        from quinebox.report.render_html import render

        _write(html, render(report))
    if programs is not None:
        from quinebox.report.programs import save_programs

        try:
            _, missing = save_programs(report, programs)
        except UsageError as exc:
            _fail(EXIT_USAGE, str(exc))
        if missing:
            typer.echo(f"quinebox: programs not in the report (too large), not saved: {missing}", err=True)


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
    samples: Annotated[
        Path, typer.Argument(metavar="SAMPLES", help="A JSONL file: one JSON object per line; - reads stdin.")
    ],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", metavar="PATH", help="Graded JSONL; rows graded there with the same settings are kept."
        ),
    ],
    field: Annotated[
        str, typer.Option("--field", metavar="KEY", help="The key holding the model's response.")
    ] = "response",
    id_field: Annotated[str, typer.Option("--id-field", metavar="KEY", help="The key identifying a row.")] = "id",
    raw: Annotated[bool, typer.Option("--raw", help="The field is the program itself, not a response.")] = False,
    generations: Generations = 50,
    sequence: SequenceOpt = "fibonacci",
    sandbox: Sandbox = "auto",
    language: LanguageOpt = "auto",
    allow_reflection: AllowReflection = False,
    jobs: Annotated[int, typer.Option("--jobs", "-j", metavar="N", min=1, help="Verifications at once.")] = 2,
    retries: Annotated[
        int, typer.Option("--retries", metavar="N", min=0, help="Retries of a row after an infra error.")
    ] = 2,
    regrade: Annotated[
        bool, typer.Option("--regrade", help="Grade again the rows of --out graded with other settings.")
    ] = False,
    full_reports: Annotated[
        bool, typer.Option("--full-reports", help="Store each row's whole report under quinebox.report.")
    ] = False,
    shard: Annotated[
        str | None,
        typer.Option("--shard", metavar="K/N", help="K/N: grade only shard K of N (stable hash of the id mod N)."),
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Grade on a Ray actor pool, one actor per CPU: local (join or start one here), auto, HOST:PORT.",
        ),
    ] = None,
    timeout: Timeout = None,
    memory: Memory = None,
    output_bytes: OutputBytes = None,
    work_budget: WorkBudget = None,
    junit_xml: JunitXml = None,
    html: HtmlOut = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary on stderr.")] = False,
) -> None:
    """Grade every model response in SAMPLES, adding a verdict to each row; resumable."""
    from quinebox.grade import GradeOptions, grade_file, iter_graded, parse_shard
    from quinebox.report import render_rich

    try:
        options = GradeOptions(
            text_field=field,
            id_field=id_field,
            raw=raw,
            generations=generations,
            sequence=sequence,
            sandbox=sandbox,
            language=language,
            allow_reflection=allow_reflection,
            jobs=jobs,
            retries=retries,
            limits=_limits(timeout, memory, output_bytes, work_budget),
            shard=parse_shard(shard) if shard is not None else None,
            regrade=regrade,
            full_reports=full_reports,
        )
    except UsageError as exc:
        _fail(EXIT_USAGE, str(exc))
    console = render_rich.stderr_console()
    progress = render_rich.RowProgress(console) if not quiet and console.is_terminal else None
    try:
        if progress is not None:
            progress.start()
        engine = _ray_engine(ray_address) if ray_address is not None else None
        summary = grade_file(
            samples,
            out,
            options,
            on_row=progress.advance if progress is not None else None,
            on_start=progress.set_total if progress is not None else None,
            engine=engine,
        )
        if engine is not None and not quiet:
            typer.echo(f"quinebox: graded on {engine.actors} Ray actors across {engine.nodes} nodes", err=True)
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

        _write(junit_xml, grade_junit(iter_graded(out), "stdin" if str(samples) == "-" else _relative(str(samples))))
    if html is not None:
        _write_grade_page(out, html, field, raw, samples.name)
    if not quiet:
        render_rich.render_grade_summary(summary, console)
    raise typer.Exit(EXIT_INFRA if summary.verdicts.get("error") else EXIT_PASS)


def _ray_engine(address: str) -> Any:
    from importlib.util import find_spec

    if find_spec("ray") is None:
        raise UsageError("--ray needs Ray: pip install 'quinebox[ray]'")
    from quinebox.integrations.ray import RayEngine

    return RayEngine(None if address == "local" else address)


@app.command()
def merge(
    outs: Annotated[list[Path], typer.Argument(help="Graded JSONL files, e.g. the shards of one split.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The joined JSONL, one row per id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
) -> None:
    """Join graded shards into one file and print the whole file's summary."""
    from quinebox.grade import merge_files

    try:
        summary = merge_files(outs, out)
    except UsageError as exc:
        _fail(EXIT_USAGE, str(exc))
    whole = summary.whole
    assert whole is not None
    if as_json:
        fields = {"rows": whole.rows, "verdicts": whole.verdicts, "failing": whole.failing, "errors": whole.errors}
        fields |= {"not_judged": whole.not_judged, "pass_rate": whole.pass_rate, "mean_score": whole.mean_score}
        typer.echo(json.dumps(fields))
    fails = ", ".join(f"{check} {len(ids)}" for check, ids in sorted(whole.failing.items(), key=lambda i: -len(i[1])))
    parts = [f"pass {whole.verdicts.get('pass', 0)}", f"fail {whole.verdicts.get('fail', 0)}"]
    parts[-1] += f" ({fails})" if fails else ""
    parts += [f"{v} {n}" for v, n in whole.verdicts.items() if v not in ("pass", "fail")]
    rate = "" if whole.pass_rate is None else f"; pass rate {whole.pass_rate:.3f}"
    typer.echo(f"merged {len(outs)} files into {out}: {whole.rows} rows; " + ", ".join(parts) + rate, err=True)
    raise typer.Exit(EXIT_INFRA if whole.verdicts.get("error") else EXIT_PASS)


@app.command("lm-eval-path")
def lm_eval_path() -> None:
    """Print the folder holding the lm-evaluation-harness task (for --include_path)."""
    from quinebox.integrations.lm_eval import task_path

    typer.echo(str(task_path()))


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to bind; loopback unless told.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port; 0 picks a free one.")] = 8321,
    generations: Annotated[int, typer.Option("--generations", "-n", min=0, help="Default N per request.")] = 20,
    sandbox: Sandbox = "auto",
    max_in_flight: Annotated[int | None, typer.Option("--max-in-flight", min=1, help="Then 503.")] = None,
    deadline: Annotated[float, typer.Option("--deadline", min=1, help="Seconds per request, then 504.")] = 300.0,
    max_body: Annotated[int, typer.Option("--max-body", min=1024, help="Request body bytes, then 413.")] = 8 << 20,
) -> None:
    """Serve /verify, /grade, /get_reward (OpenRLHF) and /healthz over HTTP until SIGTERM."""
    try:
        from quinebox.serve import ServeOptions, listen, run
    except ImportError as exc:
        _fail(EXIT_USAGE, f"serve needs {exc.name}: pip install 'quinebox[serve]'")
    try:
        options = ServeOptions(
            host=host, port=port, generations=generations, sandbox=sandbox, deadline_s=deadline, max_body_bytes=max_body
        )
        if max_in_flight is not None:
            from dataclasses import replace

            options = replace(options, max_in_flight=max_in_flight)
        options.validated()
        from quinebox import backends

        backends.resolve(sandbox)  # fail fast, with the fix, if no sandbox works
        sock = listen(host, port)
    except UsageError as exc:
        _fail(EXIT_USAGE, str(exc))
    except InfraError as exc:
        _fail(EXIT_INFRA, f"infrastructure error: {exc}")
    bound_host, bound_port = sock.getsockname()[:2]
    typer.echo(f"quinebox: serving on http://{bound_host}:{bound_port}", err=True)
    try:
        run(options, sock)
    except KeyboardInterrupt:
        pass  # uvicorn has already finished what was in flight and closed the lanes
    typer.echo("quinebox: stopped", err=True)


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
        for finding in findings:  # the table the user asked for: stdout, so that it pipes into grep
            mark = "ok  " if finding.ok else "FAIL"
            typer.echo(f"{mark} {finding.name:17} {finding.detail}")
            if finding.fix:
                typer.echo(f"     {'':17} fix: {finding.fix}")
    usable = [f for f in findings if f.ok and f.name in ("bwrap", "docker")]
    raise typer.Exit(EXIT_PASS if usable else EXIT_INFRA)


def _write_grade_page(out: Path, html: Path, field: str, raw: bool, title: str) -> None:
    from quinebox.report.graded import graded_rows, read_graded
    from quinebox.report.render_html import render_grade

    try:
        rows = list(graded_rows(read_graded(out), field, raw))
    except UsageError as exc:
        _fail(EXIT_USAGE, str(exc))
    _write(html, render_grade(rows, title))


@app.command()
def show(
    graded: Annotated[
        Path, typer.Argument(metavar="GRADED", help="A graded JSONL file, as written by quinebox grade --out.")
    ],
    row_id: Annotated[str, typer.Argument(metavar="ID", help="The id of the row to show.")],
    html: HtmlOut = None,
    field: Annotated[str, typer.Option("--field", help="The key holding the model's response.")] = "response",
    raw: Annotated[bool, typer.Option("--raw", help="The field is the program itself, not a response.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the row's grade as JSON on stdout.")] = False,
) -> None:
    """Show one graded row: its verdict panel, and with --html its page."""
    from quinebox.report import render_rich
    from quinebox.report.graded import RESULT_KEY, graded_rows, read_graded, row_report
    from quinebox.report.render_html import render_row

    try:
        rows = [r for r in read_graded(graded) if str(r[RESULT_KEY].get("id")) == row_id]
    except UsageError as exc:
        _fail(EXIT_USAGE, str(exc))
    if not rows:
        _fail(EXIT_USAGE, f"no graded row with id {row_id!r} in {graded}")
    row = list(graded_rows(rows, field, raw))[-1]
    if as_json:
        typer.echo(json.dumps(row.grade, ensure_ascii=False))
    if html is not None:
        _write(html, render_row(row))
    render_rich.render(row_report(row), render_rich.stderr_console())


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
