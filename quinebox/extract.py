r"""Pick the program out of a language model's response.

Fenced code blocks are found the CommonMark way, one line at a time:

- A line ends at ``\r\n``, ``\n`` or a lone ``\r``. The line ending belongs to
  the line, so a block's text is the exact slice of the response: ``\r`` stays,
  and so do the final newline and every space.
- An opening fence is up to 3 spaces, then 3 or more backticks or tildes, then
  an optional info string (a backtick fence's info string may not contain a
  backtick: such a line is inline code, not a fence).
- A closing fence is up to 3 spaces, then at least as many of the same
  character, then only spaces or tabs. A fence that never closes runs to the end
  of the response, which is how a truncated response looks.
- The content is the lines strictly between the fences. When the opening fence
  is indented N spaces, up to N leading spaces are removed from each content line.

A block's language is the first word of its info string, lowercased, so
``python``, ``Python``, ``python3 title="fib.py"`` and ``{.python}`` all give a
word; ``python``, ``python3``, ``py`` and ``py3`` mean Python.

The selection rule, applied in this order:

1. Sort the blocks into three groups: tagged as Python; untagged; tagged with
   anything else (``bash``, ``console``, ``text``, ``output``, ``json``, ``pycon``...).
2. Take the first non-empty group of Python-tagged, then untagged blocks. Only
   when neither exists are the other-language blocks considered, and then only
   those that look like Python (score 1 or 2 below), so a ``bash`` block holding
   ``python3 prog.py --next`` is never chosen as the program.
3. Score each block in that group: 2 if it parses with ``ast.parse`` and
   calls or imports something (a program that prints must call something;
   printed output such as ``0\n1\n1\n`` parses but calls nothing), 1 if it at
   least contains ``print`` (a truncated program), otherwise 0.
4. Take the highest score, and among equal scores the last block: models end
   with their final version. A Python-tagged or untagged group always yields a
   block, even one scoring 0 (an empty block gives the empty program).

With exactly one block in the response and that block chosen, the rule is
``only-fence``; otherwise it names the group: ``python-fence``,
``untagged-fence`` or ``other-fence``.

With no fence at all, the response without its leading and trailing blank lines
is the program (rule ``unfenced``) when it parses and calls or imports
something, which tells code from prose that happens to parse ("Hello", "Note:
fast"). Otherwise there is no program: ``program`` is None and the rule is ``none``.

Everything here is linear in the size of the response, apart from ``ast.parse``
itself, and nothing raises: a parser that gives up (``SyntaxError``,
``MemoryError`` on absurd nesting, ``ValueError`` on NUL bytes) only means
"does not parse". Parser warnings are silenced while parsing so that a program
with an invalid escape sequence parses the same with ``-W error`` as without.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass

__all__ = ["Extraction", "extract_program"]

PYTHON_TAGS = frozenset({"python", "python3", "py", "py3"})
"""Info-string words that mark a block as Python."""

_EOL = re.compile(r"\r\n|\r|\n")
_WORD = re.compile(r"[A-Za-z0-9_+#-]+")
_NO_PROGRAM = "no program in this response"
_UNFENCED = "no code fences; the whole response parses as a Python program"
_ACTIONS = (ast.Call, ast.Import, ast.ImportFrom)
_SCORED = ("block (none parses or prints)", "block that mentions print", "block that parses as a program")


@dataclass(frozen=True)
class Extraction:
    """The program picked from a response, and why."""

    program: str | None
    """The program text, byte-exact; None when the response holds no program."""
    rule: str
    """Machine name of the rule that decided: only-fence, python-fence, untagged-fence, other-fence,
    unfenced or none."""
    reason: str
    """One line for humans, naming the block and where it sits in the response."""
    candidates: int
    """How many fenced code blocks the response holds, of any language."""


@dataclass(frozen=True)
class _Block:
    fence: str
    """The opening fence's characters, e.g. ``````` or ``~~~~``."""
    info: str
    """The info string, stripped of spaces and tabs."""
    lang: str
    """First word of the info string, lowercased; empty when untagged."""
    content: str
    first_line: int
    """1-based line number of the opening fence."""
    last_line: int | None
    """1-based line number of the closing fence; None when the block runs to the end."""

    def where(self) -> str:
        end = "unclosed" if self.last_line is None else f"to line {self.last_line}"
        return f"{self.fence}{self.info} at line {self.first_line}, {end}"


