"""The JSON Schema of a report: the one place every field is documented.

Version 2 (version 1 had neither): verdict ``not_judged``; ``score`` null unless judged, and
counted in proven ``--next`` steps out of N; ``language``, ``not_judged`` and ``extraction``.
"""

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
        "opens": {
            **_NULLABLE_INT,
            "description": "Opens of the sighted source file by any process of the run, seen from outside "
            "(inotify); null for blind runs. The interpreter's own open of its program counts.",
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
        "language",
        "not_judged",
        "extraction",
    ],
    "additionalProperties": False,
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "quinebox_version": {"type": "string"},
        "verdict": {
            "enum": ["pass", "fail", "error", "not_judged"],
            "description": "pass: every check passed; fail: a check failed (the candidate's fault); error: the "
            "infrastructure failed (never the candidate's fault, never to be scored); not_judged: the program is "
            "in a language quinebox does not judge yet (see language and not_judged; never a failure, never "
            "scored).",
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
                    "source": {
                        "type": ["string", "null"],
                        "description": "The program's text when it is UTF-8 and at most 256 KiB; else null.",
                    },
                    "source_base64": {
                        "type": ["string", "null"],
                        "description": "The program's bytes in base64 when they are not UTF-8 (at most 256 KiB).",
                    },
                    "runs": {
                        "type": "object",
                        "additionalProperties": _RUN,
                        "propertyNames": {
                            "enum": [
                                "default",
                                "next",
                                "default_blind",
                                "next_blind",
                                "default_again",
                                "next_again",
                                "replay",
                            ]
                        },
                    },
                },
            },
        },
        "score": {
            "type": ["number", "null"],
            "minimum": 0,
            "maximum": 1,
            "description": "Partial credit: the share of the N --next steps proven before the first failure, "
            "max(g - 1, 0) / N for a failure at generation g (step k -> k+1 is proven when program k+1 passes), "
            "1 for a pass, 0 for a program that ignores --next. Independent of keep_going. Null for verdicts "
            "error and not_judged, so that averages never count them.",
        },
        "backend": {
            "description": "What ran the candidate (measured); null when nothing ran. config says what was asked.",
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
                        "language": {"type": "string"},
                        "interpreter": {
                            "type": ["string", "null"],
                            "description": "The language's interpreter or compiler version in the sandbox.",
                        },
                    },
                },
            ],
        },
        "config": {
            "type": "object",
            "description": "What was asked (a dict of settings): generations (N, at least 1), sequence, next_flag, "
            "keep_going, sandbox (as named: auto, bwrap, docker, none, or given for an injected backend), "
            "limits, deadline_s (seconds the whole verification may take) and language (auto or the name "
            "asked for; the language judged is the top-level language). What was used is in backend.",
        },
        "duration_ms": {"type": "number"},
        "stopped_early": {"type": ["string", "null"], "description": "Why fewer than N+1 generations ran."},
        "error": {"type": ["string", "null"], "description": "For verdict error: what failed."},
        "notes": {"type": "array", "items": {"type": "string"}},
        "language": {
            "type": "string",
            "description": "The program's language: the one judged (python, javascript, ruby, c, bash); for "
            "not_judged, the language detected (haskell, go...).",
        },
        "not_judged": {
            "type": ["string", "null"],
            "description": "For verdict not_judged: why, with the language named.",
        },
        "extraction": {
            "description": "How the program was found in a model's response; null when it was given directly.",
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["rule", "reason", "candidates", "block", "line"],
                    "additionalProperties": False,
                    "properties": {
                        "rule": {
                            "enum": ["only-block", "answer-block", "best-block", "unfenced", "after-prose", "none"],
                            "description": "The rule that chose (quinebox.extract documents each).",
                        },
                        "reason": {"type": "string", "description": "Which block, where, and why."},
                        "candidates": {"type": "integer", "minimum": 0, "description": "Code blocks seen."},
                        "block": {**_NULLABLE_INT, "description": "1-based index of the chosen block."},
                        "line": {**_NULLABLE_INT, "description": "Line of the response where the program starts."},
                    },
                },
            ],
        },
    },
}
