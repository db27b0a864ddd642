"""`self-similarity`: each program is the one before it with only its literals changed.

A quine chain should carry its state the way a quine carries its data: in
literals, inside a program that otherwise stays put. Two ways of cheating
that the other checks cannot see are ruled out here, so each has its own rule.

Shape. Consecutive programs are compared token by token with `tokenize`, not
line by line, so a program may re-flow its own text: layout (NEWLINE, NL,
INDENT, DEDENT, whitespace, and ``;`` as the inline twin of NEWLINE) and
comments do not count. The contents of literals are masked but their kind is
kept: a number stays a number, a string keeps its prefix (``b``, ``r``, ``f``;
adjacent strings merge, since splitting a long literal is layout too), an
f-string keeps its expressions (3.12+ tokenizes them; earlier it is one
string). Any other difference fails at the later program, e.g. a history list
that gets one more element per generation. A program that does not tokenize
is `runs`'s failure, not this check's: such a pair is skipped, and such a
program is not measured for size.

Size. Whatever hides where the shape rule cannot look (a comment appended
each generation, a counter kept in unary inside a string) shows as size: the
characters of every token but layout (``;`` included), with a string literal
counted by the text it denotes rather than its spelling, since program 0 is
spelled by hand (a triple-quoted template, say) and its offspring by repr().
Re-flowing is free; literals and comments count. For a Fibonacci-like
sequence the whole state of program k is the pair of numbers that it and
program k+1 print; T_k is the digits of that pair (the largest so far, so
the allowance never shrinks). Over any stretch of generations j..k:

    size(P_k) - size(P_j) <= 1.5 * (T_k - T_j) + 12

Decimal costs 1 character a state digit, hex 0.83, base64 0.55; 1.5 leaves
room for an index or a third number. Fibonacci's state gains 0.42 digits a
generation, so a unary counter (1 character a generation) is over the line
by 0.37 a generation and fails after 30 to 35 generations. Growth slower
than 0.63 a generation (unary every other generation) is out of this rule's
sight, and a program that writes both numbers twice (2 characters a state
digit) fails once its state has grown by about 24 digits. The slack absorbs
an index crossing 10 or 100, base64's 4-character steps and comments that
change.
"""

from __future__ import annotations

import ast
import base64
import binascii
import difflib
import functools
import io
import keyword
import re
import tokenize
import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from typing_extensions import override

from quinebox.checks._judge import Judge, judge_whole
from quinebox.checks._lexed import LexedToken, lex_tokens
from quinebox.checks._numbers import parse_number
from quinebox.checks._result import CheckOptions, CheckResult, failed, passed
from quinebox.record import Chain, Generation, RunKind

__all__ = ["check_self_similarity"]

NAME = "self-similarity"

#: Characters a program may grow for each digit its state gains (the numbers it and its successor print).
CHARS_PER_STATE_DIGIT = 1.5
#: Characters of growth never held against a program, over any stretch of generations.
SLACK = 12
#: Raw bytes (layout included) a program may grow for each digit its state gains ...
BYTES_PER_STATE_DIGIT = 2.0
#: ... plus these, never held against it: room to re-flow a line or two once.
RAW_SLACK = 40

_MAX_LIST = 200
_DIFF_LINES = 60
_DIFF_CHARS = 4000
_DIFF_LINE_CHARS = 240
_DIFF_WINDOW = 400
_TOKEN_CHARS = 80
_SHOWN_LINE = 100
#: Strings inside strings are read as code this many levels deep.
_CODE_DEPTH = 3
#: Encoded text shorter than this is never decoded to look for code.
_MIN_ENCODED = 16

_LAYOUT = frozenset(
    {
        tokenize.ENCODING,
        tokenize.NEWLINE,
        tokenize.NL,
        tokenize.INDENT,
        tokenize.DEDENT,
        tokenize.COMMENT,
        tokenize.ENDMARKER,
    }
)


def _token_types(*names: str) -> frozenset[int]:
    # f-string tokens exist from 3.12 and t-string tokens from 3.14; earlier both are one STRING.
    found: list[int] = [getattr(tokenize, name) for name in names if hasattr(tokenize, name)]
    return frozenset(found)


