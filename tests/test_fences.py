"""The boundaries the architecture promises, checked in fresh interpreters."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import quinebox

ROOT = Path(__file__).resolve().parent.parent


def loaded_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_checks_and_report_model_load_neither_rich_nor_docker_nor_click() -> None:
    modules = loaded_after("import quinebox.checks, quinebox.report.model, quinebox.report.build")
    assert not {m for m in modules if m.split(".")[0] in ("rich", "docker", "click")}
    assert "quinebox.backends.bwrap" not in modules


def test_checks_never_import_backends() -> None:
    for module in (ROOT / "quinebox" / "checks").glob("*.py"):
        text = module.read_text()
        assert "quinebox.backends" not in text and "import rich" not in text, module


def test_sandbox_is_stdlib_only_and_imports_under_isolated_mode() -> None:
    for module in (ROOT / "sandbox").glob("*.py"):
        tree = ast.parse(module.read_text())
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        roots = {name.split(".")[0] for name in imported} - {"", "launch_python", "confine", "zygote"}
        assert roots <= sys.stdlib_module_names, (module, roots - sys.stdlib_module_names)
    code = "import sys; sys.path.insert(0, 'sandbox'); import supervisor, zygote, launch_python, confine"
    subprocess.run([sys.executable, "-I", "-S", "-c", code], cwd=ROOT, check=True)


def test_public_names() -> None:
    assert quinebox.__all__ == sorted(
        [
            "BackendUnavailable",
            "Extraction",
            "InfraError",
            "Limits",
            "QuineboxError",
            "Report",
            "SupervisorError",
            "UsageError",
            "Verdict",
            "__version__",
            "averify",
            "extract_program",
            "verify",
            "verify_response",
        ]
    )
    for name in quinebox.__all__:
        assert getattr(quinebox, name) is not None
