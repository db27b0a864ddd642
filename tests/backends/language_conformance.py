"""What every wall must do for each language besides Python, as behaviours per language.

Each language gives small programs for the same questions the Python suite
asks (`conformance.py`): does it run with its arguments, is a blind run
really without its file, can it start a process, does the wall end it, is
its CPU time measured outside, are its opens of its own file counted, and
for a language with a launcher, is the audit channel tamper-evident and the
work count deterministic. A behaviour that does not apply to a language (a
shell must start processes) is simply not listed for it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass

from quinebox.backends.base import Backend, RunRequest
from quinebox.languages import LANGUAGES
from quinebox.limits import Limits
from quinebox.record import RunResult, Status


@dataclass(frozen=True)
class Programs:
    """One language's programs for the behaviours below; None where a behaviour does not apply."""

    args_and_exit: str
    """Prints its arguments joined by spaces, then exits with status 3."""
    file_exists: str
    """Prints 1 when its own file (the path it was started from) exists, else 0."""
    no_file: str
    """Prints 0 after looking for a file that is not there."""
    reads_own_file: str
    """Reads its own file (sighted only) and prints 1."""
    spins: str
    """Busy for about 0.3 s of CPU, then prints done."""
    endless: str
    sleeps: str
    """Sleeps for ten minutes."""
    writes_tmp: str
    """Writes /tmp/qbx-left, then prints 1."""
    starts_process: str | None
    """Tries to run `true` as a new process; prints refused when it cannot, started when it can."""
    loops: str | None = None
    """Runs a loop ARGV[0] times: the work count must grow with it (languages with a launcher)."""
    closes_channel: str | None = None
    """Tries to close fd 3, then prints 1."""
    forges_final_record: str | None = None
    """Writes a final record with a wrong key on fd 3, then prints 1."""
    skips_final_record: str | None = None
    """Prints 1 and exits at once, skipping the exit hooks."""
    broken: str | None = None
    """Does not compile (compiled languages)."""
    waits_on_a_child: str | None = None
    """Waits, asleep, while a process of its own computes for about a second, then prints done."""
    text_within_reach: str = ""
    """Prints how much of its own text it finds where a blind run might have it (stdin, the runtime)."""


