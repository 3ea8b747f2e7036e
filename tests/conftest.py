"""Shared fixtures. The scripted model's fixtures (``scripted_llm``, ``record_crew``) are not here:
they come from the course's pytest plugin (course/pytest_plugin.py), which the environment
loads through its ``pytest11`` entry point, as it does for any suite; tests/test_pytest_plugin.py
proves that it works outside this folder too."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import course  # noqa: E402  (sets the offline environment before crewai loads)


@pytest.fixture
def root() -> Path:
    return ROOT


def pytest_sessionfinish(session, exitstatus):
    """Let crews that tests left running in worker threads (timeout tests) finish.

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
