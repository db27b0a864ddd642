r"""Tables of answers: the terms of the sequence a program carries beyond its state.

A program of a Fibonacci-like chain needs two numbers of state: the term it
prints and the next one. A program that carries the terms after those has
looked the answers up instead of computing them, and breaks once the table
runs out (after the 60 terms it holds, say), which no 50-generation run sees.

What counts as carried: every number the program's text spells, in any of
the ways a person could reasonably spell one. Words of decimal digits
(``1_000`` included, lists split on their separators), ``0x``/``0o``/``0b``
literals, bare hex words, ``\x`` byte escapes (each byte and all of them
as one big-endian number), and base64 (words of four characters or more) or hex text, decoded and read again
(both as text and as one big-endian number), two layers deep. Digits inside
a longer word (``ab12cd``) are not a number: that keeps random payloads
quiet. Terms under 10 are ignored: 1, 2, 3, 5 and 8 are everyday constants.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator

from quinebox.checks._numbers import digit_count, text_int

#: Consecutive future terms that make a table.
TABLE_TERMS = 4
#: How far ahead to look: far past the generations any chain is asked to run.
LOOKAHEAD = 200
#: Terms smaller than this are everyday constants, never evidence.
SMALLEST = 10

_WORD = re.compile(r"[0-9A-Za-z_]+")
_DECIMAL = re.compile(r"[0-9](?:_?[0-9])*")
_PREFIXED = re.compile(r"0(?:[xX](?:_?[0-9a-fA-F])+|[oO](?:_?[0-7])+|[bB](?:_?[01])+)")
_BARE_HEX = re.compile(r"[0-9a-fA-F]{2,}")
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?|[A-Za-z0-9+/]{2,3}={1,2}")
_HEX_TEXT = re.compile(r"(?:[0-9a-fA-F]{2}){8,}")
_BYTE_ESCAPES = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")
_DEPTH = 2
#: Decimal words up to this long are also read as hex.
_HEX_WORD = 64


def future_terms(first: int, second: int) -> list[int]:
    """The LOOKAHEAD terms after the state pair (first, second): what a program must not carry."""
    out: list[int] = []
    a, b = first, second
    for _ in range(LOOKAHEAD):
        a, b = b, a + b
        out.append(b)
    return out


def carried_table(source: bytes, first: int, second: int) -> list[int] | None:
    """The longest run of at least TABLE_TERMS consecutive future terms the source spells, or None.

    Args:
        source: the program.
        first: the number it prints (its state's first half).
        second: the number its successor prints (the second half).
    """
    if first < 0 or second < 0:
        return None
    terms = future_terms(first, second)
    wanted = {t for t in terms if t >= SMALLEST}
    if len(wanted) < TABLE_TERMS:
        return None
    lengths = range(digit_count(min(wanted)), digit_count(max(wanted)) + 1)
    found = set(_spelled(source.decode("latin-1"), set(lengths), _DEPTH)) & wanted
    if len(found) < TABLE_TERMS:
        return None
    best: list[int] = []
    run: list[int] = []
    for term in terms:
        run = run + [term] if term in found else []
        if len(run) > len(best):
            best = run
    return best if len(best) >= TABLE_TERMS else None


def _spelled(text: str, lengths: set[int], depth: int) -> Iterator[int]:
    """Every number `text` spells; decimal words only of the digit lengths that can matter."""
    for match in _WORD.finditer(text):
        word = match.group()
        if _DECIMAL.fullmatch(word):
            digits = word.replace("_", "")
            if len(digits) in lengths and (digits == "0" or digits[0] != "0"):
                yield text_int(digits)
            if len(digits) <= _HEX_WORD:
                yield int(digits, 16)  # a hex word that happens to hold no letter
            continue
        if _PREFIXED.fullmatch(word):
            yield int(word, 0)
        elif _BARE_HEX.fullmatch(word):
            yield int(word, 16)
    for match in _BYTE_ESCAPES.finditer(text):
        data = bytes.fromhex(match.group().replace("\\x", ""))
        yield from data
        yield int.from_bytes(data, "big")
    if depth <= 0:
        return
    for match in _HEX_TEXT.finditer(text):
        yield from _decoded(bytes.fromhex(match.group()), lengths, depth)
    for match in _BASE64.finditer(text):
        chunk = match.group()
        try:
            data = base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        yield from _decoded(data, lengths, depth)


def _decoded(data: bytes, lengths: set[int], depth: int) -> Iterator[int]:
    if data:
        yield int.from_bytes(data, "big")
    yield from _spelled(data.decode("latin-1"), lengths, depth - 1)
