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

import difflib
import functools
import io
import re
import tokenize
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from quinebox.checks._numbers import parse_number
from quinebox.checks._result import CheckOptions, CheckResult, failed, passed
from quinebox.record import Chain, Generation, RunKind

__all__ = ["check_self_similarity"]

NAME = "self-similarity"

#: Characters a program may grow for each digit its state gains (the numbers it and its successor print).
CHARS_PER_STATE_DIGIT = 1.5
#: Characters of growth never held against a program, over any stretch of generations.
SLACK = 12

_MAX_LIST = 200
_DIFF_LINES = 60
_DIFF_CHARS = 4000
_DIFF_LINE_CHARS = 240
_TOKEN_CHARS = 80
#: Above this many tokens (both programs together) the similarity figure is the cheap upper bound.
_EXACT_RATIO_TOKENS = 10_000

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


@dataclass(frozen=True)
class _Token:
    """One significant token: what the shape rule sees, and what a person and the ratio see."""

    mask: str | None
    """The token with any literal contents masked; None when it is not part of the shape."""
    text: str
    """Type and full text, literal contents included."""
    line: int
    column: int
    """1-based, as editors count."""
    literal: bool = False
    """Part of a literal, whose contents the mask hides."""


@dataclass(frozen=True)
class _Lexed:
    """A program that tokenizes: its significant tokens, and its size without layout."""

    tokens: tuple[_Token, ...]
    size: int
    """Characters of every token but layout, strings by the text they denote (see `_size`)."""


def check_self_similarity(chain: Chain, options: CheckOptions) -> CheckResult:
    generations = chain.generations
    if not generations:
        return passed(NAME, "no programs to compare", pairs=0)
    lexed = [_lex(g.source) if g.source else None for g in generations]
    digits, digits_from = _state_digits(generations, lexed)
    sizes = [x.size if x is not None else None for x in lexed]
    # While recording, the last program's successor has not printed yet: its state is not known.
    judged = len(generations) - 1 if options.partial else len(generations)

    similarity: list[dict[str, Any]] = []
    compared = skipped = 0
    # Growth is measured from the program lowest under the growth line so far, which leaves each
    # later program the least room: that covers every stretch j..k at once.
    lowest = (0, sizes[0]) if sizes[0] is not None else None
    for k in range(1, len(generations)):
        before, after = lexed[k - 1], lexed[k]
        if after is None or before is None:
            skipped += 1
        else:
            compared += 1
            ratio = _pair_ratio(generations[k - 1].source, generations[k].source)
            similarity.append({"generation": generations[k].index, "ratio": ratio})
            difference = _first_difference(before.tokens, after.tokens)
            if difference is not None:
                return _shape_failure(generations, k, difference, similarity, sizes, digits, digits_from)
        if after is None or k >= judged:
            continue
        if lowest is not None:
            j, grew = lowest[0], after.size - lowest[1]
            allowed = int(CHARS_PER_STATE_DIGIT * (digits[k] - digits[j])) + SLACK
            if grew > allowed:
                return _growth_failure(generations, k, j, grew, allowed, similarity, sizes, digits, digits_from)
        if lowest is None or _under(after.size, digits[k]) < _under(lowest[1], digits[lowest[0]]):
            lowest = (k, after.size)

    measured = [(size, digits[k]) for k, size in enumerate(sizes) if size is not None]
    size_note = skip_note = ""
    if measured:
        grew, gained = measured[-1][0] - measured[0][0], measured[-1][1] - measured[0][1]
        size_note = f"; size changed {grew:+d} characters while its state grew {gained} digits"
    if skipped:
        skip_note = f"; {skipped} pairs skipped (a program did not tokenize or was not recorded)"
    return passed(
        NAME,
        f"{compared} consecutive pairs differ only inside literals{size_note}{skip_note}",
        pairs=compared,
        skipped=skipped,
        **_figures(generations, similarity, sizes, digits, digits_from, len(generations)),
    )


def _under(size: int, digits: int) -> float:
    """How far a program sits under the growth line: its size less its allowance."""
    return size - CHARS_PER_STATE_DIGIT * digits


