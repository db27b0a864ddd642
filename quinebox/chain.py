"""Drive the generations through the sandbox and record every run.

Generation k runs program Pk with no arguments and, for k < N, with the next
flag; the sighted --next output is P(k+1). Every run is paired with a blind
twin (no copy of the source anywhere); when the twins differ, the sighted run
is repeated, which tells "depends on its own file" (integrity) from "not
repeatable" (determinism). Sighted and blind runs go to separate sessions when
two are given, so the two lanes use both cores while each lane stays strictly
one run at a time: runs never see each other's files or processes.

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

from quinebox.backends.base import Backend, RunRequest
from quinebox.checks import ChainJudge, CheckOptions
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


_SIGHTED = {RunKind.DEFAULT: False, RunKind.NEXT: True}
_BLIND = {RunKind.DEFAULT_BLIND: False, RunKind.NEXT_BLIND: True}


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
        sessions: one or two opened backends; with two, blind runs go to the second.
        on_generation: called with each generation as soon as it is recorded.

    Raises:
        InfraError: a sandbox session failed in a way the candidate cannot have caused.
    """
    if not sessions:
        raise ValueError("record_chain needs at least one sandbox session")
    sighted_lane, blind_lane = sessions[0], sessions[-1]
    generations: list[Generation] = []
    stopped: str | None = None
    program: bytes | None = source
    # Judge only what later generations cannot change: the early stop must agree with the final verdict.
    while_recording = replace(config.check_options, partial=True)
    judge = ChainJudge(while_recording)
    pool = ThreadPoolExecutor(max_workers=2 if blind_lane is not sighted_lane else 1)
    started = time.monotonic()

    def time_left() -> float | None:
        return None if config.deadline_s is None else config.deadline_s - (time.monotonic() - started)

    try:
        for index in range(config.generations + 1):
            assert program is not None
            last = index == config.generations
            left = time_left()
            if left is not None and left <= 0:
                generations.append(Generation(index, program, {}, deadline_s=config.deadline_s))
                stopped = f"stopped at generation {index}: the deadline of {config.deadline_s:g} s was reached"
                break
            limits = (
                config.limits if left is None or left >= config.limits.wall_s else replace(config.limits, wall_s=left)
            )

            def lane(
                backend: Backend,
                kinds: dict[RunKind, bool],
                src: bytes = program,
                last: bool = last,
                limits: Limits = limits,
            ) -> dict[RunKind, RunResult]:
                results = {}
                for kind, wants_next in kinds.items():
                    if wants_next and last:
                        continue
                    result = backend.run(_request(src, config, limits, sighted=kind in _SIGHTED, next_run=wants_next))
                    results[kind] = result
                    if not result.ok and not config.keep_going:
                        break  # a check fails at this generation whatever the lane's other runs do
                return results

            if blind_lane is sighted_lane:
                runs = lane(sighted_lane, _SIGHTED) | lane(sighted_lane, _BLIND)
            else:
                blind_future = pool.submit(lane, blind_lane, _BLIND)
                runs = lane(sighted_lane, _SIGHTED) | blind_future.result()
            for twins in TWINS:
                sighted, blind = runs.get(twins.sighted), runs.get(twins.blind)
                if sighted is not None and blind is not None and not sighted.same_behaviour(blind):
                    runs[twins.again] = sighted_lane.run(
                        _request(program, config, limits, sighted=True, next_run=twins.sighted is RunKind.NEXT)
                    )
            left = time_left()
            if left is not None and left <= 0 and any(run.status is Status.TO for run in runs.values()):
                # A run ran out of the time the deadline left it, not of its own limit.
                generations.append(Generation(index, program, runs, deadline_s=config.deadline_s))
                stopped = f"stopped at generation {index}: the deadline of {config.deadline_s:g} s was reached"
                break
            generation = Generation(index, program, runs)
            generations.append(generation)
            if on_generation is not None:
                on_generation(generation)
            if last:
                break
            # Each check judges only what this generation adds, carrying its state: recording stays linear.
            if not config.keep_going and judge.add(generation) is not None:
                stopped = f"stopped at generation {index}: a check failed"
                break
            program = _next_program(runs.get(RunKind.NEXT))
            if program is None:
                stopped = f"stopped at generation {index}: no next program to run"
                break
    except BaseException:
        # Interrupted or broken: do not wait for the other lane's run; closing the sessions,
        # which their owner does next, ends it.
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return Chain(tuple(generations), config.generations, stopped, language=config.language)


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
