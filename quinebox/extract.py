r"""Pick the program out of a language model's response, as a careful human grader would.

**Finding the code blocks.** Fenced blocks are found the CommonMark way, one
line at a time:

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

Outside fences, an *indented* block is a run of lines indented 4 or more
columns (a tab counts as 4) that starts after a blank line or at the start,
blank lines inside it kept, 4 columns removed from each line. Indented blocks
are only ever chosen when they parse as Python, since indented prose (a list
item's continuation) is common.

A fenced block's language is the first word of its info string: ``python``,
``py``, ``python3``, ``{.python}`` mean Python, ``js``, ``ruby``, ``c``... name
other languages (`quinebox.languages`); an untagged block's language comes from
its shebang or its content. ``text``, ``output``, ``console``, ``json``,
``pycon`` and the like hold no program, and neither does a block of command
lines (``python3 fib.py --next > fib1.py``).

**Choosing the block that answers the task.** Each candidate block is ranked:

- rank 3, an *answer*: it handles the next flag (the flag, or ``argv``, in the
  program), prints, and carries its own text (a long string literal, or ``exec``);
- rank 2: it handles the flag and prints (a truncated answer, say);
- rank 1: it calls something, or at least mentions print;
- rank 0: anything else, and any block that runs other programs (``subprocess``,
  ``os.system`` with a ``.py`` or ``python`` argument): that is a test script.

The highest rank wins; among equals a block in a language quinebox judges,
then the last block, since models end with their final version. If an earlier
block of the same rank is the same program up to its numbers (the response
shows what ``--next`` printed), the earliest of those is the answer.

With one block the rule is ``only-block``; with several, ``answer-block`` when
the chosen block is an answer (rank 3), else ``best-block``.

**No code blocks.** The whole response, without its leading and trailing blank
lines, is the program (rule ``unfenced``) when it parses and calls or imports
something. Otherwise the longest run of lines that starts where code starts
after prose (``import``, ``def``, an assignment...) and parses is the program
(rule ``after-prose``). Otherwise there is no program: ``program`` is None and
the rule is ``none``.

A program in a language quinebox does not judge comes back with that
``language``; the caller reports it as not judged, never as a failure.

Everything is linear in the size of the response (the search after prose is
capped), apart from ``ast.parse`` itself, and nothing raises. A hand-written
reader rather than a Markdown library: markdown-it-py took over 8 s on a
1.2 MB adversarial response (``"```a`\n" * 200_000``), and a grader reads
untrusted text.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass

from quinebox.languages import PYTHON, is_judged, language_name, language_of

__all__ = ["Extraction", "extract_program"]

PYTHON_TAGS = frozenset({"python", "python3", "py", "py3"})
"""Info-string words that mark a block as Python."""
#: Info-string words of blocks that hold no program: transcripts, output, data.
NOT_PROGRAM_TAGS = frozenset(
    {
        "text", "txt", "plain", "plaintext", "output", "out", "console", "shell-session", "terminal", "pycon",
        "json", "yaml", "yml", "toml", "ini", "diff", "markdown", "md", "html", "xml", "csv", "log", "none",
    }
)  # fmt: skip

_EOL = re.compile(r"\r\n|\r|\n")
_WORD = re.compile(r"[A-Za-z0-9_+#-]+")
_NO_PROGRAM = "no program in this response"
_UNFENCED = "no code blocks; the whole response parses as a Python program"
_ACTIONS = (ast.Call, ast.Import, ast.ImportFrom)
_COMMAND_LINE = re.compile(
    r"\s*(\$|>>>|#\s|(sudo\s+)?(python[\d.]*|py|node|ruby|bash|sh|\./)\S*\s+\S*\.\w+|(cat|diff|chmod|echo)\s)"
)
_PRINTS = re.compile(r"\bprint|\bputs\b|\becho\b|console\.log|printf|putStr|\bwrite\b|println|\bcout\b")
_FLAG_WORDS = re.compile(r"argv|ARGV|\$1\b|\$\{1|\$@|getArgs|args\b|process\.argv")
_LONG_LITERAL = re.compile(r"\"[^\"\n]{16,}|'[^'\n]{16,}|`[^`]{16,}|\"\"\"|'''")
_RUNS_OTHERS = re.compile(r"subprocess|os\.system|os\.popen|child_process|execSync|popen\(")
_HARNESS_ARG = re.compile(r"python|\.py\b|\.js\b|node\b")
_CODE_START = re.compile(
    r"(#!|import\s|from\s+\S+\s+import\s|def\s|class\s|if\s|for\s|while\s|print\(|try:|with\s|@"
    r"|[A-Za-z_][\w.]*(\s*,\s*[A-Za-z_]\w*)*\s*=[^=])"
)
_DIGITS = re.compile(r"\d+")
#: The search for code after prose tries at most this many starts and ends, on responses up to this size.
_SEARCH_STARTS, _SEARCH_ENDS, _SEARCH_BYTES = 40, 40, 256 * 1024

_WHY = {
    3: "it handles {flag}, prints, and carries its own text",
    2: "it handles {flag} and prints, the closest to an answer",
    1: "no block answers the task; this one is the best candidate",
    0: "no block answers the task; this one is the best candidate",
}


@dataclass(frozen=True)
class Extraction:
    """The program picked from a response, and why."""

    program: str | None
    """The program text, byte-exact; None when the response holds no program."""
    rule: str
    """Machine name of the rule that decided: only-block, answer-block, best-block, unfenced, after-prose
    or none."""
    reason: str
    """One line for humans, naming the block, where it sits in the response, and why."""
    candidates: int
    """How many code blocks (fenced or indented) the response holds, of any language."""
    block: int | None = None
    """1-based index of the chosen block among them; None when unfenced or none."""
    line: int | None = None
    """1-based line of the response where the program starts; None when there is none."""
    language: str = PYTHON
    """The program's language; judged only if `quinebox.languages.is_judged` says so."""


