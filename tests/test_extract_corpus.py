"""A labelled corpus of model responses: the block a careful human grader would grade, and its verdict.

tests/data/responses/manifest.toml names, for each response, the rule and block extraction must choose
and the language it is in; the sandboxed test also checks the verdict `verify --from-response` gives.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

import quinebox
from quinebox.api import verify_response
from quinebox.extract import extract_program

DATA = Path(__file__).resolve().parent / "data" / "responses"


@dataclass(frozen=True)
class Case:
    file: str
    rule: str
    block: int | None
    language: str
    verdict: str
    check: str | None

    def text(self) -> str:
        return (DATA / self.file).read_bytes().decode("utf-8")


CASES = [
    Case(
        file=e["file"],
        rule=e["rule"],
        block=e.get("block"),
        language=e.get("language", "python"),
        verdict=e["verdict"],
        check=e.get("check"),
    )
    for e in tomllib.loads((DATA / "manifest.toml").read_text())["response"]
]
IDS = [c.file.removesuffix(".md") for c in CASES]


def test_the_corpus_is_large_and_complete() -> None:
    assert len(CASES) >= 30
    assert {p.name for p in DATA.glob("*.md")} == {c.file for c in CASES}
    assert {c.verdict for c in CASES} == {"pass", "fail", "not_judged"}


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_extraction_chooses_the_block_a_grader_would(case: Case) -> None:
    found = extract_program(case.text())
    assert (found.rule, found.block, found.language) == (case.rule, case.block, case.language), found.reason
    assert (found.program is None) == (case.rule == "none")
    assert "\n" not in found.reason


@pytest.mark.needs_bwrap
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_response_gets_the_graders_verdict(case: Case) -> None:
    report = verify_response(case.text(), generations=5, sandbox="bwrap")
    assert report.verdict.value == case.verdict, report
    assert (report.failure.check if report.failure else None) == case.check, report
    assert report.extraction is not None and report.extraction.rule == case.rule
    if case.verdict == "not_judged":
        assert report.language == case.language and report.score is None
        assert case.language in (report.not_judged or "")
    else:
        assert report.score is not None


def test_verify_response_is_exported() -> None:
    assert quinebox.verify_response is verify_response
