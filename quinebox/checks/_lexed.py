"""Programs in languages other than Python, read token by token with pygments.

pygments has a maintained lexer for every language quinebox judges, and it
never raises on odd input, so self-similarity reads every language the same
way: layout (whitespace) is free, comments count toward size but not shape,
numbers and strings are literals whose contents are masked, and everything
else is shape. Adjacent string tokens (a quote, the text, an escape, the
closing quote) are one literal. Preprocessor lines in C are code, not
comments.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from pygments.lexer import Lexer
from pygments.lexers import get_lexer_by_name
from pygments.token import Comment, Literal, Name, Number, String, Whitespace, _TokenType

from quinebox.languages import LANGUAGES

#: A string at least this long that reads as code keeps its text (digits masked) in the shape.
CODE_STRING_CHARS = 16
_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|u\{[0-9a-fA-F]+\}|[0-7]{1,3}|.)", re.DOTALL)
_SIMPLE = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'", "`": "`", "$": "$"}
_CODE = re.compile(r"[A-Za-z_]\w*\s*\(|[;{}]|\bfunction\b|=>|\bdef\b|\bend\b|\bputs\b|\bprintf\b|\becho\b")


@dataclass(frozen=True)
class LexedToken:
    """One token: its kind (NUMBER, STRING, or the pygments type), its text, where it starts, its size."""

    kind: str
    text: str
    line: int
    column: int
    size: int
    """Characters it adds to the program's size: 0 for layout, the denoted text for a string."""
    layout: bool = False
    literal: bool = False
    code: str | None = None
    """For a long string that reads as code: the text it denotes."""


@functools.lru_cache(maxsize=8)
def _lexer(language: str) -> Lexer:
    return get_lexer_by_name(LANGUAGES[language].lexer, stripnl=False, ensurenl=False)


def lex_tokens(source: bytes, language: str) -> list[LexedToken] | None:
    """The tokens of `source`; None when it is not UTF-8 (a program that is not text has no shape)."""
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError:
        return None
    out: list[LexedToken] = []
    line, column = 1, 1
    string: list[str] = []
    start = (1, 1)

    def close_string() -> None:
        if not string:
            return
        spelled = "".join(string)
        denoted = _denoted(spelled)
        code = denoted if len(denoted) >= CODE_STRING_CHARS and _CODE.search(denoted) else None
        out.append(LexedToken("STRING", spelled, *start, size=len(denoted), literal=True, code=code))
        string.clear()

    for kind, value in _lexer(language).get_tokens(text):
        if kind in String and kind not in String.Interpol:
            if not string:
                start = (line, column)
            string.append(value)
        else:
            close_string()
            out.append(_token(kind, value, line, column))
        newlines = value.count("\n")
        line += newlines
        column = len(value) - value.rfind("\n") if newlines else column + len(value)
    close_string()
    return out


def _token(kind: _TokenType, value: str, line: int, column: int) -> LexedToken:
    if kind in Whitespace or not value.strip():
        return LexedToken("LAYOUT", value, line, column, 0, layout=True)
    if kind in Comment and kind not in Comment.Preproc and kind not in Comment.PreprocFile:
        return LexedToken("COMMENT", value, line, column, len(value), layout=True)
    if kind in Number or (kind in Literal and kind not in String and value.strip().isdigit()):
        return LexedToken("NUMBER", value, line, column, len(value), literal=True)
    if kind in Name:
        return LexedToken("NAME", value, line, column, len(value))
    return LexedToken(str(kind).removeprefix("Token."), value.strip(), line, column, len(value.strip()))


def _denoted(spelled: str) -> str:
    """About the text a string literal denotes: quotes dropped, each escape one character."""
    body = spelled
    for quote in ('"""', "'''", '"', "'", "`"):
        if len(body) >= 2 * len(quote) and body.startswith(quote) and body.endswith(quote):
            body = body[len(quote) : -len(quote)]
            break
    return _ESCAPE.sub(lambda m: _SIMPLE.get(m.group()[1:], m.group()[1:2]), body)