@dataclass(frozen=True)
class _Block:
    index: int
    """1-based, among all the response's code blocks."""
    opener: str
    """The opening fence and info string, or "indented"."""
    tag: str
    """First word of the info string, lowercased; empty when untagged or indented."""
    content: str
    first_line: int
    """1-based line number of the opening fence (of the first line, for an indented block)."""
    last_line: int | None
    """1-based line number of the closing fence (the last line, indented); None when unclosed."""

    @property
    def indented(self) -> bool:
        return self.opener == "indented"

    def where(self) -> str:
        if self.indented:
            return f"indented, lines {self.first_line}-{self.last_line}"
        end = "unclosed" if self.last_line is None else f"to line {self.last_line}"
        return f"{self.opener} at line {self.first_line}, {end}"

    @property
    def program_line(self) -> int:
        return self.first_line if self.indented else self.first_line + 1


@dataclass(frozen=True)
class _Candidate:
    block: _Block
    language: str
    rank: int
    parses: bool


def extract_program(response: str, next_flag: str = "--next") -> Extraction:
    """The program in a model's response, chosen by the rule in this module's docstring.

    Args:
        response: The model's whole answer, usually Markdown.
        next_flag: The argument that asks a program for its successor.

    Returns:
        The program text (None if there is none), the rule that chose it, a reason, the block count,
        the chosen block and line, and the program's language.
    """
    blocks = _code_blocks(response)
    if not blocks:
        return _unfenced(response, next_flag)
    candidates = [c for c in (_candidate(b, next_flag) for b in blocks) if c is not None]
    if not candidates:
        kinds = ", ".join(sorted({b.tag or ("indented" if b.indented else "untagged") for b in blocks}))
        reason = f"{_NO_PROGRAM}: {_count(len(blocks))} ({kinds}), none holds a program"
        return Extraction(None, "none", reason, len(blocks))
    best = max(candidates, key=lambda c: (c.rank, is_judged(c.language), c.parses, c.block.index))
    same = [c for c in candidates if (c.rank, c.language) == (best.rank, best.language)]
    skeleton = _DIGITS.sub("0", best.block.content)
    chosen = next(c for c in same if _DIGITS.sub("0", c.block.content) == skeleton)
    block = chosen.block
    if len(blocks) == 1:
        rule, reason = "only-block", f"the only code block ({block.where()})"
    else:
        rule = "answer-block" if chosen.rank == 3 else "best-block"
        why = _WHY[chosen.rank].format(flag=next_flag)
        if chosen is not best:
            why += f"; block {best.block.index} is the same program with other numbers"
        reason = f"block {block.index} of {len(blocks)} ({block.where()}): {why}"
    return Extraction(block.content, rule, reason, len(blocks), block.index, block.program_line, chosen.language)


