"""CrewAI 1.15.30's rules for building a crew (docs/crewai-facts.md, "Building a crew").

Errors already triggered in tests/course/test_traps.py (end-async, async neighbour in context, future context,
missing fields, hierarchical without manager, ...) are marked crewai_fact there and not repeated here.
"""

from __future__ import annotations

import pytest
from crewai import Crew, Process
from pydantic import ValidationError

from tests.crewai_facts.facts_support import agent, run, task

pytestmark = pytest.mark.crewai_fact

REFUSED = "is asynchronous and cannot include other sequential asynchronous tasks in its context."


def test_async_task_may_not_have_any_async_task_of_its_run_in_context():
    """An async task may not have in its context ANY async task of the same unbroken run of async tasks,
    not only the one right before it: [A async, B async, C async context=[A], D sync] is refused."""
    a = task("A", agent("Researcher A"), async_execution=True)
    b = task("B", agent("Researcher B"), async_execution=True)
    c = task("C", agent("Researcher C"), async_execution=True, context=[a])
    d = task("D", agent("Writer"))
    with pytest.raises(ValidationError) as refused:
        Crew(agents=[t.agent for t in (a, b, c, d)], tasks=[a, b, c, d])
    assert f"Task 'C' {REFUSED}" in str(refused.value)


def test_async_context_is_allowed_when_a_sync_task_sits_between():
    """An async task may list an earlier async task in its context when a sync task sits between them
    (the sync task's barrier has joined it): [A async, S sync, C async context=[A], D sync] runs."""
    a = task("A", agent("Researcher A"), async_execution=True)
    s = task("S", agent("Planner"))
    c = task("C", agent("Researcher C"), async_execution=True, context=[a])
    d = task("D", agent("Writer"), context=[c])
    recorded = run(Crew(agents=[t.agent for t in (a, s, c, d)], tasks=[a, s, c, d]))
    assert recorded.task("C").received_from == ["A"]


def test_crew_may_end_with_one_async_task():
    """A crew may end with at most one async task; exactly one is allowed, and kickoff waits for it."""
    plan, research = task("plan", agent("Planner")), task("research", agent("Researcher"), async_execution=True)
    crew = Crew(agents=[plan.agent, research.agent], tasks=[plan, research])
    result = crew.kickoff()
    assert [o.description for o in result.tasks_output] == ["plan", "research"]
    assert result.raw == result.tasks_output[-1].raw


def test_process_has_only_sequential_and_hierarchical():
    """`Process` has only `sequential` and `hierarchical`: there is no parallel process (parallelism comes
    from async_execution)."""
    assert [p.value for p in Process] == ["sequential", "hierarchical"]


@pytest.mark.parametrize("model", ["Crew", "Agent"])
def test_verbose_takes_a_boolean_only(model):
    """`verbose` takes a boolean only (old releases accepted levels like verbose=2)."""
    worker = agent("Writer")
    with pytest.raises(ValidationError, match="valid boolean"):
        if model == "Crew":
            Crew(agents=[worker], tasks=[task("write", worker)], verbose=2)
        else:
            agent("Writer", verbose=2)
