"""The language records, how a language is chosen, and answers in every judged language graded end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pygments.lexers import get_lexer_by_name

from quinebox import verify, verify_response
from quinebox.checks._lexed import lex_tokens
from quinebox.errors import UsageError
from quinebox.extract import extract_program
from quinebox.languages import JUDGED, LANGUAGES, language_name, resolve_language

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SANDBOX = ROOT / "sandbox"

#: A correct chain per language, written for these tests (the fixtures hold more, in other styles).
CHAINS = {
    "python": "a, b = 0, 1\ns = 'a, b = %d, %d\\ns = %r\\nimport sys\\n"
    'print(s %% (b, a + b, s) if sys.argv[1:] == ["--next"] else a)\'\n'
    'import sys\nprint(s % (b, a + b, s) if sys.argv[1:] == ["--next"] else a)\n',
    "javascript": (
        "const [a, b] = [0n, 1n];\n"
        'const t = "const [a, b] = [@A, @B];\\nconst t = @T;\\n'
        "if (process.argv.includes('--next')) console.log(t.replace('@A', b + 'n').replace('@B', a + b + 'n')"
        ".replace('@T', JSON.stringify(t))); else console.log(String(a));\";\n"
        "if (process.argv.includes('--next')) console.log(t.replace('@A', b + 'n').replace('@B', a + b + 'n')"
        ".replace('@T', JSON.stringify(t))); else console.log(String(a));\n"
    ),
    "ruby": (
        "a, b = 0, 1\n"
        "t = \"a, b = %d, %d\\nt = %p\\nputs(ARGV.include?('--next') ? format(t, b, a + b, t) : a)\"\n"
        "puts(ARGV.include?('--next') ? format(t, b, a + b, t) : a)\n"
    ),
}


def test_every_judged_language_has_a_complete_record() -> None:
    assert set(JUDGED) == {"python", "javascript", "ruby", "c", "bash"}
    for spoken in LANGUAGES.values():
        assert spoken.extensions and spoken.source_name.endswith(spoken.extensions[0]), spoken
        assert get_lexer_by_name(spoken.lexer) is not None
        if spoken.launcher is not None:
            assert (SANDBOX / spoken.launcher).is_file(), spoken.launcher
        assert language_name(spoken.name) == spoken.name
        for extension in spoken.extensions:
            assert language_name(extension) == spoken.name, extension


@pytest.mark.parametrize(
    ("source", "tag", "suffix", "expected"),
    [
        ("print(1)", "", "", "python"),
        ("console.log(1);\nconst s = 1;\n", "", "", "javascript"),
        ("console.log(1);\nconst s = 1;\n", "", ".py", "python"),  # the extension wins over the content
        ("print(1)", "js", "", "javascript"),  # the fence tag wins over everything
        ("#!/usr/bin/env ruby\nputs 1\n", "", "", "ruby"),
        ("#!/bin/bash\necho 1\n", "", "", "bash"),
        ('#include <stdio.h>\nint main(void) { puts("1"); }\n', "", "", "c"),
        ("main :: IO ()\nmain = print 1\n", "", "", "haskell"),
    ],
)
def test_auto_decides_by_tag_then_extension_then_shebang_then_content(
    source: str, tag: str, suffix: str, expected: str
) -> None:
    assert resolve_language("auto", source.encode(), tag=tag, suffix=suffix) == expected


def test_a_named_language_is_taken_as_asked_and_an_unknown_name_is_a_usage_error() -> None:
    assert resolve_language("JS", b"print(1)") == "javascript"
    assert resolve_language("sh", b"") == "bash"
    with pytest.raises(UsageError, match="unknown language 'cobol2'"):
        resolve_language("cobol2", b"")


@given(st.sampled_from(sorted(JUDGED)), st.text(max_size=300))
def test_a_named_language_never_depends_on_the_content(name: str, text: str) -> None:
    assert resolve_language(name, text.encode("utf-8", "surrogatepass")) == name


@given(st.sampled_from(sorted(JUDGED - {"python"})), st.text(max_size=400))
def test_the_lexer_never_raises_and_keeps_every_character(name: str, text: str) -> None:
    tokens = lex_tokens(text.encode("utf-8", "surrogatepass"), name)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        assert tokens is None
        return
    assert tokens is not None
    assert sum(t.size for t in tokens if t.layout and t.kind == "LAYOUT") == 0


def test_extraction_picks_the_block_in_a_judged_language() -> None:
    response = (
        "Here is the program in JavaScript:\n\n```javascript\n" + CHAINS["javascript"] + "```\n\n"
        "Run it with `node fib.js --next > next.js`.\n"
    )
    extraction = extract_program(response)
    assert extraction.language == "javascript" and extraction.program == CHAINS["javascript"]


@pytest.mark.needs_bwrap
@pytest.mark.parametrize("language", ["javascript", "ruby"])
def test_a_response_in_another_language_is_judged_in_it(language: str) -> None:
    tag = {"javascript": "js", "ruby": "ruby"}[language]
    report = verify_response(f"Sure!\n\n```{tag}\n{CHAINS[language]}```\n", generations=4, sandbox="bwrap")
    assert report.verdict.value == "pass", report.failure
    assert report.language == language and report.backend is not None
    assert report.backend.interpreter and report.backend.work_counter != "not measured"


@pytest.mark.needs_bwrap
def test_forcing_a_language_runs_the_program_as_that_language() -> None:
    report = verify(CHAINS["ruby"], generations=2, sandbox="bwrap", language="python")
    assert report.verdict.value == "fail" and report.failure is not None and report.failure.check == "runs"
    assert report.language == "python"


@pytest.mark.needs_bwrap
def test_c_and_bash_say_their_work_is_not_measured() -> None:
    for name in ("c", "bash"):
        path = next(p for p in sorted((FIXTURES / "good").glob(f"*{LANGUAGES[name].extensions[0]}")))
        report = verify(path, generations=3, sandbox="bwrap")
        assert report.verdict.value == "pass", (path, report.failure)
        linear = next(c for c in report.checks if c.name == "linear-time")
        assert "not measured" in linear.reason, linear.reason
        assert report.backend is not None and report.backend.work_counter == "not measured"


@pytest.mark.needs_bwrap
def test_grade_judges_every_row_in_its_own_language(tmp_path: Path) -> None:
    rows = [
        {"id": "py", "response": f"```python\n{CHAINS['python']}```"},
        {"id": "js", "response": f"```js\n{CHAINS['javascript']}```"},
        {"id": "rb", "response": f"```ruby\n{CHAINS['ruby']}```"},
        {"id": "rb-raw", "response": CHAINS["ruby"], "language": "ruby"},
        {"id": "hs", "response": "```haskell\nmain :: IO ()\nmain = print 0\n```"},
    ]
    for name in ("c", "bash"):
        path = next(p for p in sorted((FIXTURES / "good").glob(f"*{LANGUAGES[name].extensions[0]}")))
        rows.append({"id": name, "response": f"```{name}\n{path.read_text()}```"})
    cheat = next(p for p in sorted((FIXTURES / "cheats").glob("*.js")))
    rows.append({"id": "js-cheat", "response": f"```js\n{cheat.read_text()}```"})
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "graded.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "quinebox", "grade", str(samples), "-o", str(out), "-n", "4", "--sandbox", "bwrap"]
        + ["-q"],
        capture_output=True,
        timeout=600,
    )
    assert done.returncode in (0, 1), done.stderr.decode(errors="replace")
    graded = {row["id"]: row["quinebox"] for row in map(json.loads, out.read_text().splitlines())}
    for name in ("py", "js", "rb", "rb-raw", "c", "bash"):
        assert graded[name]["verdict"] == "pass", (name, graded[name])
    assert graded["hs"]["verdict"] == "not_judged" and graded["hs"]["score"] is None
    assert graded["js-cheat"]["verdict"] == "fail" and graded["js-cheat"]["failed_check"] == "integrity"
    assert {graded[name]["language"] for name in ("py", "js", "rb", "c", "bash")} == set(JUDGED)


@pytest.mark.needs_bwrap
@pytest.mark.parametrize("cheat", ["js_function_tostring.js", "sh_declare_f.sh"])
def test_reflection_fails_integrity_unless_the_code_golf_view_allows_it(cheat: str) -> None:
    path = FIXTURES / "cheats" / cheat
    strict = verify(path, generations=4, sandbox="bwrap")
    assert strict.failure is not None and strict.failure.check == "integrity", strict.failure
    assert "reads its own code from memory" in strict.failure.reason
    golf = verify(path, generations=4, sandbox="bwrap", allow_reflection=True)
    assert golf.verdict.value == "pass", golf.failure
    assert golf.config["allow_reflection"] is True
    opens_file = verify(
        FIXTURES / "cheats" / "js_read_own_file.js", generations=2, sandbox="bwrap", allow_reflection=True
    )
    assert opens_file.failure is not None and opens_file.failure.check in ("integrity", "runs")
