"""course.traps: every trap is triggered against the real CrewAI 1.15.30, then diagnosed.

The constants in course.traps must be exact substrings of what CrewAI says:
each test checks the real message first, so a CrewAI upgrade that rewords one
fails here, not in a learner's notebook.
"""

from __future__ import annotations

import asyncio
import urllib.request

import pytest
from crewai import Agent, Crew, Process, Task
from pydantic import ValidationError

import course
from course import routing, traps


def _agent(role: str, **kw) -> Agent:
    return Agent(role=role, goal=f"Do the {role.lower()} work", backstory=f"An experienced {role.lower()}.", **kw)


def _task(description: str, **kw) -> Task:
    return Task(description=description, expected_output="A short result", **kw)


@pytest.fixture
def overlapping():
    """A model slow enough that two tasks started together are surely running at the same moment."""
    with course.routing.using(latency=0.05) as model:
        yield model


def _diagnosed(error: BaseException | str, name: str, *phrases: str) -> str:
    advice = traps.diagnose(error)
    assert advice, f"no diagnosis for {error!r}"
    assert traps.trap_name(error) == name
    for phrase in phrases:
        assert phrase in advice
    assert advice.count(". ") <= 1 and len(advice) < 330, "one sentence, short"
    return advice


# --- errors CrewAI raises when the crew is built --------------------------------------

@pytest.mark.crewai_fact
def test_missing_expected_output(scripted_llm):
    with pytest.raises(ValidationError) as caught:
        Task(description="Research AI trends", agent=_agent("Researcher"))
    assert "expected_output" in str(caught.value) and "Field required" in str(caught.value)
    advice = _diagnosed(caught.value, "missing-field", "expected_output=", "the Task 'Research AI trends'")
    alone = traps.diagnose(str(caught.value))  # the message alone is enough (pydantic shortens the name there)
    assert alone == advice.replace("the Task 'Research AI trends'", "the Task(...)")


@pytest.mark.crewai_fact
def test_verbose_level_from_crewai_0x(scripted_llm):
    agent = _agent("Researcher")
    with pytest.raises(ValidationError) as caught:
        Crew(agents=[agent], tasks=[_task("Research AI", agent=agent)], verbose=2)
    assert traps.VERBOSE_LEVEL.search(str(caught.value))
    _diagnosed(caught.value, "verbose-level", "verbose=True")


@pytest.mark.crewai_fact
def test_missing_agent_fields():
    with pytest.raises(ValidationError) as caught:
        Agent(role="Researcher")
    advice = _diagnosed(caught.value, "missing-field", "The Agent 'Researcher'", "goal", "backstory")
    assert traps.diagnose(str(caught.value)) == advice


@pytest.mark.crewai_fact
def test_crew_ending_with_two_async_tasks(scripted_llm):
    a, b = _agent("Researcher"), _agent("Writer")
    with pytest.raises(ValidationError) as caught:
        Crew(agents=[a, b], tasks=[_task("Plan", agent=a), _task("A", agent=a, async_execution=True),
                                   _task("B", agent=b, async_execution=True)])
    assert traps.END_ASYNC in str(caught.value)
    _diagnosed(caught.value, "end-async", "context=[...]")


@pytest.mark.crewai_fact
def test_async_task_with_its_async_neighbour_in_context(scripted_llm):
    a, b = _agent("Researcher"), _agent("Writer")
    first = _task("Research A", agent=a, async_execution=True)
    second = _task("Research B", agent=b, async_execution=True, context=[first])
    with pytest.raises(ValidationError) as caught:
        Crew(agents=[a, b], tasks=[first, second, _task("Combine", agent=b)])
    assert traps.ASYNC_CONTEXT.search(str(caught.value))
    _diagnosed(caught.value, "async-context", "'Research B'", "async_execution=False")


@pytest.mark.crewai_fact
def test_context_on_a_future_task(scripted_llm):
    a, b = _agent("Researcher"), _agent("Writer")
    later = _task("Final edit", agent=a)
    early = _task("Draft", agent=b, context=[later])
    with pytest.raises(ValidationError) as caught:
        Crew(agents=[a, b], tasks=[early, later])
    assert traps.FUTURE_CONTEXT.search(str(caught.value))
    _diagnosed(caught.value, "future-context", "'Draft'", "'Final edit'", "move it before")


@pytest.mark.crewai_fact
def test_hierarchical_without_a_manager(scripted_llm):
    with pytest.raises(ValidationError) as caught:
        Crew(agents=[_agent("Researcher")], tasks=[_task("A")], process=Process.hierarchical)
    assert traps.NO_MANAGER in str(caught.value)
    _diagnosed(caught.value, "no-manager", "manager_agent=", "manager_llm=")