_STRING_STARTS = _token_types("FSTRING_START", "TSTRING_START")
_STRING_MIDDLES = _token_types("FSTRING_MIDDLE", "TSTRING_MIDDLE")
_STRING_ENDS = _token_types("FSTRING_END", "TSTRING_END")
_PREFIX = re.compile(r"[A-Za-z]*")
_DIGIT_RUN = re.compile(r"[0-9]+")
_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[^}]*\}|[0-7]{1,3}|.)", re.DOTALL)
_FORMAT_FIELD = re.compile(r"\{[^{}]*\}")
_TEMPLATE_FIELD = re.compile(r"\$(?:\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)")
_BASE64_TEXT = re.compile(r"[A-Za-z0-9+/\s]+={0,2}\s*")
_HEX_TEXT = re.compile(r"(?:[0-9a-fA-F]{2})+")


@dataclass(frozen=True)
class _Token:
    """One significant token: what the shape rule sees, and what a person and the ratio see."""

    mask: str | None
    """The token with any literal contents masked; None when it is not part of the shape."""
    text: str
    """Type and full text, literal contents included."""
    line: int
    column: int
    """1-based, as editors count; inside a string's code, counted in that code."""
    literal: bool = False
    """Part of a literal, whose contents the mask hides."""
    kind: str = ""
    """The tokenize type name."""
    string: str = ""
    """The token's own text."""
    spelling: str = ""
    """For a string literal, its spelling (adjacent literals joined by a space): what `_inner` reads as code."""
    within: tuple[int, ...] = ()
    """Lines of the program (then of each enclosing string's code) where the strings holding it start."""
    origin: str | None = field(default=None, compare=False, repr=False)
    """The code text this token was lexed from when it lies inside a string (shared, not copied)."""


@dataclass(frozen=True)
class _Lexed:
    """A program that tokenizes: its significant tokens, and its size without layout."""

    tokens: tuple[_Token, ...]
    size: int
    """Characters of every token but layout, strings by the text they denote (see `_size`)."""


def check_self_similarity(chain: Chain, options: CheckOptions) -> CheckResult:
    return judge_whole(SelfSimilarityJudge(options), chain)


