"""CrewAI 1.15.30's hierarchical process (docs/crewai-facts.md, "Hierarchical").

Refusals (no manager, manager among the agents, manager with tools, async tasks under hierarchical) are
triggered in tests/course/test_traps.py, marked crewai_fact there.
"""

from __future__ import annotations

import threading

import pytest
from crewai import Crew, Process
from crewai.events import crewai_event_bus
from crewai.events.types.tool_usage_events import ToolUsageFinishedEvent

import course
from tests.crewai_facts.facts_support import agent, held_until, run, signals, starts_after_end, task

pytestmark = pytest.mark.crewai_fact

DELEGATE_TOOLS = ("delegate_work_to_coworker", "ask_question_to_coworker")


def _team(manager_llm: course.ScriptedLLM | None = None):
    manager = agent("Project Manager", manager_llm)
    workers = [agent("Research Specialist"), agent("Content Writer")]
    return manager, workers


def test_task_output_agent_is_the_manager_and_the_worker_shows_only_in_delegation_events():
    """Under Process.hierarchical `task_output.agent` is always the manager; who really did the work is
    visible only in the delegation tool's ToolUsageFinishedEvent (tool_args["coworker"])."""
    manager, workers = _team()
    tasks = [task("Research the topic"), task("Write the report")]
    finished = []
    with crewai_event_bus.scoped_handlers():
        @crewai_event_bus.on(ToolUsageFinishedEvent)
        def _done(source, event):
            finished.append(event)

        result = Crew(agents=workers, tasks=tasks, process=Process.hierarchical, manager_agent=manager).kickoff()
        crewai_event_bus.flush()
    assert [o.agent for o in result.tasks_output] == ["Project Manager", "Project Manager"]
    finished.sort(key=lambda e: e.timestamp)
    assert [e.tool_name for e in finished] == [DELEGATE_TOOLS[0]] * 2
    coworkers = [e.tool_args["coworker"] if isinstance(e.tool_args, dict) else e.tool_args for e in finished]
    assert coworkers == ["Research Specialist", "Content Writer"], coworkers


def test_manager_gets_the_two_delegation_tools():
    """The manager is given two tools, `delegate_work_to_coworker` and `ask_question_to_coworker`, listing the
    crew's agents as coworkers."""
    model = course.ScriptedLLM()
    manager, workers = _team(model)
    Crew(agents=workers, tasks=[task("Research the topic")], process=Process.hierarchical,
         manager_agent=manager).kickoff()
    prompt = next(c.prompt for c in model.calls if c.role == "Project Manager")
    for tool in DELEGATE_TOOLS:
        assert f"Tool Name: {tool}" in prompt
    assert "one of the following coworkers: Research Specialist, Content Writer" in prompt


def test_hierarchical_tasks_still_run_in_list_order_one_at_a_time():
    """Under Process.hierarchical the manager does not choose the order: tasks run in list order, one at a
    time (the second starts after the first ends)."""
    second_started = threading.Event()
    manager = agent("Project Manager")
    researcher = agent("Research Specialist", held_until(second_started))
    writer = agent("Content Writer", signals(second_started))
    tasks = [task("Research the topic"), task("Write the report")]
    recorded = run(Crew(agents=[researcher, writer], tasks=tasks, process=Process.hierarchical,
                        manager_agent=manager))
    assert recorded.order() == ["Research the topic", "Write the report"]
    assert recorded.workers() == {"Research the topic": "Research Specialist", "Write the report": "Content Writer"}
    assert starts_after_end(recorded, "Write the report", "Research the topic"), recorded.summary()


def test_each_hierarchical_task_costs_three_model_calls():
    """Each hierarchical task costs three model calls (manager delegates, worker works, manager hands back),
    not one; the worker's task is a new Task whose description is the manager's `task` string."""
    manager, workers = _team()
    tasks = [task("Research the topic"), task("Write the report")]
    recorded = run(Crew(agents=workers, tasks=tasks, process=Process.hierarchical, manager_agent=manager))
    calls = [(c.role, c.task) for c in recorded.llm_calls]
    assert calls == [("Project Manager", "Research the topic"), ("Research Specialist", "Research the topic"),
                     ("Project Manager", "Research the topic"), ("Project Manager", "Write the report"),
                     ("Content Writer", "Write the report"), ("Project Manager", "Write the report")]


def test_task_with_agent_lets_the_manager_delegate_only_to_that_agent():
    """Under Process.hierarchical a task with `agent=` lets the manager delegate only to that agent."""
    model = course.ScriptedLLM()
    manager, (researcher, writer) = _team(model)
    pinned = task("Write the report", researcher)  # the writing goes to the researcher: the manager has no choice
    recorded = run(Crew(agents=[researcher, writer], tasks=[pinned], process=Process.hierarchical,
                        manager_agent=manager))
    prompt = next(c.prompt for c in model.calls if c.role == "Project Manager")
    assert "one of the following coworkers: Research Specialist\n" in prompt
    assert recorded.workers() == {"Write the report": "Research Specialist"}


def test_manager_allow_delegation_false_is_silently_set_to_true():
    """`allow_delegation=False` on the manager agent is silently set to True."""
    manager = agent("Project Manager", allow_delegation=False)
    worker = agent("Content Writer")
    Crew(agents=[worker], tasks=[task("Write the report")], process=Process.hierarchical,
         manager_agent=manager).kickoff()
    assert manager.allow_delegation is True


def test_manager_llm_builds_a_crew_manager_agent():
    """With `manager_llm=` CrewAI builds the manager itself, an agent called "Crew Manager"."""
    worker = agent("Content Writer")
    result = Crew(agents=[worker], tasks=[task("Write the report")], process=Process.hierarchical,
                  manager_llm=course.ScriptedLLM()).kickoff()
    assert result.tasks_output[0].agent == "Crew Manager"
