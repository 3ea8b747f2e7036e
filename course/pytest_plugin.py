"""The course's scripted model as pytest fixtures, for any test suite in this environment.

Registered through the ``pytest11`` entry point in ``pyproject.toml``, so a
suite needs no import and no ``conftest.py`` to use it::

    def test_writer_gets_the_research(scripted_llm, record_crew):
        run = record_crew(build_my_crew())          # a RecordedRun
        assert run.task("write").received_from == ["research"]
        assert [c.role for c in scripted_llm.calls][0] == "Researcher"

    @pytest.mark.scripted_llm(latency=0.05)         # settings for this test's model
    def test_async_tasks_overlap(record_crew): ...

    @pytest.mark.parametrize("scripted_llm", [{"fail_roles": ["Writer"]}], indirect=True)
    def test_a_failing_writer(scripted_llm, record_crew): ...

Fixtures:

``scripted_llm``
    A fresh deterministic ``ScriptedLLM`` installed as the default model for
    the test (agents built without ``llm=``, and model names such as
    ``manager_llm="gpt-4o"``, get it); the previous default is back after the
    test. Settings (``latency``, ``fail_roles``, ``fail_first``, ...) come from
    a ``scripted_llm`` marker or an indirect parameter (a dict; it wins over
    the marker). Built on the public ``course.routing.using``.
``record_crew``
    ``record_crew(crew, inputs=None, timeout=60, raise_on_error=True)`` kicks the
    crew off under the course recorder and returns its ``RecordedRun``
    (``course.recording.kickoff``). It uses the test's ``scripted_llm``, so a
    test that asks only for ``record_crew`` still gets a fresh model.

Loading the plugin imports ``course`` at pytest start-up, before any test
module imports ``crewai``: the course's offline settings must be in place
before CrewAI's first import (``course/offline.py``), and from then on the
session cannot reach the network. ``pytest -p no:crew_course`` switches the
plugin off for a suite that wants CrewAI's real models.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

import course  # noqa: F401  (offline settings and model routing, before any test imports crewai)
from course import recording, routing
from course.recording import RecordedRun
from course.scripted_llm import ScriptedLLM

# What a scripted_llm marker or indirect parameter may set: the model's own fields.
SETTINGS = tuple(name for name in ScriptedLLM.model_fields if name not in ("model", "provider"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "scripted_llm(**settings): settings of the test's scripted model, e.g. latency=0.05, "
                   "fail_roles=['Writer'], fail_first=2 (course.pytest_plugin)")


def _settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    marker = request.node.get_closest_marker("scripted_llm")
    if marker is not None:
        if marker.args:
            raise pytest.UsageError("@pytest.mark.scripted_llm takes keyword settings only, "
                                    "e.g. @pytest.mark.scripted_llm(latency=0.05).")
        settings.update(marker.kwargs)
    param = getattr(request, "param", None)
    if param is not None:
        if not isinstance(param, dict):
            raise pytest.UsageError(f"An indirect scripted_llm parameter is a dict of settings "
                                    f"(e.g. {{'latency': 0.05}}), not {type(param).__name__}.")
        settings.update(param)
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise pytest.UsageError(f"Unknown scripted_llm setting(s) {', '.join(unknown)}; "
                                f"known: {', '.join(SETTINGS)}.")
    return settings


@pytest.fixture
def scripted_llm(request: pytest.FixtureRequest) -> Iterator[ScriptedLLM]:
    """A fresh deterministic default model for this test, restored afterwards."""
    with routing.using(**_settings(request)) as model:
        yield model


@pytest.fixture
def record_crew(scripted_llm: ScriptedLLM) -> Callable[..., RecordedRun]:
    """``record_crew(crew, inputs=None, timeout=60, raise_on_error=True) -> RecordedRun``."""

    def kickoff(crew: Any, inputs: dict[str, Any] | None = None, timeout: float = 60.0,
                raise_on_error: bool = True) -> RecordedRun:
        return recording.kickoff(crew, inputs=inputs, timeout=timeout, raise_on_error=raise_on_error)

    return kickoff
