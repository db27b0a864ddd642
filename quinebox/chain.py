"""Drive the generations through the sandbox and record every run.

Generation k runs program Pk with no arguments and, for k < N, with the next
flag. Every run has a blind twin (no copy of the source anywhere) beside the
sighted one (the source is a file); when the twins differ, the sighted run is
repeated, which tells "depends on its own file" (integrity) from "not
repeatable" (determinism).

Where a language's blind run has no way to the program's text that the
sighted run lacks (`Language.twins_sampled`: Python and Ruby), the blind runs
carry the chain and
the sighted twins run only where they can tell something: at every tenth
generation and the last (`twin_generations`), and at any generation whose
blind runs fail a check or end the chain, which is then recorded again, with
every generation since the last sample, with all their twins, so that it
fails where and as a chain with every twin does. A cheat cannot gain from its
file in a run where there is none, so every judged step is proven without it;
the sample catches a program that looks at its file when it is there, and one
that stops being repeatable, within ten generations.

The two sessions keep both cores busy while each stays strictly one run at a
time: sighted runs in the first, blind in the second, or, where every run
starts in namespaces of its own, a default and a --next run at once.

Recording stops at the first generation where any check fails, unless asked
to keep going, always when there is no next program to run, and when the
verification's deadline is reached (each run's wall limit is cut to the time
left, and a generation the deadline cut short is marked as such).

A chain that passed gets a cold replay (`replay_chain`): its last program and
one other, chosen from the hash of P0, run again in a sandbox that saw none of
the chain. A program whose output depends on state kept outside its source
prints something else there.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from quinebox.backends.base import Backend, RunRequest, runs_start_fresh
from quinebox.checks import ChainJudge, CheckOptions
from quinebox.languages import LANGUAGES
from quinebox.limits import Limits
from quinebox.record import TWINS, Chain, Generation, RunKind, RunResult, Status

ProgressCallback = Callable[[Generation], None]


@dataclass(frozen=True)
class ChainConfig:
    """How far and how to drive a chain."""

    generations: int = 50
    next_flag: str = "--next"
    limits: Limits = field(default_factory=Limits)
    keep_going: bool = False
    check_options: CheckOptions = field(default_factory=CheckOptions)
    deadline_s: float | None = None
    """Seconds the whole recording may take; None for no limit."""
    language: str = "python"
    """The judged language every program of the chain is run as."""
    sample_twins: bool = True
    """Where the language allows it, run the sighted twins only at `twin_generations` and where a
    generation fails; False runs every twin (the tests compare the two)."""


_SIGHTED = (RunKind.DEFAULT, RunKind.NEXT)
_BLIND = (RunKind.DEFAULT_BLIND, RunKind.NEXT_BLIND)
_NEXT = (RunKind.NEXT, RunKind.NEXT_BLIND)


def record_chain(
    source: bytes,
    config: ChainConfig,
    sessions: Sequence[Backend],
    on_generation: ProgressCallback | None = None,
) -> Chain:
    """Run the chain from `source` and return everything it recorded.

    Args:
        source: P0, byte-exact.
        config: generations, flag, limits and stopping rule.
        sessions: one or two opened backends; with two, the runs are spread over both (see above).
        on_generation: called with each generation as soon as it is recorded.

    Raises:
        InfraError: a sandbox session failed in a way the candidate cannot have caused.
    """
    if not sessions:
        raise ValueError("record_chain needs at least one sandbox session")
    lanes = _Lanes(sessions[0], sessions[-1], config)
    language = LANGUAGES.get(config.language)
    every = frozenset(range(config.generations + 1))
    sampled = (
        twin_generations(config.generations)
        if config.sample_twins and language is not None and language.twins_sampled
        else every
    )
    generations: list[Generation] = []
    stopped: str | None = None
    # Judge only what later generations cannot change: the early stop must agree with the final verdict.
    judge = ChainJudge(replace(config.check_options, partial=True))
    # Where to record again from, with every twin, should a generation of blind runs alone fail.
    resume = _Resume(0, source)
    kept: dict[tuple[int, bytes], dict[RunKind, RunResult]] = {}
    """Blind runs already made, for the generations recorded again."""
    announced = -1
    index, program = 0, source
    started = time.monotonic()

    def time_left() -> float | None:
        return None if config.deadline_s is None else config.deadline_s - (time.monotonic() - started)

    try:
        while True:
            last = index == config.generations
            left = time_left()
            if left is not None and left <= 0:
                generations.append(Generation(index, program, {}, deadline_s=config.deadline_s))
                stopped = f"stopped at generation {index}: the deadline of {config.deadline_s:g} s was reached"
                break
            step = _Step(lanes, program, config.limits.within(left), last)
            twins = index in sampled
            runs = step.twins(kept.pop((index, program), None)) if twins else step.blind()
            left = time_left()
            if left is not None and left <= 0 and any(run.status is Status.TO for run in runs.values()):
                # A run ran out of the time the deadline left it, not of its own limit.
                generations.append(Generation(index, program, runs, deadline_s=config.deadline_s))
                stopped = f"stopped at generation {index}: the deadline of {config.deadline_s:g} s was reached"
                break
            generation = Generation(index, program, runs)
            # Each check judges only what this generation adds, carrying its state: recording stays linear.
            failure = judge.add(generation)
            following = None if last else _next_program(generation.judged(RunKind.NEXT))
            if not twins and (failure is not None or following is None):
                # Blind runs alone end the chain here: record this generation and every one since the
                # last with twins again, with their twins, so that the chain ends where and as a chain
                # with every twin does (a blind step that differs from its sighted twin fails there).
                kept = {(g.index, g.source): g.runs for g in generations[resume.index :]}
                kept[index, program] = runs
                del generations[resume.index :]
                judge = _judge_of(config, generations)
                index, program = resume.index, resume.program
                sampled = every
                continue
            generations.append(generation)
            if on_generation is not None and index > announced:
                announced = index
                on_generation(generation)
            if last:
                break
            if failure is not None and not config.keep_going:
                stopped = f"stopped at generation {index}: a check failed"
                break
            if following is None:
                stopped = f"stopped at generation {index}: no next program to run"
                break
            index, program = index + 1, following
            if twins and index not in sampled:
                resume = _Resume(index, program)
    except BaseException:
        # Interrupted or broken: do not wait for the other lane's run; closing the sessions,
        # which their owner does next, ends it.
        lanes.pool.shutdown(wait=False, cancel_futures=True)
        raise
    lanes.pool.shutdown()
    return Chain(tuple(generations), config.generations, stopped, language=config.language)


@dataclass
class _Resume:
    """The first generation after one with twins: its index and its program."""

    index: int
    program: bytes


def _judge_of(config: ChainConfig, generations: list[Generation]) -> ChainJudge:
    """A judge that has seen `generations`, as the one that recorded them had: the checks keep no other state.

    Made again only when recording goes back, which is rare; a copy of the judge kept at every
    generation with twins instead cost more than a tenth of the host's time judging a passing chain.
    """
    judge = ChainJudge(replace(config.check_options, partial=True))
    for generation in generations:
        judge.add(generation)
    return judge


#: A chain of blind runs runs the sighted twins at every this many generations (and at its last).
TWIN_EVERY = 10


def twin_generations(generations: int) -> frozenset[int]:
    """Where a chain of blind runs also runs the sighted twins: every `TWIN_EVERY`-th program and the last.

    Fixed by the chain's length alone, so that the same candidate is sampled the same way on every
    run; a program that stops being repeatable at generation k is caught at the next of these.
    """
    return frozenset({*range(0, generations, TWIN_EVERY), generations})


class _Lanes:
    """The two sessions a chain runs in, and whether a run's kind may go to either."""

    def __init__(self, sighted: Backend, blind: Backend, config: ChainConfig) -> None:
        self.sighted, self.blind, self.config = sighted, blind, config
        self.pool = ThreadPoolExecutor(max_workers=1 if blind is sighted else 2)
        # Where every run starts in namespaces of its own, no run can leave anything for a later one,
        # so blind runs may use both lanes; otherwise each lane keeps to one kind of run.
        self.shared = blind is not sighted and all(runs_start_fresh(lane) for lane in (sighted, blind))