class SelfSimilarityJudge(Judge):
    """Carries the last program's tokens, the lowest programs under both growth lines, and the figures.

    At generation k the pair (k-1, k) is compared, and program k-1's size judged,
    since program k's number completes its state. The last program's size is
    judged when the chain ends (its own number standing in for its successor's).
    """

    name = NAME

    def __init__(self, options: CheckOptions) -> None:
        super().__init__(options)
        self.generations: list[Generation] = []
        self.sizes: list[int | None] = []
        self.raw: list[int | None] = []
        self.own_digits: list[int] = []
        self.digits: list[int] = []
        """State digits per judged program: the largest so far of its number's digits plus its successor's."""
        self.printed_any = False
        self.last_lexed: _Lexed | None = None
        self.similarity: deque[dict[str, Any]] = deque(maxlen=_MAX_LIST)
        self.compared = self.skipped = 0
        self.lowest: tuple[int, int] | None = None
        self.lowest_raw: tuple[int, int] | None = None

    @override
    def _add(self, generation: Generation) -> CheckResult | None:
        k = len(self.generations)
        lexed = _lex(generation.source, self.options.language) if generation.source else None
        printed = _printed_digits(generation)
        if printed is not None:
            self.printed_any = True
        elif self.own_digits and self.printed_any:
            printed = self.own_digits[-1]
        else:
            printed = _literal_digits(lexed) or 0
        self.generations.append(generation)
        self.sizes.append(lexed.size if lexed is not None else None)
        self.raw.append(len(generation.source) if lexed is not None else None)
        self.own_digits.append(printed)
        if k >= 1:
            failure = self._settle(k - 1, printed)
            if failure is not None:
                return failure
            before, self.last_lexed = self.last_lexed, lexed
            if before is None or lexed is None:
                self.skipped += 1
                return None
            self.compared += 1
            self.similarity.append({"generation": generation.index, "ratio": _ratio(before.tokens, lexed.tokens)})
            difference = _first_difference(before.tokens, lexed.tokens)
            if difference is not None:
                return self._shape_failure(k, difference)
            return None
        self.last_lexed = lexed
        return None

    @override
    def _finish(self, final: bool) -> CheckResult:
        if not self.generations:
            return passed(NAME, "no programs to compare", pairs=0)
        upto = len(self.generations)
        if final:
            failure = self._settle(upto - 1, self.own_digits[-1])
            if failure is not None:
                return failure
        measured = [(size, self.digits[k]) for k, size in enumerate(self.sizes[: len(self.digits)]) if size is not None]
        size_note = skip_note = ""
        if measured:
            grew, gained = measured[-1][0] - measured[0][0], measured[-1][1] - measured[0][1]
            size_note = f"; size changed {grew:+d} characters while its state grew {gained} digits"
        if self.skipped:
            skip_note = f"; {self.skipped} pairs skipped (a program did not tokenize or was not recorded)"
        return passed(
            NAME,
            f"{self.compared} consecutive pairs differ only inside literals{size_note}{skip_note}",
            pairs=self.compared,
            skipped=self.skipped,
            **self._figures(upto),
        )

    def _settle(self, k: int, next_digits: int) -> CheckResult | None:
        """Program k's state is now known: judge its size under both growth lines."""
        best = self.digits[-1] if self.digits else 0
        self.digits.append(max(best, self.own_digits[k] + next_digits))
        size, raw = self.sizes[k], self.raw[k]
        if size is None or raw is None:
            return None
        digits = self.digits
        # Growth is measured from the program lowest under the growth line so far, which leaves each
        # later program the least room: that covers every stretch j..k at once.
        if self.lowest is not None:
            j, grew = self.lowest[0], size - self.lowest[1]
            allowed = int(CHARS_PER_STATE_DIGIT * (digits[k] - digits[j])) + SLACK
            if grew > allowed:
                return self._growth_failure(k, j, grew, allowed, raw=False)
        if self.lowest is None or _under(size, digits[k]) < _under(self.lowest[1], digits[self.lowest[0]]):
            self.lowest = (k, size)
        # Raw bytes from program 1 on: program 0 is spelled by hand, its offspring by the program.
        if k == 0:
            return None
        if self.lowest_raw is not None:
            j, grew = self.lowest_raw[0], raw - self.lowest_raw[1]
            allowed = int(BYTES_PER_STATE_DIGIT * (digits[k] - digits[j])) + RAW_SLACK
            if grew > allowed:
                return self._growth_failure(k, j, grew, allowed, raw=True)
        if self.lowest_raw is None or _under_raw(raw, digits[k]) < _under_raw(
            self.lowest_raw[1], digits[self.lowest_raw[0]]
        ):
            self.lowest_raw = (k, raw)
        return None

    def _shape_failure(self, k: int, difference: tuple[int, _Token | None, _Token | None]) -> CheckResult:
        index, old, new = difference
        prev, this = self.generations[k - 1], self.generations[k]
        where = new or old
        place = _place(where)
        lines = _two_lines(prev, old, this, new)
        return failed(
            NAME,
            this.index,
            f"program {this.index} differs from program {prev.index} outside literals at {place}: it has "
            f"{_words(new)} where program {prev.index} had {_words(old)}{_change_note(old, new)} ({lines})",
            rule="tokens",
            first_difference={
                "token_index": index,
                "before": _token_evidence(old),
                "after": _token_evidence(new),
            },
            lines={"before": _line_of(prev, old), "after": _line_of(this, new)},
            diff=_unified_diff(prev, this),
            **self._figures(k + 1),
        )

    def _growth_failure(self, k: int, start: int, grew: int, allowed: int, *, raw: bool) -> CheckResult:
        this, base = self.generations[k], self.generations[start]
        gained = self.digits[k] - self.digits[start]
        if raw:
            reason = (
                f"program {this.index} is {grew} bytes longer than program {base.index} while its state grew "
                f"{gained} digits (at most {allowed} allowed): it grows in its layout (blank lines, spaces, "
                "line breaks), which carries no state"
            )
            limit = {"bytes_per_state_digit": BYTES_PER_STATE_DIGIT, "slack": RAW_SLACK}
        else:
            reason = (
                f"program {this.index} is {grew} characters longer than program {base.index} (layout aside) "
                f"while its state grew {gained} digits (at most {allowed} allowed): the program grows faster "
                "than its state"
            )
            limit = {"chars_per_state_digit": CHARS_PER_STATE_DIGIT, "slack": SLACK}
        return failed(
            NAME,
            this.index,
            reason,
            rule="layout" if raw else "growth",
            grew_chars=grew,
            gained_state_digits=gained,
            allowed_chars=allowed,
            since_generation=base.index,
            limit=limit,
            diff=_unified_diff(base, this),
            **self._figures(k + 1),
        )

    def _figures(self, upto: int) -> dict[str, Any]:
        """Per-generation figures for a pass or a fail, capped to the last entries before `upto`.

        ``growth`` holds sizes as the size rule counts them (None where a program did not
        tokenize or was not recorded) from generation ``growth_from`` on, ``raw_bytes`` the
        programs' lengths, and ``state_digits`` the matching state digits.
        """
        first = max(0, upto - _MAX_LIST)
        return {
            "similarity": list(self.similarity),
            "growth": list(self.sizes[first:upto]),
            "raw_bytes": list(self.raw[first:upto]),
            "state_digits": list(self.digits[first:upto]),
            "growth_from": self.generations[first].index,
            "state_digits_from": "output" if self.printed_any else "literals",
        }


