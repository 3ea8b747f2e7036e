"""The course's pytest plugin: its fixtures here, and in a suite outside this repo's tests/."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from crewai import Agent, Crew, Task

import course
from course import pytest_plugin


def _agent(role: str) -> Agent:
    return Agent(role=role, goal=f"Do the {role.lower()} work", backstory=f"An experienced {role.lower()}.")


def _pipeline(*roles: str) -> Crew:
    agents = [_agent(role) for role in roles]
    tasks = [Task(name=role.lower(), description=f"{role} step about owls", expected_output="a note", agent=agent)
             for role, agent in zip(roles, agents)]
    return Crew(agents=agents, tasks=tasks)


# --- the fixtures, as this repo's tests use them -----------------------------------------

def test_scripted_llm_is_a_fresh_default_with_no_latency(scripted_llm):
    assert course.default_llm() is scripted_llm
    assert (scripted_llm.latency, scripted_llm.fail_roles, scripted_llm.fail_first, scripted_llm.calls) == (0, [], 0, [])


@pytest.mark.scripted_llm(latency=0.02, fail_roles=["Writer"])
def test_a_marker_sets_the_models_settings(scripted_llm):
    assert (scripted_llm.latency, scripted_llm.fail_roles) == (0.02, ["Writer"])


@pytest.mark.scripted_llm(latency=0.02, fail_first=3)
@pytest.mark.parametrize("scripted_llm", [{"fail_first": 1}], indirect=True)
def test_an_indirect_parameter_wins_over_the_marker(scripted_llm):
    assert (scripted_llm.latency, scripted_llm.fail_first) == (0.02, 1)


@pytest.mark.parametrize("settings, complaint", [
    ({"latncy": 0.1}, "Unknown scripted_llm setting(s) latncy"),
    (0.1, "is a dict of settings"),
])
def test_a_wrong_setting_is_a_usage_error_that_names_it(settings, complaint):
    request = SimpleNamespace(node=SimpleNamespace(get_closest_marker=lambda name: None), param=settings)
    with pytest.raises(pytest.UsageError) as caught:
        pytest_plugin._settings(request)
    assert complaint in str(caught.value)


@pytest.mark.scripted_llm(latency=0.2)
def test_record_crew_returns_the_run_of_its_own_crew_only(record_crew, scripted_llm):
    with course.routing.using():  # the other crew has its own model, without latency
        other = _pipeline("Planner", "Checker")

    def start_while_ours_runs() -> None:
        deadline = time.monotonic() + 30
        while not scripted_llm.calls and time.monotonic() < deadline:  # our first call has ended
            time.sleep(0.005)
        other.kickoff()

    background = threading.Thread(target=start_while_ours_runs, daemon=True)
    background.start()
    try:
        run = record_crew(_pipeline("Researcher", "Writer"))
    finally:
        background.join(30)
    later = course.last_run()
    assert [t.name for t in later.tasks] == ["planner", "checker"]
    assert run.started_at < later.started_at < run.started_at + timedelta(seconds=run.wall_time)  # inside our run
    assert run.order() == ["researcher", "writer"] and run.error is None
    assert [t.worker for t in run.tasks] == ["Researcher", "Writer"]


@pytest.mark.scripted_llm(fail_roles=["Writer"])
def test_record_crew_raises_the_crews_error_or_returns_the_failed_run(record_crew):
    with pytest.raises(course.InjectedFailure):
        record_crew(_pipeline("Researcher", "Writer"))
    run = record_crew(_pipeline("Researcher", "Writer"), raise_on_error=False)
    assert "Writer" in run.error
    assert run.task("researcher").ran and not run.task("writer").ran


@pytest.mark.scripted_llm(latency=0.3)
def test_record_crew_gives_up_after_its_timeout(record_crew, scripted_llm):
    with pytest.raises(TimeoutError, match="still running after 0.05 s"):
        record_crew(_pipeline("Researcher", "Writer"), timeout=0.05)
    assert course.default_llm() is scripted_llm


# --- a suite outside this repo: the entry point, fixtures by name, no private import ------

OUTSIDE_SUITE = '''
    """Someone's own crews, tested offline: no conftest.py, and nothing imported from course's insides."""
    import pytest
    from crewai import LLM, Agent, Crew, Task

    BEFORE = LLM(model="gpt-4o")  # the default model when the module is imported
    MODELS = []


    def agent(role):
        return Agent(role=role, goal=f"Do the {role.lower()} work", backstory=f"An experienced {role.lower()}.")


    def pipeline():
        researcher, writer = agent("Researcher"), agent("Writer")
        research = Task(name="research", description="Research owls", expected_output="notes", agent=researcher)
        write = Task(name="write", description="Write about owls", expected_output="an article", agent=writer,
                     context=[research])
        return Crew(agents=[researcher, writer], tasks=[research, write])


    def fan_in():
        a, b, writer = agent("Researcher A"), agent("Researcher B"), agent("Writer")
        first = Task(name="a", description="Research bats", expected_output="n", agent=a, async_execution=True)
        second = Task(name="b", description="Research moths", expected_output="n", agent=b, async_execution=True)
        join = Task(name="join", description="Combine the research", expected_output="report", agent=writer,
                    context=[first, second])
        return Crew(agents=[a, b, writer], tasks=[first, second, join])


    def test_the_crew_runs_in_order_on_the_scripted_model(scripted_llm, record_crew):
        run = record_crew(pipeline())
        assert run.order() == ["research", "write"]
        assert run.task("write").received_from == ["research"]
        assert [c.role for c in scripted_llm.calls] == ["Researcher", "Writer"]
        MODELS.append(scripted_llm)


    def test_each_test_gets_a_fresh_model(scripted_llm):
        assert MODELS and scripted_llm is not MODELS[0] and scripted_llm.calls == []


    @pytest.mark.scripted_llm(latency=0.05)
    def test_with_latency_async_tasks_overlap_and_the_join_waits(record_crew):
        run = record_crew(fan_in())
        assert run.overlap("a", "b")
        assert run.started_after_all("join", ["a", "b"])
        assert sorted(run.task("join").received_from) == ["a", "b"]


    @pytest.mark.parametrize("scripted_llm", [{"fail_roles": ["Writer"]}], indirect=True)
    def test_a_failing_role_fails_the_run(record_crew):
        run = record_crew(pipeline(), raise_on_error=False)
        assert "Writer" in run.error
        assert run.task("research").ran and not run.task("write").ran


    @pytest.mark.parametrize("scripted_llm", [{"fail_first": 1}], indirect=True)
    def test_crewai_retries_a_failed_first_call(scripted_llm, record_crew):
        run = record_crew(pipeline())
        assert run.error is None
        assert [c.failed for c in scripted_llm.calls[:2]] == [True, False]


    def test_the_default_model_is_back_after_each_test():
        assert LLM(model="gpt-4o") is BEFORE
'''


def _outside_suite(tmp_path: Path, text: str = OUTSIDE_SUITE) -> tuple[Path, dict[str, str]]:
    suite = tmp_path / "my_crew_tests"
    suite.mkdir()
    (suite / "test_my_crews.py").write_text(textwrap.dedent(text), encoding="utf-8")
    # Only the installed environment may provide the fixtures: no PYTHONPATH pointing into the repo.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS",
                                                             "PYTEST_DISABLE_PLUGIN_AUTOLOAD")}
    return suite, env


def _pytest(suite: Path, env: dict[str, str], *options: str) -> subprocess.CompletedProcess:
    # The project's environment (make env), the same interpreter running this test.
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, str(suite)],
                          cwd=suite, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_a_suite_outside_the_repo_uses_the_fixtures_by_name_and_passes(tmp_path):
    suite, env = _outside_suite(tmp_path)
    assert not re.search(r"^\s*(import|from)\s+course\b", OUTSIDE_SUITE, re.M)  # fixtures by name only
    done = _pytest(suite, env)
    report = done.stdout + done.stderr
    assert done.returncode == 0, report[-4000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert re.match(r"6 passed(, \d+ warnings?)? in ", summary), report[-4000:]  # all six ran, none failed or erred


@pytest.mark.slow
def test_the_fixtures_come_from_the_entry_point(tmp_path):
    suite, env = _outside_suite(tmp_path, "def test_it(scripted_llm):\n    assert scripted_llm.calls == []\n")
    assert _pytest(suite, env).returncode == 0
    done = _pytest(suite, env, "-p", "no:crew_course")
    assert done.returncode != 0
    assert "fixture 'scripted_llm' not found" in done.stdout, done.stdout[-2000:]