class _Step:
    """The runs of one generation, made on the lanes."""

    def __init__(self, lanes: _Lanes, program: bytes, limits: Limits, last: bool) -> None:
        self.lanes, self.program, self.limits, self.last = lanes, program, limits, last
        self.config = lanes.config

    def request(self, kind: RunKind) -> RunRequest:
        return _request(self.program, self.config, self.limits, sighted=kind in _SIGHTED, next_run=kind in _NEXT)

    def serial(self, backend: Backend, kinds: tuple[RunKind, ...]) -> dict[RunKind, RunResult]:
        """`kinds` one after the other in one session, the --next run left out once the default run failed."""
        results = {}
        for kind in kinds:
            if kind in _NEXT and self.last:
                continue
            results[kind] = result = backend.run(self.request(kind))
            if not result.ok and not self.config.keep_going:
                break  # a check fails at this generation whatever the lane's other runs do
        return results

    def pair(self, kinds: tuple[RunKind, RunKind]) -> dict[RunKind, RunResult]:
        """A default and a --next run, one on each lane at once, kept as `serial` would have made them."""
        lanes = self.lanes
        if not lanes.shared or self.last:
            backend = lanes.sighted if kinds[0] in _SIGHTED else lanes.blind
            return self.serial(backend, kinds)
        default, following = kinds
        later = lanes.pool.submit(lanes.blind.run, self.request(following))
        results = {default: lanes.sighted.run(self.request(default))}
        nxt = later.result()
        if results[default].ok or self.config.keep_going:
            results[following] = nxt
        return results

    def twins(self, blind: dict[RunKind, RunResult] | None = None) -> dict[RunKind, RunResult]:
        """Every run and its twin (sighted runs in one lane, blind in the other), and repeats where they differ.

        Args:
            blind: the blind runs, when they are already made.
        """
        lanes = self.lanes
        if blind is not None:
            runs = blind | self.pair(_SIGHTED)
        elif lanes.blind is lanes.sighted:
            runs = self.serial(lanes.sighted, _SIGHTED) | self.serial(lanes.sighted, _BLIND)
        else:
            later = lanes.pool.submit(self.serial, lanes.blind, _BLIND)
            runs = self.serial(lanes.sighted, _SIGHTED) | later.result()
        runs |= self.repeats(runs)
        return {kind: runs[kind] for kind in RunKind if kind in runs}  # one order, however they were made

    def blind(self) -> dict[RunKind, RunResult]:
        """The blind runs alone."""
        return self.pair(_BLIND)

    def repeats(self, runs: dict[RunKind, RunResult]) -> dict[RunKind, RunResult]:
        """The sighted run again wherever its twin differed: "depends on its file" or "not repeatable"."""
        again = {}
        for twins in TWINS:
            sighted, blind = runs.get(twins.sighted), runs.get(twins.blind)
            if sighted is not None and blind is not None and not sighted.same_behaviour(blind):
                again[twins.again] = self.lanes.sighted.run(self.request(twins.sighted))
        return again


