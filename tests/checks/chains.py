"""Recorded chains built by hand, for testing checks without a sandbox."""

from __future__ import annotations

from quinebox.record import Chain, Generation, RunKind, RunResult, Status


def run(
    stdout: bytes = b"",
    *,
    status: Status = Status.OK,
    work: int | None = 10,
    stderr: bytes = b"",
    exit_code: int | None = 0,
    events: tuple = (),
) -> RunResult:
    return RunResult(status, exit_code, None, stdout, stderr, 1.0, 1.0, work, events=events)


def chain_of(
    numbers: list[int | bytes],
    works: list[int] | None = None,
    requested: int | None = None,
    sources: list[bytes] | None = None,
) -> Chain:
    """A chain whose default runs print `numbers` (ints, or raw bytes for malformed output)."""
    generations = []
    for k, value in enumerate(numbers):
        stdout = value if isinstance(value, bytes) else f"{value}\n".encode()
        work = works[k] if works is not None else 10
        runs = {RunKind.DEFAULT: run(stdout, work=work), RunKind.DEFAULT_BLIND: run(stdout, work=work)}
        source = sources[k] if sources is not None else f"print({k})\n".encode()
        generations.append(Generation(k, source, runs))
    return Chain(tuple(generations), requested if requested is not None else len(numbers) - 1)