def _under(size: int, digits: int) -> float:
    """How far a program sits under the growth line: its size less its allowance."""
    return size - CHARS_PER_STATE_DIGIT * digits


def _under_raw(size: int, digits: int) -> float:
    return size - BYTES_PER_STATE_DIGIT * digits


# The cold replay and the report may look at a program again: caching by content keeps that one
# lexing per program.
@functools.lru_cache(maxsize=256)
def _lex(source: bytes, language: str = "python") -> _Lexed | None:
    """The significant tokens and size of a source, or None when it does not tokenize (as its language)."""
    if language != "python":
        return _lex_other(source, language)
    try:
        raw = list(tokenize.tokenize(io.BytesIO(source).readline))
    except (SyntaxError, ValueError, LookupError, tokenize.TokenError, Warning):
        # Bad bytes for the declared encoding, an unknown encoding, an unclosed bracket or string,
        # null bytes, or a tokenizer warning turned into an error: none of it is this check's to report.
        return None
    tokens = _significant(raw, None, ())
    if tokens is None:
        return None
    return _Lexed(tokens, sum(_size(t) for t in raw))


def _lex_other(source: bytes, language: str) -> _Lexed | None:
    """The same reading for another language, from its pygments lexer (see `quinebox.checks._lexed`).

    A string literal's contents are masked; a long string that holds code (a template, a payload
    for ``eval``) keeps its text with the digits masked, so that code hidden in a string cannot
    change while its state does.
    """
    tokens = lex_tokens(source, language)
    if tokens is None:
        return None
    out = [
        _Token(
            mask=_literal_mask(token) if token.literal else None if token.layout else f"{token.kind} {token.text}",
            text=f"{token.kind} {token.text}",
            line=token.line,
            column=token.column,
            literal=token.literal,
            kind=token.kind,
            string=token.text,
            spelling=token.text if token.kind == "STRING" else "",
        )
        for token in tokens
        if not token.layout
    ]
    return _Lexed(tuple(out), sum(token.size for token in tokens))


def _literal_mask(token: LexedToken) -> str:
    if token.kind != "STRING":
        return token.kind
    if token.code is not None:
        return "STRING code " + _DIGIT_RUN.sub("0", token.code)
    return "STRING"


@functools.lru_cache(maxsize=256)
def _inner(spelling: str, within: tuple[int, ...]) -> tuple[_Token, ...] | None:
    """The tokens of the code a string literal holds, or None when it holds none (see `_code_in`)."""
    found = _code_in(spelling)
    return None if found is None else _significant(found[1], found[0], within)


def _significant(
    raw: list[tokenize.TokenInfo], origin: str | None, within: tuple[int, ...]
) -> tuple[_Token, ...] | None:
    out: list[_Token] = []
    joinable = False  # whether the last token is a string that a next string would continue
    prefixes: set[str] = set()  # the prefixes of that string and those it continues
    for info in raw:
        kind = info.type
        if kind in _LAYOUT:
            joinable = joinable and kind in (tokenize.NL, tokenize.COMMENT)
            continue
        if kind == tokenize.ERRORTOKEN:
            return None  # 3.11 reports a stray character or an unclosed quote this way instead of raising
        name = tokenize.tok_name[kind]
        text = f"{name} {info.string}"
        mask: str | None = text
        literal = False
        spelling = ""
        line, column = info.start[0], info.start[1] + 1
        if kind == tokenize.NUMBER:
            mask, literal = "NUMBER", True
        elif kind == tokenize.STRING:
            literal, spelling = True, info.string
            if joinable:
                # Adjacent strings are one literal; keep every prefix seen, so 'a' f'b' != 'a' 'b'.
                last = out.pop()
                prefixes.add(_prefix(info.string))
                text, spelling = f"{last.text} {info.string}", f"{last.spelling} {info.string}"
                line, column = last.line, last.column
            else:
                prefixes = {_prefix(info.string)}
            mask = "STRING " + "+".join(sorted(prefixes))
        elif kind in _STRING_STARTS:
            mask, literal = f"{name} {_prefix(info.string)}", True
        elif kind in _STRING_MIDDLES:
            mask, literal = None, True
        elif kind in _STRING_ENDS:
            mask, literal = name, True
        elif kind == tokenize.OP and info.string == ";":
            mask = None
        out.append(_Token(mask, text, line, column, literal, name, info.string, spelling, within, origin))
        joinable = kind == tokenize.STRING
    return tuple(out)


