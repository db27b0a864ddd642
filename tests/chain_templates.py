"""Correct quine chains generated from a starting pair and a template style, and single mutations of them.

Each style returns P0's source; the program carries (a, b) and on --next prints itself with (b, a + b).
A mutation changes one thing, and names the check that must catch it.
"""

from __future__ import annotations

from collections.abc import Callable

NEXT = '["--next"]'


def percent_r(a: int, b: int, step: str = "a + b", extra: str = "") -> str:
    body = f"import sys\\n{extra}a, b = %d, %d\\ns = %r\\nprint(s %% (b, {step}, s) if sys.argv[1:] == {NEXT} else a)"
    return f"import sys\na, b = {a}, {b}\ns = '{body}'\nprint(s % (b, {step}, s) if sys.argv[1:] == {NEXT} else a)\n"


def str_format(a: int, b: int, step: str = "a + b", extra: str = "") -> str:
    body = (
        f"import sys\\n{extra}a, b = {{}}, {{}}\\nt = {{!r}}\\n"
        f"print(t.format(b, {step}, t) if sys.argv[1:] == {NEXT} else a)"
    )
    return (
        f"import sys\na, b = {a}, {b}\nt = '{body}'\nprint(t.format(b, {step}, t) if sys.argv[1:] == {NEXT} else a)\n"
    )


def exec_payload(a: int, b: int, step: str = "a + b", extra: str = "") -> str:
    payload = (
        "import sys\n"
        f"if sys.argv[1:] == {NEXT}:\n"
        f"    print({extra.replace(chr(92) + 'n', chr(10))!r} + 'a, b = %d, %d\\np = %r\\nexec(p)' % (b, {step}, p))\n"
        "else:\n"
        "    print(a)"
    )
    return f"a, b = {a}, {b}\np = {payload!r}\nexec(p)\n"


STYLES: dict[str, Callable[..., str]] = {"percent_r": percent_r, "str_format": str_format, "exec": exec_payload}

#: mutation name -> (keyword arguments for the style, the check that must fail)
MUTATIONS: dict[str, tuple[dict[str, str], str]] = {
    "off_by_one": ({"step": "a + b + 1"}, "sequence"),
    "changed_operator": ({"step": "a * b + 1"}, "sequence"),
    "extra_line_in_template": ({"extra": "x = 0\\n"}, "self-similarity"),
}


def reads_own_file(source: str) -> str:
    """The same chain, but P0 opens its own file first: integrity must catch it at generation 0."""
    return "import sys\nif sys.argv[0] != '-':\n    open(sys.argv[0]).read()\n" + source
