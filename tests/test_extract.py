from __future__ import annotations

import dataclasses
import re
import time

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from quinebox.extract import Extraction, extract_program

PROGRAM = (
    "import sys\n"
    "\n"
    "a, b = 0, 1\n"
    's = \'import sys\\n\\na, b = %d, %d\\ns = %r\\nif "--next" in sys.argv:\\n'
    '    print(s %% (b, a + b, s), end="")\\nelse:\\n    print(a)\\n\'\n'
    'if "--next" in sys.argv:\n'
    '    print(s % (b, a + b, s), end="")\n'
    "else:\n"
    "    print(a)\n"
)


def test_prose_and_one_python_block() -> None:
    response = (
        "Here is a program that prints the first Fibonacci number and, with `--next`, the next program.\n"
        "\n"
        f"```python\n{PROGRAM}```\n"
        "\n"
        "Each generation keeps the same shape; only the two numbers change.\n"
    )
    result = extract_program(response)
    assert result.program == PROGRAM
    assert result.rule == "only-block"
    assert result.candidates == 1
    assert "line 3" in result.reason


def test_usage_and_output_blocks_lose_to_the_python_block() -> None:
    response = (
        "Save this as `fib.py`:\n\n"
        f"```python\n{PROGRAM}```\n\n"
        "Run it:\n\n"
        "```bash\npython3 fib.py\npython3 fib.py --next > fib1.py\n```\n\n"
        "Output:\n\n"
        "```output\n0\n```\n\n"
        "And the next one:\n\n"
        "```console\n$ python3 fib1.py --next\n```\n"
    )
    result = extract_program(response)
    assert result.program == PROGRAM
    assert result.rule == "answer-block"
    assert result.candidates == 4


def test_bash_next_command_is_never_the_program() -> None:
    response = f"```python\n{PROGRAM}```\n\nThen:\n\n```bash\npython3 prog.py --next\n```\n"
    assert extract_program(response).program == PROGRAM
    alone = extract_program("Run it like this:\n\n```bash\npython3 prog.py --next\n```\n")
    assert alone.program is None
    assert alone.rule == "none"
    assert alone.reason.startswith("no program in this response")
    assert alone.candidates == 1


def test_last_complete_python_block_wins() -> None:
    draft = "print(0)\n"
    response = (
        f"A first attempt:\n\n```python\n{draft}```\n\n"
        "That does not handle `--next`. The final version:\n\n"
        f"```python\n{PROGRAM}```\n\n"
        "The important line is:\n\n"
        '```python\n    print(s % (b, a + b, s), end="")\n```\n'
    )
    # The last block mentions print but does not parse on its own (unexpected indent): it ranks below.
    result = extract_program(response)
    assert result.program == PROGRAM
    assert result.rule == "answer-block"
    assert result.candidates == 3


def test_python_tag_beats_untagged_block() -> None:
    response = f"```python\n{PROGRAM}```\n\nA variant:\n\n```\nprint(1)\n```\n"
    assert extract_program(response).program == PROGRAM


_PYTHON_INFOS = ["python", "py", "python3", "Python", "PYTHON", "{.python}", "{.python .x}", "py title=x"]


@pytest.mark.parametrize("info", _PYTHON_INFOS)
def test_python_info_strings(info: str) -> None:
    response = f"```{info}\n{PROGRAM}```\n\nOutput:\n```\nprint(2)\n```\n"
    result = extract_program(response)
    assert result.program == PROGRAM
    assert result.rule == "answer-block"


def test_four_backtick_fence_keeps_nested_triple_backticks() -> None:
    program = 'doc = """\n```\nexample\n```\n"""\nprint(0)\n'
    response = f"It holds a fence, so the answer uses four backticks:\n\n````python\n{program}````\n\nDone.\n"
    result = extract_program(response)
    assert result.program == program
    assert result.rule == "only-block"


def test_tilde_fence_is_not_closed_by_backticks() -> None:
    program = "s = '''\n```\n'''\nprint(0)\n"
    response = f"~~~python\n{program}~~~\n"
    result = extract_program(response)
    assert result.program == program
    assert result.candidates == 1


def test_closing_fence_must_be_as_long_and_bare() -> None:
    program = "x = 1\n```python\n```\n~~~~\nprint(x)\n"
    response = f"Text\n`````\n{program}`````  \nafter\n"
    assert extract_program(response).program == program


def test_untagged_blocks_prefer_the_one_that_parses_as_a_program() -> None:
    program = "print(0)\n"
    response = f"Program:\n\n```\n{program}```\n\nIt prints:\n\n```\n0\n```\n"
    result = extract_program(response)
    assert result.program == program
    assert result.rule == "best-block"
    assert result.candidates == 2


def test_windows_line_endings_are_kept() -> None:
    program = "import sys\r\nprint(0)\r\n"
    response = f"Here you go:\r\n\r\n```python\r\n{program}```\r\n\r\nEnjoy.\r\n"
    result = extract_program(response)
    assert result.program == program


def test_unclosed_fence_runs_to_the_end() -> None:
    truncated = 'import sys\n\na, b = 0, 1\nif "--next" in sys.argv:\n    print(a + b'
    response = f"Here is the program:\n\n```python\n{truncated}"
    result = extract_program(response)
    assert result.program == truncated
    assert result.rule == "only-block"
    assert "unclosed" in result.reason