PROGRAMS: dict[str, Programs] = {
    "javascript": Programs(
        text_within_reach='console.log(typeof process._eval === "string" ? process._eval.length : 0)',
        args_and_exit="console.log(process.argv.slice(2).join(' ')); process.exitCode = 3;",
        file_exists="console.log(require('fs').existsSync(__filename) ? 1 : 0)",
        no_file="console.log(require('fs').existsSync(__filename + '.none') ? 1 : 0)",
        reads_own_file="require('fs').readFileSync(__filename); console.log(1)",
        spins="const end = process.cpuUsage().user + 300000;\n"
        "while (process.cpuUsage().user < end) {}\nconsole.log('done')",
        endless="for (;;) {}",
        sleeps="setTimeout(() => {}, 600000)",
        writes_tmp="require('fs').writeFileSync('/tmp/qbx-left', '7'); console.log(1)",
        starts_process="""
            try { require('child_process').execFileSync('true'); console.log('started') }
            catch (e) { console.log('refused') }
        """,
        loops="let s = 0; for (let i = 0; i < Number(process.argv[2]); i++) { s += i } console.log(s)",
        closes_channel="try { require('fs').closeSync(3) } catch (e) {} console.log(1)",
        forges_final_record="require('fs').writeSync(3, 'F ' + '0'.repeat(32) + ' 1 0\\n'); console.log(1)",
        skips_final_record="process.stdout.write('1\\n', () => process.reallyExit(0))",
    ),
    "ruby": Programs(
        text_within_reach='print $stdin.read.size, "\\n"',
        args_and_exit="puts ARGV.join(' '); exit 3",
        file_exists="puts(File.exist?(__FILE__) ? 1 : 0)",
        no_file="puts(File.exist?(__FILE__ + '.none') ? 1 : 0)",
        reads_own_file="File.read(__FILE__); puts 1",
        spins="t = Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID) + 0.3\n"
        "nil while Process.clock_gettime(Process::CLOCK_PROCESS_CPUTIME_ID) < t\nputs 'done'",
        endless="loop {}",
        sleeps="sleep 600",
        writes_tmp="File.write('/tmp/qbx-left', '7'); puts 1",
        starts_process="puts(begin; system('true') ? 'started' : 'refused'; rescue StandardError; 'refused'; end)",
        loops="s = 0\nARGV[0].to_i.times { |i| s += i }\nputs s",
        closes_channel="begin; IO.for_fd(3).close; rescue StandardError; end\nputs 1",
        forges_final_record="IO.for_fd(3, autoclose: false).write('F ' + '0' * 32 + \" 1 0\\n\")\nputs 1",
        skips_final_record="$stdout.sync = true\nputs 1\nexit!(0)",
    ),
    "c": Programs(
        text_within_reach="#include <stdio.h>\nint main(void) { int n = 0;"
        ' while (getchar() != EOF) n++; printf("%d\\n", n); return 0; }',
        args_and_exit="""
            #include <stdio.h>
            int main(int c, char **v) { for (int i = 1; i < c; i++) printf(i > 1 ? " %s" : "%s", v[i]);
                                        puts(""); return 3; }
        """,
        file_exists='#include <stdio.h>\nint main(void) { puts(fopen(__FILE__, "r") ? "1" : "0"); return 0; }',
        no_file='#include <stdio.h>\nint main(void) { puts(fopen(__FILE__ ".none", "r") ? "1" : "0"); return 0; }',
        reads_own_file='#include <stdio.h>\nint main(void) { FILE *f = fopen(__FILE__, "r");'
        ' puts(f ? "1" : "0"); return 0; }',
        spins="""
            #include <stdio.h>
            #include <time.h>
            int main(void) { while (clock() < CLOCKS_PER_SEC * 3 / 10) {} puts("done"); return 0; }
        """,
        endless="int main(void) { for (;;) {} }",
        sleeps="#include <unistd.h>\nint main(void) { sleep(600); return 0; }",
        writes_tmp='#include <stdio.h>\nint main(void) { FILE *f = fopen("/tmp/qbx-left", "w");'
        ' if (f) fclose(f); puts("1"); return 0; }',
        starts_process="""
            #include <stdio.h>
            #include <unistd.h>
            int main(void) { pid_t p = fork(); if (p == 0) _exit(0); puts(p < 0 ? "refused" : "started"); return 0; }
        """,
        broken="int main(void) { return }",
    ),
    "bash": Programs(
        text_within_reach="x=$(cat); echo ${#x}\n# the rest of the program",
        args_and_exit='echo "$*"; exit 3',
        file_exists='[[ -f "$0" ]] && echo 1 || echo 0',
        no_file='[[ -f "$0.none" ]] && echo 1 || echo 0',
        reads_own_file='x=$(< "$0"); echo 1',
        spins="i=0; while ((i < 600000)); do ((i++)); done; echo done",
        endless="while :; do :; done",
        sleeps="sleep 600",
        writes_tmp="echo 7 > /tmp/qbx-left; echo 1",
        starts_process=None,
        waits_on_a_child='x=$(i=0; while ((i < 2000000)); do ((i++)); done; echo done); echo "$x"',
    ),
}


def run(backend: Backend, language: str, source: str, *argv: str, sighted: bool = True, **limits: float) -> RunResult:
    lim = Limits(**limits) if limits else Limits(wall_s=20)  # type: ignore[arg-type]
    return backend.run(RunRequest(textwrap.dedent(source).encode(), tuple(argv), sighted, lim, language))


Behaviour = Callable[[Backend, str, Programs], None]
BEHAVIOURS: dict[str, Behaviour] = {}


def behaviour(fn: Behaviour) -> Behaviour:
    BEHAVIOURS[fn.__name__] = fn
    return fn


def applies(name: str, programs: Programs) -> bool:
    """Whether a behaviour means anything for a language (it has the program the behaviour needs)."""
    needs = {
        "no_new_processes": programs.starts_process,
        "work_is_counted_deterministically": programs.loops,
        "audit_channel_cannot_be_closed": programs.closes_channel,
        "forged_and_skipped_records_are_evidence": programs.forges_final_record,
        "compile_errors_are_the_candidates": programs.broken,
        "waiting_on_a_busy_child_is_not_idle": programs.waits_on_a_child,
    }
    return needs.get(name, "") is not None


@behaviour
def blind_runs_see_their_text_only_where_every_run_has_a_twin(
    backend: Backend, language: str, programs: Programs
) -> None:
    """Sampled twins stand on the blind run having no way to its own text that the sighted one lacks.

    Where a blind run has one (`Language.twins_sampled` is False), the twins tell the two apart.
    """
    sighted = run(backend, language, programs.text_within_reach)
    blind = run(backend, language, programs.text_within_reach, sighted=False)
    assert sighted.ok and blind.ok, (sighted, blind)
    assert (sighted.stdout == blind.stdout) == LANGUAGES[language].twins_sampled, (sighted, blind)


