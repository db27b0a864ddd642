"""verify-50 on a correct chain, against the same 101 runs with the bare interpreter, per language.

    python bench/verify_vs_bare.py [--sandbox bwrap] [--repeat 5] [--generations 50] [--language all]

Prints, per language, the median wall time of the whole `quinebox verify`
command (process start to exit, every check on), and of the 101 plain runs it
stands for (`python3 prog.py`, `node prog.js`, `ruby prog.rb`, `bash prog.sh`,
and for C one `gcc` per program plus its runs), measured in the same run,
verify and bare interleaved.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAIN = b"""import sys
a, b = 0, 1
s = 'import sys\\na, b = %d, %d\\ns = %r\\nprint(s %% (b, a + b, s) if sys.argv[1:] == ["--next"] else a)'
print(s % (b, a + b, s) if sys.argv[1:] == ["--next"] else a)
"""
#: A correct chain per language (Python's is above), and how to run a program of it bare.
CHAINS = {
    "javascript": ROOT / "fixtures/good/js_json_stringify.js",
    "ruby": ROOT / "fixtures/good/rb_format.rb",
    "c": ROOT / "fixtures/good/c_printf_chars.c",
    "bash": ROOT / "fixtures/good/sh_printf_q.sh",
}
BARE = {
    "python": ["{python}", "{program}"],
    "javascript": ["node", "{program}"],
    "ruby": ["ruby", "{program}"],
    "c": ["{folder}/prog"],
    "bash": ["bash", "{program}"],
}
EXTENSIONS = {"python": ".py", "javascript": ".js", "ruby": ".rb", "c": ".c", "bash": ".sh"}


def bare_runs(language: str, python: str, source: bytes, generations: int, folder: Path) -> float:
    """Wall seconds for P0..PN run plainly: default run each, --next run for all but the last."""
    started = time.perf_counter()
    program = folder / f"prog{EXTENSIONS[language]}"
    argv = [part.format(python=python, program=program, folder=folder) for part in BARE[language]]
    for k in range(generations + 1):
        program.write_bytes(source)
        if language == "c":
            subprocess.run(["gcc", "-O1", "-w", "-o", str(folder / "prog"), str(program)], check=True, cwd=folder)
        subprocess.run(argv, check=True, capture_output=True, cwd=folder)
        if k < generations:
            source = subprocess.run([*argv, "--next"], check=True, capture_output=True, cwd=folder).stdout
    return time.perf_counter() - started


def quinebox_command() -> str:
    """The console script installed beside this interpreter, as a user runs it; else the first on PATH.

    Version managers put a shell shim first on PATH (pyenv's costs 0.3 s a call), which would be
    measured as quinebox's own start.
    """
    beside = Path(sys.executable).parent / "quinebox"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("quinebox") or sys.exit("quinebox is not installed (pip install -e .)")


def verify_once(program: Path, sandbox: str, generations: int) -> float:
    quinebox = quinebox_command()
    started = time.perf_counter()
    result = subprocess.run(
        [quinebox, "verify", str(program), "--generations", str(generations), "--sandbox", sandbox, "--quiet"],
        capture_output=True,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"verify exited {result.returncode}: {result.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox", default="bwrap")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--generations", type=int, default=50)
    parser.add_argument("--language", default="python", choices=["all", *BARE])
    parser.add_argument(
        "--python", default="/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    )
    args = parser.parse_args()
    languages = list(BARE) if args.language == "all" else [args.language]
    runs = 2 * args.generations + 1
    print(f"{'language':11} {'verify median s':>16} {'min s':>7} {f'{runs} bare runs s':>16} {'min s':>7} {'ratio':>6}")
    for language in languages:
        source = CHAIN if language == "python" else CHAINS[language].read_bytes()
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            program = folder / f"p0{EXTENSIONS[language]}"
            program.write_bytes(source)
            verify_once(program, args.sandbox, args.generations)  # warm the page cache
            verify, bare = [], []
            for _ in range(args.repeat):  # interleaved, so that load changes both alike
                verify.append(verify_once(program, args.sandbox, args.generations))
                bare.append(bare_runs(language, args.python, source, args.generations, folder))
        v, b = statistics.median(verify), statistics.median(bare)
        print(f"{language:11} {v:16.3f} {min(verify):7.3f} {b:16.3f} {min(bare):7.3f} {v / b:5.2f}x")
    print(
        f"(quinebox verify --generations {args.generations} --sandbox {args.sandbox}; repeat {args.repeat}, "
        f"{os.cpu_count()} cores)"
    )


if __name__ == "__main__":
    main()
