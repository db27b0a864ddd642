"""quinebox: verify self-reproducing Fibonacci programs in a sandbox, with evidence.

    >>> import quinebox
    >>> report = quinebox.verify(Path("prog.py"), generations=50)
    >>> report.passed, report.failure
    >>> quinebox.verify_response(model_answer_text, generations=50)  # the program found in a response

Names are loaded on first use, so that importing one submodule (the checks,
the report model) does not pull in the sandbox machinery.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from quinebox._version import __version__ as __version__

_EXPORTS = {
    "verify": "quinebox.api",
    "averify": "quinebox.api",
    "verify_response": "quinebox.api",
    "extract_program": "quinebox.extract",
    "Extraction": "quinebox.extract",
    "Limits": "quinebox.limits",
    "Report": "quinebox.report.model",
    "Verdict": "quinebox.report.model",
    "QuineboxError": "quinebox.errors",
    "InfraError": "quinebox.errors",
    "BackendUnavailable": "quinebox.errors",
    "SupervisorError": "quinebox.errors",
    "UsageError": "quinebox.errors",
}

__all__ = sorted([*_EXPORTS, "__version__"])

if TYPE_CHECKING:
    from quinebox.api import averify, verify, verify_response  # noqa: F401
    from quinebox.errors import BackendUnavailable, InfraError, QuineboxError, SupervisorError, UsageError  # noqa: F401
    from quinebox.extract import Extraction, extract_program  # noqa: F401
    from quinebox.limits import Limits  # noqa: F401
    from quinebox.report.model import Report, Verdict  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'quinebox' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
