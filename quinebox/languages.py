"""Which language a program is in, and how quinebox runs and reads each language it judges.

A judged language is a `Language`: a small record of data that says how a
sighted run finds its source (a file) and how a blind run gets it (stdin, or a
compile from stdin), the optional compile step, the launcher that counts work
and audits in the sandbox, and the pygments lexer self-similarity reads it
with. Python, JavaScript, Ruby, C and Bash are judged. An answer in any other
language is *not judged* (verdict ``not_judged``, the language named), never a
failure: the model may well be right, quinebox just cannot run it.

A language is named only on positive evidence, in this order: a fence tag, a
file extension, a shebang line, then unmistakable content (``console.log``,
``#include``, ``main :: IO``) in text that does not parse as Python. Anything
else is Python, so that a broken Python program is judged (and fails) as one.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass
from typing import Any

PYTHON = "python"


@dataclass(frozen=True)
class Compile:
    """A compile step: it runs in the sandbox like a program, and its output is cached by source hash."""

    argv: tuple[str, ...]
    """The sighted compile; ``{source}`` is the source file."""
    blind_argv: tuple[str, ...]
    """The blind compile, reading the source on stdin."""
    output: str
    """The file the compiler leaves in the run's working directory."""
    wall_s: float = 30.0
    cpu_s: int = 20
    mem_mb: int = 1024


@dataclass(frozen=True)
class Language:
    """How to run, count and read programs of one language."""

    name: str
    title: str
    """For people: ``JavaScript``."""
    extensions: tuple[str, ...]
    source_name: str
    """The sighted run's file, in the box."""
    argv: tuple[str, ...]
    """The sighted run; ``{source}`` is the file and ``{launcher}`` the sandbox's preload for this language."""
    blind_argv: tuple[str, ...]
    """The blind run: no copy of the source anywhere but the pipe it is read from."""
    blind: str
    """How a blind run gets its source, in words."""
    lexer: str
    """The pygments lexer's alias."""
    version_argv: tuple[str, ...]
    work_counter: str | None
    """What counts work, in words; None: not measured (CPU time still is)."""
    launcher: str | None = None
    """The sandbox file the interpreter preloads; it speaks the audit protocol on fd 3."""
    compile: Compile | None = None
    processes: bool = False
    """Whether the program may start processes (a shell must)."""
    address_space_mb: int = 0
    """The least address space a run gets, whatever the limits say (V8 reserves 1 GiB at start)."""
    source_opens: int = 1
    """Opens of the sighted file that the interpreter (or launcher) itself makes."""
    probe: str = "print(1)\n"
    """A program that prints 1: `quinebox doctor` runs it on every wall."""
    package: str = "python3"
    """The Debian package that brings the interpreter, for fixes."""
    reflection: tuple[tuple[str, str], ...] = ()
    """Patterns in a program's text that read its own code where no outside measure can see it, each with why."""
    twins_sampled: bool = False
    """The blind run can see nothing of the program's text that the sighted run cannot, so the blind
    runs carry the chain and a sighted twin runs only where it can tell something (every tenth
    generation, the last, and wherever one fails). False where the blind run has a way to its own
    text (``bash -s`` leaves the rest of the program on stdin, ``node -`` keeps all of it in
    ``process._eval``, a compiled program's blind run gets its source on stdin): there every run has
    its twin, and the differential between them is the defence."""

    budget_ends_run: bool = False
    """The launcher ends a run the moment its work budget is spent (Python's counter does; the others
    count at exit), so the run's CPU limit leaves the budget room to come first (`Limits.cpu_limit`)."""

    def recipe(self) -> dict[str, Any]:
        """What the sandbox's supervisor needs to start a run (see `Recipe` in sandbox/supervisor.py)."""
        if self.name == PYTHON:
            return {"name": PYTHON}
        return {
            "name": self.name,
            "source_name": self.source_name,
            "argv": list(self.argv),
            "blind_argv": list(self.blind_argv),
            "launcher": self.launcher,
            "channel": self.launcher is not None,
            "processes": self.processes,
            "address_space_mb": self.address_space_mb,
        }

    def compile_recipe(self, compile: Compile) -> dict[str, Any]:
        """The compile step as a run of its own: the compiler may start processes and has no launcher."""
        return {
            "name": f"{self.name}-compiler",
            "source_name": self.source_name,
            "argv": list(compile.argv),
            "blind_argv": list(compile.blind_argv),
            "launcher": None,
            "channel": False,
            "processes": True,
            "address_space_mb": compile.mem_mb,
        }