def replay_indices(chain: Chain) -> list[int]:
    """The programs a cold replay runs: the last one, and one other chosen by the hash of P0."""
    last = len(chain.generations) - 1
    if last <= 0:
        return [0] if last == 0 else []
    other = int.from_bytes(hashlib.sha256(chain.generations[0].source).digest(), "big") % last
    return [other, last]


def replay_chain(chain: Chain, config: ChainConfig, session: Backend) -> Chain:
    """The chain with a REPLAY run added to each program `replay_indices` picks, run in `session`.

    `session` must have seen none of the chain: a fresh session, or one whose every run
    starts in fresh namespaces (the supervisor's hello says ``fresh_namespaces``).
    """
    generations = list(chain.generations)
    for index in replay_indices(chain):
        generation = generations[index]
        result = session.run(_request(generation.source, config, config.limits, sighted=True, next_run=False))
        generations[index] = replace(generation, runs={**generation.runs, RunKind.REPLAY: result})
    return replace(chain, generations=tuple(generations))


def _request(source: bytes, config: ChainConfig, limits: Limits, *, sighted: bool, next_run: bool) -> RunRequest:
    return RunRequest(source, (config.next_flag,) if next_run else (), sighted, limits, config.language)


def _next_program(run: RunResult | None) -> bytes | None:
    if run is None or not run.ok or not run.stdout:
        return None
    return run.stdout
