"""`integrity`: the program never reads its own source or smuggles state.

Two kinds of evidence, both recorded by the chain: the audit events the
launcher saw (file reads beyond the interpreter's own library, writes,
sockets, processes, signals, ctypes, counter tampering), and the pairing of
a sighted run (the source is a file) with a blind one (no copy anywhere),
wherever the chain recorded both (see `quinebox.chain`). A blind run that
behaves differently, while a second sighted run repeats the first, means the
program depends on its own file.

A third kind is read off the program itself: a table of answers. A program
that spells four or more consecutive terms of the sequence beyond its state
(the number it prints and the next) looks its numbers up instead of computing
them, and fails here, naming the terms (see `_answers`).
"""

from __future__ import annotations

import re

from typing_extensions import override

from quinebox.checks._answers import TABLE_TERMS, carried_table
from quinebox.checks._judge import Judge, judge_whole
from quinebox.checks._numbers import parse_number, short_number
from quinebox.checks._result import CheckOptions, CheckResult, failed, passed, tail_excerpt, text_excerpt
from quinebox.languages import LANGUAGES
from quinebox.record import TWINS, AuditEvent, Chain, Generation, RunKind, RunResult, Status

NAME = "integrity"
_CATEGORIES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("socket.",), "uses the network"),
    (
        ("subprocess.", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "pty."),
        "starts a process",
    ),
    (("os.kill", "os.killpg", "signal.pthread_kill"), "sends a signal"),
    (("ctypes.",), "loads native code"),
    (("mmap.",), "maps shared memory"),
    (("sys.settrace", "sys.setprofile", "sys.monitoring", "sys.gettrace"), "tampers with the work counter"),
    (("tamper.channel",), "tampers with the audit channel"),
    (("tamper.launcher",), "tampers with the sandbox's instruments"),
    (("reflection.", "sys._current_frames", "sys._current_exceptions"), "reads its own code from memory"),
    (("gc.",), "walks the interpreter's objects"),
    (("code.__new__", "function.__new__"), "builds code by hand"),
    (("fcntl.",), "changes a file descriptor"),
    (("resource.",), "changes its own limits"),
    (("sys.addaudithook",), "installs an audit hook"),
    (("os.listdir", "os.scandir", "glob."), "lists a directory"),
    (
        (
            "os.remove",
            "os.rename",
            "os.rmdir",
            "os.mkdir",
            "os.truncate",
            "os.chmod",
            "os.chown",
            "os.link",
            "os.symlink",
            "os.utime",
            "shutil.",
            "fs.left_behind",
        ),
        "writes to the file system",
    ),
)


def check_integrity(chain: Chain, options: CheckOptions) -> CheckResult:
    return judge_whole(IntegrityJudge(options), chain)


