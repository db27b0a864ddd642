"""The pytest plugin, driven end to end in fresh pytest processes (pytester, runpytest_subprocess)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
GOOD = ROOT / "fixtures" / "good" / "percent_r.py"
BAD = ROOT / "fixtures" / "bad" / "off_by_one.py"
FAST = ("--quinebox-sandbox", "bwrap", "--quinebox-generations", "5", "-p", "no:cacheprovider")

# A stand-in for quinebox.api.verify that fails the way the sandbox named in `sandbox` says.
FAKE_INFRA = """
import quinebox.api
from quinebox.errors import BackendUnavailable, SupervisorError

def verify(program, *, sandbox="auto", **options):
    if sandbox in ("auto", "docker"):
        raise BackendUnavailable(f"{sandbox}: no wall here (simulated)")
    raise SupervisorError("the supervisor vanished (simulated)")

quinebox.api.verify = verify
"""


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner runs print whole short-summary lines."""
    monkeypatch.setenv("COLUMNS", "240")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A fresh project holding one good and one bad candidate, and an ini file that keeps rootdir here."""
    shutil.copy(GOOD, pytester.path / "good.py")
    shutil.copy(BAD, pytester.path / "bad.py")
    pytester.makeini("[pytest]\n")
    return pytester


def test_unconfigured_plugin_is_inert(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    pytester.makepyfile(
        test_plain="""
        import sys

        def test_nothing_of_quinebox_is_loaded():
            loaded = {name for name in sys.modules if name.startswith("quinebox")}
            assert "quinebox.pytest_plugin" in loaded
            assert not loaded & {"quinebox.api", "quinebox.backends", "quinebox.chain", "quinebox.errors"}, loaded
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("quinebox:*")


def test_marker_and_options_are_documented(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\n")
    markers = pytester.runpytest_subprocess("--markers")
    markers.stdout.fnmatch_lines(["@pytest.mark.quinebox(generations=N, sequence=S, sandbox=NAME, language=L): *"])
    helped = pytester.runpytest_subprocess("--help")
    helped.stdout.fnmatch_lines(["*--quinebox-generations=N*", "*--quinebox-sandbox=NAME*", "*quinebox_files (*"])


@pytest.mark.needs_bwrap
def test_fixture_passes_a_good_candidate_and_fails_a_bad_one_naming_check_and_generation(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_candidates="""
        from pathlib import Path

        def test_good_path(quinebox):
            assert quinebox.verify(Path("good.py"))

        def test_good_source(quinebox):
            assert quinebox.verify(Path("good.py").read_text())

        def test_bad(quinebox):
            report = quinebox.verify("bad.py")
            assert report
        """
    )
    result = project.runpytest_subprocess(*FAST, "-ra")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "quinebox: generations=5, sequence=fibonacci, sandbox=bwrap, language=auto",
            "*_ test_bad _*",
            "E       assert <Report fail: sequence failed at generation 2: expected 1, printed 3"
            " [[]expected=[[]1], printed=3]>",
            "*- quinebox report: bad.py -*",
            "sequence failed at generation 2: expected 1, printed 3",
            "check:      sequence",
            "generation: 2",
            "  previous: 0, 1",
            "FAILED test_candidates.py::test_bad - assert <Report fail: sequence failed at generation 2*",
        ]
    )


def test_a_one_line_str_ending_in_py_must_name_a_file(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_missing="""
        def test_missing(quinebox):
            quinebox.verify("missing.py")
        """
    )
    result = project.runpytest_subprocess(*FAST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["quinebox: cannot read missing.py: No such file or directory"])
    # One line, no traceback into quinebox's internals.
    result.stdout.no_fnmatch_line("*quinebox/api.py*")
    result.stdout.no_fnmatch_line("*During handling*")


