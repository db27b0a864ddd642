"""The verdict over a recorded chain, the same however far recording went.

Recording without ``keep_going`` stops at the first generation where a check
fails under the partial-chain rules (`CheckOptions.partial`: fail only on what
later generations cannot undo). With ``keep_going`` it records on, and a check
over the longer chain may tell a different story: naive recursion fails
``linear-time`` for exponential growth at generation 10, but over 40
generations the budget spent at generation 30 is found first. So the failure is
always found the way recording finds it: the checks are applied to the chain
one generation longer at a time, and the first prefix on which one fails gives
the failure. Only a chain that passes every prefix is judged whole (with the
whole-chain rules when all N+1 programs are there).

The failure, its generation and the score therefore never depend on
``keep_going``; what keeping going adds is evidence: the checks that did not
fail on the prefix are reported over everything recorded.
"""

from __future__ import annotations

from dataclasses import replace

from quinebox.checks import CheckOptions, CheckResult, first_failure, run_checks
from quinebox.record import Chain


def judge(
    chain: Chain, options: CheckOptions, *, prefixes_checked: bool = False
) -> tuple[list[CheckResult], CheckResult | None]:
    """Every check's result over the chain, and the failure to report (None for a pass).

    Args:
        chain: everything recorded, up to N+1 programs.
        options: the check options; ``partial`` is decided here.
        prefixes_checked: recording already found every shorter prefix passing (it ran without
            ``keep_going``, checking after each generation), so only the whole chain is left to check.

    Returns:
        The results in the stable check order, and the first failure found prefix by prefix.
    """
    count = len(chain.generations)
    complete = count >= chain.requested + 1
    whole = run_checks(chain, replace(options, partial=not complete))
    for end in range(count if prefixes_checked else 1, count):
        prefix = replace(chain, generations=chain.generations[:end], stopped_early=None)
        results = run_checks(prefix, replace(options, partial=True))
        failure = first_failure(results)
        if failure is not None:
            # The prefix's verdict on each failed check; the whole chain's on the others.
            failed = {r.name: r for r in results if not r.passed}
            return [failed.get(r.name, r) for r in whole], failure
    return whole, first_failure(whole)


def score(failure: CheckResult | None, generations: int) -> float:
    """The share of the N ``--next`` steps proven before `failure`: ``max(g - 1, 0) / N``, 1.0 for a pass.

    A failure at generation g leaves programs 0..g-1 good, so the steps 0->1 .. (g-2)->(g-1) are
    proven. Generation 0 proves nothing by itself: printing 0 is trivial.
    """
    if failure is None:
        return 1.0
    if generations <= 0 or failure.generation is None:
        return 0.0
    return round(max(failure.generation - 1, 0) / generations, 6)
