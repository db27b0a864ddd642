"""The quinebox task for lm-evaluation-harness: a task YAML, its prompt and its scoring, in this folder.

    lm_eval --include_path "$(quinebox lm-eval-path)" --tasks quinebox --confirm_run_unsafe_code --model ...

The task (``quinebox.yaml``) is ``generate_until`` and ``unsafe_code: true``: the model's answer
is a program, run in quinebox's sandbox. Its documents are built in (one per sequence, no
download), its prompt is ``prompt.md``, and ``utils.process_results`` verifies each answer and
returns ``pass``, ``score`` and one value per check, each aggregated by its mean.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["task_path"]


def task_path() -> Path:
    """The folder to give lm-eval as ``--include_path``."""
    return Path(__file__).resolve().parent
