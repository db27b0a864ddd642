"""verify(), verify_response() and averify(): a candidate in, a Report out.

Infrastructure failures raise `InfraError` (never a failing Report), so that
graders can keep them apart from candidate failures; everything the candidate
does, including having no program at all, is a Report. A program in a language
quinebox does not judge yet is a Report too, with verdict ``not_judged``, and
nothing is run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from quinebox import backends
from quinebox.backends.base import Backend, runs_start_fresh
from quinebox.chain import ChainConfig, ProgressCallback, record_chain, replay_chain
from quinebox.checks import CheckOptions
from quinebox.errors import UsageError
from quinebox.judge import judge
from quinebox.languages import LANGUAGES, PYTHON, is_judged, resolve_language
from quinebox.limits import Limits
from quinebox.report.build import build_report, not_judged_report
from quinebox.report.model import Backend as BackendInfo
from quinebox.report.model import Report
from quinebox.sequences import Sequence as IntSequence
from quinebox.sequences import parse_sequence

MAX_SOURCE_BYTES = 4 * 1024 * 1024


def verify(
    program: str | bytes | os.PathLike[str],
    *,
    generations: int = 50,
    sequence: str | IntSequence = "fibonacci",
    sandbox: str = "auto",
    next_flag: str = "--next",
    limits: Limits | None = None,
    keep_going: bool = False,
    backend: Backend | Sequence[Backend] | None = None,
    on_generation: ProgressCallback | None = None,
    deadline: float | None = None,
    language: str = "auto",
    allow_reflection: bool = False,
) -> Report:
    """Verify a candidate chain and return its report.

    Args:
        program: the source as str or bytes, or a path to it (a `pathlib.Path` or `os.PathLike`).
        generations: N, the ``--next`` steps: programs P0..PN are run, N+1 numbers in all; at least 1.
        sequence: ``fibonacci``, ``lucas``, two seeds ``"a,b"``, or a `Sequence`.
        sandbox: ``auto``, ``bwrap``, ``docker`` or ``none`` (unisolated; the report says so).
        next_flag: the argument that asks a program for its successor.
        limits: per-run limits; defaults honour QUINEBOX_* environment variables.
        keep_going: record every generation that can run instead of stopping at the first failure.
        backend: an already built backend (or two, for two lanes) instead of `sandbox`; not closed here.
        on_generation: called with each recorded generation, for progress display.
        deadline: seconds the whole verification may take (default QUINEBOX_DEADLINE_S, else
            300); past it the verdict is ``fail``, check ``runs``, naming the generation reached.
        language: ``auto`` (from the file's extension, a shebang, then the content) or a language's
            name or alias (``python``, ``javascript``, ``ruby``, ``c``, ``bash``, ``js``...).
        allow_reflection: the code-golf view: reading its own code from memory (frames,
            ``Function.prototype.toString``, ``declare -f``) passes `integrity`; reading its file never does.

    Raises:
        InfraError: the sandbox failed; the candidate is not to blame.
        UsageError: an argument cannot be used.
    """
    started = time.perf_counter()
    source = read_program(program)
    check_generations(generations)
    spec = sequence if isinstance(sequence, IntSequence) else parse_sequence(sequence)
    limits = limits if limits is not None else Limits.from_env()
    report_config = config_of(
        {
            "generations": generations,
            "sequence": spec,
            "next_flag": next_flag,
            "keep_going": keep_going,
            "limits": limits,
            "sandbox": sandbox if backend is None else "given",
            "deadline": deadline,
            "language": language,
            "allow_reflection": allow_reflection,
        }
    )
    suffix = Path(program).suffix if isinstance(program, os.PathLike) else ""
    name = resolve_language(language, source, suffix=suffix)
    if not is_judged(name):
        return not_judged_report(name, report_config)
    check_options = CheckOptions(
        sequence=spec, work_budget=limits.work, language=name, allow_reflection=allow_reflection
    )
    deadline_s = deadline_from_env() if deadline is None else check_deadline(deadline)
    config = ChainConfig(generations, next_flag, limits, keep_going, check_options, deadline_s, name)
    with ExitStack() as stack:
        if backend is None:
            wall = backends.resolve(sandbox)
            sessions = open_lanes(wall)
            for session in sessions:
                stack.callback(session.close)
        else:
            wall = None
            sessions = [backend] if isinstance(backend, Backend) else list(backend)
        chain = record_chain(source, config, sessions, on_generation)
        # The failure as recording finds it, generation by generation, so that keep_going never changes it.
        results, first = judge(chain, check_options, prefixes_checked=not keep_going)
        if first is None:
            chain = replay_chain(chain, config, _cold_session(sessions[0], wall, stack))
            results, first = judge(chain, check_options, prefixes_checked=True)  # every prefix passed
        version = sessions[0].interpreter_version(name) if name != PYTHON else None
        info = _backend_info(sessions[0], name, version)
    return build_report(chain, results, info, report_config, (time.perf_counter() - started) * 1000, first)


#: The verification's deadline when neither the caller nor QUINEBOX_DEADLINE_S sets one.
DEFAULT_DEADLINE_S = 300.0


def deadline_from_env(environ: dict[str, str] | None = None) -> float:
    """QUINEBOX_DEADLINE_S, or the default; a bad value names its variable."""
    text = (os.environ if environ is None else environ).get("QUINEBOX_DEADLINE_S")
    if text is None or not text.strip():
        return DEFAULT_DEADLINE_S
    try:
        return check_deadline(float(text))
    except (ValueError, UsageError):
        raise UsageError(f"QUINEBOX_DEADLINE_S must be a number of seconds above 0, not {text!r}") from None


def check_deadline(seconds: float) -> float:
    if not seconds > 0:
        raise UsageError(f"the deadline must be a number of seconds above 0, not {seconds!r}")
    return float(seconds)


def _cold_session(lane: Backend, name: str | None, stack: ExitStack) -> Backend:
    """A session that saw none of the chain, for the cold replay.

    Where every run already starts in namespaces of its own (the supervisor's hello says
    so), the sighted lane is as cold as a new session and costs nothing to reuse. Otherwise
    a new session of the same wall is opened, and closed with the others.
    """
    if runs_start_fresh(lane) or name is None:
        return lane
    session = backends.create(name)
    stack.callback(session.close)
    session.open()
    return session


def verify_response(response: str, **options: Any) -> Report:
    """Verify the program found in a model's whole response; no program is a failing report, not an error.

    The program is chosen by the rule in `quinebox.extract`; the report's ``extraction`` says which
    block was chosen and why. A program in a language quinebox does not judge is ``not_judged``.

    Args:
        response: the model's text, with the program in a fenced block or unfenced.
        **options: as for `verify`.

    Raises:
        InfraError: the sandbox failed; the candidate is not to blame.
        UsageError: an option cannot be used.
    """
    from quinebox.extract import extract_program
    from quinebox.report.build import no_program_report

    check_generations(options.get("generations", 50))
    extraction = extract_program(response, options.get("next_flag", "--next"))
    info = extraction_info(extraction)
    config = config_of(options)
    if extraction.program is None:
        return replace(no_program_report(extraction.reason, config), extraction=info)
    if not is_judged(extraction.language) and str(options.get("language", "auto")) == "auto":
        return replace(not_judged_report(extraction.language, config), extraction=info)
    asked = str(options.get("language", "auto"))
    report = verify(extraction.program, **{**options, "language": extraction.language if asked == "auto" else asked})
    note = f"program extracted from the response ({extraction.rule})"
    return replace(report, extraction=info, notes=[*report.notes, note])


def extraction_info(extraction: Any) -> Any:
    """The report's record of a `quinebox.extract.Extraction`: rule, reason, block count, block and line."""
    from quinebox.report.model import Extraction as ExtractionInfo

    return ExtractionInfo(extraction.rule, extraction.reason, extraction.candidates, extraction.block, extraction.line)


def check_generations(generations: object) -> int:
    """N as given, if it is a whole number of at least 1: a chain that never ran ``--next`` proves nothing.

    Raises:
        UsageError: N is not a whole number of at least 1.
    """
    if isinstance(generations, bool) or not isinstance(generations, int) or generations < 1:
        raise UsageError(f"generations must be a whole number of at least 1, got {generations!r}")
    return generations


async def averify(program: str | bytes | os.PathLike[str], **options: Any) -> Report:
    """`verify` for asyncio callers: the blocking work runs in a worker thread."""
    import asyncio  # only for asyncio callers: the command line never pays for it

    return await asyncio.to_thread(verify, program, **options)


def read_program(program: str | bytes | os.PathLike[str]) -> bytes:
    """The candidate's bytes: text is encoded as UTF-8, a path is read byte-exact."""
    if isinstance(program, os.PathLike):
        path = Path(program)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    elif isinstance(program, str):
        data = program.encode("utf-8", "surrogateescape")
    else:
        data = bytes(program)
    if len(data) > MAX_SOURCE_BYTES:
        raise UsageError(f"the program is {len(data):,} bytes; the limit is {MAX_SOURCE_BYTES:,}")
    return data


def open_lanes(name: str) -> list[Backend]:
    """Two opened sessions of the named wall, the sighted and the blind lane, started at once.

    A container takes about 0.15 s to start, so the two start together. If either fails to
    open, both are closed before the error propagates.
    """
    created = [backends.create(name) for _ in range(2)]
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for future in [pool.submit(backend.open) for backend in created]:
                future.result()
    except BaseException:
        for backend in created:
            backend.close()
        raise
    return created


def config_of(options: dict[str, Any]) -> dict[str, Any]:
    """The report's `config`: what the verification was asked to do, with defaults filled in.

    Always the same keys: generations, sequence, next_flag, keep_going, sandbox (as asked: ``auto``
    stays ``auto``; ``report.backend`` says what was used, or ``given`` for an injected backend), limits
    and deadline_s.
    """
    limits = options.get("limits") or Limits.from_env()
    sequence = options.get("sequence", "fibonacci")
    if not isinstance(sequence, IntSequence):
        sequence = parse_sequence(str(sequence))
    sandbox = "given" if options.get("backend") is not None else str(options.get("sandbox", "auto"))
    return {
        "generations": options.get("generations", 50),
        "sequence": sequence.name,
        "next_flag": options.get("next_flag", "--next"),
        "keep_going": options.get("keep_going", False),
        "sandbox": sandbox,
        "limits": limits.to_dict(),
        "deadline_s": deadline_from_env() if options.get("deadline") is None else float(options["deadline"]),
        "language": str(options.get("language", "auto")),
        "allow_reflection": bool(options.get("allow_reflection", False)),
    }


def _backend_info(backend: Backend, language: str, version: str | None) -> BackendInfo:
    hello = getattr(backend, "hello", {}) or {}
    counter = hello.get("work_counter") if language == PYTHON else LANGUAGES[language].work_counter
    return BackendInfo(
        name=backend.name,
        isolated=backend.isolated,
        isolation=backend.isolation,
        python=hello.get("python"),
        work_counter=counter or "not measured",
        language=language,
        interpreter=hello.get("python") if language == PYTHON else version,
    )