@functools.lru_cache(maxsize=256)
def _code_in(spelling: str) -> tuple[str, list[tokenize.TokenInfo]] | None:
    """The code a string literal holds, and its tokens, if it holds any: as written, as a template, or encoded.

    A string counts as code when it tokenizes as Python and has a call (a name, ``)``
    or ``]`` before ``(``), an ``import``, ``def``, ``class``, ``return`` or ``lambda``,
    or a compound statement's keyword with its colon: ``"print(a)"`` is code; ``"abc"``,
    ``"12"``, ``"--next"`` and base64 or hex state are not. Read with the tokenizer, not
    the parser, so a template (``%d``, ``{}``) reads as the code it will become, and the
    cost stays one linear pass. A template's ``$name`` and ``{...}`` fields are filled in
    when the text does not tokenize as it is; base64 and hex text count when they decode
    to code.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the program's own invalid escapes are not the host's to report
            value = ast.literal_eval(spelling)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError, Warning):
        return None  # an f-string, or bytes beside str
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    for text in _readings(value):
        tokens = _code_tokens(text)
        if tokens is not None:
            return text, tokens
    return None


def _readings(value: str) -> Iterator[str]:
    """The ways a string's text may be code: itself, its template fields filled in, decoded."""
    yield value
    templated = _TEMPLATE_FIELD.sub("0", value)
    if templated != value:
        yield templated
    escaped = value.replace("{{", "\x00").replace("}}", "\x01")
    formatted = _FORMAT_FIELD.sub("0", escaped).replace("\x00", "{").replace("\x01", "}")
    if formatted != value:
        yield formatted
    compact = "".join(value.split())
    if len(compact) < _MIN_ENCODED:
        return
    decoded: bytes | None = None
    if _HEX_TEXT.fullmatch(compact):
        decoded = bytes.fromhex(compact)
    elif _BASE64_TEXT.fullmatch(value) and len(compact) % 4 == 0:
        try:
            decoded = base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            decoded = None
    if decoded is not None:
        try:
            yield decoded.decode("utf-8")
        except UnicodeDecodeError:
            pass


_DEFINING = frozenset({"import", "def", "class", "return", "lambda"})
_COMPOUND = frozenset({"if", "for", "while", "with", "try", "elif", "else", "except", "finally"})


def _code_tokens(text: str) -> list[tokenize.TokenInfo] | None:
    """The tokens of `text` when it tokenizes cleanly and looks like code (see `_code_in`), else None."""
    try:
        raw = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (SyntaxError, ValueError, LookupError, tokenize.TokenError, Warning, RecursionError):
        return None
    code = False
    compound = False
    previous: tokenize.TokenInfo | None = None
    for info in raw:
        if info.type == tokenize.ERRORTOKEN and not info.string.isspace():
            return None
        if info.type == tokenize.NAME and info.string in _DEFINING:
            code = True
        elif info.type == tokenize.NAME and info.string in _COMPOUND:
            compound = True
        elif info.type == tokenize.OP and info.string == ":" and compound:
            code = True
        elif info.type == tokenize.OP and info.string == "(" and previous is not None:
            if previous.type == tokenize.NAME or previous.string in (")", "]"):
                code = True
        elif info.type in (tokenize.NEWLINE, tokenize.NL):
            compound = False
        if info.type not in _LAYOUT:
            previous = info
    return raw if code else None


def _size(token: tokenize.TokenInfo) -> int:
    """What a token adds to a program's size: nothing for layout, the denoted text for a string."""
    if token.type == tokenize.STRING:
        return _denoted_length(token.string)
    if token.type in _STRING_MIDDLES:
        return _denoted_length(token.string, quoted=False)
    if token.type in _STRING_STARTS or token.type in _STRING_ENDS:
        return 0
    if token.type == tokenize.COMMENT:
        return len(token.string)
    if token.type in _LAYOUT or (token.type == tokenize.OP and token.string == ";"):
        return 0
    return len(token.string)


