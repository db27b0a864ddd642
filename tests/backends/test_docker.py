"""The docker wall beyond the shared conformance suite: cleanup, labels, the wall's settings, errors, the image."""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
import requests

from quinebox import images
from quinebox.backends import docker as docker_backend
from quinebox.backends.base import RunRequest
from quinebox.backends.docker import (
    ERROR_MAP,
    EXPIRES_LABEL,
    OWNER_HOST_LABEL,
    OWNER_LABEL,
    OWNER_START_LABEL,
    SESSION_LABEL,
    DockerBackend,
    _container,
    _orphans,
    map_docker_errors,
    orphaned,
    translate,
)
from quinebox.errors import BackendUnavailable, ImageBuildError, InfraError, SupervisorError
from quinebox.limits import Limits
from quinebox.record import Status

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def api() -> Iterator[Any]:
    client = docker.from_env().api
    yield client
    client.close()


def exists(api: Any, container_id: str) -> bool:
    try:
        api.inspect_container(container_id)
    except docker.errors.NotFound:
        return False
    return True


def wait_gone(api: Any, container_id: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not exists(api, container_id):
            return True
        time.sleep(0.1)
    return False


def run(backend: DockerBackend, source: str, **limits: float) -> Any:
    return backend.run(RunRequest(source.encode(), (), True, Limits(**limits) if limits else Limits()))  # type: ignore[arg-type]


def spawn_owner(body: str) -> tuple[subprocess.Popen[bytes], str]:
    """A separate Python process that opens a DockerBackend, prints its container id, then runs `body`."""
    code = (
        "import sys, time\n"
        "from quinebox.backends.docker import DockerBackend\n"
        "from quinebox.backends.base import RunRequest\n"
        "from quinebox.limits import Limits\n"
        "backend = DockerBackend()\n"
        "backend.open()\n"
        "print(backend.container_id, flush=True)\n" + body
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline().decode().strip()
    if not line:
        process.kill()
        _, err = process.communicate()
        pytest.fail(f"the owner process did not start a session: {err.decode()[-2000:]}")
    return process, line


#: A run that lasts: busy in one C call (a sleeping run is ended as idle within a second, and a Python loop
#: spends its work budget).
BUSY = "sum(range(10**13))"
BUSY_IN_A_RUN = f"backend.run(RunRequest(b'{BUSY}', (), True, Limits(wall_s=120, cpu_s=120)))\ntime.sleep(120)\n"


# ---------------------------------------------------------------------------------------------------------------------
# Without an engine


def test_packaged_dockerfile_is_the_top_level_dockerfile() -> None:
    assert images.DOCKERFILE == (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_guest_files_are_the_sandbox_folder() -> None:
    files = images.guest_files()
    assert files == {p.name: p.read_bytes() for p in (ROOT / "sandbox").glob("*.py")}
    assert images.guest_digest(files) == images.guest_digest(dict(reversed(list(files.items()))))


def test_the_docker_backend_never_imports_quinebox_images() -> None:
    # quinebox.images imports the backend (lazily) to build and check the image; the other way would be a circle.
    code = "import sys, quinebox.backends.docker; print('quinebox.images' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"


def _docker_error_classes() -> list[type[BaseException]]:
    return [
        cls
        for _, cls in inspect.getmembers(docker.errors, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == "docker.errors"
    ]


def test_every_docker_error_class_is_mapped() -> None:
    mapped = {cls for cls, _ in ERROR_MAP}
    assert set(_docker_error_classes()) <= mapped


def _instance(cls: type[BaseException]) -> BaseException:
    if issubclass(cls, docker.errors.APIError):
        return cls("boom", response=None, explanation="No such thing")
    if cls is docker.errors.ContainerError:
        return cls("c0ffee", 1, "python3", "img", b"Traceback")
    if cls is docker.errors.BuildError:
        return cls("step failed", [])
    return cls("boom")


EXPECTED = {
    docker.errors.ImageNotFound: BackendUnavailable,
    docker.errors.NotFound: SupervisorError,
    docker.errors.BuildError: ImageBuildError,
    docker.errors.ImageLoadError: ImageBuildError,
    docker.errors.ContainerError: SupervisorError,
    docker.errors.StreamParseError: SupervisorError,
    docker.errors.TLSParameterError: BackendUnavailable,
    docker.errors.ContextNotFound: BackendUnavailable,
}


@pytest.mark.parametrize("cls", _docker_error_classes(), ids=lambda c: c.__name__)
def test_each_docker_error_becomes_an_infra_error(cls: type[BaseException]) -> None:
    with pytest.raises(InfraError) as caught, map_docker_errors("quinebox-sandbox:latest"):
        raise _instance(cls)
    assert isinstance(caught.value.__cause__, cls)
    assert type(caught.value) is EXPECTED.get(cls, type(caught.value))
    if isinstance(caught.value, BackendUnavailable):
        problem, _, fix = str(caught.value).partition("; ")
        assert problem.startswith("docker: ") and fix, str(caught.value)


def test_missing_image_names_the_build_command() -> None:
    error = translate(docker.errors.ImageNotFound("404", explanation="No such image: x"), "quinebox-sandbox:latest")
    assert isinstance(error, BackendUnavailable)
    assert str(error) == "docker: the sandbox image quinebox-sandbox:latest is missing; run `quinebox image build`"


@pytest.mark.parametrize(
    "exc, expected",
    [
        (docker.errors.DockerException("Error while fetching server API version: refused"), BackendUnavailable),
        (requests.exceptions.ConnectionError("refused"), BackendUnavailable),
        (requests.exceptions.ReadTimeout("slow"), InfraError),
        (ConnectionResetError("reset"), InfraError),
    ],
)
def test_transport_errors_are_mapped(exc: BaseException, expected: type[InfraError]) -> None:
    assert type(translate(exc)) is expected


def test_other_exceptions_pass_through() -> None:
    with pytest.raises(ValueError), map_docker_errors():
        raise ValueError("not docker's")
    with pytest.raises(SupervisorError, match="mine"), map_docker_errors():
        raise SupervisorError("mine")


def test_unreachable_engine_is_backend_unavailable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    with pytest.raises(BackendUnavailable, match="engine does not answer") as caught:
        DockerBackend().open()
    assert "systemctl start docker" in str(caught.value).partition("; ")[2]
    reason = docker_backend.available()
    assert reason is not None and reason.startswith("docker: the engine does not answer")
    assert "; start it" in reason


def test_unusable_ttl_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from quinebox.errors import UsageError

    monkeypatch.setenv("QUINEBOX_DOCKER_TTL", "soon")
    with pytest.raises(UsageError, match="QUINEBOX_DOCKER_TTL"):
        DockerBackend()


def test_image_comes_from_argument_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DockerBackend().image == "quinebox-sandbox:latest"
    monkeypatch.setenv("QUINEBOX_IMAGE", "mine:1")
    assert DockerBackend().image == "mine:1"
    assert DockerBackend("other:2").image == "other:2"


def _labels(**changes: str) -> dict[str, str]:
    labels = {
        SESSION_LABEL: "s",
        OWNER_LABEL: str(os.getpid()),
        OWNER_START_LABEL: _container._start_time(os.getpid()),
        OWNER_HOST_LABEL: _container._owner_host(),
        EXPIRES_LABEL: str(int(time.time()) + 600),
    }
    labels.update(changes)
    return labels


def test_orphan_rules() -> None:
    assert not orphaned(_labels())  # this very process owns it
    assert orphaned(_labels(**{EXPIRES_LABEL: str(int(time.time()) - 1)}))
    assert orphaned(_labels(**{EXPIRES_LABEL: "never"}))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert orphaned(_labels(**{OWNER_LABEL: str(dead.pid)}))
    # A reused pid: a process with this pid exists but started at another time than the owner.
    assert orphaned(_labels(**{OWNER_START_LABEL: "1"}))
    # Owners in another pid namespace or machine are judged by the expiry alone.
    assert not orphaned(_labels(**{OWNER_HOST_LABEL: "elsewhere", OWNER_LABEL: str(dead.pid)}))


class _FakeApi:
    def __init__(self, containers: list[dict[str, Any]]) -> None:
        self.listed = containers
        self.removed: list[str] = []

    def containers(self, **kwargs: Any) -> list[dict[str, Any]]:
        assert kwargs == {"all": True, "filters": {"label": SESSION_LABEL}}
        return self.listed

    def remove_container(self, container_id: str, force: bool) -> None:
        assert force
        self.removed.append(container_id)


def test_sweep_removes_orphans_and_everything_when_asked() -> None:
    live = {"Id": "a" * 64, "Labels": _labels()}
    expired = {"Id": "b" * 64, "Labels": _labels(**{EXPIRES_LABEL: "0"})}
    api = _FakeApi([live, expired])
    assert _orphans._sweep(api, all_=False) == ["b" * 12]
    assert _orphans._sweep(api, all_=True) == ["a" * 12, "b" * 12]


# ---------------------------------------------------------------------------------------------------------------------
# With the engine


@pytest.mark.needs_docker
def test_container_is_removed_on_close(api: Any) -> None:
    with DockerBackend() as backend:
        assert isinstance(backend, DockerBackend)
        container_id = backend.container_id
        assert container_id is not None and exists(api, container_id)
        assert run(backend, "print('hi')").stdout == b"hi\n"
    assert not exists(api, container_id)
    backend.close()  # twice is fine


@pytest.mark.needs_docker
def test_close_after_the_session_broke_still_removes_everything(api: Any) -> None:
    backend = DockerBackend()
    backend.open()
    first = backend.container_id
    assert first is not None
    # The candidate cannot reach the supervisor; the session breaks from outside, mid-run.
    breaker = threading.Timer(1.0, api.kill, args=(first,))
    breaker.start()
    result = run(backend, BUSY)
    breaker.join()
    assert result.status is Status.XX
    second = backend.container_id
    assert second is not None and second != first
    assert not exists(api, first)
    backend.close()
    assert not exists(api, second)


@pytest.mark.needs_docker
def test_labels_name_the_owner_and_the_expiry(api: Any) -> None:
    with DockerBackend(ttl_s=900) as backend:
        assert isinstance(backend, DockerBackend)
        labels = api.inspect_container(backend.container_id)["Config"]["Labels"]
    assert labels[OWNER_LABEL] == str(os.getpid())
    assert labels[OWNER_START_LABEL] == _container._start_time(os.getpid()) != ""
    assert labels[OWNER_HOST_LABEL] == _container._owner_host()
    assert uuid.UUID(labels[SESSION_LABEL])
    assert 900 <= int(labels[EXPIRES_LABEL]) - time.time() <= 900 + docker_backend.EXPIRY_SLACK_S + 5


@pytest.mark.needs_docker
def test_the_wall_is_really_up(api: Any) -> None:
    with DockerBackend() as backend:
        assert isinstance(backend, DockerBackend)
        attrs = api.inspect_container(backend.container_id)
        # The container's own wall, seen by a process of the container beside the supervisor
        # (a run's /proc is empty: it cannot look).
        probe = """
import os
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(status["CapEff"].strip(), status["CapBnd"].strip(), status["NoNewPrivs"].strip())
print(os.getuid(), os.getgid())
print(sorted(line.split(":")[0].strip() for line in open("/proc/net/dev").readlines()[2:]))
try:
    open("/usr/lib/quinebox-probe", "w")
except OSError as exc:
    print(exc.errno)
"""
        execution = api.exec_create(backend.container_id, ["python3", "-I", "-c", probe])
        inside_stdout = api.exec_start(execution["Id"], demux=True)[0] or b""
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none" and attrs["Config"].get("NetworkDisabled") is True
    assert host["ReadonlyRootfs"] is True
    assert host["CapDrop"] == ["ALL"] and not host.get("CapAdd")
    # The engine's seccomp profile is replaced by the supervisor's own, per run (docs/threat-model.md).
    assert host["SecurityOpt"] == ["no-new-privileges", "seccomp=unconfined"]
    assert host["Privileged"] is False
    assert host["PidsLimit"] == docker_backend.PIDS_LIMIT
    assert host["Memory"] == 1 << 30
    assert set(host["Tmpfs"]) == {"/box", "/tmp", "/dev/shm"}
    assert all("size=64m" in options for options in host["Tmpfs"].values())
    assert host["Init"] is True and host["AutoRemove"] is True
    user = attrs["Config"]["User"]
    assert user.split(":")[0].isdigit() and int(user.split(":")[0]) >= docker_backend.UID_RANGE[0]
    caps, ids, interfaces, errno = inside_stdout.decode().splitlines()
    assert caps == "0000000000000000 0000000000000000 1"  # CapEff, CapBnd, NoNewPrivs
    assert ids == f"{user.split(':')[0]} {user.split(':')[1]}"
    assert interfaces == "['lo']"
    assert errno == "30"  # EROFS


@pytest.mark.needs_docker
def test_sessions_get_their_own_uid(api: Any) -> None:
    with DockerBackend() as one, DockerBackend() as two:
        uids = {run(b, "import os\nprint(os.getuid())").stdout for b in (one, two)}  # type: ignore[arg-type]
    assert len(uids) == 2


@pytest.mark.needs_docker
def test_sigkill_of_an_idle_owner_leaves_nothing(api: Any) -> None:
    process, container_id = spawn_owner("time.sleep(120)\n")
    process.kill()
    process.communicate()
    # The engine closes the supervisor's stdin when the attach connection drops; auto_remove does the rest.
    assert wait_gone(api, container_id, 15)


@pytest.mark.needs_docker
def test_sigkill_of_an_owner_mid_run_is_swept_by_the_next_start(api: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    process, container_id = spawn_owner(BUSY_IN_A_RUN)
    time.sleep(0.5)  # the run is under way: the supervisor is not reading its stdin
    process.send_signal(signal.SIGKILL)
    process.communicate()
    time.sleep(0.5)
    assert exists(api, container_id), "the orphan vanished before any sweep: this test proves nothing"
    monkeypatch.setattr(_orphans, "_swept", threading.Event())  # as in a fresh process
    with DockerBackend():
        assert not exists(api, container_id)


@pytest.mark.needs_docker
def test_gc_removes_orphans(api: Any) -> None:
    process, container_id = spawn_owner(BUSY_IN_A_RUN)
    time.sleep(0.5)
    process.kill()
    process.communicate()
    assert container_id[:12] in images.gc()
    assert not exists(api, container_id)


@pytest.mark.needs_docker
def test_ctrl_c_mid_run_leaves_nothing(api: Any) -> None:
    # As the CLI does: the session is closed on the way out, whatever ends the run.
    body = "try:\n    " + BUSY_IN_A_RUN.replace("\n", "\n    ") + "\nfinally:\n    backend.close()\n"
    process, container_id = spawn_owner(body)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert b"KeyboardInterrupt" in err
    assert not exists(api, container_id)


@pytest.mark.needs_docker
def test_ttl_ends_a_forgotten_container(api: Any) -> None:
    backend = DockerBackend(ttl_s=2)
    backend.open()
    container_id = backend.container_id
    assert container_id is not None
    try:
        assert wait_gone(api, container_id, 15)
    finally:
        backend.close()


@pytest.mark.needs_docker
def test_a_session_is_replaced_before_its_ttl_could_end_a_run(api: Any) -> None:
    with DockerBackend(ttl_s=30) as backend:
        assert isinstance(backend, DockerBackend)
        first = backend.container_id
        # A run may last its wall limit plus four times its CPU limit (Limits.longest_run_s): 9 s here.
        assert run(backend, "print(1)", wall_s=5, cpu_s=1, work=100_000).status is Status.OK
        assert backend.container_id == first
        # 30 s of life minus the margin leaves less than a run of up to 24 s plus the backstop: a new container.
        assert run(backend, "print(2)", wall_s=20, cpu_s=1, work=100_000).stdout == b"2\n"
        assert backend.container_id != first
        assert first is not None and wait_gone(api, first, 10)


@pytest.mark.needs_docker
def test_missing_image_is_backend_unavailable_with_the_fix() -> None:
    name = f"quinebox-sandbox:missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(BackendUnavailable) as caught:
        DockerBackend(name).open()
    assert str(caught.value) == f"docker: the sandbox image {name} is missing; run `quinebox image build`"
    assert docker_backend.available(name) == str(caught.value)


@pytest.fixture
def stale_image(api: Any, tmp_path: Path) -> Iterator[str]:
    tag = f"quinebox-sandbox:stale-{uuid.uuid4().hex[:8]}"
    (tmp_path / "Dockerfile").write_text(
        f"FROM {images.image_name()}\nUSER 0\nRUN echo '# older' >> {images.GUEST_DIR}/supervisor.py\nUSER 10001\n"
    )
    for _ in api.build(path=str(tmp_path), tag=tag, rm=True, network_mode="none", decode=True):
        pass
    yield tag
    api.remove_image(tag, force=True)


@pytest.mark.needs_docker
def test_an_image_with_other_guest_code_is_refused(stale_image: str) -> None:
    with pytest.raises(BackendUnavailable, match=r"other guest code .*supervisor\.py.*; run `quinebox image build`"):
        DockerBackend(stale_image).open()


@pytest.mark.needs_docker
def test_image_status_is_none_when_ready() -> None:
    assert images.image_status() is None


@pytest.mark.needs_docker
def test_build_image_and_its_failures(api: Any) -> None:
    # No registry here: build on the debootstrapped base that scripts/ci-docker-setup.sh leaves behind.
    bases = [tag for image in api.images(name="quinebox-base") for tag in image.get("RepoTags") or []]
    if not bases:
        pytest.skip("no local quinebox-base image to build on (scripts/ci-docker-setup.sh makes one)")
    tag = f"quinebox-sandbox:build-test-{uuid.uuid4().hex[:8]}"
    lines: list[str] = []
    try:
        image_id = images.build_image(tag, base_image=bases[0], progress=lines.append)
        assert image_id.startswith("sha256:")
        labels = api.inspect_image(tag)["Config"]["Labels"]
        assert labels[images.DIGEST_LABEL] == images.guest_digest()
        assert any("COPY sandbox/" in line for line in lines)
        with DockerBackend(tag) as backend:
            assert run(backend, "print(7)").stdout == b"7\n"  # type: ignore[arg-type]
        with pytest.raises(ImageBuildError, match=f"building {tag} failed") as caught:
            images.build_image(tag, base_image="scratch")  # no shell for RUN
        assert "Step 3/10 : RUN" in str(caught.value)  # the log tail
        assert "\x1b" not in str(caught.value)
    finally:
        try:
            api.remove_image(tag, force=True)
        except docker.errors.NotFound:
            pass


# ---------------------------------------------------------------------------------------------------------------------
# Disruptive: stops the shared engine. Runs in CI (a machine of its own) or when asked for with `-m slow`, as root.


@pytest.mark.slow
@pytest.mark.needs_docker
def test_engine_stopped_mid_run_is_an_infra_error(request: pytest.FixtureRequest) -> None:
    if "slow" not in (request.config.getoption("markexpr") or "") and not os.environ.get("CI"):
        pytest.skip("stops the shared docker engine; runs in CI, or explicitly with -m slow")
    if os.geteuid() != 0:
        pytest.skip("needs root to stop and restart dockerd")
    pid = int(Path("/var/run/docker.pid").read_text().strip())
    backend = DockerBackend()
    backend.open()

    def stop_engine() -> None:
        time.sleep(1.0)
        os.kill(pid, signal.SIGTERM)

    stopper = threading.Thread(target=stop_engine)
    stopper.start()
    try:
        with pytest.raises(InfraError) as caught:
            run(backend, BUSY, wall_s=120, cpu_s=120)
        assert "engine" in str(caught.value)
    finally:
        stopper.join()
        backend.close()
        deadline = time.monotonic() + 60
        while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
            time.sleep(0.2)
        subprocess.run(["bash", str(ROOT / "scripts" / "start-dockerd.sh")], check=True)
