"""The chain driver and the report, on the public FakeBackend: no sandbox involved."""

from __future__ import annotations

import itertools
import time

import pytest

import quinebox
from quinebox.backends.base import RunRequest
from quinebox.backends.fake import FakeBackend, ok
from quinebox.record import AuditEvent, RunResult
from quinebox.sequences import FIBONACCI


def counter_program(index: int) -> bytes:
    return f"# generation {index}\n".encode()


def chain_handler(request: RunRequest) -> RunResult:
    """Programs are '# generation k'; the default run prints F(k), --next gives program k+1."""
    index = int(request.source.split()[-1])
    if request.argv:
        return ok(counter_program(index + 1))
    return ok(f"{FIBONACCI.terms(index + 1)[-1]}\n".encode())


def test_a_correct_chain_passes_with_two_runs_a_generation_and_twins_at_two() -> None:
    backend = FakeBackend(chain_handler)
    report = quinebox.verify(counter_program(0), generations=10, backend=backend)
    assert report.passed and report.score == 1.0
    assert [g.number for g in report.generations] == [str(n) for n in FIBONACCI.terms(11)]
    # default and --next without the file; their sighted twins at programs 0 and 10; the cold replay of two
    assert len(backend.requests) == 11 + 10 + 2 + 1 + 2
    assert {r.sighted for r in backend.requests} == {True, False}


def test_stops_at_the_first_failing_generation_unless_keep_going() -> None:
    def wrong_at_four(request: RunRequest) -> RunResult:
        result = chain_handler(request)
        if not request.argv and request.source.endswith(b" 4\n"):
            return ok(b"999\n")
        return result

    stopped = quinebox.verify(counter_program(0), generations=10, backend=FakeBackend(wrong_at_four))
    assert stopped.failure is not None and (stopped.failure.check, stopped.failure.generation) == ("sequence", 4)
    assert len(stopped.generations) == 5 and stopped.stopped_early
    assert stopped.score == pytest.approx(3 / 10, abs=1e-6)  # steps 0->1, 1->2, 2->3 proven, of 10
    kept = quinebox.verify(counter_program(0), generations=10, keep_going=True, backend=FakeBackend(wrong_at_four))
    assert len(kept.generations) == 11 and kept.failure == stopped.failure and kept.score == stopped.score


def test_blind_difference_with_a_stable_repeat_is_integrity() -> None:
    def reads_own_file(request: RunRequest) -> RunResult:
        if not request.sighted:
            return RunResult(quinebox.record.Status.RE, 1, None, b"", b"NameError: __file__\n", 1, 1, 5)
        return chain_handler(request)

    backend = FakeBackend(reads_own_file)
    report = quinebox.verify(counter_program(0), generations=5, backend=backend)
    assert report.failure is not None and report.failure.check == "integrity"
    assert report.failure.reason.startswith("reads its own source")
    assert "default_again" in report.generations[0].runs


def test_a_repeat_that_differs_is_determinism_not_integrity() -> None:
    salt = itertools.count()

    def salted(request: RunRequest) -> RunResult:
        result = chain_handler(request)
        if request.argv:
            return ok(result.stdout.rstrip(b"\n") + f"  # {next(salt)}\n".encode())
        return result

    report = quinebox.verify(counter_program(0), generations=5, backend=FakeBackend(salted))
    assert report.failure is not None
    assert (report.failure.check, report.failure.generation) == ("determinism", 0)


def test_audit_events_name_the_call_and_generation() -> None:
    def cheat(request: RunRequest) -> RunResult:
        result = chain_handler(request)
        if request.argv and request.sighted:
            event = AuditEvent("open", "'/box/prog.py', 'r', 524288")
            return RunResult(result.status, 0, None, result.stdout, b"", 1, 1, 10, events=(event,))
        return result

    report = quinebox.verify(counter_program(0), generations=5, backend=FakeBackend(cheat))
    failure = report.failure
    assert failure is not None and failure.check == "integrity" and failure.generation == 0
    assert failure.reason == "reads its own source: open('/box/prog.py', 'r', 524288) in generation 0, --next run"
    integrity = report.check("integrity")
    assert integrity is not None and integrity.evidence["call"] == "open('/box/prog.py', 'r', 524288)"


def test_report_round_trips_through_json() -> None:
    report = quinebox.verify(counter_program(0), generations=3, backend=FakeBackend(chain_handler))
    again = quinebox.Report.from_dict(__import__("json").loads(report.to_json()))
    assert again == report


def test_a_program_that_prints_other_bytes_when_replayed_alone_fails_integrity() -> None:
    """State outside the source: each lane remembers what it ran, and a program run again prints 0."""
    seen: set[tuple[bool, bytes]] = set()

    def counts_its_runs(request: RunRequest) -> RunResult:
        if request.argv:
            return chain_handler(request)
        key = (request.sighted, request.source)
        again, _ = key in seen, seen.add(key)
        return ok(b"0\n") if again else chain_handler(request)

    backend = FakeBackend(counts_its_runs)
    report = quinebox.verify(counter_program(0), generations=6, backend=backend)
    assert report.failure is not None and report.failure.check == "integrity", report.failure
    assert "when run alone" in report.failure.reason and "depends on state outside its source" in report.failure.reason
    assert report.failure.generation in range(7)
    assert any("replay" in g.runs for g in report.generations)


def test_replay_picks_the_last_program_and_one_chosen_by_the_hash_of_p0() -> None:
    from quinebox.chain import replay_indices
    from quinebox.record import Chain, Generation

    for first in (b"a", b"b", b"c", b"dd"):
        chain = Chain(tuple(Generation(k, first if k == 0 else b"x", {}) for k in range(51)), 50)
        picks = replay_indices(chain)
        assert picks[-1] == 50 and 0 <= picks[0] < 50
        assert picks == replay_indices(chain)  # the same candidate, the same picks


def test_a_byte_identical_successor_that_prints_the_next_number_fails_integrity() -> None:
    counter = itertools.count()

    def same_text(request: RunRequest) -> RunResult:
        if request.argv:
            return ok(b"# the same program\n")
        return ok(f"{FIBONACCI.terms(next(counter) // 2 + 1)[-1]}\n".encode())

    report = quinebox.verify(b"# the same program\n", generations=5, backend=FakeBackend(same_text))
    assert report.failure is not None, report
    assert (report.failure.check, report.failure.generation) == ("integrity", 1), report.failure
    assert "byte for byte program 0" in report.failure.reason


def test_the_deadline_ends_the_verification_with_a_runs_failure() -> None:
    def slow(request: RunRequest) -> RunResult:
        time.sleep(0.05)
        return chain_handler(request)

    report = quinebox.verify(counter_program(0), generations=50, backend=FakeBackend(slow), deadline=0.5)
    assert report.failure is not None and report.failure.check == "runs", report.failure
    assert "deadline of 0.5 s" in report.failure.reason
    assert report.failure.generation == len(report.generations) - 1
    assert report.stopped_early and "deadline" in report.stopped_early
