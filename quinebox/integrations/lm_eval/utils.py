"""The task's functions, loaded by lm-eval from this file (``!function utils.NAME`` in quinebox.yaml).

Each answer is verified on warm lanes kept for the whole evaluation, with QUINEBOX_GENERATIONS
generations (default 20) in the QUINEBOX_SANDBOX wall (default auto). lm-eval has no
"unscored": an infrastructure error raises `quinebox.InfraError` and stops the evaluation, so
that a broken sandbox never shows up as a model scoring 0. A ``not_judged`` answer (a program in
a language quinebox does not judge yet) has every value 0.0: lm-eval cannot leave a document out
of a mean, and the task asks for Python.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from quinebox.integrations._grader import DEFAULT_GENERATIONS, check_values, default_grader

PROMPT = (Path(__file__).resolve().parent / "prompt.md").read_text(encoding="utf-8")

#: The documents: one per sequence the task asks for, with what the prompt needs to state it.
DOCS = [
    {"id": "fibonacci", "sequence": "fibonacci", "name": "the Fibonacci numbers", "seeds": "0, 1", "first": "0"},
    {"id": "lucas", "sequence": "lucas", "name": "the Lucas numbers", "seeds": "2, 1", "first": "2"},
    {"id": "seeds-3-4", "sequence": "3,4", "name": "a Fibonacci-like sequence", "seeds": "3, 4", "first": "3"},
]


def load_docs(**kwargs: Any) -> dict[str, Any]:
    """The task's dataset, built here so that the task needs no download (lm-eval's ``custom_dataset``)."""
    import datasets

    return {"test": datasets.Dataset.from_list(DOCS)}


def doc_to_text(doc: dict[str, Any]) -> str:
    """The prompt for one document."""
    text = PROMPT
    for key in ("name", "seeds", "first"):
        text = text.replace("{{" + key + "}}", str(doc[key]))
    return text


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """``pass``, ``score`` and one 1.0-or-0.0 value per check for the model's answer.

    Raises:
        InfraError: the sandbox failed twice for this answer.
    """
    grader = default_grader(
        int(os.environ.get("QUINEBOX_GENERATIONS", DEFAULT_GENERATIONS)),
        "fibonacci",
        os.environ.get("QUINEBOX_SANDBOX", "auto"),
    )
    report = grader.verify(results[0], sequence=doc["sequence"])
    return check_values(report)
