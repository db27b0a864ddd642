from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quinebox.checks._result import CheckOptions, CheckResult
from quinebox.checks.self_similarity import _code_in, _first_difference, _lex, check_self_similarity
from quinebox.record import Chain, Generation, RunKind
from tests.checks.chains import chain_of, run

# Real quine-chain templates: program (a, b) prints a, and with --next prints program (b, a+b).

PERCENT = 'a,b=%d,%d\ns=%r\nimport sys\nprint(s%%(b,a+b,s) if sys.argv[1:]==["--next"] else a)'
FORMAT = 'a,b={},{}\ns={!r}\nimport sys\nprint(s.format(b,a+b,s) if sys.argv[1:]==["--next"] else a)'
EXEC = 'import sys\nprint(f"a,b={b},{a+b};exec(c:={c!r})" if sys.argv[1:]==["--next"] else a)'
# An index and the numbers in hex; and both numbers in one base64 string.
HEX = 'i,a,b=%d,%#x,%#x\ns=%r\nimport sys\nprint(s%%(i+1,b,a+b,s) if sys.argv[1:]==["--next"] else a)'
B64 = (
    "import base64 as B,sys\nd=%r\ns=%r\n"
    'E=lambda n:B.b64encode(n.to_bytes(n.bit_length()//8+1,"big")).decode()\n'
    'a,b=(int.from_bytes(B.b64decode(x),"big") for x in d.split())\n'
    'print(s%%(E(b)+" "+E(a+b),s) if sys.argv[1:]==["--next"] else a)'
)


