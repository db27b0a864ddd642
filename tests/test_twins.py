"""Sampled twins: a Python chain carried by its blind runs judges every failure as a chain with every twin does.

On the public FakeBackend, so that a family of faults can be tried by the hundred: each is a
program that misbehaves from some generation on, in some way, in some runs.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

import quinebox
from quinebox.backends.base import RunRequest
from quinebox.backends.fake import FakeBackend, ok
from quinebox.chain import ChainConfig, record_chain, twin_generations
from quinebox.checks import CheckOptions
from quinebox.judge import judge
from quinebox.record import AuditEvent, RunResult, Status
from quinebox.sequences import FIBONACCI


def program(index: int) -> bytes:
    return f"# generation {index}\n".encode()


def correct(request: RunRequest) -> RunResult:
    """Programs are '# generation k'; the default run prints F(k), --next gives program k+1."""
    index = int(request.source.split()[2])
    if request.argv:
        return ok(program(index + 1))
    return ok(f"{FIBONACCI.terms(index + 1)[-1]}\n".encode())


def crashed(message: bytes) -> RunResult:
    return RunResult(Status.RE, 1, None, b"", message, 1.0, 1.0, 10)


#: Ways a program goes wrong from generation k on; each takes the request and the correct result.
FAULTS = {
    # seen by every run: a plain bug
    "wrong number": lambda r, good: good if r.argv else ok(b"999\n"),
    "crashes": lambda r, good: crashed(b"RuntimeError: gives up\n"),
    "crashes on --next": lambda r, good: crashed(b"IndexError\n") if r.argv else good,
    "prints two numbers": lambda r, good: good if r.argv else ok(good.stdout + good.stdout),
    "writes a different program": lambda r, good: ok(good.stdout + b"print(1)\n") if r.argv else good,
    "runs out of work": lambda r, good: RunResult(Status.WL, None, None, b"", b"", 1.0, 1.0, 2_000_001),
    "writes a file": lambda r, good: replace(good, events=(AuditEvent("open", "'/tmp/x', 'w', 524865"),)),
    # seen only where its file is missing: it needs its own source
    "needs its file": lambda r, good: good if r.sighted else crashed(b"NameError: __file__\n"),
    "needs its file for --next": lambda r, good: good if r.sighted or not r.argv else ok(b""),
    "miscounts without its file": lambda r, good: good if r.sighted or r.argv else ok(b"0\n"),
}

#: Faults that only a --next run shows: the last program has none.
ONLY_ON_NEXT = {"crashes on --next", "writes a different program", "needs its file for --next"}


def faulty(fault: str, start: int):  # type: ignore[no-untyped-def]
    def handler(request: RunRequest) -> RunResult:
        good = correct(request)
        return FAULTS[fault](request, good) if int(request.source.split()[2]) >= start else good

    return handler


def outcome(handler, generations: int, *, sample_twins: bool, keep_going: bool = False):  # type: ignore[no-untyped-def]
    options = CheckOptions(language="python")
    config = ChainConfig(generations, keep_going=keep_going, check_options=options, sample_twins=sample_twins)
    chain = record_chain(program(0), config, [FakeBackend(handler)])
    _, failure = judge(chain, options, prefixes_checked=not keep_going)
    return None if failure is None else (failure.name, failure.generation, failure.reason)


@settings(max_examples=150, deadline=None)
@given(fault=st.sampled_from(sorted(FAULTS)), start=st.integers(0, 24), generations=st.integers(1, 24))
def test_sampled_twins_find_every_fault_where_every_twin_finds_it(fault: str, start: int, generations: int) -> None:
    every = outcome(faulty(fault, start), generations, sample_twins=False)
    assert outcome(faulty(fault, start), generations, sample_twins=True) == every
    assert outcome(faulty(fault, start), generations, sample_twins=True, keep_going=True) == every
    assert (every is None) == (start > generations or (start == generations and fault in ONLY_ON_NEXT))


@settings(max_examples=60, deadline=None)
@given(start=st.integers(0, 30), generations=st.integers(1, 30))
def test_a_program_that_stops_being_repeatable_is_caught_at_the_next_sampled_generation(
    start: int, generations: int
) -> None:
    salts = iter(range(10**6))

    def salted(request: RunRequest) -> RunResult:
        good = correct(request)
        if request.argv and int(request.source.split()[2]) >= start:
            return ok(good.stdout.rstrip(b"\n") + f" {next(salts)}\n".encode())
        return good

    found = outcome(salted, generations, sample_twins=True)
    due = [k for k in sorted(twin_generations(generations)) if start <= k < generations]
    if not due:
        assert found is None
    else:
        assert found is not None and found[:2] == ("determinism", due[0]), found


def test_a_python_chain_runs_blind_with_its_twins_at_every_tenth_generation() -> None:
    report = quinebox.verify(program(0), generations=25, backend=FakeBackend(correct))
    assert report.passed
    assert twin_generations(25) == {0, 10, 20, 25}
    for g in report.generations:
        kinds = set(g.runs) - {"replay"}
        if g.index == 25:
            assert kinds == {"default", "default_blind"}
        elif g.index in (0, 10, 20):
            assert kinds == {"default", "next", "default_blind", "next_blind"}
        else:
            assert kinds == {"default_blind", "next_blind"}, g.index
    assert [g.number for g in report.generations] == [str(n) for n in FIBONACCI.terms(26)]
    integrity = report.check("integrity")
    assert integrity is not None and integrity.reason.endswith(
        "51 runs without a source file carried the chain, and the 7 with a sighted twin behaved as it did"
    )


def test_a_language_whose_blind_run_can_read_its_text_has_every_twin() -> None:
    backend = FakeBackend(correct)
    report = quinebox.verify(program(0), generations=10, backend=backend, language="bash")
    assert report.passed, report.failure
    # default and --next, sighted and blind, at every generation; then the cold replay of two programs
    assert len(backend.requests) == 11 * 2 + 10 * 2 + 2


def test_a_failing_generation_and_those_since_the_last_sample_are_recorded_again_with_twins() -> None:
    backend = FakeBackend(faulty("needs its file", 13))
    report = quinebox.verify(program(0), generations=30, backend=backend)
    assert report.failure is not None and (report.failure.check, report.failure.generation) == ("integrity", 13)
    assert report.failure.reason.startswith("reads its own source")
    assert {"default", "default_blind", "default_again"} <= set(report.generations[13].runs)
    assert all(set(report.generations[k].runs) == {"default_blind", "next_blind"} for k in range(1, 10))
    assert all({"default", "next", "default_blind", "next_blind"} <= set(report.generations[k].runs) for k in (11, 12))
    # the blind runs of programs 11 and 12 were made once: the second recording kept them
    blind_of_11 = [r for r in backend.requests if not r.sighted and r.source == program(11)]
    assert len(blind_of_11) == 2


def test_progress_hears_of_each_generation_once() -> None:
    seen: list[int] = []
    quinebox.verify(
        program(0),
        generations=30,
        backend=FakeBackend(faulty("needs its file", 13)),
        on_generation=lambda g: seen.append(g.index),
    )
    assert seen == list(range(14))