class IntegrityJudge(Judge):
    """Events and twins per generation; a program's table once its successor's number is known."""

    name = NAME

    def __init__(self, options: CheckOptions) -> None:
        super().__init__(options)
        self.blind_runs = 0
        self.compared = 0
        """Blind runs that had a sighted twin to be compared with."""
        self.pending: tuple[Generation, int] | None = None
        """The last program and the number it printed, waiting for its successor's number."""
        self.previous: tuple[bytes, int | None] | None = None
        """The last program's source and number: a program identical to it must print the same."""

    @override
    def _add(self, generation: Generation) -> CheckResult | None:
        printed = _printed(generation)
        if self.pending is not None:
            failure = self._table(*self.pending, printed)
            if failure is not None:
                return failure
        failure = _advances_without_state(generation, printed, self.previous) or _replay_differs(generation)
        if failure is not None:
            return failure
        self.previous = (generation.source, printed)
        self.pending = (generation, printed) if printed is not None else None
        self.blind_runs += sum(twins.blind in generation.runs for twins in TWINS)
        self.compared += sum(twins.blind in generation.runs and twins.sighted in generation.runs for twins in TWINS)
        for kind, run in generation.runs.items():
            events = [e for e in run.events if not (self.options.allow_reflection and _is_reflection(e))]
            if events:
                event = events[0]
                return failed(
                    NAME,
                    generation.index,
                    f"{describe(event)}: {_shown(event)} in generation {generation.index}, {_run_name(kind)}",
                    run=kind.value,
                    call=str(event),
                    events={k.value: [str(e) for e in r.events] for k, r in generation.runs.items() if r.events},
                )
        spoken = LANGUAGES[self.options.language]
        patterns = () if self.options.allow_reflection else spoken.reflection
        failure = _reflects(generation, patterns) or _opens_its_file(generation, spoken.source_opens)
        if failure is not None:
            return failure
        for twins in TWINS:
            sighted, blind, again = (generation.run(k) for k in (twins.sighted, twins.blind, twins.again))
            if sighted is None or blind is None or sighted.same_behaviour(blind):
                continue
            if again is None or not again.same_behaviour(sighted):
                continue  # the program is not even repeatable: that is determinism's finding
            return failed(
                NAME,
                generation.index,
                f"reads its own source: without its file, program {generation.index} behaves differently "
                f"({_run_name(twins.sighted)})",
                run=twins.sighted.value,
                with_file=text_excerpt(sighted.stdout),
                without_file=text_excerpt(blind.stdout),
                without_file_status=blind.status.value,
                without_file_stderr=tail_excerpt(blind.stderr),
            )
        return None

    @override
    def _finish(self, final: bool) -> CheckResult:
        if final and self.pending is not None:
            failure = self._table(*self.pending, None)
            if failure is not None:
                return failure
        twins = (
            f"{self.compared} runs without a source file behaved as their sighted twins"
            if self.compared == self.blind_runs
            else f"{self.blind_runs} runs without a source file carried the chain, and the {self.compared} "
            "with a sighted twin behaved as it did"
        )
        return passed(
            NAME,
            f"no audited side channel, no table of answers, and {twins}",
            blind_runs=self.blind_runs,
            compared=self.compared,
        )

    def _table(self, generation: Generation, first: int, second: int | None) -> CheckResult | None:
        spec = self.options.sequence
        nexts = [second] if second is not None and spec.consecutive(first, second) else spec.successors(first)
        for following in nexts:
            table = carried_table(generation.source, first, following)
            if table is not None:
                shown = ", ".join(short_number(t) for t in table[:6]) + (", ..." if len(table) > 6 else "")
                return failed(
                    NAME,
                    generation.index,
                    f"program {generation.index} carries a table of answers: {len(table)} consecutive terms of "
                    f"{spec.name} beyond its state ({shown}); it needs only the number it prints and the next",
                    rule="answers",
                    terms=[short_number(t) for t in table[:60]],
                    carried=len(table),
                    at_least=TABLE_TERMS,
                )
        return None


def _is_reflection(event: AuditEvent) -> bool:
    """Reading its own code from memory, which ``allow_reflection`` permits (opening its file never is)."""
    return event.name.startswith(("reflection.", "sys._current_frames", "sys._current_exceptions"))


def _reflects(generation: Generation, patterns: tuple[tuple[str, str], ...]) -> CheckResult | None:
    """A program whose text reads its own code by a route no outside measure sees (a shell's ``declare -f``)."""
    if not patterns:
        return None
    text = generation.source.decode("utf-8", "replace")
    for pattern, why in patterns:
        match = re.search(pattern, text)
        if match is not None:
            line = text.count("\n", 0, match.start()) + 1
            return failed(
                NAME,
                generation.index,
                f"reads its own code from memory: {why} (`{match.group()}` on line {line} of program "
                f"{generation.index})",
                found=match.group(),
                line=line,
            )
    return None