@pytest.mark.needs_bwrap
def test_marker_beats_command_line(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_marker="""
        import pytest

        @pytest.mark.quinebox(generations=3)
        def test_marked(quinebox):
            report = quinebox.verify("good.py")
            assert report.config["generations"] == 3
            assert len(report.generations) == 4

        @pytest.mark.quinebox(sandbox="none", generations=1)
        class TestClass:
            @pytest.mark.quinebox(generations=2)
            def test_closest_marker_wins_per_key(self, quinebox):
                assert (quinebox.settings.generations, quinebox.settings.sandbox) == (2, "none")

        def test_unmarked(quinebox):
            assert (quinebox.settings.generations, quinebox.settings.sandbox) == (50, "bwrap")
        """
    )
    result = project.runpytest_subprocess("--quinebox-generations=50", "--quinebox-sandbox", "bwrap")
    result.assert_outcomes(passed=3)


@pytest.mark.needs_bwrap
def test_ini_files_are_collected_and_verified_as_items(project: pytest.Pytester) -> None:
    candidates = project.mkdir("candidates")
    shutil.copy(GOOD, candidates / "good.py")
    shutil.copy(BAD, candidates / "bad.py")
    project.makeini(
        """
        [pytest]
        quinebox_files =
            candidates/*.py
        quinebox_sandbox = bwrap
        quinebox_generations = 5
        """
    )
    collected = project.runpytest_subprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    collected.stdout.fnmatch_lines(["candidates/bad.py::quinebox", "candidates/good.py::quinebox"])
    result = project.runpytest_subprocess("-ra", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "quinebox: generations=5, sequence=fibonacci, sandbox=bwrap, language=auto, files=candidates/*.py",
            "*_ quinebox candidates/bad.py _*",
            "sequence failed at generation 2: expected 1, printed 3",
            "candidate:  candidates/bad.py",
            "check:      sequence",
            "generation: 2",
            "reason:     expected 1, printed 3",
            "evidence:",
            "  expected: 1",
            "  printed: 3",
            "checks:     failed sequence; passed runs, *",
            "sandbox:    bwrap *",
            "FAILED candidates/bad.py::quinebox - sequence failed at generation 2: expected 1, printed 3",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")


WHOLE = "expected a whole number >= 1"
NAMES = "expected one of auto, bwrap, docker, none"


@pytest.mark.parametrize(
    ("args", "env", "ini", "message"),
    [
        (("--quinebox-generations", "x"), {}, "", f"--quinebox-generations: {WHOLE}, got 'x'"),
        (("--quinebox-sandbox", "vm"), {}, "", f"--quinebox-sandbox: {NAMES}, got 'vm'"),
        ((), {"QUINEBOX_GENERATIONS": "-1"}, "", f"QUINEBOX_GENERATIONS: {WHOLE}, got '-1'"),
        ((), {}, "quinebox_sandbox = bwarp", f"ini quinebox_sandbox in tox.ini: {NAMES}, got 'bwarp'"),
        ((), {}, "quinebox_sequence = 1,2,3", "ini quinebox_sequence in tox.ini: unknown sequence '1,2,3'*"),
        ((), {}, "quinebox_files = /abs/*.py", "ini quinebox_files in tox.ini: patterns are relative to rootdir*"),
    ],
)
def test_bad_values_are_usage_errors_naming_their_source(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    env: dict[str, str],
    ini: str,
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile("def test_never_runs(): pass")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: quinebox: {message}"])


def test_bad_marker_values_error_the_test_naming_the_marker(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_marker="""
        import pytest

        @pytest.mark.quinebox(generations="many")
        def test_bad_generations(quinebox):
            pass

        @pytest.mark.quinebox(generation=3)
        def test_misspelt(quinebox):
            pass
        """
    )
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines_random(
        [
            "quinebox: @pytest.mark.quinebox(generations=...) on test_marker.py::test_bad_generations:"
            " expected a whole number >= 1, got 'many'",
            "quinebox: @pytest.mark.quinebox on test_marker.py::test_misspelt:"
            " unknown argument 'generation'; expected one of generations, sequence, sandbox, language",
        ]
    )
    result.stdout.no_fnmatch_line("*pytest_plugin.py*")


@pytest.mark.needs_bwrap
@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ((), {}, 7),
        ((), {"QUINEBOX_GENERATIONS": "4"}, 4),
        (("--quinebox-generations", "3"), {"QUINEBOX_GENERATIONS": "4"}, 3),
        ((), {"QUINEBOX_GENERATIONS": ""}, 7),
    ],
)
def test_environment_beats_ini_and_loses_to_the_command_line(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], env: dict[str, str], expected: int
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("QUINEBOX_SANDBOX", "bwrap")
    project.makeini("[pytest]\nquinebox_generations = 7\nquinebox_sandbox = none\n")
    project.makepyfile(
        test_env=f"""
        def test_defaults(quinebox):
            report = quinebox.verify("good.py")
            assert report.config["generations"] == {expected}
            assert report.backend.name == "bwrap"
        """
    )
    result = project.runpytest_subprocess(*args, "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"quinebox: generations={expected}, sequence=fibonacci, sandbox=bwrap, language=auto"])


def test_missing_auto_sandbox_skips_and_any_other_infrastructure_failure_is_an_error(project: pytest.Pytester) -> None:
    project.makeconftest(FAKE_INFRA)
    project.makepyfile(
        test_infra="""
        import pytest

        def test_auto(quinebox):
            quinebox.verify("good.py")

        @pytest.mark.quinebox(sandbox="docker")
        def test_named_but_missing(quinebox):
            quinebox.verify("good.py")

        def test_supervisor_died(quinebox):
            quinebox.verify("good.py", sandbox="bwrap")
        """
    )
    result = project.runpytest_subprocess("-ra", "-p", "no:cacheprovider")
    result.assert_outcomes(skipped=1, errors=2)
    result.stdout.fnmatch_lines_random(
        [
            "SKIPPED * quinebox: auto: no wall here (simulated) (sandbox auto; name one with --quinebox-sandbox *",
            "ERROR test_infra.py::test_named_but_missing - *the sandbox failed, not the candidate*"
            "BackendUnavailable: docker: no wall here*",
            "ERROR test_infra.py::test_supervisor_died - *SupervisorError: the supervisor vanished*",
        ]
    )
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*conftest.py:*")


def test_infrastructure_failure_of_a_collected_candidate_is_an_error(project: pytest.Pytester) -> None:
    project.makeconftest(FAKE_INFRA)
    project.makeini("[pytest]\nquinebox_files = good.py\nquinebox_sandbox = bwrap\n")
    result = project.runpytest_subprocess("-ra", "-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "infrastructure error, good.py was not judged: SupervisorError: the supervisor vanished (simulated)",
            "ERROR good.py::quinebox - infrastructure error, good.py was not judged*",
        ]
    )


