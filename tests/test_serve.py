"""`quinebox serve` over loopback: the real CLI, the real sandbox, a real HTTP client.

200 requests at once, mixed good, bad and malformed, against a service that takes 4 at a time:
every one is answered with its own answer (503s are retried as Retry-After says), and after a
SIGTERM with work in flight that work is answered, the process exits 0, and no sandbox process
or temp file of the service is left.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.test_cleanup import sandbox_processes

pytestmark = [pytest.mark.needs_bwrap]
ROOT = Path(__file__).resolve().parent.parent
GOOD = (ROOT / "fixtures" / "good" / "percent_r.py").read_text()
EXEC = (ROOT / "fixtures" / "good" / "exec_payload.py").read_text()
OFF_BY_ONE = (ROOT / "fixtures" / "bad" / "off_by_one.py").read_text()


@dataclass
class Service:
    process: subprocess.Popen[str]
    url: str
    tmp: Path

    def descendants(self) -> set[int]:
        """Every live process below the service, by walking /proc parent links."""
        parents: dict[int, int] = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                try:
                    with open(f"/proc/{name}/stat", "rb") as handle:
                        fields = handle.read().rsplit(b")", 1)[1].split()
                except OSError:
                    continue
                if fields[0] != b"Z":
                    parents[int(name)] = int(fields[1])
        found, frontier = set(), {self.process.pid}
        while frontier:
            frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
            found |= frontier
        return found


def start(tmp: Path, *args: str) -> Service:
    tmp.mkdir(exist_ok=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "quinebox", "serve", "--port", "0", "--sandbox", "bwrap", *args],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp)},
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    assert "serving on http://127.0.0.1:" in line, line
    return Service(process, line.split("serving on ", 1)[1].strip(), tmp)


def stop(service: Service) -> str:
    service.process.send_signal(signal.SIGTERM)
    _, stderr = service.process.communicate(timeout=120)
    return stderr


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    before = set(sandbox_processes())
    running = start(tmp_path_factory.mktemp("serve") / "tmp", "--max-in-flight", "4")
    yield running
    below = running.descendants()
    assert below, "the service keeps warm lanes between requests"
    stderr = stop(running)
    assert running.process.returncode == 0 and "Traceback" not in stderr, stderr
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (below & _alive() or set(sandbox_processes()) - before):
        time.sleep(0.1)
    assert not below & _alive() and set(sandbox_processes()) - before == set()
    assert list(running.tmp.iterdir()) == []


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def case(i: int) -> tuple[str, Any, Any]:
    """Request i: (path, body, what to check). The body is bytes when it is not JSON at all."""
    n = 1 + i % 3
    kinds: list[tuple[str, Any, Any]] = [
        ("/verify", {"program": GOOD, "generations": n}, ("pass", n, sha(GOOD))),
        ("/verify", {"program": EXEC, "generations": n}, ("pass", n, sha(EXEC))),
        ("/verify", {"program": OFF_BY_ONE, "generations": n}, ("fail", n, sha(OFF_BY_ONE))),
        ("/verify", {"response": f"Sure:\n```python\n{GOOD}```\n", "generations": n}, ("pass", n, sha(GOOD))),
        ("/verify", b"{not json", 400),
        ("/verify", {"program": 17}, 422),
        ("/verify", {"program": "x", "response": "y"}, 422),
        ("/verify", {"program": GOOD, "sandbox": "none"}, 400),
        ("/verify", {"program": GOOD, "generations": 10**6}, 422),
        ("/verify", {"program": GOOD, "limits": {"mem_mb": 10**7}}, 422),
        ("/verify", {"program": GOOD, "colour": "blue"}, 400),
        ("/verify", [GOOD], 400),
        ("/verify", {"program": "/etc/passwd", "generations": n}, ("fail", n, sha("/etc/passwd"))),
        (
            "/grade",
            {"items": [{"id": f"a{i}", "program": GOOD, "generations": n}, {"id": f"b{i}", "response": "no"}]},
            "grade",
        ),
        ("/grade", {"items": []}, 422),
        (
            "/get_reward",
            {"query": [f"Q{i}:```python\n{OFF_BY_ONE}```"], "prompts": [f"Q{i}:"], "labels": [None]},
            "reward",
        ),
        ("/get_reward", {"query": "nope"}, 422),
        ("/nowhere", {}, 404),
    ]
    return kinds[i % len(kinds)]


async def send(client: httpx.AsyncClient, path: str, body: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    while True:
        response = await client.post(path, content=content, headers={"content-type": "application/json"})
        if response.status_code != 503 or "busy" not in response.text:
            return response
        await asyncio.sleep(float(response.headers["retry-after"]) * random.random())


def check(i: int, response: httpx.Response, want: Any) -> None:
    where = (i, response.status_code, response.text[:300])
    if isinstance(want, int):
        assert response.status_code == want, where
        assert isinstance(response.json()["error"], str), where
    elif want == "grade":
        assert response.status_code == 200, where
        results = response.json()["results"]
        assert [r["id"] for r in results] == [f"a{i}", f"b{i}"], where
        assert [r["report"]["verdict"] for r in results] == ["pass", "fail"], where
        assert results[0]["report"]["config"]["generations"] == 1 + i % 3, where
    elif want == "reward":
        assert response.status_code == 200, where
        assert response.json()["rewards"] == [0.0] and response.json()["extra_logs"]["sequence"] == [0.0], where
    else:
        verdict, n, digest = want
        assert response.status_code == 200, where
        report = response.json()
        assert report["verdict"] == verdict and report["config"]["generations"] == n, where
        assert report["generations"][0]["sha256"] == digest, where  # its own program, not another request's
        if verdict == "pass":
            assert len(report["generations"]) == n + 1, where
        assert "root:" not in response.text, where  # a path is program text, never a file to read


@pytest.mark.slow
def test_two_hundred_at_once_none_lost_none_mixed_up(service: Service) -> None:
    async def load() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=service.url, limits=limits, timeout=300) as client:
            return list(await asyncio.gather(*(send(client, *case(i)[:2]) for i in range(200))))

    responses = asyncio.run(load())
    assert len(responses) == 200
    for i, response in enumerate(responses):
        check(i, response, case(i)[2])
    health = httpx.get(f"{service.url}/healthz").json()
    assert health["ok"] and health["in_flight"] == 0 and health["max_in_flight"] == 4


def test_overload_is_503_with_retry_after_and_limits_are_4xx(service: Service) -> None:
    big = json.dumps({"program": "#" * (9 << 20)}).encode()
    assert httpx.post(f"{service.url}/verify", content=big, timeout=60).status_code == 413
    assert httpx.get(f"{service.url}/verify").status_code == 405
    never_ran_next = httpx.post(f"{service.url}/verify", json={"program": GOOD, "generations": 0}, timeout=60)
    assert never_ran_next.status_code == 422 and "1.." in never_ran_next.json()["error"]
    host, port = service.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        assert b" 400 " in raw.recv(4096).split(b"\r\n", 1)[0] + b" "

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=service.url, timeout=300) as client:
            body = {"program": GOOD, "generations": 3}
            return list(await asyncio.gather(*(client.post("/verify", json=body) for _ in range(12))))

    codes = [r.status_code for r in asyncio.run(burst())]
    assert set(codes) <= {200, 503} and 503 in codes and 200 in codes, codes
    busy = next(r for r in asyncio.run(burst()) if r.status_code == 503)
    assert busy.headers["retry-after"] == "1" and "busy" in busy.json()["error"]


def test_sigterm_finishes_in_flight_work_and_leaves_nothing(tmp_path: Path) -> None:
    before = set(sandbox_processes())
    running = start(tmp_path / "tmp")
    seen: set[int] = set()

    async def in_flight() -> httpx.Response:
        async with httpx.AsyncClient(base_url=running.url, timeout=300) as client:
            request = asyncio.create_task(client.post("/verify", json={"program": GOOD, "generations": 40}))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and (await client.get("/healthz")).json()["in_flight"] == 0:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # well inside the verification
            seen.update(running.descendants())
            running.process.send_signal(signal.SIGTERM)
            return await request

    response = asyncio.run(in_flight())
    assert response.status_code == 200 and response.json()["verdict"] == "pass"
    _, stderr = running.process.communicate(timeout=120)
    assert running.process.returncode == 0, stderr
    assert "stopped" in stderr and "Traceback" not in stderr
    assert seen, "the service had sandbox processes while verifying"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and (seen & _alive() or set(sandbox_processes()) - before):
        time.sleep(0.1)
    assert not seen & _alive()
    assert set(sandbox_processes()) - before == set()
    assert list(running.tmp.iterdir()) == []


def _alive() -> set[int]:
    alive = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as handle:
                    if handle.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                        alive.add(int(name))
            except OSError:
                continue
    return alive
