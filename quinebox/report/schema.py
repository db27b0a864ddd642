"""The JSON Schema of a report: the one place every field is documented."""

from __future__ import annotations

from typing import Any

from quinebox.report.model import SCHEMA_VERSION

_NULLABLE_INT = {"type": ["integer", "null"]}
_CHECK_NAMES = ["runs", "output", "sequence", "self-similarity", "integrity", "linear-time", "determinism"]

_RUN = {
    "type": "object",
    "description": "One run of one program.",
    "required": [
        "status",
        "exit_code",
        "signal",
        "wall_ms",
        "cpu_ms",
        "work",
        "stdout_bytes",
        "stdout_truncated",
        "stderr_truncated",
        "events",
    ],
    "additionalProperties": False,
    "properties": {
        "status": {
            "enum": ["OK", "RE", "SG", "TO", "OL", "WL", "XX"],
            "description": "OK clean exit; RE non-zero exit; SG killed by a signal; TO wall or CPU limit; "
            "OL output limit; WL work budget spent; XX the candidate broke its sandbox session.",
        },
        "exit_code": {**_NULLABLE_INT, "description": "Exit status; null when ended by a signal."},
        "signal": {**_NULLABLE_INT, "description": "The signal that ended the run, if any."},
        "wall_ms": {"type": "number", "description": "Wall time of the run inside the sandbox; for reports only."},
        "cpu_ms": {
            "type": "number",
            "description": "CPU time of the run's reaped processes: the cross-check for work in C.",
        },
        "work": {**_NULLABLE_INT, "description": "Function entries plus loop back-edges counted in the run."},
        "stdout_bytes": {"type": "integer", "description": "Bytes of standard output kept."},
        "stdout_truncated": {"type": "boolean"},
        "stderr_truncated": {"type": "boolean"},
        "events": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Audited calls, e.g. \"open('/box/prog.py', 'r', 524288)\".",
        },
    },
}

REPORT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "quinebox report",
    "type": "object",
    "required": [
        "schema_version",
        "verdict",
        "failure",
        "checks",
        "generations",
        "score",
        "backend",
        "config",
        "duration_ms",
        "stopped_early",
        "error",
        "quinebox_version",
        "notes",
    ],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "quinebox_version": {"type": "string"},
        "verdict": {
            "enum": ["pass", "fail", "error"],
            "description": "pass: every check passed; fail: a check failed; error: the infrastructure "
            "failed (never the candidate's fault, never to be scored).",
        },
        "failure": {
            "description": "The failure to read first, or null.",
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["check", "generation", "reason"],
                    "additionalProperties": False,
                    "properties": {
                        "check": {"enum": [*_CHECK_NAMES, "extract"]},
                        "generation": _NULLABLE_INT,
                        "reason": {"type": "string"},
                    },
                },
            ],
        },
        "checks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "passed", "reason", "generation", "evidence"],
                "additionalProperties": False,
                "properties": {
                    "name": {"enum": _CHECK_NAMES},
                    "passed": {"type": "boolean"},
                    "reason": {"type": "string", "description": "One line a person can act on."},
                    "generation": {**_NULLABLE_INT, "description": "First failing generation; null for a pass."},
                    "evidence": {
                        "type": "object",
                        "description": "Check-specific: expected vs printed, a diff, "
                        "the audited call, the work series...",
                    },
                },
            },
        },
        "generations": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "number", "sha256", "size", "runs"],
                "additionalProperties": False,
                "properties": {
                    "index": {"type": "integer", "minimum": 0},
                    "number": {
                        "type": ["string", "null"],
                        "pattern": "^-?[0-9]+$",
                        "description": "The number printed, as an exact decimal string.",
                    },
                    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    "size": {"type": "integer", "description": "Source size in bytes."},
                    "runs": {
                        "type": "object",
                        "additionalProperties": _RUN,
                        "propertyNames": {
                            "enum": ["default", "next", "default_blind", "next_blind", "default_again", "next_again"]
                        },
                    },
                },
            },
        },
        "score": {
            "type": "number",
            "minimum": 0,
            "maximum": 1,
            "description": "Fraction of the N+1 generations that passed before the first failure.",
        },
        "backend": {
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["name", "isolated", "isolation"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string"},
                        "isolated": {"type": "boolean"},
                        "isolation": {"type": "string"},
                        "python": {"type": ["string", "null"]},
                        "work_counter": {"type": ["string", "null"]},
                    },
                },
            ],
        },
        "config": {"type": "object", "description": "generations, sequence, next_flag, keep_going, limits."},
        "duration_ms": {"type": "number"},
        "stopped_early": {"type": ["string", "null"], "description": "Why fewer than N+1 generations ran."},
        "error": {"type": ["string", "null"], "description": "For verdict error: what failed."},
        "notes": {"type": "array", "items": {"type": "string"}},
    },
}