@pytest.mark.crewai_fact
def test_manager_in_the_agents_list(scripted_llm):
    manager = _agent("Manager")
    with pytest.raises(ValidationError) as caught:
        Crew(agents=[manager, _agent("Writer")], tasks=[_task("A")], process=Process.hierarchical,
             manager_agent=manager)
    assert traps.MANAGER_IN_AGENTS in str(caught.value)
    _diagnosed(caught.value, "manager-in-agents", "manager_agent=")


@pytest.mark.crewai_fact
def test_sequential_task_without_an_agent(scripted_llm):
    with pytest.raises(ValidationError) as caught:
        Crew(agents=[_agent("Writer")], tasks=[_task("Write the summary")])
    _diagnosed(caught.value, "no-agent", "'Write the summary'", "agent=")


@pytest.mark.crewai_fact
def test_process_parallel_does_not_exist(scripted_llm):
    with pytest.raises(AttributeError) as caught:
        Process.parallel  # noqa: B018
    _diagnosed(caught.value, "process-parallel", "async_execution=True")
    with pytest.raises(ValidationError) as caught:
        Crew(agents=[_agent("Writer")], tasks=[_task("A", agent=_agent("Writer"))], process="parallel")
    assert traps.BAD_PROCESS in str(caught.value)
    _diagnosed(caught.value, "process-parallel")


# --- errors at kickoff ------------------------------------------------------------------

@pytest.mark.crewai_fact
def test_one_agent_on_two_async_tasks(overlapping):
    solo, writer = _agent("Researcher"), _agent("Writer")
    a = _task("Research A", agent=solo, async_execution=True)
    b = _task("Research B", agent=solo, async_execution=True)
    crew = Crew(agents=[solo, writer], tasks=[a, b, _task("Combine", agent=writer, context=[a, b])])
    warnings = traps.check_crew(crew)
    assert len(warnings) == 1 and "'Researcher'" in warnings[0] and "Executor is already running" in warnings[0]
    with pytest.raises(RuntimeError) as caught:
        crew.kickoff()
    assert traps.EXECUTOR_BUSY in str(caught.value)
    advice = _diagnosed(caught.value, "executor-busy", "its own agent")
    assert "hierarchical" not in advice  # issue 23, learner 5: nothing about a process this crew does not use


@pytest.mark.crewai_fact
def test_async_tasks_under_hierarchical(overlapping):
    # A sync task first: when the async pair opens the crew, the manager's executor is
    # created by both threads at once and the clash happens only some of the time (6-9 of 15).
    crew = Crew(agents=[_agent("Researcher"), _agent("Writer")],
                tasks=[_task("Plan the work"), _task("Research A", async_execution=True),
                       _task("Research B", async_execution=True), _task("Write the report")],
                process=Process.hierarchical, manager_agent=_agent("Manager"))
    warnings = traps.check_crew(crew)
    assert len(warnings) == 1 and "Process.hierarchical" in warnings[0] and "Executor" in warnings[0]
    with pytest.raises(RuntimeError) as caught:
        crew.kickoff()
    advice = _diagnosed(caught.value, "executor-busy", "Process.hierarchical", "leave async_execution off")
    assert "its own agent" not in advice  # the manager does every task: another agent per task would not help


@pytest.mark.crewai_fact
def test_plain_kickoff_inside_a_running_event_loop(scripted_llm):
    writer = _agent("Writer")
    crew = Crew(agents=[writer], tasks=[_task("Write", agent=writer)])

    async def cell() -> None:  # what a Jupyter cell is: code inside a running loop
        crew.kickoff()

    with pytest.raises(RuntimeError) as caught:
        asyncio.run(cell())
    assert traps.IN_EVENT_LOOP in str(caught.value)
    _diagnosed(caught.value, "kickoff-in-jupyter", "await crew.kickoff_async()")


@pytest.mark.crewai_fact
def test_manager_with_tools(scripted_llm):
    from crewai.tools import tool

    @tool("Search")
    def search(query: str) -> str:
        """Search the notes."""
        return query

    crew = Crew(agents=[_agent("Writer")], tasks=[_task("Write")], process=Process.hierarchical,
                manager_agent=_agent("Manager", tools=[search]))
    with pytest.raises(Exception) as caught:
        crew.kickoff()
    assert traps.MANAGER_TOOLS in str(caught.value)
    _diagnosed(caught.value, "manager-tools", "tools=[...]")


@pytest.mark.crewai_fact
def test_missing_template_variable(scripted_llm):
    writer = _agent("Writer")
    crew = Crew(agents=[writer], tasks=[_task("Write about {topic}", agent=writer)])
    with pytest.raises(ValueError) as caught:
        crew.kickoff(inputs={"audience": "students"})
    _diagnosed(caught.value, "template-variable", "{topic}", "'topic'")


