"""Shared fixtures. The scripted model's fixtures (``scripted_llm``, ``record_crew``) are not here:
they come from the course's pytest plugin (course/pytest_plugin.py), which the environment
loads through its ``pytest11`` entry point, as it does for any suite; tests/course/test_pytest_plugin.py
proves that it works outside this folder too.

Every folder of tests/ is a package (``tests.course.test_traps``, ...): pytest puts the repository on the path
for them; here it is put first all the same (ahead of any installed copy), with source/."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]  # the same as tests.helpers.ROOT, known before the path is set
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "source"))  # source/crew_answers.py: the answers tests paste into notebooks

import course  # noqa: E402  (sets the offline environment before crewai loads)

_BEFORE = pytest.StashKey[set]()


@pytest.fixture
def root() -> Path:
    return ROOT


# Names the course and the grader give their temporary folders (course/offline.py, autograder/, Dask's
# scratch space): none may outlive a test run, even one whose processes a test killed (issue 21).
LEFT_BEHIND = ("crew-*", "crewhub-*", "dask-scratch-space", "dask-worker-space")


def _ours_in_temp() -> set[str]:
    import fnmatch
    import tempfile

    found = set()
    for folder in {Path(tempfile.gettempdir()), Path("/dev/shm")}:
        if folder.is_dir():
            found |= {str(p) for p in folder.iterdir() if any(fnmatch.fnmatch(p.name, n) for n in LEFT_BEHIND)}
            # IPython's own fallback when a kernel's IPYTHONDIR cannot be made: a tmpXXXX/profile_default.
            found |= {str(p) for p in folder.glob("tmp*/profile_default")}
    return found


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the run's own process, not an xdist worker
        session.config.stash[_BEFORE] = _ours_in_temp()


@pytest.hookimpl(trylast=True)  # in the run's own process: after xdist has ended its workers
def pytest_sessionfinish(session, exitstatus):
    """Let crews that tests left running in worker threads (timeout tests) finish, then fail the run
    if it left a folder of the course's in the temp dir.

    Otherwise CrewAI's agent flows die mid-step at interpreter shutdown and print
    "cannot schedule new futures after shutdown" tracebacks after the summary.
    """
    import threading
    import time

    deadline = time.monotonic() + 20
    for thread in threading.enumerate():
        # CrewAI's event bus ("CrewAIEventsLoop", "CrewAISyncHandler_N") and LanceDB (memory) keep
        # daemon threads alive for the whole process: waiting for them would only burn the deadline.
        if thread.name.startswith(("CrewAI", "LanceDB")):
            continue
        if thread is not threading.main_thread() and thread.daemon and thread.is_alive():
            thread.join(max(0.0, deadline - time.monotonic()))
    from crewai.events import crewai_event_bus

    crewai_event_bus.flush()
    before = session.config.stash.get(_BEFORE, None)
    left = sorted(_ours_in_temp() - before) if before is not None else []
    if left:
        print(f"\nThe test run left {len(left)} folder(s) of the course's in the temp dir: {', '.join(left[:5])}. "
              "A test (or the code it runs) does not clean up after itself.", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