def _count(n: int) -> str:
    return f"{n} code block" if n == 1 else f"{n} code blocks"


def _candidate(block: _Block, flag: str) -> _Candidate | None:
    """The block ranked as a possible answer, or None when it holds no program."""
    content = block.content
    if not content.strip() and block.tag not in PYTHON_TAGS:
        return None
    named = language_name(block.tag) if block.tag else None
    if block.tag and named is None and block.tag not in NOT_PROGRAM_TAGS:
        named = language_of(content)  # an unknown tag ("fib.py", "{title}"): judge by the content
    tree = _parse(content)
    parses = tree is not None and any(isinstance(node, _ACTIONS) for node in ast.walk(tree))
    if block.indented or block.tag in NOT_PROGRAM_TAGS:
        # Indented text and transcripts are programs only when they are unmistakably Python code.
        if not parses or _is_command_lines(content):
            return None
        named = PYTHON
    if named is None:
        named = language_of(content)
    if named == "bash" and parses:
        named = PYTHON  # Python under a shell tag: shell code does not parse as Python
    if _is_command_lines(content):
        return None
    if named == "bash" and not _FLAG_WORDS.search(content) and flag not in content:
        return None  # a shell block that is not a program: usage lines, install steps
    rank = _python_rank(tree, flag) if named == PYTHON and tree is not None else _text_rank(content, flag)
    return _Candidate(block, named, rank, parses)


def _python_rank(tree: ast.Module, flag: str) -> int:
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str | bytes)]
    texts = [s if isinstance(s, str) else s.decode("latin-1") for s in strings]
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)
    }
    calls = [n.func for n in ast.walk(tree) if isinstance(n, ast.Call)]
    called = {f.id if isinstance(f, ast.Name) else f.attr for f in calls if isinstance(f, ast.Name | ast.Attribute)}
    runs_others = bool(called & {"run", "Popen", "check_output", "check_call", "call", "system", "popen"}) and (
        any(_HARNESS_ARG.search(t) for t in texts) or "executable" in names
    )
    if runs_others:
        return 0
    handles = any(flag in t for t in texts) or "argv" in names or "argparse" in names
    # A payload run by exec prints from inside its string.
    prints = bool(called & {"print", "write"}) or (
        bool(called & {"exec", "eval"}) and any("print" in t or "write" in t for t in texts)
    )
    own_text = any(len(t) >= 16 for t in texts) or bool(called & {"exec", "eval", "compile"})
    if handles and prints and own_text:
        return 3
    if handles and prints:
        return 2
    return 1 if called or prints else 0


def _text_rank(content: str, flag: str) -> int:
    if _RUNS_OTHERS.search(content) and _HARNESS_ARG.search(content):
        return 0
    handles = flag in content or bool(_FLAG_WORDS.search(content))
    prints = bool(_PRINTS.search(content))
    if handles and prints and _LONG_LITERAL.search(content):
        return 3
    if handles and prints:
        return 2
    return 1 if prints else 0


def _is_command_lines(content: str) -> bool:
    """Whether every non-blank line is a command someone types (``$ python3 fib.py``), not code."""
    lines = [line for line in content.splitlines() if line.strip()]
    return bool(lines) and all(_COMMAND_LINE.match(line) for line in lines)


def _unfenced(response: str, flag: str) -> Extraction:
    lines = _lines(response)
    kept = [i for i, (start, end, _) in enumerate(lines) if response[start:end].strip(" \t")]
    if not kept:
        return Extraction(None, "none", _NO_PROGRAM, 0)
    text = response[lines[kept[0]][0] : lines[kept[-1]][2]]
    if _acts(text):
        return Extraction(text, "unfenced", _UNFENCED, 0, line=kept[0] + 1)
    found = _after_prose(response, lines) if len(response) <= _SEARCH_BYTES else None
    if found is not None:
        start, program = found
        reason = f"no code blocks; the code from line {start + 1} on parses as a Python program"
        return Extraction(program, "after-prose", reason, 0, line=start + 1)
    language = language_of(text)
    if language != PYTHON and flag in text and _PRINTS.search(text):
        reason = f"no code blocks; the response reads as a {language} program"
        return Extraction(text, "unfenced", reason, 0, line=kept[0] + 1, language=language)
    return Extraction(None, "none", _NO_PROGRAM, 0)