# The chain driver re-judges the whole chain after every generation; caching by content keeps
# that linear. Both functions are pure, and what they return is immutable.
@functools.lru_cache(maxsize=1024)
def _lex(source: bytes) -> _Lexed | None:
    """The significant tokens and size of a source, or None when it does not tokenize as Python."""
    try:
        raw = list(tokenize.tokenize(io.BytesIO(source).readline))
    except (SyntaxError, ValueError, LookupError, tokenize.TokenError, Warning):
        # Bad bytes for the declared encoding, an unknown encoding, an unclosed bracket or string,
        # null bytes, or a tokenizer warning turned into an error: none of it is this check's to report.
        return None
    out: list[_Token] = []
    size = sum(_size(t) for t in raw)
    joinable = False  # whether the last token is a string that a next string would continue
    prefixes: set[str] = set()  # the prefixes of that string and those it continues
    for info in raw:
        if info.type in _LAYOUT:
            joinable = joinable and info.type in (tokenize.NL, tokenize.COMMENT)
            continue
        if info.type == tokenize.ERRORTOKEN:
            return None  # 3.11 reports a stray character or an unclosed quote this way instead of raising
        name = tokenize.tok_name[info.type]
        token = _Token(f"{name} {info.string}", f"{name} {info.string}", info.start[0], info.start[1] + 1)
        if info.type == tokenize.NUMBER:
            token = replace(token, mask="NUMBER", literal=True)
        elif info.type == tokenize.STRING:
            if joinable:
                # Adjacent strings are one literal; keep every prefix seen, so 'a' f'b' != 'a' 'b'.
                last = out.pop()
                prefixes.add(_prefix(info.string))
                token = replace(last, text=f"{last.text} {info.string}")
            else:
                prefixes = {_prefix(info.string)}
            token = replace(token, mask="STRING " + "+".join(sorted(prefixes)), literal=True)
        elif info.type in _STRING_STARTS:
            token = replace(token, mask=f"{name} {_prefix(info.string)}", literal=True)
        elif info.type in _STRING_MIDDLES:
            token = replace(token, mask=None, literal=True)
        elif info.type in _STRING_ENDS:
            token = replace(token, mask=name, literal=True)
        elif info.type == tokenize.OP and info.string == ";":
            token = replace(token, mask=None)
        out.append(token)
        joinable = info.type == tokenize.STRING
    return _Lexed(tuple(out), size)


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
    before: Sequence[_Token], after: Sequence[_Token]
) -> tuple[int, _Token | None, _Token | None] | None:
    """Where the masked token sequences first part: the index and the two tokens (None past the end)."""
    a, b = _shape(before), _shape(after)
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x.mask != y.mask:
            return i, x, y
    if len(a) == len(b):
        return None
    i = min(len(a), len(b))
    return i, (a[i] if i < len(a) else None), (b[i] if i < len(b) else None)


@functools.lru_cache(maxsize=1024)
def _pair_ratio(before: bytes, after: bytes) -> float:
    lexed_before, lexed_after = _lex(before), _lex(after)
    assert lexed_before is not None and lexed_after is not None
    return _ratio(lexed_before.tokens, lexed_after.tokens)


def _ratio(before: Sequence[_Token], after: Sequence[_Token]) -> float:
    """The fraction of tokens equal, literal contents included."""
    a, b = [t.text for t in before], [t.text for t in after]
    if not a and not b:
        return 1.0
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    value = matcher.ratio() if len(a) + len(b) <= _EXACT_RATIO_TOKENS else matcher.quick_ratio()
    return round(value, 4)


def _state_digits(generations: Sequence[Generation], lexed: Sequence[_Lexed | None]) -> tuple[list[int], str]:
    """Per generation, the digits of the state it carries, and where they were read.

    The state of program k is the numbers printed by it and by program k+1;
    the last program's successor is not recorded, so its own number counts
    twice. A generation that printed no valid number takes its predecessor's.
    Only when the chain printed none at all (no default runs recorded, or none
    clean) do the programs' own literals stand in: their longest run of
    decimal digits. The result never decreases.
    """
    raw = [_printed_digits(g) for g in generations]
    source = "output"
    if all(d is None for d in raw):
        raw = [_literal_digits(x) for x in lexed]
        source = "literals"
    known = next((d for d in raw if d is not None), 0)
    filled: list[int] = []
    for d in raw:
        known = known if d is None else d
        filled.append(known)
    out: list[int] = []
    best = 0
    for k, d in enumerate(filled):
        best = max(best, d + (filled[k + 1] if k + 1 < len(filled) else d))
        out.append(best)
    return out, source