def test_generations_below_one_is_a_usage_error_from_every_source(project: pytest.Pytester) -> None:
    project.makepyfile(test_x="def test_x():\n    pass\n")
    result = project.runpytest_subprocess("--quinebox-generations", "0", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: quinebox: --quinebox-generations: expected a whole number >= 1, got '0'"])


def test_a_language_not_judged_is_a_skip_naming_it(project: pytest.Pytester) -> None:
    (project.path / "answer.hs").write_text("main :: IO ()\nmain = print 0\n")
    project.makepyfile(
        test_hs="""
        from pathlib import Path

        def test_hs(quinebox):
            quinebox.verify(Path("answer.hs"))
        """
    )
    result = project.runpytest_subprocess("-ra", *FAST)
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED * quinebox: not judged: the program is in haskell*"])


@pytest.mark.needs_bwrap
def test_each_files_pattern_carries_its_own_settings(project: pytest.Pytester) -> None:
    (project.path / "lucas").mkdir()
    shutil.copy(ROOT / "fixtures" / "good" / "lucas_dict_format.py", project.path / "lucas" / "chain.py")
    project.makeini(
        "[pytest]\nquinebox_files =\n    good.py generations=3\n    lucas/*.py sequence=lucas generations=4\n"
        "quinebox_sandbox = bwrap\n"
    )
    result = project.runpytest_subprocess("-v", "-p", "no:cacheprovider", "good.py", "lucas")
    result.assert_outcomes(passed=2)


def test_a_bad_files_setting_is_a_usage_error(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\nquinebox_files = good.py generations=x\n")
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: quinebox: ini quinebox_files*good.py generations=*expected a whole number >= 1*"]
    )