def extract_program(response: str) -> Extraction:
    """The program in a model's response, chosen by the rule in this module's docstring.

    Args:
        response: The model's whole answer, usually Markdown.

    Returns:
        The program text (None if there is none), the rule that chose it, a reason and the block count.
    """
    blocks = _fenced_blocks(response)
    if not blocks:
        return _unfenced(response)
    python = [b for b in blocks if b.lang in PYTHON_TAGS]
    untagged = [b for b in blocks if not b.lang]
    if python:
        group, rule, label = python, "python-fence", "Python-tagged"
    elif untagged:
        group, rule, label = untagged, "untagged-fence", "untagged"
    else:
        group, rule, label = blocks, "other-fence", "other-language"
    scored = [(_score(block.content), index, block) for index, block in enumerate(group)]
    if rule == "other-fence":
        scored = [item for item in scored if item[0] > 0]
    if not scored:
        kinds = ", ".join(sorted({b.lang for b in blocks}))
        return Extraction(
            None,
            "none",
            f"{_NO_PROGRAM}: {_count(len(blocks))} ({kinds}), none looks like Python",
            len(blocks),
        )
    score, _, chosen = max(scored, key=lambda item: (item[0], item[1]))
    if len(blocks) == 1:
        return Extraction(chosen.content, "only-fence", f"the only code block ({chosen.where()})", 1)
    what = _SCORED[score]
    reason = f"the last {label} {what} ({chosen.where()}), of {_count(len(blocks))}"
    return Extraction(chosen.content, rule, reason, len(blocks))


def _count(n: int) -> str:
    return f"{n} code block" if n == 1 else f"{n} code blocks"


def _unfenced(response: str) -> Extraction:
    lines = _lines(response)
    kept = [i for i, (start, end, _) in enumerate(lines) if response[start:end].strip(" \t")]
    if kept:
        text = response[lines[kept[0]][0] : lines[kept[-1]][2]]
        if _score(text) == 2:
            return Extraction(text, "unfenced", _UNFENCED, 0)
    return Extraction(None, "none", _NO_PROGRAM, 0)


def _lines(text: str) -> list[tuple[int, int, int]]:
    """(start, end without line ending, end with line ending) of each line."""
    lines: list[tuple[int, int, int]] = []
    start = 0
    for match in _EOL.finditer(text):
        lines.append((start, match.start(), match.end()))
        start = match.end()
    if start < len(text):
        lines.append((start, len(text), len(text)))
    return lines


def _fence(line: str) -> tuple[int, str, str] | None:
    """(indent, fence characters, info string) if the line, without its ending, is a fence."""
    body = line.lstrip(" ")
    indent = len(line) - len(body)
    if indent > 3 or body[:1] not in ("`", "~"):
        return None
    rest = body.lstrip(body[0])
    run = len(body) - len(rest)
    info = rest.strip(" \t")
    if run < 3 or (body[0] == "`" and "`" in info):
        return None
    return indent, body[:run], info


def _closes(closing: tuple[int, str, str], fence: str) -> bool:
    """Whether a fence line closes a block opened by ``fence``: same character, as long, no info string."""
    _, chars, info = closing
    return not info and chars[0] == fence[0] and len(chars) >= len(fence)


def _language(info: str) -> str:
    word = _WORD.search(info)
    if word is None:
        return ""
    lang = word.group().lower()
    return lang.removeprefix("language-")


def _fenced_blocks(text: str) -> list[_Block]:
    lines = _lines(text)
    blocks: list[_Block] = []
    i = 0
    while i < len(lines):
        opening = _fence(text[lines[i][0] : lines[i][1]])
        if opening is None:
            i += 1
            continue
        indent, fence, info = opening
        parts: list[str] = []
        j = i + 1
        while j < len(lines):
            start, end, after = lines[j]
            closing = _fence(text[start:end])
            if closing is not None and _closes(closing, fence):
                break
            parts.append(_dedent(text[start:after], indent))
            j += 1
        last_line = j + 1 if j < len(lines) else None
        blocks.append(_Block(fence, info, _language(info), "".join(parts), i + 1, last_line))
        i = j + 1
    return blocks


def _dedent(line: str, indent: int) -> str:
    k = 0
    while k < indent and k < len(line) and line[k] == " ":
        k += 1
    return line[k:]


def _score(source: str) -> int:
    """2: parses and calls or imports something; 1: at least mentions print; 0: neither."""
    tree = _parse(source)
    if tree is not None and any(isinstance(node, _ACTIONS) for node in ast.walk(tree)):
        return 2
    return 1 if "print" in source else 0


def _parse(source: str) -> ast.Module | None:
    # catch_warnings touches process-wide state; parsing is quick and the worst a race can do
    # is let a SyntaxWarning through to another thread's filters.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(source)
        except Exception:  # SyntaxError, ValueError (NUL), MemoryError and RecursionError on deep nesting
            return None