def _opens_its_file(generation: Generation, own: int) -> CheckResult | None:
    """A sighted run that opened its source file more often than its interpreter does (counted outside it)."""
    for kind, run in generation.runs.items():
        if run.opens is not None and run.opens > own:
            by = "its interpreter opens it once" if own == 1 else f"its interpreter opens it {own} times"
            if own == 0:
                by = "a compiled program never needs to"
            return failed(
                NAME,
                generation.index,
                f"reads its own source: program {generation.index} opened its file {run.opens} times "
                f"({by}) in the {_run_name(kind)}",
                run=kind.value,
                opens=run.opens,
                interpreter_opens=own,
            )
    return None


def _advances_without_state(
    generation: Generation, printed: int | None, previous: tuple[bytes, int | None] | None
) -> CheckResult | None:
    """A program byte-identical to its predecessor that prints another number keeps its state elsewhere."""
    if previous is None or printed is None or previous[1] is None:
        return None
    source, before = previous
    if generation.source != source or before is None or before == printed:
        return None
    k = generation.index
    return failed(
        NAME,
        k,
        f"depends on state outside its source: program {k} is byte for byte program {k - 1}, "
        f"yet prints {short_number(printed)} where program {k - 1} printed {short_number(before)}",
        rule="no-state",
        printed=short_number(printed),
        previous=short_number(before),
    )


def _replay_differs(generation: Generation) -> CheckResult | None:
    """The cold replay: the program alone in a fresh sandbox must print what it printed in the chain."""
    chained, alone = generation.judged(RunKind.DEFAULT), generation.run(RunKind.REPLAY)
    if chained is None or alone is None or chained.same_behaviour(alone):
        return None
    k = generation.index
    return failed(
        NAME,
        k,
        f"depends on state outside its source: program {k} printed {_shown_output(chained)} in the chain "
        f"and {_shown_output(alone)} when run alone",
        rule="replay",
        run=RunKind.REPLAY.value,
        first=text_excerpt(chained.stdout),
        again=text_excerpt(alone.stdout),
        status=alone.status.value,
    )


def _shown_output(run: RunResult) -> str:
    text = run.stdout.decode("utf-8", "replace").strip()
    if run.status is not Status.OK:
        return (
            f"nothing ({run.status.value}: {run.message or 'failed'})"
            if not text
            else f"{text[:60]} ({run.status.value})"
        )
    return text[:60] if text else "nothing"


def _printed(generation: Generation) -> int | None:
    run = generation.judged(RunKind.DEFAULT)
    value = parse_number(run.stdout) if run is not None and run.ok else None
    return value if isinstance(value, int) else None


def describe(event: AuditEvent) -> str:
    """A short human category for an audited call."""
    if event.name == "open":
        if "prog.py" in event.args:
            return "reads its own source"
        flags = event.args.rsplit(",", 1)[-1].strip()
        mode = event.args.split(",")[1].strip() if event.args.count(",") >= 2 else "'r'"
        if any(c in mode for c in "wax+") or (flags.isdigit() and int(flags) & 0o3):
            return "writes a file"
        return "reads a file"
    for prefixes, text in _CATEGORIES:
        if event.name.startswith(prefixes):
            return text
    return "makes an audited call"


def _shown(event: AuditEvent) -> str:
    """The call as Python would spell it; the sandbox's own findings in its words."""
    if event.name == "fs.left_behind":
        return f"left {event.args} behind"
    return event.args if event.name.startswith("tamper.") else str(event)


def _run_name(kind: RunKind) -> str:
    return {
        RunKind.DEFAULT: "default run",
        RunKind.NEXT: "--next run",
        RunKind.DEFAULT_BLIND: "default run without its file",
        RunKind.NEXT_BLIND: "--next run without its file",
        RunKind.DEFAULT_AGAIN: "default run, repeated",
        RunKind.NEXT_AGAIN: "--next run, repeated",
        RunKind.REPLAY: "default run, replayed alone",
    }[kind]
