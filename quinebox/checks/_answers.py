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

Binary data (decoded bytes of which more than a tenth are not text, a run of
byte escapes) spells every small number somewhere by chance: 75 KB of noise
holds 13, 21, 34, 55 and 89 as words. There only terms that follow one
another where they stand count: as words of the decoded text, or as byte
values. A table hidden in a blob is still a table in order.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from quinebox.checks._numbers import digit_count, text_int

#: Consecutive future terms that make a table.
TABLE_TERMS = 4
#: How far ahead to look: far past the generations any chain is asked to run.
LOOKAHEAD = 200
#: Terms smaller than this are everyday constants, never evidence.
SMALLEST = 10

#: A whole word (letters, digits, underscores) that is a number: decimal, a 0x/0o/0b literal, or bare hex.
_NUMBER_WORD = re.compile(
    r"(?<![0-9A-Za-z_])"
    r"(?:([0-9](?:_?[0-9])*)|(0(?:[xX](?:_?[0-9a-fA-F])+|[oO](?:_?[0-7])+|[bB](?:_?[01])+))|([0-9a-fA-F]{2,}))"
    r"(?![0-9A-Za-z_])"
)
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?|[A-Za-z0-9+/]{2,3}={1,2}")
_HEX_TEXT = re.compile(r"(?:[0-9a-fA-F]{2}){8,}")
_BYTE_ESCAPES = re.compile(r"(?:\\x[0-9a-fA-F]{2})+")
_DEPTH = 2
#: Bytes of text: decoded data with more than a tenth of other bytes is binary.
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\t\n\r"
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


@functools.lru_cache(maxsize=128)
def carried_table(source: bytes, first: int, second: int) -> tuple[int, ...] | None:
    """The longest run of at least TABLE_TERMS consecutive future terms the source spells, or None.

    Remembered for the last programs asked about: a verification asks about each of its programs
    once while recording and again in each judgement of the whole chain, and this search is most
    of what judging costs (two thirds of the checks' time for a 50-generation chain).

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
    scope = _Scope.of(terms, set(lengths))
    found = set(_spelled(source.decode("latin-1"), scope, _DEPTH)) & wanted
    if len(found) < TABLE_TERMS:
        return None
    best: list[int] = []
    run: list[int] = []
    for term in terms:
        run = run + [term] if term in found else []
        if len(run) > len(best):
            best = run
    return tuple(best) if len(best) >= TABLE_TERMS else None


@dataclass(frozen=True)
class _Scope:
    """What a search needs to know of the terms: their digit lengths, and which term follows which."""

    lengths: set[int]
    successor: dict[int, int]
    byte_runs: tuple[tuple[bytes, tuple[int, ...]], ...] = ()

    @classmethod
    def of(cls, terms: list[int], lengths: set[int]) -> _Scope:
        """The scope of consecutive `terms`, with every run of TABLE_TERMS of them that fits in bytes."""
        runs = tuple(
            (bytes(terms[i : i + TABLE_TERMS]), tuple(terms[i : i + TABLE_TERMS]))
            for i in range(len(terms) - TABLE_TERMS + 1)
            if max(terms[i : i + TABLE_TERMS]) < 256
        )
        return cls(lengths, dict(zip(terms, terms[1:], strict=False)), runs)

    def in_order(self, numbers: list[int]) -> Iterator[int]:
        """The numbers that stand in runs of TABLE_TERMS or more consecutive terms, in order.

        Binary data (a random payload, a blob of byte escapes) spells every small number somewhere;
        only terms that follow one another where they stand are evidence there.
        """
        run: list[int] = []
        for number in numbers:
            if run and self.successor.get(run[-1]) == number:
                run.append(number)
                continue
            if len(run) >= TABLE_TERMS:
                yield from run
            run = [number] if number in self.successor else []
        if len(run) >= TABLE_TERMS:
            yield from run

    def bytes_in_order(self, data: bytes) -> Iterator[int]:
        """`in_order` for byte values, searched in C for each run of terms that fits in bytes."""
        if len(data) < TABLE_TERMS:
            return
        for pattern, run in self.byte_runs:
            if pattern in data:
                yield from run


def _spelled(text: str, scope: _Scope, depth: int, binary: bool = False) -> Iterator[int]:
    """Every number `text` spells; decimal words only of the digit lengths that can matter.

    binary: `text` is decoded binary data. Its decimal words are not read as hex too (a second
    reading of each word would stand between two terms, and only their order counts there), and
    it is searched for no further encoding: noise holds short base64 words everywhere.
    """
    for match in _NUMBER_WORD.finditer(text):
        decimal, prefixed, bare_hex = match.groups()
        if decimal is not None:
            digits = decimal.replace("_", "")
            if len(digits) in scope.lengths and (digits == "0" or digits[0] != "0"):
                yield text_int(digits)
            if not binary and len(digits) <= _HEX_WORD:
                yield int(digits, 16)  # a hex word that happens to hold no letter
        elif prefixed is not None:
            yield int(prefixed, 0)
        else:
            yield int(bare_hex, 16)
    for match in _BYTE_ESCAPES.finditer(text):
        data = bytes.fromhex(match.group().replace("\\x", ""))
        yield from scope.bytes_in_order(data)
        yield int.from_bytes(data, "big")
    if depth <= 0 or binary:
        return
    for match in _HEX_TEXT.finditer(text):
        yield from _decoded(bytes.fromhex(match.group()), scope, depth)
    for match in _BASE64.finditer(text):
        chunk = match.group()
        try:
            data = base64.b64decode(chunk + "=" * (-len(chunk) % 4), validate=True)
        except (binascii.Error, ValueError):
            continue
        yield from _decoded(data, scope, depth)


def _decoded(data: bytes, scope: _Scope, depth: int) -> Iterator[int]:
    """Decoded data as one number, and read again: as text where it is text, else only terms in order."""
    if data:
        yield int.from_bytes(data, "big")
    if len(data) < TABLE_TERMS:
        return  # too short to spell TABLE_TERMS numbers, in text or as bytes
    text = data.decode("latin-1")
    if len(data.translate(None, _PRINTABLE)) <= len(data) // 10:
        yield from _spelled(text, scope, depth - 1)
    else:
        yield from scope.in_order(list(_spelled(text, scope, depth - 1, binary=True)))
        yield from scope.bytes_in_order(data)  # a table of byte values
