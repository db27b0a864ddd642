"""How fast the docker wall is, against bwrap, a container per run, and the bare interpreter.

    python bench/docker_speed.py [--repeat 5] [--generations 50] [--candidates 20] [--workers 2]

Everything is measured in this one run, on this machine, and reported as
medians and ratios; nothing here asserts anything. Rows:

* verify-N, docker / bwrap: `quinebox.verify(path, sandbox=...)` on
  fixtures/good/percent_r.py, wall time of the whole call including the
  container (or bwrap) start, every check on: 2N+1 blind runs, the sighted
  twins sampled, and the cold replay, on two lanes at once (the runs column
  counts them from the report). The first docker call of the
  process also pays the docker SDK import and the startup sweep: shown apart.
* container per run: the same 2N+1 sighted runs the chain needs, each in a
  fresh container (create, start, wait, logs, remove through the SDK) with
  the wall's own security options, sequentially; the usual way to use docker.
* session, 2N+1 runs: one already open backend, the 2N+1 sighted runs back to
  back; per-run cost without any start-up, against the bare interpreter.
* bare: the same 2N+1 runs as `/usr/bin/python3 prog.py [--next]`, no wall.
* throughput: `--candidates` copies of the good fixtures verified by a
  ThreadPoolExecutor of `--workers`, on docker and on bwrap; once with a new
  pair of sessions per verify (plain `quinebox.verify`), once with each worker
  keeping its pair for all its candidates (`verify(backend=...)`).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import quinebox  # noqa: E402
from quinebox.backends import create  # noqa: E402
from quinebox.backends.base import RunRequest  # noqa: E402
from quinebox.limits import Limits  # noqa: E402

PROGRAM = ROOT / "fixtures" / "good" / "percent_r.py"
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def verify(sandbox: str, generations: int) -> int:
    """Verify the program; the number of sandboxed runs the verification made."""
    report = quinebox.verify(PROGRAM, sandbox=sandbox, generations=generations)
    if report.verdict != "pass":
        sys.exit(f"verify on {sandbox} did not pass: {report.verdict}")
    return sum(len(g.runs) for g in report.generations)


def chain_runs(run: Callable[[bytes, bool], bytes], generations: int) -> int:
    """P0..PN: the default run of each, and the --next run of all but the last, one after another."""
    source = PROGRAM.read_bytes()
    runs = 0
    for k in range(generations + 1):
        run(source, False)
        runs += 1
        if k < generations:
            source = run(source, True)
            runs += 1
    return runs


def bare_run(folder: Path) -> Callable[[bytes, bool], bytes]:
    program = folder / "prog.py"

    def run(source: bytes, next_run: bool) -> bytes:
        program.write_bytes(source)
        argv = [PYTHON, str(program), *(["--next"] if next_run else [])]
        return subprocess.run(argv, check=True, capture_output=True, cwd=folder).stdout

    return run


def session_run(backend: Any) -> Callable[[bytes, bool], bytes]:
    limits = Limits()

    def run(source: bytes, next_run: bool) -> bytes:
        result = backend.run(RunRequest(source, ("--next",) if next_run else (), True, limits))
        if not result.ok:
            sys.exit(f"a run failed in the {backend.name} session: {result}")
        return bytes(result.stdout)

    return run


def container_per_run(api: Any, image: str) -> Callable[[bytes, bool], bytes]:
    """One fresh container per run, with the same wall as the docker backend; the source goes in as -c."""
    from quinebox.backends.docker import MEM_LIMIT, PIDS_LIMIT, TMPFS_OPTIONS, WRITABLE

    uid = 1_234_567
    host_config = api.create_host_config(
        network_mode="none",
        read_only=True,
        tmpfs=dict.fromkeys(WRITABLE, TMPFS_OPTIONS.format(uid=uid)),
        mem_limit=MEM_LIMIT,
        memswap_limit=MEM_LIMIT,
        pids_limit=PIDS_LIMIT,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        ipc_mode="private",
        init=True,
    )

    def run(source: bytes, next_run: bool) -> bytes:
        container = api.create_container(
            image,
            entrypoint=["python3", "-I", "-S", "-X", "utf8", "-B", "-c", source.decode()],
            command=["--next"] if next_run else [],
            user=f"{uid}:{uid}",
            network_disabled=True,
            working_dir="/box",
            host_config=host_config,
            labels={"org.quinebox.bench": "container-per-run"},
        )["Id"]
        try:
            api.start(container)
            status = api.wait(container, timeout=60)["StatusCode"]
            out = api.logs(container, stdout=True, stderr=False)
        finally:
            api.remove_container(container, force=True)
        if status != 0:
            sys.exit(f"a container-per-run run exited {status}")
        return bytes(out)

    return run


def good_fixtures() -> list[tuple[Path, str, int]]:
    manifest = tomllib.loads((ROOT / "fixtures" / "manifest.toml").read_text())
    return [
        (ROOT / "fixtures" / f["path"], f.get("sequence", "fibonacci"), int(f.get("generations", 50)))
        for f in manifest["fixture"]
        if f["path"].startswith("good/") and f["verdict"] == "pass"
    ]


def grade(sandbox: str, candidates: int, workers: int, keep_sessions: bool = False) -> float:
    """Wall seconds to verify `candidates` good fixtures on `workers` threads.

    keep_sessions: each worker opens its two sessions once and passes them to every verify
    (``verify(backend=...)``), as batch grading may; otherwise each verify opens its own.
    """
    jobs = list(itertools.islice(itertools.cycle(good_fixtures()), candidates))
    local = threading.local()
    opened: list[Any] = []
    lock = threading.Lock()

    def sessions() -> list[Any] | None:
        if not keep_sessions:
            return None
        if not hasattr(local, "sessions"):
            local.sessions = [create(sandbox), create(sandbox)]
            for backend in local.sessions:
                backend.open()
            with lock:
                opened.extend(local.sessions)
        return list(local.sessions)

    def one(job: tuple[Path, str, int]) -> str:
        path, sequence, generations = job
        report = quinebox.verify(path, sandbox=sandbox, sequence=sequence, generations=generations, backend=sessions())
        return str(report.verdict)

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(workers) as pool:
            verdicts = list(pool.map(one, jobs))
    finally:
        for backend in opened:
            backend.close()
    elapsed = time.perf_counter() - started
    if set(verdicts) != {"pass"}:
        sys.exit(f"grading on {sandbox} gave {verdicts}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--generations", type=int, default=50)
    parser.add_argument("--candidates", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-run-repeat", type=int, default=1, help="repeats of the container-per-run row (slow)")
    args = parser.parse_args()
    n = args.generations
    runs = 2 * n + 1

    from quinebox.backends import docker as docker_backend
    from quinebox.images import image_name

    problem = docker_backend.available()
    if problem:
        sys.exit(problem)

    rows: list[tuple[str, float, int]] = []  # what, median seconds, runs
    cold = timed(lambda: verify("docker", n))  # first docker use in the process: SDK import, sweep, image check
    docker_verify = [timed(lambda: verify("docker", n)) for _ in range(args.repeat)]
    verified = verify("bwrap", n)
    bwrap_verify = [timed(lambda: verify("bwrap", n)) for _ in range(args.repeat)]
    rows.append((f"verify-{n}, docker (first in process)", cold, verified))
    rows.append((f"verify-{n}, docker", statistics.median(docker_verify), verified))
    rows.append((f"verify-{n}, bwrap", statistics.median(bwrap_verify), verified))

    import docker

    api = docker.from_env().api
    try:
        per_run = container_per_run(api, image_name())
        container = [timed(lambda: chain_runs(per_run, n)) for _ in range(args.per_run_repeat)]
    finally:
        api.close()
    rows.append((f"container per run, {runs} runs", statistics.median(container), runs))

    sessions: dict[str, float] = {}
    for name in ("docker", "bwrap"):
        with create(name) as backend:
            sessions[name] = statistics.median(
                timed(lambda b=backend: chain_runs(session_run(b), n)) for _ in range(args.repeat)
            )
        rows.append((f"{name} session (open), {runs} runs", sessions[name], runs))
    with tempfile.TemporaryDirectory() as tmp:
        bare = statistics.median(timed(lambda: chain_runs(bare_run(Path(tmp)), n)) for _ in range(args.repeat))
    rows.append((f"bare {PYTHON}, {runs} runs", bare, runs))

    throughput = {name: grade(name, args.candidates, args.workers) for name in ("docker", "bwrap")}
    kept = {name: grade(name, args.candidates, args.workers, keep_sessions=True) for name in ("docker", "bwrap")}

    bare_ms = bare / runs * 1000
    print(f"\n{'what':50} {'median s':>9} {'runs':>5} {'ms/run':>7} {'vs bare/run':>11}")
    for what, seconds, count in rows:
        ms = seconds / count * 1000
        print(f"{what:50} {seconds:9.3f} {count:5d} {ms:7.2f} {ms / bare_ms:10.2f}x")
    print()
    for label, results in (("", throughput), (", sessions per worker", kept)):
        for name, seconds in results.items():
            what = f"grade {args.candidates}, {args.workers} workers, {name}{label}"
            print(f"{what:50} {seconds:9.3f}   {args.candidates / seconds * 60:6.1f} candidates/min")
    docker_median = statistics.median(docker_verify)
    container_median = statistics.median(container)
    ratios = [
        (f"container per run (sighted only) / verify-{n} docker (both lanes)", container_median / docker_median),
        (f"container per run / docker session, same {runs} runs", container_median / sessions["docker"]),
        (f"verify-{n} docker / verify-{n} bwrap", docker_median / statistics.median(bwrap_verify)),
        ("grading time docker / bwrap", throughput["docker"] / throughput["bwrap"]),
        ("grading time docker / bwrap, sessions per worker", kept["docker"] / kept["bwrap"]),
    ]
    print()
    for what, ratio in ratios:
        print(f"{what:64} {ratio:7.2f}x")
    print()
    # Negative means faster than bare: the supervisor forks a preloaded interpreter instead of starting one.
    for what, seconds in (
        ("docker session", sessions["docker"]),
        ("bwrap session", sessions["bwrap"]),
        ("container per run", container_median),
    ):
        print(f"per-run time minus bare per-run time, {what:18} {(seconds - bare) / runs * 1000:+8.2f} ms")
    print(f"(repeat {args.repeat}, {os.cpu_count()} cores, docker server {api_version()}, bare = {PYTHON})")


def api_version() -> str:
    import docker

    client = docker.from_env()
    try:
        return str(client.version().get("Version", "?"))
    finally:
        client.close()


if __name__ == "__main__":
    main()
