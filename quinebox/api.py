"""verify() and averify(): a candidate in, a Report out.

Infrastructure failures raise `InfraError` (never a failing Report), so that
graders can keep them apart from candidate failures; everything the candidate
does, including having no program at all, is a Report.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

from quinebox import backends
from quinebox.backends.base import Backend
from quinebox.chain import ChainConfig, ProgressCallback, record_chain
from quinebox.checks import CheckOptions, run_checks
from quinebox.errors import UsageError
from quinebox.limits import Limits
from quinebox.report.build import build_report
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
) -> Report:
    """Verify a candidate chain and return its report.

    Args:
        program: the source as str or bytes, or a path to it (a `pathlib.Path` or `os.PathLike`).
        generations: N; programs P0..PN are run, N+1 numbers in all.
        sequence: ``fibonacci``, ``lucas``, two seeds ``"a,b"``, or a `Sequence`.
        sandbox: ``auto``, ``bwrap``, ``docker`` or ``none`` (unisolated; the report says so).
        next_flag: the argument that asks a program for its successor.
        limits: per-run limits; defaults honour QUINEBOX_* environment variables.
        keep_going: record every generation that can run instead of stopping at the first failure.
        backend: an already built backend (or two, for two lanes) instead of `sandbox`; not closed here.
        on_generation: called with each recorded generation, for progress display.

    Raises:
        InfraError: the sandbox failed; the candidate is not to blame.
        UsageError: an argument cannot be used.
    """
    started = time.perf_counter()
    source = read_program(program)
    if generations < 0:
        raise UsageError(f"generations must be 0 or more, got {generations}")
    spec = sequence if isinstance(sequence, IntSequence) else parse_sequence(sequence)
    limits = limits if limits is not None else Limits.from_env()
    check_options = CheckOptions(sequence=spec, work_budget=limits.work)
    config = ChainConfig(generations, next_flag, limits, keep_going, check_options)
    with ExitStack() as stack:
        if backend is None:
            name = backends.resolve(sandbox)
            sessions = open_lanes(name)
            for session in sessions:
                stack.callback(session.close)
        else:
            sessions = [backend] if isinstance(backend, Backend) else list(backend)
        chain = record_chain(source, config, sessions, on_generation)
        info = _backend_info(sessions[0])
    # A chain cut short of N has a last program whose successor never printed: judge it as unfinished.
    results = run_checks(chain, replace(check_options, partial=len(chain.generations) < generations + 1))
    report_config = _config_of(
        {
            "generations": generations,
            "sequence": spec.name,
            "next_flag": next_flag,
            "keep_going": keep_going,
            "limits": limits,
        }
    )
    return build_report(chain, results, info, report_config, (time.perf_counter() - started) * 1000)


def verify_response(response: str, **options: Any) -> Report:
    """Verify the program found in a model's whole response; no program is a failing report, not an error.

    Args:
        response: the model's text, with the program in a fenced block or unfenced.
        **options: as for `verify`.
    """
    from quinebox.extract import extract_program
    from quinebox.report.build import no_program_report

    extraction = extract_program(response)
    if extraction.program is None:
        return no_program_report(extraction.reason, _config_of(options))
    report = verify(extraction.program, **options)
    return replace(report, notes=[*report.notes, f"program extracted from the response ({extraction.rule})"])


async def averify(program: str | bytes | os.PathLike[str], **options: Any) -> Report:
    """`verify` for asyncio callers: the blocking work runs in a worker thread."""
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


def _config_of(options: dict[str, Any]) -> dict[str, Any]:
    """The report's `config`: what the verification was asked to do, with defaults filled in."""
    limits = options.get("limits") or Limits.from_env()
    sequence = options.get("sequence", "fibonacci")
    return {
        "generations": options.get("generations", 50),
        "sequence": sequence.name if isinstance(sequence, IntSequence) else str(sequence),
        "next_flag": options.get("next_flag", "--next"),
        "keep_going": options.get("keep_going", False),
        "limits": limits.to_dict(),
    }


def _backend_info(backend: Backend) -> BackendInfo:
    hello = getattr(backend, "hello", {}) or {}
    return BackendInfo(
        name=backend.name,
        isolated=backend.isolated,
        isolation=backend.isolation,
        python=hello.get("python"),
        work_counter=hello.get("work_counter"),
    )
