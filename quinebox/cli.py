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
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from quinebox.errors import InfraError, UsageError

if TYPE_CHECKING:
    from quinebox.limits import Limits
    from quinebox.report.model import Report

EXIT_PASS, EXIT_FAIL, EXIT_USAGE, EXIT_INFRA, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_NOT_JUDGED = 4

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
PATH = click.Path(path_type=Path)


def _show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        from quinebox import __version__

        click.echo(f"quinebox {__version__}")
        ctx.exit(EXIT_PASS)


@click.group(name="quinebox", context_settings=CONTEXT, no_args_is_help=True)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Print the version and exit.",
)
def app() -> None:
    """Verify self-reproducing Fibonacci programs (quine chains) in a sandbox, with evidence."""


def _stacked(*options: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """One decorator for several click options, in the order they are listed (and shown in --help)."""

    def apply(function: Any) -> Any:
        for option in reversed(options):
            function = option(function)
        return function

    return apply


# Options shared by commands: one definition, one help text.
_generations = click.option(
    "--generations",
    "-n",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    metavar="N",
    envvar="QUINEBOX_GENERATIONS",
    help="N --next steps: run programs P0..PN (N+1 numbers); at least 1.",
)
_sandbox = click.option(
    "--sandbox",
    default="auto",
    show_default=True,
    metavar="NAME",
    envvar="QUINEBOX_SANDBOX",
    help="auto, bwrap, docker or none (none: not isolated).",
)
_html = click.option("--html", type=PATH, metavar="PATH", help="Also write a self-contained HTML page to this path.")
#: --sequence, --sandbox, --language and --allow-reflection.
_common = _stacked(
    click.option(
        "--sequence",
        default="fibonacci",
        show_default=True,
        metavar="S",
        help="fibonacci, lucas, or two seeds like 2,1.",
    ),
    _sandbox,
    click.option(
        "--language",
        default="auto",
        show_default=True,
        metavar="NAME",
        envvar="QUINEBOX_LANGUAGE",
        help="auto (fence tag, extension, shebang, content), python, javascript, ruby, c or bash.",
    ),
    click.option(
        "--allow-reflection",
        is_flag=True,
        help="Code-golf view: reading its own code from memory passes integrity (reading its file never does).",
    ),
)
#: --timeout, --memory, --output-bytes and --work-budget: per-run limits over the defaults.
_limit_options = _stacked(
    click.option(
        "--timeout",
        type=click.FloatRange(min=0.1),
        metavar="S",
        help="Seconds a run may wait (time on or queued for a core does not count), and its CPU seconds.",
    ),
    click.option("--memory", type=click.IntRange(min=16), metavar="MIB", help="Memory limit per process, MiB."),
    click.option("--output-bytes", type=click.IntRange(min=64), metavar="N", help="Output bytes kept per stream."),
    click.option("--work-budget", type=click.IntRange(min=1000), metavar="N", help="Work units per run."),
)
#: --junit-xml and --html.
_pages = _stacked(
    click.option("--junit-xml", type=PATH, metavar="PATH", help="Also write a JUnit XML report to this path."),
    _html,
)


def _fail(code: int, message: str) -> NoReturn:
    click.echo(f"quinebox: {message}", err=True)
    raise SystemExit(code)


@app.command()
@click.argument("program", metavar="PROGRAM")
@_generations
@_common
@click.option(
    "--next-flag",
    default="--next",
    show_default=True,
    metavar="FLAG",
    help="The argument that asks for the next program.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--keep-going", is_flag=True, help="Do not stop at the first failing generation.")
@click.option("--from-response", is_flag=True, help="PROGRAM is a model's whole response: find the program in it.")
@_limit_options
@click.option(
    "--deadline",
    type=float,
    metavar="SECONDS",
    help="Seconds the whole verification may take; then it fails check runs [env QUINEBOX_DEADLINE_S; 300].",
)
@_pages
@click.option("--save-programs", type=PATH, metavar="DIR", help="Write P0..PN into this directory: gen-000.py ...")
@click.option("--show-program", is_flag=True, help="Print the program that was verified (P0) on stderr.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or report on stderr.")
def verify(
    program: str,
    generations: int,
    sequence: str,
    next_flag: str,
    sandbox: str,
    language: str,
    allow_reflection: bool,
    as_json: bool,
    keep_going: bool,
    from_response: bool,
    timeout: float | None,
    memory: int | None,
    output_bytes: int | None,
    work_budget: int | None,
    deadline: float | None,
    junit_xml: Path | None,
    html: Path | None,
    save_programs: Path | None,
    show_program: bool,
    quiet: bool,
) -> None:
    """Run PROGRAM through N --next generations in a sandbox and judge every check.

    PROGRAM is the path to the candidate program, or - to read it from stdin.

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
        click.echo(
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
    raise SystemExit(_exit_code(report))


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
        click.echo(report.to_json())
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
            click.echo(f"quinebox: programs not in the report (too large), not saved: {missing}", err=True)


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
@click.argument("samples", type=PATH, metavar="SAMPLES")
@click.option(
    "--out",
    "-o",
    type=PATH,
    required=True,
    metavar="PATH",
    help="Graded JSONL; rows graded there with the same settings are kept.",
)
@click.option(
    "--field", default="response", show_default=True, metavar="KEY", help="The key holding the model's response."
)
@click.option("--id-field", default="id", show_default=True, metavar="KEY", help="The key identifying a row.")
@click.option("--raw", is_flag=True, help="The field is the program itself, not a response.")
@_generations
@_common
@click.option(
    "--jobs", "-j", type=click.IntRange(min=1), default=2, show_default=True, metavar="N", help="Verifications at once."
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    metavar="N",
    help="Retries of a row after an infra error.",
)
@click.option("--regrade", is_flag=True, help="Grade again the rows of --out graded with other settings.")
@click.option("--full-reports", is_flag=True, help="Store each row's whole report under quinebox.report.")
@click.option("--shard", metavar="K/N", help="K/N: grade only shard K of N (stable hash of the id mod N).")
@click.option(
    "--ray",
    "ray_address",
    metavar="ADDRESS",
    help="Grade on a Ray actor pool, one actor per CPU: local (join or start one here), auto, HOST:PORT.",
)
@_limit_options
@_pages
@click.option("--quiet", "-q", is_flag=True, help="No progress bar or summary on stderr.")
def grade(
    samples: Path,
    out: Path,
    field: str,
    id_field: str,
    raw: bool,
    generations: int,
    sequence: str,
    sandbox: str,
    language: str,
    allow_reflection: bool,
    jobs: int,
    retries: int,
    regrade: bool,
    full_reports: bool,
    shard: str | None,
    ray_address: str | None,
    timeout: float | None,
    memory: int | None,
    output_bytes: int | None,
    work_budget: int | None,
    junit_xml: Path | None,
    html: Path | None,
    quiet: bool,
) -> None:
    """Grade every model response in SAMPLES, adding a verdict to each row; resumable.

    SAMPLES is a JSONL file, one JSON object per line; - reads stdin.
    """
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
            click.echo(f"quinebox: graded on {engine.actors} Ray actors across {engine.nodes} nodes", err=True)
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
    raise SystemExit(EXIT_INFRA if summary.verdicts.get("error") else EXIT_PASS)


def _ray_engine(address: str) -> Any:
    from importlib.util import find_spec

    if find_spec("ray") is None:
        raise UsageError("--ray needs Ray: pip install 'quinebox[ray]'")
    from quinebox.integrations.ray import RayEngine

    return RayEngine(None if address == "local" else address)


@app.command()
@click.argument("outs", nargs=-1, required=True, type=PATH, metavar="OUT...")
@click.option("--out", "-o", type=PATH, required=True, metavar="PATH", help="The joined JSONL, one row per id.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
def merge(outs: tuple[Path, ...], out: Path, as_json: bool) -> None:
    """Join graded shards into one file and print the whole file's summary.

    OUT... are graded JSONL files, e.g. the shards of one split.
    """
    from quinebox.grade import merge_files

    try:
        summary = merge_files(list(outs), out)
    except UsageError as exc:
        _fail(EXIT_USAGE, str(exc))
    whole = summary.whole
    assert whole is not None
    if as_json:
        fields = {"rows": whole.rows, "verdicts": whole.verdicts, "failing": whole.failing, "errors": whole.errors}
        fields |= {"not_judged": whole.not_judged, "pass_rate": whole.pass_rate, "mean_score": whole.mean_score}
        click.echo(json.dumps(fields))
    fails = ", ".join(f"{check} {len(ids)}" for check, ids in sorted(whole.failing.items(), key=lambda i: -len(i[1])))
    parts = [f"pass {whole.verdicts.get('pass', 0)}", f"fail {whole.verdicts.get('fail', 0)}"]
    parts[-1] += f" ({fails})" if fails else ""
    parts += [f"{v} {n}" for v, n in whole.verdicts.items() if v not in ("pass", "fail")]
    rate = "" if whole.pass_rate is None else f"; pass rate {whole.pass_rate:.3f}"
    click.echo(f"merged {len(outs)} files into {out}: {whole.rows} rows; " + ", ".join(parts) + rate, err=True)
    raise SystemExit(EXIT_INFRA if whole.verdicts.get("error") else EXIT_PASS)


@app.command("lm-eval-path")
def lm_eval_path() -> None:
    """Print the folder holding the lm-evaluation-harness task (for --include_path)."""
    from quinebox.integrations.lm_eval import task_path

    click.echo(str(task_path()))


@app.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; loopback unless told.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8321, show_default=True, help="Port; 0 picks a free one."
)
@click.option(
    "--generations", "-n", type=click.IntRange(min=0), default=20, show_default=True, help="Default N per request."
)
@_sandbox
@click.option("--max-in-flight", type=click.IntRange(min=1), help="Then 503.")
@click.option(
    "--deadline", type=click.FloatRange(min=1), default=300.0, show_default=True, help="Seconds per request, then 504."
)
@click.option(
    "--max-body",
    type=click.IntRange(min=1024),
    default=8 << 20,
    show_default=True,
    help="Request body bytes, then 413.",
)
def serve(
    host: str, port: int, generations: int, sandbox: str, max_in_flight: int | None, deadline: float, max_body: int
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
    click.echo(f"quinebox: serving on http://{bound_host}:{bound_port}", err=True)
    try:
        run(options, sock)
    except KeyboardInterrupt:
        pass  # uvicorn has already finished what was in flight and closed the lanes
    click.echo("quinebox: stopped", err=True)


@app.group("image", no_args_is_help=True)
def image_app() -> None:
    """The docker sandbox image."""


@image_app.command("build")
@click.option("--tag", help="Image name (default QUINEBOX_IMAGE or quinebox-sandbox:latest).")
@click.option("--base-image", help="BASE_IMAGE build argument, e.g. quinebox-base:bookworm.")
@click.option("--quiet", "-q", is_flag=True, help="No build log on stderr.")
def image_build(tag: str | None, base_image: str | None, quiet: bool) -> None:
    """Build the sandbox image from this quinebox's Dockerfile and guest code."""
    from quinebox.images import build_image, image_name

    def show(line: str) -> None:
        if not quiet:
            click.echo(line.rstrip(), err=True)

    try:
        image_id = build_image(tag, base_image=base_image, progress=show)
    except InfraError as exc:
        _fail(EXIT_INFRA, str(exc))
    except KeyboardInterrupt:
        _fail(EXIT_INTERRUPTED, "interrupted")
    click.echo(f"built {image_name(tag)} ({image_id})", err=True)


@app.command("gc")
@click.option("--all", "everything", is_flag=True, help="Remove every quinebox container, live sessions included.")
def collect_garbage(everything: bool) -> None:
    """Remove quinebox containers whose owner is gone or whose time-to-live is past."""
    from quinebox.images import gc

    try:
        removed = gc(all_=everything)
    except InfraError as exc:
        _fail(EXIT_INFRA, str(exc))
    click.echo(f"removed {len(removed)} container(s)" + (f": {' '.join(removed)}" if removed else ""), err=True)


@app.command()
@click.option("--json", "as_json", is_flag=True, help="Print findings as JSON.")
def doctor(as_json: bool) -> None:
    """Say which sandboxes work on this machine and, for each that does not, the exact fix."""
    from quinebox.doctor import diagnose

    findings = diagnose()
    if as_json:
        click.echo(json.dumps([f.to_dict() for f in findings], indent=2))
    else:
        for finding in findings:  # the table the user asked for: stdout, so that it pipes into grep
            mark = "ok  " if finding.ok else "FAIL"
            click.echo(f"{mark} {finding.name:17} {finding.detail}")
            if finding.fix:
                click.echo(f"     {'':17} fix: {finding.fix}")
    usable = [f for f in findings if f.ok and f.name in ("bwrap", "docker")]
    raise SystemExit(EXIT_PASS if usable else EXIT_INFRA)


def _write_grade_page(out: Path, html: Path, field: str, raw: bool, title: str) -> None:
    from quinebox.report.graded import graded_rows, read_graded
    from quinebox.report.render_html import render_grade

    try:
        rows = list(graded_rows(read_graded(out), field, raw))
    except UsageError as exc:
        _fail(EXIT_USAGE, str(exc))
    _write(html, render_grade(rows, title))


@app.command()
@click.argument("graded", type=PATH, metavar="GRADED")
@click.argument("row_id", metavar="ID")
@_html
@click.option("--field", default="response", show_default=True, help="The key holding the model's response.")
@click.option("--raw", is_flag=True, help="The field is the program itself, not a response.")
@click.option("--json", "as_json", is_flag=True, help="Print the row's grade as JSON on stdout.")
def show(graded: Path, row_id: str, html: Path | None, field: str, raw: bool, as_json: bool) -> None:
    """Show one graded row: its verdict panel, and with --html its page.

    GRADED is a graded JSONL file, as written by quinebox grade --out; ID is the id of the row to show.
    """
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
        click.echo(json.dumps(row.grade, ensure_ascii=False))
    if html is not None:
        _write(html, render_row(row))
    render_rich.render(row_report(row), render_rich.stderr_console())


@app.command()
def schema() -> None:
    """Print the JSON Schema of the --json report."""
    from quinebox.report.schema import REPORT_SCHEMA

    click.echo(json.dumps(REPORT_SCHEMA, indent=2))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    """Console-script entry point: exit codes as documented, never a traceback."""
    # Ctrl-C and SIGTERM always interrupt with cleanup, even when started with SIGINT ignored
    # (as background jobs of non-interactive shells are).
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        code = app.main(prog_name="quinebox", standalone_mode=False)  # returns instead of exiting
    except (KeyboardInterrupt, click.exceptions.Abort):  # Abort: a KeyboardInterrupt that click caught
        click.echo("quinebox: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:  # a usage error: click's own one-line message
        exc.show()
        sys.exit(EXIT_USAGE)
    except Exception as exc:  # anything unforeseen
        click.echo(f"quinebox: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_INFRA)
    sys.exit(code if isinstance(code, int) else EXIT_PASS)