@pytest.mark.crewai_fact
def test_missing_template_variable_in_expected_output_and_role(scripted_llm):
    writer = _agent("Writer")
    crew = Crew(agents=[writer], tasks=[Task(description="Write", expected_output="notes in {format}", agent=writer)])
    with pytest.raises(ValueError) as caught:
        crew.kickoff(inputs={"audience": "students"})
    _diagnosed(caught.value, "template-variable", "{format}", "'format'")
    named = _agent("Writer for {field}")
    crew = Crew(agents=[named], tasks=[_task("Write", agent=named)])
    with pytest.raises(KeyError) as caught:
        crew.kickoff(inputs={"audience": "students"})
    _diagnosed(caught.value, "template-variable", "{field}", "'field'")


@pytest.mark.crewai_fact
def test_openai_key_required_when_an_agent_escaped_the_course(scripted_llm, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    routing.deactivate()  # an agent built before `import course` looks like this
    try:
        stray = _agent("Writer")
    finally:
        routing.activate()
    crew = Crew(agents=[stray], tasks=[_task("Write", agent=stray)])
    with pytest.raises(ValueError) as caught:
        crew.kickoff()
    assert traps.API_KEY in str(caught.value)
    _diagnosed(caught.value, "api-key", "import course")


def test_offline_error_even_when_wrapped():
    with pytest.raises(OSError) as caught:
        urllib.request.urlopen("http://example.com", timeout=2)
    assert not isinstance(caught.value, course.OfflineError)  # urllib wraps it in a URLError
    _diagnosed(caught.value, "offline", "offline")
    _diagnosed(course.OfflineError("nope"), "offline")


def test_injected_failure(scripted_llm):
    model = course.ScriptedLLM(fail_roles=["Writer"])
    writer = Agent(role="Writer", goal="Write", backstory="A writer.", llm=model)
    crew = Crew(agents=[writer], tasks=[_task("Write", agent=writer)])
    with pytest.raises(course.InjectedFailure) as caught:
        crew.kickoff()
    _diagnosed(caught.value, "injected-failure", "try/except")


def test_unknown_errors_get_no_diagnosis():
    assert traps.diagnose(KeyError("something else")) is None
    assert traps.diagnose("a message nobody knows") is None
    assert traps.trap_name(ZeroDivisionError()) is None


# --- check_crew on crews CrewAI would refuse (changed after they were built) --------------

def test_check_crew_finds_nothing_in_a_good_crew(scripted_llm):
    a, b, w = _agent("Researcher A"), _agent("Researcher B"), _agent("Writer")
    t1, t2 = _task("Research A", agent=a, async_execution=True), _task("Research B", agent=b, async_execution=True)
    crew = Crew(agents=[a, b, w], tasks=[t1, t2, _task("Combine", agent=w, context=[t1, t2])])
    assert traps.check_crew(crew) == []


def test_check_crew_sees_what_crewai_validates_only_at_construction(scripted_llm):
    a, b = _agent("Researcher"), _agent("Writer")
    first, second, last = _task("Research", agent=a), _task("Draft", agent=b), _task("Edit", agent=a)
    crew = Crew(agents=[a, b], tasks=[first, second, last])
    second.async_execution, last.async_execution = True, True  # now ends with two async tasks
    last.context = [second]  # ... and an async task waits for its async neighbour
    first.context = [last]  # ... and a task waits for a future one
    first.expected_output = ""
    warnings = "\n".join(traps.check_crew(crew))
    assert "ends with 2 async tasks" in warnings and traps.END_ASYNC in warnings
    assert "Task 'Edit' is async and lists 'Draft'" in warnings
    assert "Task 'Research' lists 'Edit' in its context, but that task comes later" in warnings
    assert "expected_output=" in warnings and "'Research'" in warnings


def test_check_crew_hierarchical_without_manager(scripted_llm):
    writer = _agent("Writer")
    crew = Crew(agents=[writer], tasks=[_task("Write", agent=writer)])
    crew.process = Process.hierarchical
    assert any("has no manager" in w for w in traps.check_crew(crew))


# --- showing it -------------------------------------------------------------------------

def test_explain_prints_a_short_message_outside_ipython(capsys):
    traps.explain(RuntimeError("Executor is already running. Cannot invoke the same executor instance concurrently."))
    out = capsys.readouterr().out
    assert out.startswith("What happened: RuntimeError: Executor is already running")
    assert "its own agent" in out and "Traceback" not in out


def test_explanation_html_is_escaped_and_shows_code():
    html = traps.Explanation(RuntimeError("Agent execution was invoked synchronously from within a running event "
                                          "loop. <x>"))._repr_html_()
    assert "&lt;x&gt;" in html and "<code>result = await crew.kickoff_async()</code>" in html
    assert "not one of the course's known traps" in traps.Explanation(ValueError("odd"))._repr_html_()