LANGUAGES: dict[str, Language] = {
    language.name: language
    for language in (
        Language(
            name=PYTHON,
            title="Python",
            extensions=(".py", ".pyw"),
            source_name="prog.py",
            argv=("python3", "-I", "-S", "{source}"),
            blind_argv=("python3", "-I", "-S", "-"),
            blind="read on a pipe by the launcher and compiled from memory, never a file",
            lexer="python3",
            version_argv=("python3", "--version"),
            work_counter="function entries and loop back-edges (sys.monitoring, or settrace)",
            launcher="launch_python.py",
            twins_sampled=True,
            budget_ends_run=True,
        ),
        Language(
            name="javascript",
            title="JavaScript",
            extensions=(".js", ".mjs", ".cjs"),
            source_name="prog.js",
            argv=("node", "--require", "{launcher}", "{source}"),
            blind_argv=("node", "--require", "{launcher}", "-"),
            blind="`node -`: the program on stdin",
            lexer="javascript",
            version_argv=("node", "--version"),
            work_counter="V8 precise coverage: calls and block executions of the program's own code",
            launcher="launch_node.js",
            address_space_mb=4096,
            probe="console.log(1)\n",
            package="nodejs",
        ),
        Language(
            name="ruby",
            title="Ruby",
            extensions=(".rb",),
            source_name="prog.rb",
            argv=("ruby", "--disable-gems", "-r", "{launcher}", "{source}"),
            blind_argv=("ruby", "--disable-gems", "-r", "{launcher}", "-"),
            blind="`ruby -`: the program on stdin",
            lexer="ruby",
            version_argv=("ruby", "--version"),
            work_counter="a TracePoint on lines, method and block entries",
            launcher="launch_ruby.rb",
            probe="puts 1\n",
            package="ruby",
            twins_sampled=True,
        ),
        Language(
            name="c",
            title="C",
            extensions=(".c",),
            source_name="prog.c",
            argv=("prog",),
            blind_argv=("prog",),
            blind="compiled from stdin (`gcc -x c -`); the binary runs from memory",
            lexer="c",
            version_argv=("gcc", "--version"),
            work_counter=None,
            compile=Compile(
                argv=("gcc", "-std=gnu11", "-O1", "-w", "-o", "prog", "{source}", "-lm"),
                blind_argv=("gcc", "-std=gnu11", "-O1", "-w", "-x", "c", "-o", "prog", "-", "-lm"),
                output="prog",
            ),
            source_opens=0,
            probe='#include <stdio.h>\nint main(void) { puts("1"); return 0; }\n',
            package="gcc libc6-dev",
        ),
        Language(
            name="bash",
            title="Bash",
            extensions=(".sh", ".bash"),
            source_name="prog.sh",
            argv=("bash", "{source}"),
            blind_argv=("bash", "-s", "--"),
            blind="`bash -s`: the program on stdin",
            lexer="bash",
            version_argv=("bash", "--version"),
            work_counter=None,
            processes=True,
            probe="echo 1\n",
            package="bash",
            reflection=(
                (r"\b(?:declare|typeset)\s+-[A-Za-z]*[fF]", "declare -f prints its own function bodies"),
                (r"\btype\s+(?:-[a-z]+\s+)*[A-Za-z_]", "type prints its own function bodies"),
                (r"\bBASH_EXECUTION_STRING\b", "BASH_EXECUTION_STRING holds its own text"),
                (r"(?:<&|>&|-u\s*)255\b|/dev/fd/255|/proc/self/fd", "fd 255 is its own script"),
                (r"/dev/stdin|/proc/self|\bBASH_SOURCE\b", "reads where its own text comes from"),
            ),
        ),
    )
}
#: Languages quinebox can run and judge.
JUDGED = frozenset(LANGUAGES)


def language(name: str) -> Language:
    """The record of a judged language, by its name (`KeyError` for a language not judged)."""
    return LANGUAGES[name]


def resolve_language(requested: str, source: bytes, *, tag: str = "", suffix: str = "") -> str:
    """``auto`` (detect) or a name or alias, as the name of a language; a usage error for a word no language has."""
    from quinebox.errors import UsageError

    if requested.strip().lower() == "auto":
        try:
            text = source.decode("utf-8")
        except UnicodeDecodeError:
            return PYTHON  # bytes that are not UTF-8 are judged (and fail) as Python
        return language_of(text, tag=tag, suffix=suffix)
    named = language_name(requested)
    if named is None:
        choices = ", ".join(["auto", *LANGUAGES])
        raise UsageError(f"unknown language {requested!r}; choose one of {choices} (or a language's alias)")
    return named


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