def _denoted_length(literal: str, quoted: bool = True) -> int:
    """About how many characters a string literal denotes: no prefix or quotes, one per escape."""
    body = literal
    prefix = ""
    if quoted:
        prefix = _prefix(literal)
        body = literal[len(prefix) :]
        quote = 3 if body[:3] in ('"""', "'''") else 1
        body = body[quote:-quote]
    if "r" in prefix:
        return len(body)
    return len(_ESCAPE.sub("_", body))


def _prefix(literal: str) -> str:
    """A string literal's prefix, normalised: case and order do not change what it means."""
    match = _PREFIX.match(literal)
    return "".join(sorted(match.group().lower())) if match else ""


def _shape(tokens: Sequence[_Token]) -> list[_Token]:
    return [t for t in tokens if t.mask is not None]


def _first_difference(
    before: Sequence[_Token], after: Sequence[_Token], depth: int = _CODE_DEPTH
) -> tuple[int, _Token | None, _Token | None] | None:
    """Where the masked token sequences first part: the index and the two tokens (None past the end).

    Programs that differ only in literals have the same number of tokens, so one pass
    position by position decides it: linear in the programs' size, whatever they hold.
    A string whose text changed is read as code (see `_code_in`) on both sides: code is
    compared token by token like the program around it, and code on one side only is a
    difference. An unchanged string needs no reading, so a quine's template costs nothing.
    """
    a, b = _shape(before), _shape(after)
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x.mask != y.mask:
            return i, x, y
        if depth > 0 and x.kind == "STRING" and x.spelling != y.spelling:
            inner_x, inner_y = _inner(x.spelling, (*x.within, x.line)), _inner(y.spelling, (*y.within, y.line))
            if inner_x is None and inner_y is None:
                continue
            if inner_x is None or inner_y is None:
                return i, _as_code(x, inner_x), _as_code(y, inner_y)
            inner = _first_difference(inner_x, inner_y, depth - 1)
            if inner is not None:
                return i, inner[1], inner[2]
    if len(a) == len(b):
        return None
    i = min(len(a), len(b))
    return i, (a[i] if i < len(a) else None), (b[i] if i < len(b) else None)


def _as_code(token: _Token, inner: tuple[_Token, ...] | None) -> _Token:
    """The string token, its mask marked when it holds code: how a code/text switch is shown."""
    return replace(token, mask=f"{token.mask} code") if inner is not None else token


def _ratio(before: Sequence[_Token], after: Sequence[_Token]) -> float:
    """The fraction of tokens equal, literal contents included, position by position (linear)."""
    a, b = [t.text for t in before], [t.text for t in after]
    if not a and not b:
        return 1.0
    if len(a) == len(b):
        same = sum(x == y for x, y in zip(a, b, strict=True))
    else:
        # Different lengths: the common prefix and suffix, the part a position-wise reading can vouch for.
        prefix = 0
        for x, y in zip(a, b, strict=False):
            if x != y:
                break
            prefix += 1
        suffix = 0
        for x, y in zip(reversed(a[prefix:]), reversed(b[prefix:]), strict=False):
            if x != y:
                break
            suffix += 1
        same = prefix + suffix
    return round(same / max(len(a), len(b)), 4)


def _printed_digits(generation: Generation) -> int | None:
    run = generation.judged(RunKind.DEFAULT)
    if run is None or not run.ok or not isinstance(parse_number(run.stdout), int):
        return None
    # Counted from the bytes: str() of an int past 4300 digits raises.
    return len(run.stdout.rstrip(b"\n").lstrip(b"-"))


def _literal_digits(lexed: _Lexed | None) -> int | None:
    """When nothing was printed, the state's size is guessed from the longest run of digits in a literal."""
    if lexed is None:
        return None
    runs = [len(m) for t in lexed.tokens if t.literal for m in _DIGIT_RUN.findall(t.text)]
    return max(runs, default=0)


# What a person reads.


def _place(token: _Token | None) -> str:
    if token is None:
        return "the end"
    place = f"line {token.line}, column {token.column}"
    if token.within:
        place += f" of the code in the string that starts at line {token.within[0]}"
    return place


