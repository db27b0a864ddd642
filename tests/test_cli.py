"""The command line as users run it: real subprocesses, the real sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from quinebox.report.schema import REPORT_SCHEMA

ROOT = Path(__file__).resolve().parent.parent
GOOD = ROOT / "fixtures" / "good" / "percent_r.py"
OFF_BY_ONE = ROOT / "fixtures" / "bad" / "off_by_one.py"


def quinebox(
    *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "quinebox", *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


@pytest.mark.needs_bwrap
def test_correct_chain_passes_with_a_valid_json_report() -> None:
    result = quinebox("verify", str(GOOD), "--generations", "20", "--sandbox", "bwrap", "--json")
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["verdict"] == "pass" and report["failure"] is None and report["score"] == 1.0
    assert [g["number"] for g in report["generations"]][:6] == ["0", "1", "1", "2", "3", "5"]
    assert len(report["generations"]) == 21
    assert report["backend"]["name"] == "bwrap" and report["backend"]["isolated"] is True
    assert [c["name"] for c in report["checks"]] == [
        "runs",
        "output",
        "sequence",
        "self-similarity",
        "integrity",
        "linear-time",
        "determinism",
    ]
    assert b"PASS" in result.stderr


@pytest.mark.needs_bwrap
def test_wrong_chain_exits_1_naming_check_and_generation() -> None:
    result = quinebox("verify", str(OFF_BY_ONE), "--sandbox", "bwrap", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["failure"]["check"] == "sequence"
    assert report["score"] == pytest.approx((report["failure"]["generation"] - 1) / 50, abs=1e-6)


@pytest.mark.needs_bwrap
def test_program_from_stdin() -> None:
    result = quinebox("verify", "-", "--generations", "3", "--sandbox", "bwrap", stdin=GOOD.read_bytes())
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b""  # human output goes to stderr only


@pytest.mark.needs_bwrap
def test_plain_output_has_no_escape_codes() -> None:
    result = quinebox("verify", str(OFF_BY_ONE), "--sandbox", "bwrap", env={"NO_COLOR": "1"})
    assert b"\x1b[" not in result.stderr
    assert b"sequence failed at generation" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("verify", "/nonexistent/prog.py"), b"cannot read"),
        (("verify", str(GOOD), "--sequence", "tribonacci"), b"unknown sequence"),
        (("verify", str(GOOD), "--sandbox", "qemu"), b"unknown sandbox"),
        (("verify", str(GOOD), "--generations", "-1"), b"generations"),
        (("frobnicate",), b"No such command"),
    ],
)
def test_usage_errors_exit_2_without_traceback(args: tuple[str, ...], message: bytes) -> None:
    result = quinebox(*args)
    assert result.returncode == 2, result.stderr.decode()
    assert message in result.stderr
    assert b"Traceback" not in result.stderr


def test_missing_sandbox_is_an_infrastructure_error(tmp_path: Path) -> None:
    result = quinebox("verify", str(GOOD), "--sandbox", "bwrap", "--json", env={"PATH": str(tmp_path)})
    assert result.returncode == 3
    assert b"bubblewrap is not installed" in result.stderr and b"apt-get install bubblewrap" in result.stderr
    report = json.loads(result.stdout)
    jsonschema.validate(report, REPORT_SCHEMA)
    assert report["verdict"] == "error" and report["checks"] == []


def test_none_sandbox_says_not_isolated() -> None:
    result = quinebox("verify", str(GOOD), "--generations", "3", "--sandbox", "none", "--json")
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["backend"] == {**report["backend"], "name": "none", "isolated": False, "isolation": "not isolated"}
    assert b"not isolated" in result.stderr


def test_schema_command_prints_a_valid_schema() -> None:
    result = quinebox("schema")
    assert result.returncode == 0
    jsonschema.Draft202012Validator.check_schema(json.loads(result.stdout))


@pytest.mark.needs_bwrap
def test_doctor_proves_bwrap_works() -> None:
    result = quinebox("doctor", "--json")
    assert result.returncode == 0
    findings = {f["name"]: f for f in json.loads(result.stdout)}
    assert findings["bwrap"]["ok"] is True and "works: python" in findings["bwrap"]["detail"]
    assert findings["none"]["ok"] is True and "NOT ISOLATED" in findings["none"]["detail"]


@pytest.mark.needs_docker
def test_image_build_and_gc() -> None:
    import docker

    base = os.environ.get("QUINEBOX_TEST_BASE_IMAGE", "quinebox-base:bookworm")
    client = docker.from_env()
    try:
        client.images.get(base)
    except docker.errors.ImageNotFound:
        pytest.fail(f"the base image {base} is missing: run scripts/build-base-image.sh")
    tag = "quinebox-test-cli:latest"
    try:
        result = quinebox("image", "build", "--tag", tag, "--base-image", base, "--quiet")
        assert result.returncode == 0, result.stderr.decode()
        assert f"built {tag}".encode() in result.stderr
        assert client.images.get(tag).labels.get("org.quinebox.image") == "sandbox"
    finally:
        try:
            client.images.remove(tag, force=True)
        except docker.errors.ImageNotFound:
            pass
        client.close()
    collected = quinebox("gc")
    assert collected.returncode == 0 and b"removed" in collected.stderr


@pytest.mark.needs_bwrap
def test_quiet_json_verify_imports_neither_rich_nor_asyncio() -> None:
    """Machines that read the JSON pay for no terminal renderer, no event loop and no validation library at start."""
    script = (
        "import sys\n"
        "from quinebox.cli import main\n"
        f"sys.argv = ['quinebox', 'verify', {str(GOOD)!r}, '--generations', '2', '--json', '--quiet']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as done:\n"
        "    loaded = sorted(m for m in ('rich', 'asyncio', 'pydantic', 'typer') if m in sys.modules)\n"
        "    print('LOADED', loaded, done.code, file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert b"LOADED [] 0" in result.stderr, result.stderr.decode()[-2000:]
    assert json.loads(result.stdout)["verdict"] == "pass"