def _b64(n: int) -> str:
    return base64.b64encode(n.to_bytes(n.bit_length() // 8 + 1, "big")).decode()


STYLES: dict[str, Callable[[int, int, int], str]] = {
    "percent": lambda k, a, b: PERCENT % (a, b, PERCENT) + "\n",
    "format": lambda k, a, b: FORMAT.format(a, b, FORMAT) + "\n",
    "exec": lambda k, a, b: f"a,b={a},{b};exec(c:={EXEC!r})\n",
    "hex": lambda k, a, b: HEX % (k, a, b, HEX) + "\n",
    "base64": lambda k, a, b: B64 % (_b64(a) + " " + _b64(b), B64) + "\n",
}


def fib_chain(style: Callable[[int, int, int], str], a: int, b: int, count: int) -> Chain:
    """Programs 0..count-1 of a correct chain starting at (a, b), with what each prints."""
    sources, numbers = [], []
    for k in range(count):
        sources.append(style(k, a, b).encode())
        numbers.append(a)
        a, b = b, a + b
    return chain_of(numbers, sources=sources)


def percent_sources(count: int) -> list[str | bytes]:
    return [g.source for g in fib_chain(STYLES["percent"], 0, 1, count).generations]


def chain_from(sources: list[str | bytes], numbers: list[int]) -> Chain:
    return chain_of(numbers, sources=[s if isinstance(s, bytes) else s.encode() for s in sources])


def fibs(count: int, a: int = 0, b: int = 1) -> list[int]:
    out = []
    for _ in range(count):
        out.append(a)
        a, b = b, a + b
    return out


def check(chain: Chain, **options: bool) -> CheckResult:
    result = check_self_similarity(chain, CheckOptions(**options))
    json.dumps(result.evidence)  # always JSON-ready
    return result


# The templates are real quines: running program k with --next prints program k+1.


@pytest.mark.parametrize("style", sorted(STYLES))
def test_templates_are_real_quine_chains(style: str, tmp_path: Path) -> None:
    make = STYLES[style]
    source = make(0, 0, 1)
    for k, (a, b) in enumerate(zip(fibs(8), fibs(8, 1, 1), strict=True)):
        assert source == make(k, a, b)
        path = tmp_path / f"p{k}.py"
        path.write_text(source)
        printed = subprocess.run([sys.executable, path], capture_output=True, text=True, check=True).stdout
        assert printed == f"{a}\n"
        source = subprocess.run([sys.executable, path, "--next"], capture_output=True, text=True, check=True).stdout


# Correct chains pass.


@pytest.mark.parametrize("style", sorted(STYLES))
def test_correct_chain_passes_from_one_digit_to_sixty(style: str) -> None:
    chain = fib_chain(STYLES[style], 0, 1, 300)
    last = len(str(fibs(300)[-1]))
    assert last >= 60
    result = check(chain)
    assert result.passed, result.reason
    assert result.evidence["pairs"] == 299
    assert len(result.evidence["similarity"]) == 200
    assert len(result.evidence["growth"]) == 200 and result.evidence["growth_from"] == 100
    assert result.evidence["state_digits"][-1] == 2 * last
    assert result.evidence["state_digits_from"] == "output"
    assert all(0.5 < s["ratio"] <= 1 for s in result.evidence["similarity"])


def test_correct_chain_passes_at_a_large_start() -> None:
    # A user-defined sequence, 60 digits from the start.
    assert check(fib_chain(STYLES["percent"], 10**59, 10**59 + 1, 120)).passed


def test_decreasing_seeds_pass() -> None:
    # Seeds (10**40, 0): program 1 is small, program 2 carries two 41-digit numbers again.
    assert check(fib_chain(STYLES["percent"], 10**40, 0, 30)).passed


def _reflowed(k: int, a: int, b: int) -> str:
    """The percent program laid out three ways, with a comment that changes every generation."""
    s = repr(PERCENT)
    if k % 3 == 0:
        return f"# term {a}\na,b={a},{b}\ns={s}\nimport sys\nprint(s%(b,a+b,s) if sys.argv[1:]==['--next'] else a)\n"
    if k % 3 == 1:
        return (
            f"a, b = {a}, {b}  # prints {a}\n\ns = {s}\nimport sys\n\n"
            f"print(\n    s % (b, a + b, s)\n    if sys.argv[1:] == ['--next']\n    else a\n)\n"
        )
    return f"a,b={a},{b};s={s};import sys;print(s%(b,a+b,s) if sys.argv[1:]==['--next'] else a)  # {k}: {a}\n"


def test_reflowed_layout_and_changing_comments_pass() -> None:
    numbers = fibs(90)
    sources = [_reflowed(k, a, b) for k, (a, b) in enumerate(zip(numbers, fibs(90, 1, 1), strict=True))]
    for source in sources[:3]:
        compile(source, "<reflowed>", "exec")
    result = check(chain_from(sources, numbers))
    assert result.passed, result.reason


def test_splitting_a_string_literal_is_layout() -> None:
    sources = ["x = ('abcdef')\nprint(1)\n", "x = ('abc'\n     # split\n     'def')\nprint(1)\n"]
    assert check(chain_from(sources, [1, 1])).passed
    # ...but not across statements, and not when the prefix changes.
    assert not check(chain_from(["x = 'abc'\n'def'\n", "x = 'abc' 'def'\n"], [1, 1])).passed
    assert not check(chain_from(["x = 'abc' 'def'\n", "x = 'abc' b'def'\n"], [1, 1])).passed


# Shape changes fail where they happen, with a diff.


def test_extra_statement_fails_at_the_generation_that_adds_it() -> None:
    sources = percent_sources(20)
    sources[7:] = [b"import os\n" + s for s in sources[7:]]
    result = check(chain_from(sources, fibs(20)))
    assert not result.passed
    assert result.generation == 7
    assert result.evidence["rule"] == "tokens"
    assert "program 7 differs from program 6" in result.reason and "line 1, column 1" in result.reason
    assert "+import os" in result.evidence["diff"]
    assert result.evidence["diff"].startswith("--- program 6\n+++ program 7")
    first = result.evidence["first_difference"]
    assert first["after"] == {"line": 1, "column": 1, "token": "NAME import", "masked": "NAME import"}
    assert first["before"]["token"] == "NAME a" and first["token_index"] == 0
    assert len(result.evidence["similarity"]) == 7


def test_history_list_fails_on_tokens() -> None:
    numbers = fibs(10)
    sources = [f"h={numbers[: k + 1]!r}\nprint(h[-1])\n" for k in range(10)]
    result = check(chain_from(sources, numbers))
    assert not result.passed and result.generation == 1 and result.evidence["rule"] == "tokens"


def test_literal_kind_is_kept() -> None:
    assert not check(chain_from(["x = 1\n", "x = '1'\n"], [1, 1])).passed
    assert not check(chain_from(["x = 'a'\n", "x = b'a'\n"], [1, 1])).passed
    assert not check(chain_from(["x = 'a'\n", "x = f'a'\n"], [1, 1])).passed
    assert check(chain_from(["x = 'a'\n", 'x = """b\nc"""\n'], [1, 1])).passed
    assert check(chain_from(["x = rb'a'\n", "x = BR'a'\n"], [1, 1])).passed


def test_fstring_text_is_masked_and_its_expressions_compared_where_tokenized() -> None:
    assert check(chain_from(["print(f'a{x}b')\n", "print(f'zzz{x}')\n"], [1, 1])).passed
    assert not check(chain_from(["print(f'{x}')\n", "print(rf'{x}')\n"], [1, 1])).passed
    changed = check(chain_from(["print(f'{x}')\n", "print(f'{y}')\n"], [1, 1]))
    # 3.12 tokenizes the expressions inside an f-string; before that the whole f-string is one literal.
    assert changed.passed is (sys.version_info < (3, 12))


def test_diff_is_capped() -> None:
    big = "".join(f"x{i} = {i}\n" for i in range(500))
    result = check(chain_from([big, big.replace("x", "y")], [1, 1]))
    assert not result.passed
    diff = result.evidence["diff"]
    assert len(diff) <= 4100 and diff.count("\n") <= 61 and diff.endswith("... (diff truncated)")


# Growth that tokens cannot see fails on size.


def test_comment_appended_each_generation_fails_on_growth() -> None:
    sources = [s + "".join(f"# visited {j}\n" for j in range(k)).encode() for k, s in enumerate(percent_sources(30))]
    result = check(chain_from(sources, fibs(30)))
    assert not result.passed
    assert result.evidence["rule"] == "growth"
    assert result.generation is not None and result.generation <= 3
    assert "grows faster than its state" in result.reason
    assert "+# visited" in result.evidence["diff"]


UNARY = 'u=%r\ns=%r\nimport sys\na,b=0,1\nfor _ in u:a,b=b,a+b\nprint(s%%(u+"|",s) if sys.argv[1:]==["--next"] else a)'


def test_unary_template_is_a_real_chain(tmp_path: Path) -> None:
    path = tmp_path / "u.py"
    path.write_text(UNARY % ("|" * 7, UNARY) + "\n")
    assert subprocess.run([sys.executable, path], capture_output=True, text=True).stdout == "13\n"
    out = subprocess.run([sys.executable, path, "--next"], capture_output=True, text=True).stdout
    assert out == UNARY % ("|" * 8, UNARY) + "\n"


@pytest.mark.parametrize("start", [0, 1, 5, 40])
def test_unary_state_fails_within_fifty_generations(start: int) -> None:
    count = 120
    sources = [UNARY % ("|" * (start + k), UNARY) + "\n" for k in range(count)]
    numbers = fibs(start + count)[start:]
    result = check(chain_from(sources, numbers))
    assert not result.passed
    assert result.evidence["rule"] == "growth"
    assert result.generation is not None and result.generation <= 50


def test_unary_counter_beside_real_numbers_fails_sooner() -> None:
    sources = [s.replace(b"s=", f"u={'|' * k!r}\ns=".encode(), 1) for k, s in enumerate(percent_sources(100))]
    result = check(chain_from(sources, fibs(100)))
    assert not result.passed and result.evidence["rule"] == "growth"
    assert result.generation is not None and result.generation <= 25


def test_hand_spelled_program_zero_passes(tmp_path: Path) -> None:
    # Program 0 spells the template triple-quoted with real newlines; its offspring get repr()'s escapes.
    hand = f"# Fibonacci, by hand\na,b=0,1\ns='''{PERCENT}'''\nimport sys\n"
    hand += "print(s%(b,a+b,s) if sys.argv[1:]==['--next'] else a)\n"
    path = tmp_path / "p0.py"
    path.write_text(hand)
    out = subprocess.run([sys.executable, path, "--next"], capture_output=True, text=True, check=True).stdout
    assert out == STYLES["percent"](1, 1, 1)
    result = check(chain_from([hand] + percent_sources(40)[1:], fibs(40)))
    assert result.passed, result.reason


def test_comment_added_once_fails_where_added() -> None:
    sources = percent_sources(20)
    sources[5:] = [b"# " + b"x" * 20 + b"\n" + s for s in sources[5:]]
    result = check(chain_from(sources, fibs(20)))
    assert not result.passed and result.generation == 5 and result.evidence["rule"] == "growth"
    assert result.evidence["grew_chars"] > result.evidence["allowed_chars"]


def test_partial_chain_does_not_judge_the_last_growth() -> None:
    sources = percent_sources(6)
    sources[-1] += b"#" * 40 + b"\n"
    assert not check(chain_from(sources, fibs(6))).passed
    assert check(chain_from(sources, fibs(6)), partial=True).passed


def test_literal_digits_stand_in_when_nothing_was_printed() -> None:
    chain = fib_chain(STYLES["percent"], 0, 1, 150)
    bare = Chain(tuple(Generation(g.index, g.source, {}) for g in chain.generations), chain.requested)
    result = check(bare)
    assert result.passed, result.reason
    assert result.evidence["state_digits_from"] == "literals"


# Sources that are not Python, not text or missing never raise and never fail here.

BROKEN: list[bytes] = [
    b"\xff\xfe\x00garbage\x80",
    b"print(1\n",
    b"x = '''unterminated\n",
    b"x = 'abc\n",
    b"a = 1\x00\n",
    b"# -*- coding: nosuchcodec -*-\nx = 1\n",
    b"x = $\n",
    b"\tif x:\n  \ty\n",
    b"\xef\xbb\xbf# coding: latin-1\nx=1\n",
]


@pytest.mark.parametrize("bad", BROKEN)
def test_untokenizable_or_non_utf8_sources_are_skipped(bad: bytes) -> None:
    sources = percent_sources(6)
    sources[3] = bad
    result = check(chain_from(sources, fibs(6)))
    if _lex(bad) is None:
        assert result.passed, result.reason
        assert result.evidence["skipped"] == 2
    else:  # tokenizes on this Python (3.12+ lexes `$` as an operator): a shape failure, not an exception
        assert result.generation == 3


def test_latin1_source_with_a_coding_line_tokenizes() -> None:
    source = "# coding: latin-1\nx = 'caf\xe9'\n".encode("latin-1")
    assert _lex(source) is not None
    assert check(chain_from([source, source.replace(b"\xe9", b"\xe8")], [1, 1])).passed


def test_missing_sources_and_runs_are_skipped() -> None:
    sources = percent_sources(5)
    sources[2] = b""
    result = check(chain_from(sources, fibs(5)))
    assert result.passed and result.evidence["skipped"] == 2
    empty = Chain((), 0)
    assert check(empty).passed
    lone = Chain((Generation(0, b"print(1)\n", {RunKind.DEFAULT: run(b"oops")}),), 0)
    assert check(lone).passed


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(first: bytes, second: bytes) -> None:
    result = check(chain_from([first, second, first], [1, 1, 2]))
    assert result.name == "self-similarity"


_PYTHONISH = st.text(alphabet=list("abf rR()[]{}:;=+-*%!\\'\"#\n\t 0123456789_.xX\x00é"), max_size=60)


@settings(max_examples=300, deadline=None)
@given(_PYTHONISH, _PYTHONISH)
def test_arbitrary_python_like_text_never_raises(first: str, second: str) -> None:
    result = check(chain_from([first, second, first + second], [1, 1, 2]))
    assert result.name == "self-similarity"


# Properties.


@settings(max_examples=60, deadline=None)
@given(
    style=st.sampled_from(sorted(STYLES)),
    a=st.integers(min_value=0, max_value=10**50),
    b=st.integers(min_value=1, max_value=10**50),
    count=st.integers(min_value=2, max_value=80),
)
def test_correct_chains_pass(style: str, a: int, b: int, count: int) -> None:
    result = check(fib_chain(STYLES[style], a, b, count))
    assert result.passed, result.reason


# Strings that hold no code (those are compared as code: see the tests below).
_STRING = st.text(max_size=30).map(repr).filter(lambda s: _code_in(s) is None)
_BYTES = st.binary(max_size=30).map(repr)
_NUMBER = st.one_of(
    st.integers(min_value=0).map(str),
    st.integers(min_value=0).map(hex),
    st.floats(min_value=0, allow_infinity=False, allow_nan=False).map(repr),
)
MASK_TEMPLATE = "x = {s}\ny = ({n}, {b})\nif y[0] > {n}:\n    print(f'{{x}}', {s} + x)\n"


@given(s1=_STRING, s2=_STRING, n1=_NUMBER, n2=_NUMBER, b1=_BYTES, b2=_BYTES)
def test_literal_contents_are_masked(s1: str, s2: str, n1: str, n2: str, b1: str, b2: str) -> None:
    one = _lex(MASK_TEMPLATE.format(s=s1, n=n1, b=b1).encode())
    two = _lex(MASK_TEMPLATE.format(s=s2, n=n2, b=b2).encode())
    assert one is not None and two is not None
    assert _first_difference(one.tokens, two.tokens) is None


@settings(max_examples=60, deadline=None)
@given(
    style=st.sampled_from(sorted(STYLES)),
    at=st.integers(min_value=1, max_value=29),
    statement=st.sampled_from(["pass", "import os", "x=1", "del sys", "print()"]),
    where=st.sampled_from(["start", "end"]),
)
def test_an_inserted_statement_fails_where_inserted(style: str, at: int, statement: str, where: str) -> None:
    chain = fib_chain(STYLES[style], 0, 1, 30)
    sources = [g.source.decode() for g in chain.generations]
    sources[at:] = [statement + "\n" + s if where == "start" else s + statement + "\n" for s in sources[at:]]
    result = check(chain_from(sources, fibs(30)))
    assert not result.passed and result.generation == at and result.evidence["rule"] == "tokens"


# Code hidden in strings is compared as code.

IMPL_A = "import sys\nprint(a if sys.argv[1:] != ['--next'] else NEXT % (b, a + b))\n"
IMPL_B = "import sys\nif sys.argv[1:] == ['--next']: print(NEXT % (b, a + b))\nelse: print(a)\n"


def _switcher(k: int, a: int, b: int) -> str:
    """The exec switcher: the same outer shape every time, the executed string alternating, padded alike."""
    impl = IMPL_A if k % 2 == 0 else IMPL_B
    width = max(len(IMPL_A), len(IMPL_B))
    return f"a, b = {a}, {b}\nc = {impl.ljust(width)!r}\nexec(c)\n"


def test_an_exec_switcher_fails_on_the_code_in_its_string() -> None:
    numbers = fibs(10)
    sources = [_switcher(k, a, b) for k, (a, b) in enumerate(zip(numbers, fibs(10, 1, 1), strict=True))]
    result = check(chain_from(sources, numbers))
    assert not result.passed and result.generation == 1 and result.evidence["rule"] == "tokens"
    assert "of the code in the string that starts at line 2" in result.reason
    assert result.evidence["first_difference"]["after"]["in_string_at_line"] == 2
    assert result.evidence["lines"]["after"].startswith("if sys.argv")


@pytest.mark.parametrize(
    "encode", [lambda s: s, lambda s: base64.b64encode(s.encode()).decode(), lambda s: s.encode().hex()]
)
def test_encoded_code_is_read_as_code(encode: Callable[[str], str]) -> None:
    sources = [f"a = 1\nc = {encode(impl)!r}\nrun(c)\n" for impl in (IMPL_A, IMPL_B)]
    assert not check(chain_from(sources, [1, 1])).passed


def test_a_string_that_becomes_code_is_a_difference() -> None:
    result = check(chain_from(["c = 'abc'\n", f"c = {IMPL_A!r}\n"], [1, 1]))
    assert not result.passed and "holding code" in result.reason


def test_state_strings_are_never_code() -> None:
    for state in ["12345", "-5", "--next", "AAEC/+xy==", "0x1f3a", "1f 3a", "Xy= Zw", "b\nc"]:
        assert check(chain_from([f"s = {'0'!r}\n", f"s = {state!r}\n"], [1, 1])).passed, state


def test_code_with_only_literals_changed_passes() -> None:
    one = f"c = {IMPL_A.replace('--next', 'x')!r}\n"
    two = f"c = {IMPL_A.replace('--next', 'yy')!r}\n"
    assert check(chain_from([one, two], [1, 1])).passed


# Layout growth is bounded too.


def test_two_blank_lines_a_generation_fail_on_layout() -> None:
    sources = [s + b"\n" * (2 * k) for k, s in enumerate(percent_sources(51))]
    result = check(chain_from(sources, fibs(51)))
    assert not result.passed and result.evidence["rule"] == "layout"
    assert result.generation is not None and result.generation <= 50
    assert "layout" in result.reason and "bytes longer" in result.reason


def test_a_one_time_reflow_passes_on_layout() -> None:
    # From program 20 on the state line is spread over two lines with 30 more bytes of layout, once.
    sources = [
        s if k < 20 else s.replace(b"a,b=", b"a, \\\n" + b" " * 24 + b"b =", 1)
        for k, s in enumerate(percent_sources(60))
    ]
    compile(sources[30], "<reflowed>", "exec")
    result = check(chain_from(sources, fibs(60)))
    assert result.passed, result.reason
    assert result.evidence["raw_bytes"][20] - result.evidence["raw_bytes"][19] >= 28


# Reasons in words.


def test_a_shape_failure_names_what_changed_and_shows_both_lines() -> None:
    sources = percent_sources(3)
    sources[2] = sources[2].replace(b"print(", b"exit(", 1)
    result = check(chain_from(sources, fibs(3)))
    assert not result.passed
    assert "it has the name 'exit' where program 1 had the name 'print'" in result.reason
    assert "program 1 line 4: 'print(" in result.reason and "program 2 line 4: 'exit(" in result.reason
    assert "NAME" not in result.reason


def test_the_host_cost_is_linear_for_a_big_pair() -> None:
    # No timing here (see bench/): a 20,000-token pair that differs at its very end is still judged exactly.
    body = "".join(f"x{i} = y{i} + {i}\n" for i in range(4000))
    result = check(chain_from([body, body[:-2] + "7\n"], [1, 1]))
    assert result.passed and result.evidence["similarity"][0]["ratio"] > 0.99