def _after_prose(response: str, lines: list[tuple[int, int, int]]) -> tuple[int, str] | None:
    """(first line index, program) of the longest code after prose that parses and acts, if any."""
    texts = [response[s:e] for s, e, _ in lines]
    blank = [not t.strip() for t in texts]
    starts = [
        i
        for i, t in enumerate(texts)
        if _CODE_START.match(t) and (i == 0 or blank[i - 1] or texts[i - 1].rstrip().endswith(":"))
    ][:_SEARCH_STARTS]
    ends = [i for i in range(len(texts)) if not blank[i] and (i + 1 == len(texts) or blank[i + 1])]
    for start in starts:
        end = len(texts) - 1
        for _ in range(_SEARCH_ENDS):
            program = response[lines[start][0] : lines[end][2]]
            bad_line = _error_line(program)
            if bad_line is None:
                if _acts(program):
                    return start, program
                break
            # The code can only end before the line the parser gave up on: try the paragraph end before it.
            before = [e for e in ends if start <= e < start + bad_line - 1]
            if not before:
                break
            end = before[-1]
    return None


def _error_line(source: str) -> int | None:
    """The 1-based line where parsing `source` fails, or None when it parses."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ast.parse(source)
        except SyntaxError as exc:
            return max(exc.lineno or 1, 1)
        except Exception:  # ValueError (NUL), MemoryError, RecursionError: nothing to learn from
            return 1
    return None


def _acts(source: str) -> bool:
    tree = _parse(source)
    return tree is not None and any(isinstance(node, _ACTIONS) for node in ast.walk(tree))


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


def _language_word(info: str) -> str:
    word = _WORD.search(info)
    if word is None:
        return ""
    return word.group().lower().removeprefix("language-")


def _columns(line: str) -> int:
    """Leading indentation in columns, a tab reaching the next multiple of 4."""
    width = 0
    for char in line:
        if char == " ":
            width += 1
        elif char == "\t":
            width += 4 - width % 4
        else:
            break
    return width


def _code_blocks(text: str) -> list[_Block]:
    lines = _lines(text)
    blocks: list[_Block] = []
    i = 0
    previous_blank = True
    while i < len(lines):
        start, end, after = lines[i]
        line = text[start:end]
        opening = _fence(line)
        if opening is not None:
            indent, fence, info = opening
            parts: list[str] = []
            j = i + 1
            while j < len(lines):
                s, e, a = lines[j]
                closing = _fence(text[s:e])
                if closing is not None and _closes(closing, fence):
                    break
                parts.append(_dedent(text[s:a], indent))
                j += 1
            last_line = j + 1 if j < len(lines) else None
            opener = f"{fence}{info}"
            blocks.append(_Block(len(blocks) + 1, opener, _language_word(info), "".join(parts), i + 1, last_line))
            i, previous_blank = j + 1, False
            continue
        if previous_blank and line.strip() and _columns(line) >= 4:
            j, last = i, i
            while j < len(lines):
                s, e, _ = lines[j]
                current = text[s:e]
                if current.strip():
                    if _columns(current) < 4:
                        break
                    last = j
                j += 1
            content = "".join(_strip_columns(text[lines[k][0] : lines[k][2]], 4) for k in range(i, last + 1))
            blocks.append(_Block(len(blocks) + 1, "indented", "", content, i + 1, last + 1))
            i, previous_blank = last + 1, False
            continue
        previous_blank = not line.strip()
        i += 1
    return blocks


def _dedent(line: str, indent: int) -> str:
    k = 0
    while k < indent and k < len(line) and line[k] == " ":
        k += 1
    return line[k:]


def _strip_columns(line: str, columns: int) -> str:
    width, k = 0, 0
    while k < len(line) and width < columns and line[k] in " \t":
        width += 1 if line[k] == " " else 4 - width % 4
        k += 1
    return line[k:]


def _parse(source: str) -> ast.Module | None:
    # catch_warnings touches process-wide state; parsing is quick and the worst a race can do
    # is let a SyntaxWarning through to another thread's filters.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(source)
        except Exception:  # SyntaxError, ValueError (NUL), MemoryError and RecursionError on deep nesting
            return None
