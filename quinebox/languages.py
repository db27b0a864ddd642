"""Which language a program is in, and which languages quinebox judges.

Only Python is judged today. An answer in another language is *not judged*
(verdict ``not_judged``, the language named), never a failure: the model may
well be right, quinebox just cannot run it yet. `is_judged` is the one place
that decision lives, so judging a new language means adding it there (and its
launcher in the sandbox).

A language is named only on positive evidence, in this order: a fence tag, a
file extension, a shebang line, then unmistakable content (``console.log``,
``#include``, ``main :: IO``) in text that does not parse as Python. Anything
else is Python, so that a broken Python program is judged (and fails) as one.
"""

from __future__ import annotations

import ast
import re
import warnings

PYTHON = "python"
#: Languages quinebox can run and judge.
JUDGED = frozenset({PYTHON})

#: Fence tags, file extensions and interpreter names, each to the language it names.
_ALIASES: dict[str, str] = {
    **dict.fromkeys(("python", "python3", "python2", "py", "py3", "pyw", "ipython"), PYTHON),
    **dict.fromkeys(("javascript", "js", "node", "nodejs", "mjs", "cjs", "jsx"), "javascript"),
    **dict.fromkeys(("typescript", "ts", "tsx", "deno"), "typescript"),
    **dict.fromkeys(("ruby", "rb"), "ruby"),
    **dict.fromkeys(("c", "h"), "c"),
    **dict.fromkeys(("cpp", "c++", "cc", "cxx", "hpp"), "c++"),
    **dict.fromkeys(("bash", "sh", "shell", "zsh", "ksh", "dash"), "bash"),
    **dict.fromkeys(("haskell", "hs", "runhaskell", "runghc"), "haskell"),
    **dict.fromkeys(("go", "golang"), "go"),
    **dict.fromkeys(("rust", "rs"), "rust"),
    **dict.fromkeys(("java",), "java"),
    **dict.fromkeys(("perl", "pl"), "perl"),
    **dict.fromkeys(("php",), "php"),
    **dict.fromkeys(("lua",), "lua"),
    **dict.fromkeys(("kotlin", "kt"), "kotlin"),
    **dict.fromkeys(("swift",), "swift"),
    **dict.fromkeys(("csharp", "cs", "c#"), "c#"),
    **dict.fromkeys(("r",), "r"),
    **dict.fromkeys(("julia", "jl"), "julia"),
    **dict.fromkeys(("scala",), "scala"),
    **dict.fromkeys(("elixir", "ex", "exs"), "elixir"),
    **dict.fromkeys(("scheme", "racket", "lisp", "clojure", "clj"), "lisp"),
    **dict.fromkeys(("ocaml", "ml"), "ocaml"),
}

#: Content that only the named language has; tried only on text that does not parse as Python.
_MARKERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("c++", re.compile(r"#include\s*<(iostream|string|vector)>|std::")),
    ("c", re.compile(r"#include\s*[<\"]|int\s+main\s*\(")),
    ("javascript", re.compile(r"console\.log\s*\(|process\.argv|\bconst\s+\w+\s*=|\bfunction\s+\w+\s*\(")),
    ("haskell", re.compile(r"^main\s*::|^import\s+System\.|getArgs|putStr(Ln)?\b", re.M)),
    ("go", re.compile(r"^package\s+main\b|\bfunc\s+main\s*\(", re.M)),
    ("rust", re.compile(r"\bfn\s+main\s*\(|println!\s*\(")),
    ("java", re.compile(r"public\s+static\s+void\s+main|System\.out\.print")),
    ("ruby", re.compile(r"\bARGV\b|^\s*puts\b|\bend\s*$", re.M)),
    ("bash", re.compile(r"\$\{?[1@]|^\s*echo\b|\bfi\s*$|\besac\b", re.M)),
    ("php", re.compile(r"<\?php")),
    ("perl", re.compile(r"^\s*use\s+strict|\bmy\s+\$", re.M)),
)
_SHEBANG = re.compile(r"#!\s*(\S+)(?:[ \t]+(\S+))?")


def is_judged(language: str) -> bool:
    """Whether quinebox can run and judge programs in `language` (a name from `language_of`)."""
    return language in JUDGED


def language_name(word: str) -> str | None:
    """The language a fence tag, extension or interpreter names (``js`` -> ``javascript``); None if none."""
    return _ALIASES.get(word.strip().lower().lstrip(".").removeprefix("language-"))


def language_of(source: str, *, tag: str = "", suffix: str = "") -> str:
    """The language of `source`, from its fence `tag`, file `suffix`, shebang or content; Python by default."""
    for word in (tag, suffix):
        named = language_name(word) if word else None
        if named is not None:
            return named
    shebang = _shebang_language(source)
    if shebang is not None:
        return shebang
    if parses_as_python(source):
        return PYTHON
    for language, marker in _MARKERS:
        if marker.search(source):
            return language
    return PYTHON


def parses_as_python(source: str) -> bool:
    """Whether `source` is valid Python; warnings silenced, and nothing raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ast.parse(source)
        except Exception:  # SyntaxError, ValueError (NUL), MemoryError or RecursionError on deep nesting
            return False
    return True


def _shebang_language(source: str) -> str | None:
    match = _SHEBANG.match(source)
    if match is None:
        return None
    program, argument = match.group(1), match.group(2) or ""
    name = program.rsplit("/", 1)[-1]
    if name == "env" and argument:
        name = argument
    return language_name(re.sub(r"[\d.]+$", "", name)) or language_name(name)
