"""Host-side judging time on large programs: every check over a recorded chain, no sandbox in the timing.

    python bench/host_checks.py [--repeat 5]

Chains are recorded by running the project's own fixture programs with the host's python3 (they are
ours, so no wall is needed), then judged with every check, as `quinebox verify` judges a chain:

- a 100 KB program (fixtures/good/payload_100kb.py) and a 400 KB one built the same way, 20 generations;
- a program of about 5,000 tokens, its code also carried in its template string, 20 generations.

Prints the median seconds to judge each chain (lexing included) and the milliseconds per generation.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time
from pathlib import Path

from quinebox.checks import CheckOptions, self_similarity
from quinebox.judge import judge
from quinebox.record import Chain, Generation, RunKind, RunResult, Status

ROOT = Path(__file__).resolve().parent.parent
GENERATIONS = 20


def _payload_program(raw_bytes: int) -> str:
    spec = importlib.util.spec_from_file_location("make_payload", ROOT / "fixtures" / "good" / "make_payload_100kb.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.program(raw_bytes))


def _many_tokens_program(names: int) -> str:
    """A %r chain whose template holds a tuple of `names` strings: about 2 * names tokens of code."""
    words = "(" + ", ".join(f"'w{i}'" for i in range(names)) + ")"
    template = (
        "import sys\na, b = %d, %d\nW = " + words + "\ns = %r\n"
        "print(s %% (b, a + b, s) if sys.argv[1:] == ['--next'] else a + 0 * len(W))\n"
    )
    return template % (0, 1, template)


def _ran(stdout: bytes, cpu_ms: float) -> RunResult:
    return RunResult(Status.OK, 0, None, stdout, b"", cpu_ms, cpu_ms, 100, opens=1)


def _bare(source: bytes, *argv: str) -> bytes:
    """What the program prints, run as ``python3 - < prog.py`` (a 400 KB program is too long for -c)."""
    return subprocess.run([sys.executable, "-", *argv], input=source, capture_output=True, check=True).stdout


def record(program: str) -> Chain:
    """The chain of `program`, each program run bare for its number and its successor."""
    source = program.encode()
    generations = []
    for k in range(GENERATIONS + 1):
        number = _bare(source)
        following = _bare(source, "--next")
        runs = {
            RunKind.DEFAULT: _ran(number, 20.0),
            RunKind.DEFAULT_BLIND: _ran(number, 20.0),
            RunKind.NEXT: _ran(following, 20.0),
            RunKind.NEXT_BLIND: _ran(following, 20.0),
        }
        generations.append(Generation(k, source, runs))
        source = following
    return Chain(tuple(generations), GENERATIONS)


def _forget_lexing() -> None:
    """Empty the lexing caches, so that each repeat pays for lexing every program, as one verify does."""
    for cached in (self_similarity._lex, self_similarity._inner, self_similarity._code_in):
        cached.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cases = {
        "100 KB payload": _payload_program(75_000),
        "400 KB payload": _payload_program(300_000),
        "5,000 tokens": _many_tokens_program(2_500),
    }
    print(f"{'chain':<16}{'program bytes':>14}{'judge median s':>16}{'ms/generation':>15}  verdict")
    for name, program in cases.items():
        chain = record(program)
        seconds = []
        for _ in range(args.repeat):
            _forget_lexing()
            started = time.perf_counter()
            _, failure = judge(chain, CheckOptions(), prefixes_checked=True)
            seconds.append(time.perf_counter() - started)
        median = statistics.median(seconds)
        verdict = "pass" if failure is None else f"fail {failure.name}: {failure.reason[:60]}"
        size = len(program.encode())
        print(f"{name:<16}{size:>14,}{median:>16.3f}{median / (GENERATIONS + 1) * 1000:>15.1f}  {verdict}")
    print(f"({GENERATIONS} generations, every check, repeat {args.repeat})")


if __name__ == "__main__":
    main()
