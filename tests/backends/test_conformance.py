from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from quinebox import backends
from quinebox.backends.base import Backend
from tests.backends.conformance import BEHAVIOURS, KNOWN_FAILURES
from tests.backends.language_conformance import BEHAVIOURS as LANGUAGE_BEHAVIOURS
from tests.backends.language_conformance import PROGRAMS as LANGUAGE_PROGRAMS
from tests.backends.language_conformance import applies
from tests.conftest import require_sandbox

WALLS = ("bwrap", "none", "docker")


@pytest.fixture(scope="module", params=WALLS)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    require_sandbox(request.param)
    with backends.create(request.param) as opened:
        yield opened


@pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
def test_behaviour(backend: Backend, behaviour: str) -> None:
    known = KNOWN_FAILURES.get(backend.name, {}).get(behaviour)
    if known is None:
        BEHAVIOURS[behaviour](backend)
        return
    with pytest.raises(AssertionError):
        BEHAVIOURS[behaviour](backend)


@pytest.mark.parametrize("wall", WALLS)
def test_a_session_outlives_the_thread_that_opened_it(wall: str) -> None:
    """Graders open sessions from worker threads; the session must not die when that thread ends."""
    require_sandbox(wall)
    import threading
    import time

    from tests.backends.conformance import run

    backend = backends.create(wall)
    opener = threading.Thread(target=backend.open)
    opener.start()
    opener.join()
    try:
        time.sleep(0.3)
        assert run(backend, "print('alive')").stdout == b"alive\n"
    finally:
        backend.close()


def test_none_leaves_no_temp_dir_after_a_lost_session() -> None:
    import tempfile

    from tests.backends.conformance import run

    before = {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("quinebox-none-")}
    with backends.create("none") as backend:
        run(backend, "print(0)")
        channel = backend._channel  # type: ignore[attr-defined]
        channel.process.kill()  # the session is lost (the candidate cannot do this): the next run restarts it
        channel.process.wait()
        run(backend, "print(1)")
    after = {n for n in os.listdir(tempfile.gettempdir()) if n.startswith("quinebox-none-")}
    assert after == before


#: Every (language, behaviour) pair that means something for that language.
LANGUAGE_CASES = [
    (language, name)
    for language, programs in LANGUAGE_PROGRAMS.items()
    for name in LANGUAGE_BEHAVIOURS
    if applies(name, programs)
]


@pytest.mark.parametrize(("language", "behaviour"), LANGUAGE_CASES, ids=[f"{a}-{b}" for a, b in LANGUAGE_CASES])
def test_language_behaviour(backend: Backend, language: str, behaviour: str) -> None:
    LANGUAGE_BEHAVIOURS[behaviour](backend, language, LANGUAGE_PROGRAMS[language])


@pytest.mark.parametrize("wall", ("bwrap", "docker"))
def test_quick_runs_with_both_cores_busy_all_come_back(wall: str) -> None:
    """Quick runs with every core busy all come back whole: none lost, none an infrastructure error.

    With every core busy a process that has just forked may not run again for milliseconds, long
    enough for a whole quick run to finish, so nothing of a reply may wait on the forking process
    (init, not the zygote, tells the run's pid). A stress, not a proof: the race it guards against
    showed 3 times in the 5,000 runs of a whole suite.
    """
    require_sandbox(wall)
    from tests.backends.conformance import run
    from tests.conftest import Burners

    burners = Burners(120)
    try:
        with backends.create(wall) as session:
            results = [run(session, "print(7)", sighted=k % 2 == 0) for k in range(120)]
    finally:
        burners.stop()
    assert [r.stdout for r in results] == [b"7\n"] * 120
