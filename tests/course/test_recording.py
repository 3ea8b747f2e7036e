"""The recorded run answers the questions the notebooks and tests ask of a kickoff."""

from __future__ import annotations

import pytest
from crewai import Agent, Crew, Task

import course
from course import examples


@pytest.fixture
def slow_llm():
    with course.routing.using(latency=0.05) as model:
        yield model


def test_sequential_order_and_context_flow(scripted_llm):
    examples.sequential_crew().kickoff()
    run = course.last_run()
    assert run.order() == ["research", "write", "edit"]
    assert run.overlapping_pairs() == []
    assert run.task("write").received_from == ["research"]
    assert run.task("edit").received_from == ["write"]  # context=[write] only: research did not reach it
    assert [t.worker for t in run.tasks] == ["Researcher", "Writer", "Editor"]
    assert run.task("edit").ref and run.task("edit").output.startswith(f"[ref:{run.task('edit').ref}")


def test_async_tasks_overlap_and_the_join_starts_after_all_of_them(slow_llm):
    examples.async_crew().kickoff()
    run = course.last_run()
    research = [t.name for t in run.tasks if t.async_execution]
    assert len(research) == 3
    assert {frozenset(p) for p in run.overlapping_pairs()} == {
        frozenset((a, b)) for i, a in enumerate(research) for b in research[i + 1:]}
    assert run.started_after_all("synthesis", research)
    assert sorted(run.task("synthesis").received_from) == sorted(research)


def test_critical_path_against_wall_time(slow_llm):
    examples.mixed_phases_crew().kickoff()
    run = course.last_run()
    path, seconds = run.critical_path()
    assert len(path) == 4 and path[0].startswith("research") and path[-1] == "review"
    assert path[1] == "analysis" and path[2] in ("report", "presentation")
    # The chain ran link after link, so it fits inside the wall time.
    assert seconds <= run.wall_time
    # Six tasks ran in four steps: each parallel pair really overlapped.
    assert run.overlap("research A", "research B") and run.overlap("report", "presentation")


def test_sequential_without_context_gets_all_earlier_outputs(scripted_llm):
    a = Agent(role="Researcher", goal="g", backstory="b")
    w = Agent(role="Writer", goal="g", backstory="b")
    e = Agent(role="Editor", goal="g", backstory="b")
    tasks = [Task(name="one", description="Research X", expected_output="o", agent=a),
             Task(name="two", description="Write X", expected_output="o", agent=w),
             Task(name="three", description="Edit X", expected_output="o", agent=e)]
    Crew(agents=[a, w, e], tasks=tasks).kickoff()
    run = course.last_run()
    assert run.task("three").received_from == ["one", "two"]
    assert run.receives()["three"] == ["one", "two"]
    assert run.dependencies()["three"] == ["two"]  # direct waits: "one" is waited for through "two"


def test_hierarchical_records_the_real_worker_not_the_manager(scripted_llm):
    examples.hierarchical_crew("agent").kickoff()
    run = course.last_run()
    assert run.manager == "Project Manager"
    assert all(t.agent != t.worker for t in run.tasks)
    assert run.task("report").received_from == ["research", "analysis"]
    assert {c.role for c in run.llm_calls} == {"Project Manager", "Research Specialist", "Data Analyst",
                                                "Content Writer"}


def test_record_block_captures_only_its_own_kickoffs(scripted_llm):
    examples.sequential_crew().kickoff()
    with course.record() as rec:
        examples.async_crew().kickoff()
        examples.mixed_phases_crew().kickoff()
    assert len(rec.runs) == 2
    assert rec.run.task("review").received_from == ["report", "presentation"]
    with course.record() as empty:
        pass
    with pytest.raises(LookupError, match="No crew ran"):
        empty.run


def test_a_failed_run_is_recorded_with_its_error():
    llm = course.ScriptedLLM(fail_roles=["Writer"])
    a = Agent(role="Researcher", goal="g", backstory="b", llm=llm, max_retry_limit=0)
    w = Agent(role="Writer", goal="g", backstory="b", llm=llm, max_retry_limit=0)
    tasks = [Task(name="one", description="Research X", expected_output="o", agent=a),
             Task(name="two", description="Write X", expected_output="o", agent=w, context=[])]
    with pytest.raises(Exception):
        Crew(agents=[a, w], tasks=tasks).kickoff()
    run = course.last_run()
    assert run.task("one").ran and not run.task("two").ran
    assert "injected failure" in (run.error or "")
    assert "did not run" not in run.summary().splitlines()[1]


def test_unknown_task_names_say_which_exist(scripted_llm):
    examples.sequential_crew().kickoff()
    with pytest.raises(KeyError, match="'research', 'write', 'edit'"):
        course.last_run().task("nope")
