"""Per-run limits, enforced inside the wall by the supervisor."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from quinebox.errors import UsageError


@dataclass(frozen=True)
class Limits:
    """What one run of a candidate may use. Each field has an environment override."""

    wall_s: float = 10.0
    """Wall-clock seconds per run (QUINEBOX_WALL_S); for runaway sleepers, never for verdicts on speed."""
    cpu_s: int = 10
    """CPU seconds per run (QUINEBOX_CPU_S)."""
    mem_mb: int = 512
    """Address-space limit per process in MiB (QUINEBOX_MEM_MB)."""
    output_bytes: int = 1 << 20
    """Bytes kept of stdout and of stderr each; more ends the run as OL (QUINEBOX_OUTPUT_BYTES)."""
    pids: int = 64
    """Processes the sandbox may hold at once (QUINEBOX_PIDS)."""
    work: int = 2_000_000
    """Work units (function entries plus loop back-edges) per run (QUINEBOX_WORK)."""

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Limits:
        """Defaults overridden by QUINEBOX_<FIELD> variables; a bad value names its variable."""
        env = os.environ if environ is None else environ
        changes: dict[str, Any] = {}
        for field in fields(cls):
            name = f"QUINEBOX_{field.name.upper()}"
            if name in env:
                changes[field.name] = _parse(name, env[name], float if field.name == "wall_s" else int)
        return replace(cls(), **changes).validated()

    def validated(self) -> Limits:
        for field in fields(self):
            value = getattr(self, field.name)
            if not value > 0:
                raise UsageError(f"limit {field.name} must be positive, got {value!r}")
        return self


def _parse(name: str, text: str, kind: type[float] | type[int]) -> float | int:
    try:
        return kind(text)
    except ValueError:
        raise UsageError(f"{name}={text!r} is not a valid {kind.__name__}") from None
