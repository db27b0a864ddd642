"""Per-run limits, enforced inside the wall by the supervisor."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from quinebox.errors import UsageError

#: CPU seconds one unit of counted work may take, with room to spare: a loop of cheap system calls
#: (`fixtures/hostile/read_stdin_forever.py`) costs about 1.2 microseconds a unit on an idle 2-core
#: machine, and contention for the cores adds to it.
CPU_S_PER_WORK_UNIT = 4e-6
#: The limits measured in seconds that take fractions (the CPU limit is whole seconds, as rlimits are).
_FLOAT_FIELDS = ("wall_s", "longest_s")


@dataclass(frozen=True)
class Limits:
    """What one run of a candidate may use. Each field has an environment override."""

    wall_s: float = 10.0
    """Seconds a run may spend waiting (QUINEBOX_WALL_S): asleep or blocked, neither on a CPU nor queued for one.

    For runaway sleepers, never for verdicts on speed: a busy run is ended by its CPU limit or its
    work budget, which a loaded machine does not change, and by `longest_s` only as a backstop.
    """
    cpu_s: int = 10
    """CPU seconds per run (QUINEBOX_CPU_S); for Python, at least what its work budget may take (`cpu_limit`)."""
    mem_mb: int = 512
    """Address-space limit per process in MiB (QUINEBOX_MEM_MB)."""
    output_bytes: int = 1 << 20
    """Bytes kept of stdout and of stderr each; more ends the run as OL (QUINEBOX_OUTPUT_BYTES)."""
    pids: int = 64
    """Processes the sandbox may hold at once (QUINEBOX_PIDS)."""
    work: int = 2_000_000
    """Work units (function entries plus loop back-edges) per run (QUINEBOX_WORK)."""
    longest_s: float = 0.0
    """Wall-clock seconds a run may last however busy it is (QUINEBOX_LONGEST_S); 0: `wall_s` plus
    four times the CPU limit. Only a machine loaded past that ends a busy run by the clock."""

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def cpu_limit(self, budget_ends_run: bool) -> int:
        """The CPU seconds a run gets: where the work budget ends a run, never less than the budget may take.

        Both limits end a program that never stops; which one comes first must not depend on the
        machine's speed or load, so the budget, the same everywhere, is given room to come first.
        """
        if not budget_ends_run:
            return self.cpu_s
        return max(self.cpu_s, math.ceil(self.work * CPU_S_PER_WORK_UNIT))

    def sent(self, budget_ends_run: bool) -> dict[str, float | int]:
        """The limits as the supervisor enforces them: the CPU limit above, and the backstop made explicit."""
        cpu_s = self.cpu_limit(budget_ends_run)
        return self.to_dict() | {"cpu_s": cpu_s, "longest_s": self.longest_run_s(budget_ends_run)}

    def longest_run_s(self, budget_ends_run: bool) -> float:
        """The wall-clock seconds after which a run is ended whatever it is doing (see `longest_s`)."""
        return self.longest_s or self.wall_s + 4 * self.cpu_limit(budget_ends_run)

    def within(self, seconds: float | None) -> Limits:
        """These limits for a run that must end within `seconds` (what a deadline leaves it), however busy."""
        if seconds is None or seconds >= self.longest_run_s(budget_ends_run=True):
            return self
        return replace(self, wall_s=min(self.wall_s, seconds), longest_s=seconds)

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Limits:
        """Defaults overridden by QUINEBOX_<FIELD> variables; a bad value names its variable."""
        env = os.environ if environ is None else environ
        changes: dict[str, Any] = {}
        for field in fields(cls):
            name = f"QUINEBOX_{field.name.upper()}"
            if name in env:
                changes[field.name] = _parse(name, env[name], float if field.name in _FLOAT_FIELDS else int)
        return replace(cls(), **changes).validated()

    def validated(self) -> Limits:
        for field in fields(self):
            value = getattr(self, field.name)
            if field.name == "longest_s" and value == 0:
                continue  # derived from the others
            if not value > 0:
                raise UsageError(f"limit {field.name} must be positive, got {value!r}")
        return self


def _parse(name: str, text: str, kind: type[float] | type[int]) -> float | int:
    try:
        return kind(text)
    except ValueError:
        raise UsageError(f"{name}={text!r} is not a valid {kind.__name__}") from None
