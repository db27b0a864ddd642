"""Which sandboxes work on this machine, proven by running a program in each, with the fix for each that does not.

The table is what the user asked for, so the CLI prints it on stdout. Fixes name only what an
installed quinebox has: a checkout's helper scripts are left out when they are not there.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

from quinebox import backends
from quinebox.backends.base import RunRequest
from quinebox.errors import QuineboxError
from quinebox.languages import LANGUAGES, PYTHON
from quinebox.limits import Limits

_PROBE = b"print(1)\n"
_USERNS_FIXES = (
    ("/proc/sys/kernel/unprivileged_userns_clone", "0", "sysctl -w kernel.unprivileged_userns_clone=1"),
    ("/proc/sys/user/max_user_namespaces", "0", "sysctl -w user.max_user_namespaces=15000"),
    (
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
        "1",
        "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (or an AppArmor profile allowing bwrap userns)",
    ),
)


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str
    fix: str | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def diagnose() -> list[Finding]:
    """One finding per wall, then one per language on each wall that works; `auto` names the wall it would pick."""
    walls = [_probe(name) for name in ("bwrap", "docker", "none")]
    working = {f.name for f in walls if f.ok}
    findings = [found for wall in walls for found in (wall, *(_languages(wall.name) if wall.ok else ()))]
    choice = "docker" if "docker" in working else "bwrap" if "bwrap" in working else None
    findings.append(
        Finding(
            "auto",
            choice is not None,
            f"would use {choice}" if choice else "no isolating sandbox works here",
            None if choice else "fix bwrap or docker as shown above",
        )
    )
    return findings


def _probe(name: str) -> Finding:
    problem = backends.problems(name)
    if problem is not None:
        detail, _, fix = problem.partition("; ")
        return Finding(name, False, detail, _installed_only(fix) or None)
    try:
        with backends.create(name) as backend:
            result = backend.run(RunRequest(_PROBE, (), False, Limits(wall_s=10)))
            hello = getattr(backend, "hello", {})
    except QuineboxError as exc:
        return Finding(name, False, str(exc), _fix_for(name))
    if result.stdout != b"1\n":
        return Finding(name, False, f"a probe program did not run: {result.status} {result.message}", _fix_for(name))
    python = hello.get("python", "?")
    counter = hello.get("work_counter", "?")
    isolation = "NOT ISOLATED, only when named" if not backend.isolated else backend.isolation
    return Finding(name, True, f"works: python {python}, work counter {counter}; {isolation}")


def _languages(name: str) -> list[Finding]:
    """One finding per language besides Python on a working wall: its probe program run, its version."""
    findings = []
    try:
        with backends.create(name) as backend:
            for spoken in LANGUAGES.values():
                if spoken.name == PYTHON:
                    continue
                request = RunRequest(spoken.probe.encode(), (), True, Limits(wall_s=20), spoken.name)
                result = backend.run(request)
                version = backend.interpreter_version(spoken.name) or "version unknown"
                label = f"{name}:{spoken.name}"
                if result.stdout == b"1\n":
                    findings.append(Finding(label, True, f"{spoken.title} works: {version}"))
                else:
                    why = result.message or result.stderr.decode("utf-8", "replace").strip()[-200:]
                    fix = (
                        "rebuild the image: quinebox image build"
                        if name == "docker"
                        else (f"install {spoken.package} (apt-get install {spoken.package})")
                    )
                    findings.append(Finding(label, False, f"{spoken.title} does not run: {why}", fix))
    except QuineboxError as exc:
        findings.append(Finding(f"{name}:languages", False, f"the languages could not be probed: {exc}"))
    return findings


def _installed_only(fix: str) -> str:
    """The fix without helper scripts of a source checkout that are not here (a pip install has none)."""
    for script in re.findall(r"(?:sudo )?(scripts/[\w.-]+)", fix):
        if not Path(script).is_file():
            fix = re.sub(rf"(?:sudo )?{re.escape(script)}(?: [^,;)]*)?(?:, or |, | or )?", "", fix)
    return fix.replace("()", "").replace("( ", "(").strip()


def _fix_for(name: str) -> str | None:
    if name == "bwrap":
        for path, bad, fix in _USERNS_FIXES:
            try:
                with open(path) as handle:
                    if handle.read().strip() == bad:
                        return fix
            except OSError:
                continue
        return "check that unprivileged user namespaces are allowed (bwrap --unshare-user true)"
    if name == "docker":
        return "start the engine (dockerd) and build the image: quinebox image build"
    return None
