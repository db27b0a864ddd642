"""`runs`: every program of the chain runs to a clean exit within its limits.

Judges the default and --next runs that stand for each program (the sighted
ones, or the blind ones where they ran alone: `Generation.judged`). A spent work budget
is left to `linear-time`, and a blind run that differs to `integrity`, so
that each failure is reported by the check that explains it.
"""

from __future__ import annotations

from typing_extensions import override

from quinebox.checks._judge import Judge, judge_whole
from quinebox.checks._result import CheckOptions, CheckResult, failed, passed, tail_excerpt
from quinebox.record import Chain, Generation, RunKind, Status

NAME = "runs"
_JUDGED = (RunKind.DEFAULT, RunKind.NEXT)
_LEFT_TO_OTHERS = (Status.OK, Status.WL)

_WHY = {
    Status.RE: "exited with status {exit_code}",
    Status.SG: "was killed by signal {signal}",
    Status.TO: "ran out of time",
    Status.OL: "wrote more output than the limit allows",
    Status.XX: "killed its own sandbox",
}


def check_runs(chain: Chain, options: CheckOptions) -> CheckResult:
    return judge_whole(RunsJudge(options), chain)


class RunsJudge(Judge):
    """Each generation on its own: its judged runs ended cleanly."""

    name = NAME

    def __init__(self, options: CheckOptions) -> None:
        super().__init__(options)
        self.count = 0

    @override
    def _add(self, generation: Generation) -> CheckResult | None:
        if generation.deadline_s is not None:
            return failed(
                NAME,
                generation.index,
                f"the verification reached its deadline of {generation.deadline_s:g} s at generation "
                f"{generation.index}: the programs run too slowly to verify in time (--deadline)",
                deadline_s=generation.deadline_s,
                reached=generation.index,
            )
        for kind in map(generation.judged_kind, _JUDGED):
            run = generation.run(kind)
            if run is None:
                continue
            self.count += 1
            if run.status in _LEFT_TO_OTHERS:
                continue
            what = _WHY[run.status].format(exit_code=run.exit_code, signal=run.signal)
            if run.status is Status.TO and run.message.startswith("idle: "):
                what = f"sat idle ({run.message.removeprefix('idle: ')})"
            last_line = _last_line(run.stderr)
            reason = f"program {generation.index} ({kind.value} run) {what}"
            if last_line:
                reason += f": {last_line}"
            return failed(
                NAME,
                generation.index,
                reason,
                run=kind.value,
                status=run.status.value,
                exit_code=run.exit_code,
                signal=run.signal,
                message=run.message,
                stderr=tail_excerpt(run.stderr),
                stdout_truncated=run.stdout_truncated,
                wall_ms=run.wall_ms,
                cpu_ms=run.cpu_ms,
            )
        return None

    @override
    def _finish(self, final: bool) -> CheckResult:
        return passed(NAME, f"all {self.count} runs exited cleanly within their limits", runs=self.count)


def _last_line(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "backslashreplace").strip().splitlines()
    return lines[-1][:300] if lines else ""
