"""CrewAI 1.15.30's execution controls, as far as tests/course/test_controls.py does not already pin them
(docs/crewai-facts.md, "Execution controls")."""

from __future__ import annotations

import threading
import uuid

import pytest
from crewai import Crew
from crewai.events import crewai_event_bus
from crewai.events.types.memory_events import MemoryRetrievalFailedEvent, MemorySaveFailedEvent

import course
from course import controls
from tests.crewai_facts.facts_support import MEET, agent, task

pytestmark = pytest.mark.crewai_fact


def _lookup_crew(model: course.ScriptedLLM, tool: controls.FactLookupTool, cache: bool) -> Crew:
    looker = agent("Researcher", model, tools=[tool])
    checker = agent("Fact checker", model, tools=[tool])
    return Crew(agents=[looker, checker], cache=cache, tasks=[
        task("Look up 'the boiling point of water'", looker), task("Check 'the boiling point of water'", checker)])


def test_cache_does_not_save_model_calls():
    """`cache=True` caches tool results, not LLM responses: the model is called as often as without it,
    while the second identical tool call does not run the tool."""
    calls, runs = {}, {}
    for cache in (False, True):
        model, tool = course.ScriptedLLM(), controls.FactLookupTool()
        _lookup_crew(model, tool, cache).kickoff()
        calls[cache], runs[cache] = len(model.calls), tool.runs
    assert runs == {False: 2, True: 1}
    assert calls[True] == calls[False] == 4  # per task: choose the tool, then answer with its result


@pytest.fixture(scope="module")
def memory_calls() -> list[course.LLMCall]:
    """The model calls of one memory=True crew (one agent, one task): run once, read by two facts."""
    model = course.ScriptedLLM()
    writer = agent("Writer", model)
    Crew(agents=[writer], tasks=[task("Write about tea", writer)], memory=True,
         embedder=controls.local_embedder(), name=f"fact-{uuid.uuid4().hex[:8]}").kickoff()
    crewai_event_bus.flush()
    return model.calls


def test_memory_gives_every_agent_two_memory_tools(memory_calls):
    """`memory=True` gives every agent two extra tools, "Search memory" and "Save to memory"
    (search_memory, save_to_memory), so an agent without tools of its own gets the tool-use prompt."""
    prompt = next(c.prompt for c in memory_calls if c.role == "Writer")
    assert "Tool Name: search_memory" in prompt and "Tool Name: save_to_memory" in prompt


def test_memory_adds_an_extraction_and_an_analysis_call_per_task(memory_calls):
    """Model calls per task with memory: one `ExtractedMemories` call and one `MemoryAnalysis` call (internal,
    from_agent=None); a short task description asks no `QueryAnalysis`."""
    internal = sorted(c.task for c in memory_calls if c.role == "(internal)")
    assert internal == ["ExtractedMemories", "MemoryAnalysis"], internal


class _UnreachableEmbedder(controls.LocalEmbedder):
    """What CrewAI's default (OpenAI) embedder amounts to offline or without a key."""

    def __call__(self, input):  # noqa: A002 (CrewAI's name)
        raise RuntimeError("embedding service unreachable")


def test_memory_without_a_working_embedder_fails_silently():
    """Memory without a working embedder fails silently: kickoff succeeds, nothing is remembered, and the only
    signs are memory_retrieval_failed / memory_save_failed events (and log lines)."""
    failures, both_reported = [], threading.Event()

    def report(kind: str, error: str) -> None:
        failures.append((kind, error))
        if {k for k, _ in failures} == {"recall", "save"}:
            both_reported.set()

    with crewai_event_bus.scoped_handlers():
        @crewai_event_bus.on(MemorySaveFailedEvent)
        def _save_failed(source, event):
            report("save", event.error)

        @crewai_event_bus.on(MemoryRetrievalFailedEvent)
        def _recall_failed(source, event):
            report("recall", event.error)

        writer = agent("Writer")
        result = Crew(agents=[writer], tasks=[task("Write about tea", writer)], memory=True,
                      embedder={"provider": "custom", "config": {"embedding_callable": _UnreachableEmbedder}},
                      name=f"fact-{uuid.uuid4().hex[:8]}").kickoff()
        # The save failure is emitted by the background save's done-callback, which may run just after
        # kickoff's drain_writes() has returned: wait for it (long only if it never comes).
        both_reported.wait(MEET)
        crewai_event_bus.flush()
    assert result.raw.startswith("[ref:")
    assert sorted(failures) == [("recall", "embedding service unreachable"), ("save", "embedding service unreachable")]


def test_a_failed_memory_save_prints_an_empty_scope_stack_warning(monkeypatch):
    """The tour names this line (issue 23, learner 5): the background save emits memory_save_started inside a
    copied context and its done-callback emits memory_save_failed outside it, so the event bus finds no
    scope to close and prints "[CrewAIEventsBus] Warning: Ending event 'memory_save_failed' emitted with
    empty scope stack" once per failed save. Bookkeeping only: kickoff and the failure event are unaffected."""
    from crewai.events import event_context

    printed, saved = [], threading.Event()
    monkeypatch.setattr(event_context, "_console", type("Console", (), {"print": lambda _self, text: printed.append(text)})())
    with crewai_event_bus.scoped_handlers():
        @crewai_event_bus.on(MemorySaveFailedEvent)
        def _save_failed(source, event):
            saved.set()

        writer = agent("Writer")
        result = Crew(agents=[writer], tasks=[task("Write about tea", writer)], memory=True,
                      embedder={"provider": "custom", "config": {"embedding_callable": _UnreachableEmbedder}},
                      name=f"fact-{uuid.uuid4().hex[:8]}").kickoff()
        assert saved.wait(MEET)
        crewai_event_bus.flush()
    assert result.raw.startswith("[ref:")
    warning = ("[CrewAIEventsBus] Warning: Ending event 'memory_save_failed' emitted with empty scope stack. "
               "Missing starting event?")
    assert printed.count(warning) == 1, printed


def test_a_rate_limit_message_is_retried_inside_the_model_call():
    """BaseLLM's rate-limit retry matches any message containing "rate limit", "rate-limit", "too many requests",
    "throttled" or "resource exhausted" (such errors are retried inside the call before CrewAI's own retries)."""
    from crewai.llms.retry import _ThrottlingErrorClassifier

    for message in ("Rate limit reached", "rate-limit", "Too Many Requests", "request throttled", "Resource exhausted"):
        assert _ThrottlingErrorClassifier.is_throttling_error(RuntimeError(message)), message
    assert not _ThrottlingErrorClassifier.is_throttling_error(RuntimeError("the model service is unavailable"))


def test_tasks_are_filled_with_inputs_before_agents():
    """kickoff(inputs=...) fills tasks before agents: with a placeholder missing from both a task and an
    agent, the task's ValueError is raised, not the agent's KeyError."""
    writer = agent("Writer for {field}")
    crew = Crew(agents=[writer], tasks=[task("Write about {topic}", writer)])
    with pytest.raises(ValueError, match="'topic'"):
        crew.kickoff(inputs={"audience": "students"})


def test_crewai_init_copies_base_agent_module_file_into_agent_executor():
    """`crewai/__init__.py` copies base_agent's module dict, `__file__` included, into
    `crewai.agents.agent_executor`: the module's repr and `inspect.getsource(module)` show base_agent.py."""
    from crewai.agents import agent_executor

    assert agent_executor.__file__.endswith("base_agent.py"), agent_executor.__file__
