"""Drive the generations through the sandbox and record every run.

Generation k runs program Pk with no arguments and, for k < N, with the next
flag; the sighted --next output is P(k+1). Every run is paired with a blind
twin (no copy of the source anywhere); when the twins differ, the sighted run
is repeated, which tells "depends on its own file" (integrity) from "not
repeatable" (determinism). Sighted and blind runs go to separate sessions when
two are given, so the two lanes use both cores while each lane stays strictly
one run at a time: runs never see each other's files or processes.

Recording stops at the first generation where any check fails, unless asked
to keep going, and always when there is no next program to run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from quinebox.backends.base import Backend, RunRequest
from quinebox.checks import ChainJudge, CheckOptions
from quinebox.limits import Limits
from quinebox.record import TWINS, Chain, Generation, RunKind, RunResult

ProgressCallback = Callable[[Generation], None]


@dataclass(frozen=True)
class ChainConfig:
    """How far and how to drive a chain."""

    generations: int = 50
    next_flag: str = "--next"
    limits: Limits = field(default_factory=Limits)
    keep_going: bool = False
    check_options: CheckOptions = field(default_factory=CheckOptions)


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
    try:
        for index in range(config.generations + 1):
            assert program is not None
            last = index == config.generations

            def lane(
                backend: Backend, kinds: dict[RunKind, bool], src: bytes = program, last: bool = last
            ) -> dict[RunKind, RunResult]:
                results = {}
                for kind, wants_next in kinds.items():
                    if wants_next and last:
                        continue
                    result = backend.run(_request(src, config, sighted=kind in _SIGHTED, next_run=wants_next))
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
                        _request(program, config, sighted=True, next_run=twins.sighted is RunKind.NEXT)
                    )
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
    return Chain(tuple(generations), config.generations, stopped)


def _request(source: bytes, config: ChainConfig, *, sighted: bool, next_run: bool) -> RunRequest:
    return RunRequest(source, (config.next_flag,) if next_run else (), sighted, config.limits)


def _next_program(run: RunResult | None) -> bytes | None:
    if run is None or not run.ok or not run.stdout:
        return None
    return run.stdout
