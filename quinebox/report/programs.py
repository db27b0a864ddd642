"""The programs a report carries, as exact bytes: for `--save-programs` and for readers of stored reports."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from quinebox.errors import UsageError
from quinebox.report.model import GenerationSummary, Report

#: File extension by the report's language; Python when none is named.
_EXTENSIONS = {"python": ".py", "javascript": ".js", "ruby": ".rb", "c": ".c", "bash": ".sh"}


def program_bytes(generation: GenerationSummary) -> bytes | None:
    """Program k byte-exact, or None when the report did not carry it (too large, or an older report)."""
    if generation.source is not None:
        return generation.source.encode("utf-8")
    if generation.source_base64 is not None:
        return base64.b64decode(generation.source_base64, validate=True)
    return None


def program_name(report: Report, index: int) -> str:
    """gen-000.py ...: zero-padded so the files sort in generation order."""
    last = report.generations[-1].index if report.generations else 0
    width = max(3, len(str(last)))
    language = str(report.language or "python").lower()
    return f"gen-{index:0{width}d}{_EXTENSIONS.get(language, '.txt')}"


def save_programs(report: Report, directory: Path) -> tuple[list[Path], list[int]]:
    """Write every program the report carries into `directory`; return the files and the generations missing.

    Each file's sha256 is checked against the report's before it is kept, so a saved
    program is the program that ran.

    Raises:
        UsageError: the directory cannot be made or written, or a program does not match its sha256.
    """
    written: list[Path] = []
    missing: list[int] = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for generation in report.generations:
            data = program_bytes(generation)
            if data is None:
                missing.append(generation.index)
                continue
            if hashlib.sha256(data).hexdigest() != generation.sha256:
                raise UsageError(f"program {generation.index} in the report does not match its sha256")
            path = directory / program_name(report, generation.index)
            path.write_bytes(data)
            written.append(path)
    except OSError as exc:
        raise UsageError(f"cannot write programs to {directory}: {exc.strerror or exc}") from None
    return written, missing