def test_unclosed_fence_keeps_its_final_newline() -> None:
    assert extract_program("```\nprint(0)\n").program == "print(0)\n"
    assert extract_program("```python").program == ""


def test_indented_fence_removes_up_to_its_indent() -> None:
    response = "1. Save this:\n\n   ```python\n   x = 1\n     y = 2\n  z = 3\nw = 4\n   ```\n2. Run it.\n"
    assert extract_program(response).program == "x = 1\n  y = 2\nz = 3\nw = 4\n"


def test_four_spaces_is_not_a_fence() -> None:
    response = "    ```python\n    print(1)\n    ```\n"
    result = extract_program(response)
    assert result.candidates == 1  # an indented block holding a fence, which does not parse: no program
    assert result.program is None


def test_inline_triple_backticks_are_not_a_fence() -> None:
    response = "Wrap code in ```print(1)``` like that.\n```python\nprint(2)\n```\n"
    result = extract_program(response)
    assert result.program == "print(2)\n"
    assert result.candidates == 1


def test_spaces_and_trailing_whitespace_are_kept() -> None:
    program = "  \nprint(0)   \n\t\n\n"
    assert extract_program(f"```py\n{program}```").program == program


def test_no_program_at_all() -> None:
    response = "I'm sorry, but I can't write a program that reads its own source.\n"
    assert extract_program(response) == Extraction(None, "none", "no program in this response", 0)


@pytest.mark.parametrize("prose", ["Hello", "Note: fast", "0\n1\n1\n2\n", "   \n\t\n"])
def test_prose_that_parses_is_not_a_program(prose: str) -> None:
    assert extract_program(prose).program is None


def test_unfenced_pure_code() -> None:
    program = "import sys\n\nprint(0)\n"
    result = extract_program(f"\n  \n{program}\n\n   \n")
    assert result.program == program
    assert result.rule == "unfenced"
    assert result.candidates == 0


def test_unfenced_keeps_missing_final_newline() -> None:
    assert extract_program("print(0)").program == "print(0)"


def test_empty_string() -> None:
    result = extract_program("")
    assert result.program is None
    assert result.rule == "none"
    assert result.reason == "no program in this response"
    assert result.candidates == 0


def test_other_language_block_that_is_python_is_a_last_resort() -> None:
    response = "```text\n$ python3 fib.py\n```\n\n```sh\nprint(0)\n```\n"
    result = extract_program(response)
    assert result.program == "print(0)\n"
    assert result.rule == "best-block" and result.language == "python"


def test_invalid_escape_still_parses_under_warnings_as_errors() -> None:
    # pytest runs with filterwarnings=error; the parser's DeprecationWarning must not mean "does not parse".
    program = 'import re\nprint(re.sub("\\d", "", "a1"))\n'
    response = f"```\n{program}```\n\n```\nprint\n```\n"
    assert extract_program(response).program == program


def test_extraction_is_frozen() -> None:
    result = extract_program("")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.program = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "response",
    [
        "`" * 1_000_000,
        "```\n" * 250_000,
        "```a`\n" * 200_000,
        "~" * 1_000_000 + "\n" + "`" * 1_000_000,
        "   " + "`" * 999_997,
        ("x" * 1000 + "\n") * 1000,
        "-" * 1_000_000 + "1",
        "(" * 1_000_000,
    ],
    ids=[
        "backticks",
        "fence-lines",
        "inline-code-lines",
        "tildes-then-backticks",
        "indented",
        "long-lines",
        "unary",
        "parens",
    ],
)
def test_megabyte_responses_are_fast(response: str) -> None:
    start = time.perf_counter()
    result = extract_program(response)
    assert time.perf_counter() - start < 5
    assert isinstance(result, Extraction)


_FENCE_LINE = re.compile(r" {0,3}`{3,}[ \t]*")
_LINE = st.text(st.characters(blacklist_characters="\r\n"), max_size=40)
_EOLS = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def programs(draw: st.DrawFn) -> str:
    lines = draw(st.lists(st.tuples(_LINE, _EOLS), max_size=8))
    return "".join(line + eol for line, eol in lines)


@given(programs())
def test_wrapped_program_comes_back_exactly(program: str) -> None:
    assume(not any(_FENCE_LINE.fullmatch(line) for line in re.split(r"\r\n|\r|\n", program)))
    result = extract_program(f"Intro\n```python\n{program}```\nOutro")
    assert result.program == program
    assert result.rule == "only-block"
    assert result.candidates == 1


_MARKDOWNISH = st.lists(
    st.sampled_from(
        [
            "```",
            "````",
            "~~~",
            "`",
            "~",
            " ",
            "   ",
            "\t",
            "\n",
            "\r",
            "\r\n",
            "python",
            "bash",
            "{.py}",
            "print(0)",
            "x = 1",
            "0",
            "(",
            '"""',
            "\x00",
            "\\d",
        ]
    ),
    max_size=40,
).map("".join)


@given(st.one_of(st.text(), _MARKDOWNISH))
def test_never_raises(response: str) -> None:
    result = extract_program(response)
    assert (result.program is None) == (result.rule == "none")
    assert result.candidates >= 0
    assert "\n" not in result.reason