def _printed_digits(generation: Generation) -> int | None:
    run = generation.run(RunKind.DEFAULT)
    if run is None or not run.ok or not isinstance(parse_number(run.stdout), int):
        return None
    # Counted from the bytes: str() of an int past 4300 digits raises.
    return len(run.stdout.rstrip(b"\n").lstrip(b"-"))


def _literal_digits(lexed: _Lexed | None) -> int | None:
    if lexed is None:
        return None
    runs = [len(m) for t in lexed.tokens if t.literal for m in _DIGIT_RUN.findall(t.text)]
    return max(runs, default=0)


def _shape_failure(
    generations: Sequence[Generation],
    k: int,
    difference: tuple[int, _Token | None, _Token | None],
    similarity: list[dict[str, Any]],
    sizes: Sequence[int | None],
    digits: Sequence[int],
    digits_from: str,
) -> CheckResult:
    index, old, new = difference
    prev, this = generations[k - 1], generations[k]
    where = new or old
    place = f"line {where.line}, column {where.column}" if where else "the end"
    return failed(
        NAME,
        this.index,
        f"program {this.index} differs from program {prev.index} outside literals at {place}: "
        f"{_show(new)} where program {prev.index} had {_show(old)}",
        rule="tokens",
        first_difference={
            "token_index": index,
            "before": _token_evidence(old),
            "after": _token_evidence(new),
        },
        diff=_unified_diff(prev, this),
        **_figures(generations, similarity, sizes, digits, digits_from, k + 1),
    )


def _growth_failure(
    generations: Sequence[Generation],
    k: int,
    start: int,
    grew: int,
    allowed: int,
    similarity: list[dict[str, Any]],
    sizes: Sequence[int | None],
    digits: Sequence[int],
    digits_from: str,
) -> CheckResult:
    this, base = generations[k], generations[start]
    gained = digits[k] - digits[start]
    return failed(
        NAME,
        this.index,
        f"program {this.index} is {grew} characters longer than program {base.index} (layout aside) while "
        f"its state grew {gained} digits (at most {allowed} allowed): the program grows faster than its state",
        rule="growth",
        grew_chars=grew,
        gained_state_digits=gained,
        allowed_chars=allowed,
        since_generation=base.index,
        limit={"chars_per_state_digit": CHARS_PER_STATE_DIGIT, "slack": SLACK},
        diff=_unified_diff(base, this),
        **_figures(generations, similarity, sizes, digits, digits_from, k + 1),
    )


def _figures(
    generations: Sequence[Generation],
    similarity: list[dict[str, Any]],
    sizes: Sequence[int | None],
    digits: Sequence[int],
    digits_from: str,
    upto: int,
) -> dict[str, Any]:
    """Per-generation figures for a pass or a fail, capped to the last entries before `upto`.

    ``growth`` holds sizes as the size rule counts them (None where a program did not
    tokenize or was not recorded) from generation ``growth_from`` on, and
    ``state_digits`` the matching state digits.
    """
    first = max(0, upto - _MAX_LIST)
    return {
        "similarity": similarity[-_MAX_LIST:],
        "growth": list(sizes[first:upto]),
        "state_digits": list(digits[first:upto]),
        "growth_from": generations[first].index,
        "state_digits_from": digits_from,
    }


def _excerpt(token: _Token) -> str:
    return token.text if len(token.text) <= _TOKEN_CHARS else token.text[:_TOKEN_CHARS] + "..."


def _show(token: _Token | None) -> str:
    return repr(_excerpt(token)) if token is not None else "the end of the program"


def _token_evidence(token: _Token | None) -> dict[str, Any] | None:
    if token is None:
        return None
    return {"line": token.line, "column": token.column, "token": _excerpt(token), "masked": token.mask}


def _unified_diff(before: Generation, after: Generation) -> str:
    """A unified diff of two programs for a person: decoded leniently, capped in lines and characters."""
    a = before.source.decode("utf-8", "backslashreplace").splitlines(keepends=True)
    b = after.source.decode("utf-8", "backslashreplace").splitlines(keepends=True)
    lines: list[str] = []
    used = 0
    diff = difflib.unified_diff(a, b, f"program {before.index}", f"program {after.index}", n=2)
    for line in diff:
        line = line.rstrip("\n")
        if len(line) > _DIFF_LINE_CHARS:
            line = line[:_DIFF_LINE_CHARS] + f"... ({len(line)} chars)"
        if len(lines) >= _DIFF_LINES or used + len(line) > _DIFF_CHARS:
            lines.append("... (diff truncated)")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)
