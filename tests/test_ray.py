"""Grading on a real two-node Ray cluster on this machine: `grade --ray` and `QuineboxGrader` with Ray Data.

The fixture starts a head node and a worker node with ``ray start`` (one CPU each, token auth
with a fresh token), so one actor per CPU means one actor per node. Verdicts must equal local
``grade``; afterwards ``ray stop`` leaves no Ray process and no sandbox process behind.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_cleanup import sandbox_processes
from tests.test_grade import ROWS

pytestmark = [pytest.mark.needs_bwrap, pytest.mark.slow]
COMPARED = ("verdict", "failed_check", "failed_generation", "score", "reason")
RAY_PROCESSES = (b"raylet", b"gcs_server", b"ray::")


def ray_processes() -> list[str]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/cmdline", "rb") as handle:
                    cmdline = handle.read()
            except OSError:
                continue
            if any(marker in cmdline for marker in RAY_PROCESSES):
                found.append(f"{name}: {cmdline[:120]!r}")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict[str, str]]:
    if importlib.util.find_spec("ray") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the Ray test, but ray is not installed: pip install -e '.[ray]'")
        pytest.skip("ray is not installed: pip install -e '.[ray]'")
    if ray_processes():
        pytest.skip("a Ray cluster is already running on this machine; the test would stop it")
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    address = f"127.0.0.1:{free_port()}"
    common = ["--num-cpus", "1", "--disable-usage-stats"]
    before = set(sandbox_processes())
    try:
        head = ["ray", "start", "--head", "--port", address.split(":")[1], "--include-dashboard", "false", *common]
        subprocess.run(head, env=env, check=True, capture_output=True, timeout=300)
        subprocess.run(
            ["ray", "start", "--address", address, *common], env=env, check=True, capture_output=True, timeout=300
        )
        yield {**env, "RAY_TEST_ADDRESS": address}
    finally:
        subprocess.run(["ray", "stop", "--force"], env=env, capture_output=True, timeout=300)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (ray_processes() or set(sandbox_processes()) - before):
        time.sleep(0.2)
    assert ray_processes() == [], "ray stop left Ray processes"
    assert set(sandbox_processes()) - before == set(), "actors left sandbox processes"


def grades(path: Path) -> dict[str, tuple[Any, ...]]:
    rows = map(json.loads, path.read_text().splitlines())
    return {row["id"]: tuple(row["quinebox"][key] for key in COMPARED) for row in rows}


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, tuple[Any, ...]]]:
    tmp = tmp_path_factory.mktemp("ray")
    samples, out = tmp / "samples.jsonl", tmp / "local.jsonl"
    samples.write_text("".join(json.dumps(row) + "\n" for row in ROWS))
    done = subprocess.run(
        [sys.executable, "-m", "quinebox", "grade", str(samples), "--out", str(out), "--sandbox", "bwrap", "-n", "6"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return samples, grades(out)


def test_grade_on_two_nodes_equals_local_grade(
    cluster: dict[str, str], local: tuple[Path, dict[str, tuple[Any, ...]]], tmp_path: Path
) -> None:
    samples, want = local
    out = tmp_path / "ray.jsonl"
    args = ["grade", str(samples), "--out", str(out), "--sandbox", "bwrap", "-n", "6"]
    done = subprocess.run(
        [sys.executable, "-m", "quinebox", *args, "--ray", cluster["RAY_TEST_ADDRESS"]],
        capture_output=True,
        text=True,
        timeout=600,
        env=cluster,
    )
    assert done.returncode == 0, done.stderr
    assert "graded on 2 Ray actors across 2 nodes" in done.stderr
    assert grades(out) == want


DRIVER = """
import json, sys, ray, ray.data
from quinebox.integrations.ray import QuineboxGrader
ray.init(address=sys.argv[1], log_to_driver=False)
rows = [json.loads(line) for line in open(sys.argv[2])]
graded = ray.data.from_items(rows).map_batches(
    QuineboxGrader,
    fn_constructor_kwargs={"generations": 6, "sandbox": "bwrap", "node_column": "node"},
    compute=ray.data.ActorPoolStrategy(size=2),
    num_cpus=1,
    batch_size=1,
)
print(json.dumps([{"id": r["id"], "quinebox": r["quinebox"], "node": r["node"]} for r in graded.take_all()]))
ray.shutdown()
"""


def test_ray_data_map_batches_adds_the_grade_column(
    cluster: dict[str, str], local: tuple[Path, dict[str, tuple[Any, ...]]]
) -> None:
    samples, want = local
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, cluster["RAY_TEST_ADDRESS"], str(samples)],
        capture_output=True,
        text=True,
        timeout=600,
        env=cluster,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = json.loads(done.stdout.strip().splitlines()[-1])
    assert {row["id"]: tuple(row["quinebox"][key] for key in COMPARED) for row in rows} == want
    assert len({row["node"] for row in rows}) == 2  # the actors ran on both nodes