@behaviour
def argv_and_exit_code(backend: Backend, language: str, programs: Programs) -> None:
    result = run(backend, language, programs.args_and_exit, "--next", "x")
    assert result.status is Status.RE and result.exit_code == 3, result
    assert result.stdout == b"--next x\n", result


@behaviour
def blind_run_has_no_file(backend: Backend, language: str, programs: Programs) -> None:
    assert run(backend, language, programs.file_exists).stdout == b"1\n"
    blind = run(backend, language, programs.file_exists, sighted=False)
    assert blind.stdout == b"0\n", blind
    assert blind.opens is None


@behaviour
def opens_of_its_own_file_are_counted(backend: Backend, language: str, programs: Programs) -> None:
    own = LANGUAGES[language].source_opens
    plain = run(backend, language, programs.no_file)
    reads = run(backend, language, programs.reads_own_file)
    assert reads.stdout == b"1\n", reads
    assert plain.opens == own, plain
    assert reads.opens is not None and reads.opens > own, reads


@behaviour
def files_left_behind_are_evidence(backend: Backend, language: str, programs: Programs) -> None:
    if backend.name == "none":
        return  # its /tmp is the host's: the program would write there, and it is no run's own
    result = run(backend, language, programs.writes_tmp)
    assert result.stdout == b"1\n", result
    assert ("fs.left_behind", "/tmp/qbx-left") in [(e.name, e.args) for e in result.events], result
    assert run(backend, language, programs.file_exists).events == ()


@behaviour
def no_new_processes(backend: Backend, language: str, programs: Programs) -> None:
    assert programs.starts_process is not None
    result = run(backend, language, programs.starts_process)
    assert result.stdout == b"refused\n", result  # the seccomp filter holds on every wall, none included


@behaviour
def timeout_ends_the_run(backend: Backend, language: str, programs: Programs) -> None:
    result = run(backend, language, programs.endless, wall_s=2.0, cpu_s=1)
    assert result.status is Status.TO, result


@behaviour
def sleeping_ends_at_once(backend: Backend, language: str, programs: Programs) -> None:
    """A run that only waits is ended as out of time within a second, not at its wall limit."""
    result = run(backend, language, programs.sleeps, wall_s=10.0)
    assert result.status is Status.TO and result.message.startswith("idle: "), result
    assert result.wall_ms < 2000, result


@behaviour
def waiting_on_a_busy_child_is_not_idle(backend: Backend, language: str, programs: Programs) -> None:
    """A shell asleep while its command substitution computes: the run is working, not idle."""
    assert programs.waits_on_a_child is not None
    result = run(backend, language, programs.waits_on_a_child, wall_s=10.0, cpu_s=10)
    assert result.status is Status.OK and result.stdout == b"done\n", result


@behaviour
def cpu_time_is_measured_outside(backend: Backend, language: str, programs: Programs) -> None:
    result = run(backend, language, programs.spins)
    assert result.stdout == b"done\n", result
    assert result.cpu_ms >= 200, result


@behaviour
def work_is_counted_deterministically(backend: Backend, language: str, programs: Programs) -> None:
    assert programs.loops is not None
    small = [run(backend, language, programs.loops, "1000").work for _ in range(2)]
    large = run(backend, language, programs.loops, "100000").work
    assert small[0] is not None and small[0] == small[1], small
    assert large is not None and large > small[0] + 90_000, (small, large)


@behaviour
def audit_channel_cannot_be_closed(backend: Backend, language: str, programs: Programs) -> None:
    assert programs.closes_channel is not None
    result = run(backend, language, programs.closes_channel)
    assert result.stdout == b"1\n", result
    if backend.name != "none":  # without the filter the close succeeds, and the missing record is evidence
        assert result.events == () and result.work is not None, result


@behaviour
def forged_and_skipped_records_are_evidence(backend: Backend, language: str, programs: Programs) -> None:
    assert programs.forges_final_record is not None and programs.skips_final_record is not None
    forged = run(backend, language, programs.forges_final_record)
    assert any(event.name == "tamper.channel" for event in forged.events), forged
    skipped = run(backend, language, programs.skips_final_record)
    assert skipped.stdout == b"1\n", skipped
    assert any(event.name == "tamper.channel" for event in skipped.events), skipped


@behaviour
def compile_errors_are_the_candidates(backend: Backend, language: str, programs: Programs) -> None:
    assert programs.broken is not None
    result = run(backend, language, programs.broken)
    assert result.status is Status.RE, result
    assert "compiler refused" in result.message and b"error" in result.stderr, result
