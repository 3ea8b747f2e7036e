"""CrewAI 1.15.30: which earlier outputs reach a task's prompt (docs/crewai-facts.md, "Context").

The scripted model tags every output with a reference, so the recorded run knows whose output a prompt held.
"""

from __future__ import annotations

import pytest
from crewai import Crew

from tests.crewai_facts.facts_support import agent, run, task

pytestmark = pytest.mark.crewai_fact


def test_context_list_gives_exactly_those_outputs():
    """With context=[...] a task's prompt carries exactly those outputs, no others."""
    research, outline = task("research", agent("Researcher")), task("outline", agent("Planner"))
    write = task("write", agent("Writer"), context=[research])
    recorded = run(Crew(agents=[t.agent for t in (research, outline, write)], tasks=[research, outline, write]))
    assert recorded.task("write").received_from == ["research"]


def test_sync_task_without_context_receives_every_earlier_output():
    """Without context, a sync task receives the outputs of all earlier tasks, async ones included."""
    plan = task("plan", agent("Planner"))
    research = task("research", agent("Researcher"), async_execution=True)
    write = task("write", agent("Writer"))
    recorded = run(Crew(agents=[plan.agent, research.agent, write.agent], tasks=[plan, research, write]))
    assert recorded.task("write").received_from == ["plan", "research"]


def test_async_task_without_context_receives_nothing():
    """Without context, an async task receives nothing, not even the output of the sync task just before it
    (1.15.30 fills `last_sync_output` only when replaying; the shared notes said "the last sync output")."""
    plan = task("plan", agent("Planner"))
    research = task("research", agent("Researcher"), async_execution=True)
    write = task("write", agent("Writer"), context=[research])
    recorded = run(Crew(agents=[plan.agent, research.agent, write.agent], tasks=[plan, research, write]))
    assert recorded.task("research").received_from == []
    assert recorded.task("write").received_from == ["research"]


@pytest.mark.parametrize("empty", [[], None], ids=["context=[]", "context=None"])
def test_explicit_empty_context_receives_nothing(empty):
    """Leaving context out and passing context=None or context=[] differ: the explicit forms mean
    "no context", and the task receives no earlier output."""
    research = task("research", agent("Researcher"))
    write = task("write", agent("Writer"), context=empty)
    recorded = run(Crew(agents=[research.agent, write.agent], tasks=[research, write]))
    assert recorded.task("write").received_from == []


def test_task_outputs_name_agent_description_and_raw_text():
    """`CrewOutput.tasks_output[i]` has `.agent` (the role), `.description` and `.raw`; `CrewOutput.raw` is
    the last task's output."""
    research, write = task("research", agent("Researcher")), task("write", agent("Writer"))
    result = Crew(agents=[research.agent, write.agent], tasks=[research, write]).kickoff()
    assert [(o.agent, o.description) for o in result.tasks_output] == [("Researcher", "research"), ("Writer", "write")]
    assert all(o.raw.startswith("[ref:") for o in result.tasks_output)
    assert result.raw == result.tasks_output[-1].raw