def _words(token: _Token | None) -> str:
    """A token as a person names it: `the name 'x'`, `the keyword 'import'`, `a number`."""
    if token is None:
        return "the end of the program"
    text = token.string if len(token.string) <= _TOKEN_CHARS else token.string[:_TOKEN_CHARS] + "..."
    if token.kind == "NAME":
        return f"the keyword '{text}'" if keyword.iskeyword(token.string) else f"the name '{text}'"
    if token.kind == "OP":
        return f"'{text}'"
    if token.kind == "NUMBER":
        return "a number"
    if token.kind == "STRING" or token.literal:
        what = "a string"
        if token.mask and token.mask.endswith(" code"):
            what = "a string holding code"
        prefix = token.mask.split()[1] if token.mask and len(token.mask.split()) > 1 else ""
        if prefix and prefix != "code":
            what += f" with prefix {prefix}"
        return what
    return f"'{text}'"


def _change_note(old: _Token | None, new: _Token | None) -> str:
    for token, other in ((old, new), (new, old)):
        if token is not None and token.mask and token.mask.endswith(" code") and other is not None:
            if other.mask and not other.mask.endswith(" code") and other.kind == "STRING":
                return "; a string that was run as code changed into one that is not, or back"
    return ""


def _line_of(generation: Generation, token: _Token | None) -> str | None:
    """The line a token stands on, from the program or from the string's code it came from."""
    if token is None:
        return None
    if token.origin is not None:
        lines = token.origin.splitlines()
    else:
        lines = generation.source.decode("utf-8", "backslashreplace").splitlines()
    if not 1 <= token.line <= len(lines):
        return ""
    line = lines[token.line - 1]
    if len(line) <= _SHOWN_LINE:
        return line
    start = max(0, token.column - 1 - _SHOWN_LINE // 2)
    return ("..." if start else "") + line[start : start + _SHOWN_LINE] + "..."


def _two_lines(prev: Generation, old: _Token | None, this: Generation, new: _Token | None) -> str:
    def one(generation: Generation, token: _Token | None) -> str:
        if token is None:
            return f"program {generation.index} ends there"
        return f"program {generation.index} line {token.line}: {_line_of(generation, token)!r}"

    return f"{one(prev, old)}; {one(this, new)}"


def _token_evidence(token: _Token | None) -> dict[str, Any] | None:
    if token is None:
        return None
    text = token.text if len(token.text) <= _TOKEN_CHARS else token.text[:_TOKEN_CHARS] + "..."
    evidence: dict[str, Any] = {"line": token.line, "column": token.column, "token": text, "masked": token.mask}
    if token.within:
        evidence["in_string_at_line"] = token.within[0]
    return evidence


def _unified_diff(before: Generation, after: Generation) -> str:
    """A unified diff of two programs for a person: decoded leniently, capped, and linear.

    The common head and tail lines are dropped first (one linear pass), and difflib sees
    at most a window of the lines in between, so a hostile pair cannot make it quadratic.
    """
    a = before.source.decode("utf-8", "backslashreplace").splitlines(keepends=True)
    b = after.source.decode("utf-8", "backslashreplace").splitlines(keepends=True)
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    start = max(0, head - 2)
    a_mid = a[start : max(start, len(a) - max(0, tail - 2))][:_DIFF_WINDOW]
    b_mid = b[start : max(start, len(b) - max(0, tail - 2))][:_DIFF_WINDOW]
    lines = [f"--- program {before.index}", f"+++ program {after.index}"]
    used = 0
    diff = difflib.unified_diff(a_mid, b_mid, n=2)
    for line in list(diff)[2:]:
        line = line.rstrip("\n")
        if line.startswith("@@"):
            line = _shift_hunk(line, start)
        if len(line) > _DIFF_LINE_CHARS:
            line = line[:_DIFF_LINE_CHARS] + f"... ({len(line)} chars)"
        if len(lines) >= _DIFF_LINES or used + len(line) > _DIFF_CHARS:
            lines.append("... (diff truncated)")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


_HUNK = re.compile(r"@@ -(\d+)((?:,\d+)?) \+(\d+)((?:,\d+)?) @@")


def _shift_hunk(line: str, offset: int) -> str:
    """A hunk header of the window, renumbered to the whole programs' lines."""
    match = _HUNK.match(line)
    if match is None:
        return line
    old, old_len, new, new_len = match.groups()
    return f"@@ -{int(old) + offset}{old_len} +{int(new) + offset}{new_len} @@" + line[match.end() :]
