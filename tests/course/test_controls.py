"""The guide's execution controls (memory, cache, max_rpm, errors, inputs, verbose), offline.

Several tests guard CrewAI 1.15.30 internals that course/controls.py relies on:
when one fails after an upgrade, read its message and update course/controls.py.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import subprocess
import sys
import textwrap
import uuid

import numpy as np
import pytest
from crewai import Agent, Crew, Task
from crewai.events import crewai_event_bus
from crewai.events.types.memory_events import MemoryRetrievalFailedEvent, MemorySaveFailedEvent
from crewai.events.types.tool_usage_events import ToolUsageFinishedEvent
from crewai.memory import analyze, unified_memory
from crewai.utilities.i18n import I18N_DEFAULT
from crewai.utilities.rpm_controller import RPMController

import course
from course import controls, structured
from course.scripted_llm import InjectedFailure
from tests.helpers import ROOT


def _unique(prefix: str) -> str:
    # Memory lives per process under CREWAI_STORAGE_DIR; a unique crew name is a
    # unique memory scope, so one test never recalls another test's run.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _memory_messages(key: str, **fields: str) -> list[dict[str, str]]:
    system, user = I18N_DEFAULT.memory(f"{key}_system"), I18N_DEFAULT.memory(f"{key}_user")
    return [{"role": "system", "content": system}, {"role": "user", "content": user.format(**fields)}]


# --- memory ----------------------------------------------------------------------------

@pytest.mark.crewai_fact
def test_crewai_still_builds_the_default_memory_embedder_through_the_routed_function(tmp_path):
    assert hasattr(unified_memory, "_default_embedder"), (
        "crewai.memory.unified_memory._default_embedder is gone: memory=True would use OpenAI again. "
        "Find where CrewAI builds Memory's default embedder and update course/controls.py.")
    assert controls.local_embedder_is_default(), "import course did not make the local embedder the default"
    memory = unified_memory.Memory(llm=course.ScriptedLLM(), storage=str(tmp_path / "mem"))
    assert isinstance(memory._embedder, controls.LocalEmbedder), (
        "Memory(embedder=None) no longer gets its embedder from _default_embedder()")


def test_local_embedder_is_deterministic_and_groups_texts_that_share_words():
    one = controls.embed("The history of tea in China")
    assert one == controls.embed("The history of tea in China")
    assert len(one) == controls.DIMENSIONS and abs(float(np.dot(one, one)) - 1.0) < 1e-9
    near = controls.embed("A short article about the history of tea")
    far = controls.embed("Quarterly revenue of steel mills")
    assert float(np.dot(one, near)) > float(np.dot(one, far)) + 0.2
    assert controls.embed("")[0] == 1.0  # still a valid vector


@pytest.mark.crewai_fact
def test_local_embedder_config_goes_through_crewais_own_factory():
    from crewai.rag.embeddings.factory import build_embedder

    embedder = build_embedder(controls.local_embedder(dimensions=64))
    assert isinstance(embedder, controls.LocalEmbedder)
    vectors = embedder(["tea", "coffee"])
    assert len(vectors) == 2 and all(v.shape == (64,) and v.dtype == np.float32 for v in vectors)


@pytest.mark.parametrize("key, schema, fields", [
    ("extract_memories", analyze.ExtractedMemories,
     {"content": "Task: Research tea\nAgent: Researcher\nExpected result: notes\nResult: Thought: done\n"
                 "Final Answer: Tea came from China."}),
    ("save", analyze.MemoryAnalysis,
     {"content": "Researcher completed 'Research tea': notes", "existing_scopes": "['/']", "existing_categories": "[]"}),
    ("query", analyze.QueryAnalysis, {"query": "history of tea " * 20, "available_scopes": "['/']", "scope_desc": ""}),
    ("consolidation", analyze.ConsolidationPlan, {"new_content": "Tea came from China.", "records_summary": "- id=1"}),
])
@pytest.mark.crewai_fact
def test_memory_analysis_prompts_get_json_of_their_schema(key, schema, fields):
    llm = course.ScriptedLLM()
    messages = _memory_messages(key, **fields)
    assert structured.memory_schema(messages) is schema, f"CrewAI changed its {key} memory prompt"
    reply = llm.call(messages)  # as CrewAI sends it to a model without function calling
    schema.model_validate(json.loads(reply))
    assert llm.calls[-1].role == "(internal)" and llm.calls[-1].task == schema.__name__


@pytest.mark.crewai_fact
def test_crewais_own_memory_analysis_accepts_the_replies(caplog):
    llm = course.ScriptedLLM()
    content = ("Task: Research the history of tea\nAgent: Researcher\nExpected result: notes\n"
               "Result: Thought: I now know the final answer\nFinal Answer: Tea was first drunk in China.")
    with caplog.at_level(logging.WARNING, logger="crewai.memory.analyze"):
        memories = analyze.extract_memories_from_content(content, llm)
        saved = analyze.analyze_for_save(memories[0], ["/"], [], llm)
        query = "What do we know about the history of tea? " * 6  # long: CrewAI asks the model to distill it
        asked = analyze.analyze_query(query, ["/"], None, llm)
        record = unified_memory.MemoryRecord(content="Tea came from China.", scope="/")
        plan = analyze.analyze_for_consolidation("Tea came from China, early.", [record], llm)
    assert not caplog.records, [r.getMessage() for r in caplog.records]  # no "... failed, using defaults"
    assert memories == ["Researcher completed 'Research the history of tea': Tea was first drunk in China."]
    assert saved.suggested_scope == "/" and saved.categories == ["research"]
    assert asked.recall_queries == [query.strip()[:200]]
    assert plan.insert_new is True and plan.actions == []


@pytest.mark.crewai_fact
def test_memory_crew_recalls_what_the_first_task_stored(scripted_llm):
    failures = []
    researcher = Agent(role="Researcher", goal="Find facts", backstory="Careful.")
    writer = Agent(role="Writer", goal="Write clearly", backstory="Clear.")
    research = Task(description="Research the history of tea", expected_output="notes", agent=researcher)
    # context=[]: the writer gets nothing from the researcher except through memory.
    write = Task(description="Write a short article about the history of tea", expected_output="article",
                 agent=writer, context=[])
    with crewai_event_bus.scoped_handlers():
        @crewai_event_bus.on(MemorySaveFailedEvent)
        def _save_failed(source, event):
            failures.append(event.error)

        @crewai_event_bus.on(MemoryRetrievalFailedEvent)
        def _recall_failed(source, event):
            failures.append(event.error)

        crew = Crew(agents=[researcher, writer], tasks=[research, write], memory=True, name=_unique("tea"))
        result = crew.kickoff()
        crewai_event_bus.flush()
    assert failures == []
    research_ref = result.tasks_output[0].raw.split("]")[0] + "]"  # "[ref:xxxxxx by Researcher]"
    writer_prompt = next(c.prompt for c in scripted_llm.calls if c.role == "Writer")
    assert "Relevant memories:" in writer_prompt
    assert f"Researcher completed 'Research the history of tea': {research_ref}" in writer_prompt
    found = crew._memory.recall("history of tea", limit=5, depth="shallow")
    assert any(research_ref in match.record.content for match in found)
    # The memory tools CrewAI adds are never the scripted model's "work" tool.
    assert all("search_memory" not in c.reply and "save_to_memory" not in c.reply for c in scripted_llm.calls)


@pytest.mark.crewai_fact
def test_explicit_local_embedder_config_works_in_a_crew(scripted_llm):
    agent = Agent(role="Researcher", goal="Find facts", backstory="Careful.")
    crew = Crew(agents=[agent], tasks=[Task(description="Research green tea", expected_output="notes", agent=agent)],
                memory=True, embedder=controls.local_embedder(), name=_unique("explicit"))
    crew.kickoff()
    assert isinstance(crew._memory._embedder, controls.LocalEmbedder)
    assert crew._memory.recall("green tea", limit=3, depth="shallow")


@pytest.mark.crewai_fact
def test_memory_outlives_the_kickoff_until_reset(scripted_llm):
    # Re-running a memory crew in the same kernel recalls the last run: the
    # output changes. reset_memories("memory") gives the first run back.
    name = _unique("rerun")

    def crew() -> Crew:
        researcher = Agent(role="Researcher", goal="Find facts", backstory="Careful.")
        writer = Agent(role="Writer", goal="Write clearly", backstory="Clear.")
        return Crew(agents=[researcher, writer], memory=True, name=name, tasks=[
            Task(description="Research oolong tea", expected_output="notes", agent=researcher),
            Task(description="Write about oolong tea", expected_output="article", agent=writer),
        ])

    first = crew().kickoff().raw
    second = crew().kickoff().raw
    fresh = crew()
    fresh.reset_memories("memory")
    assert second != first
    assert fresh.kickoff().raw == first


MEMORY_SCRIPT = textwrap.dedent("""
    import json, os, sys
    sys.path.insert(0, sys.argv[1])
    import course
    from crewai import Agent, Crew, Task
    def crew():
        r = Agent(role="Researcher", goal="Find facts", backstory="Careful.")
        w = Agent(role="Writer", goal="Write clearly", backstory="Clear.")
        t1 = Task(description="Research the history of tea", expected_output="notes", agent=r)
        t2 = Task(description="Write about the history of tea", expected_output="article", agent=w, context=[])
        return Crew(agents=[r, w], tasks=[t1, t2], memory=True)
    crew().kickoff()
    crew().kickoff()  # a second crew opens the same store (LanceDB compacts it in the background)
    writer = [c for c in course.default_llm().calls if c.role == "Writer"][0]
    print(json.dumps({"recalled": "Relevant memories:" in writer.prompt,
                      "network": course.network_attempts(),
                      "storage": os.environ["CREWAI_STORAGE_DIR"]}))
""")


def test_memory_true_is_silent_offline_and_stays_out_of_home(tmp_path):
    # A fresh process: the only honest way to see everything CrewAI prints and writes.
    home, storage = tmp_path / "home", tmp_path / "storage"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CREWAI_", "OPENAI_", "CHROMA_", "LANCEDB_"))}
    env.update(HOME=str(home), COURSE_STORAGE_DIR=str(storage))
    done = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, str(ROOT)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    assert lines[:-1] == [] and done.stderr == "", f"memory=True printed:\n{done.stdout}\n{done.stderr}"
    assert report["recalled"] and report["network"] == []
    assert report["storage"] == str(storage.resolve())
    assert any((storage / "memory").iterdir()), "no memory was stored under CREWAI_STORAGE_DIR"
    assert sorted(p.relative_to(home).as_posix() for p in home.rglob("*")) == []


# --- cache ------------------------------------------------------------------------------

def _lookup_crew(tool: controls.FactLookupTool, cache: bool) -> Crew:
    researcher = Agent(role="Researcher", goal="Find facts", backstory="Careful.", tools=[tool])
    checker = Agent(role="Fact checker", goal="Check facts", backstory="Strict.", tools=[tool])
    return Crew(agents=[researcher, checker], cache=cache, tasks=[
        Task(description="Look up 'the boiling point of water'", expected_output="a fact", agent=researcher),
        Task(description="Check 'the boiling point of water'", expected_output="a checked fact", agent=checker),
    ])


@pytest.mark.parametrize("cache, runs, from_cache", [(True, 1, [False, True]), (False, 2, [False, False])])
@pytest.mark.crewai_fact
def test_cache_serves_the_second_identical_tool_call(scripted_llm, cache, runs, from_cache):
    tool = controls.FactLookupTool()
    events = []
    with crewai_event_bus.scoped_handlers():
        @crewai_event_bus.on(ToolUsageFinishedEvent)
        def _finished(source, event):
            events.append(event)

        result = _lookup_crew(tool, cache).kickoff()
        crewai_event_bus.flush()
    events.sort(key=lambda e: e.timestamp)
    assert tool.runs == runs and tool.queries == ["the boiling point of water"] * runs
    assert [e.from_cache for e in events] == from_cache
    assert [e.tool_name for e in events] == ["fact_lookup", "fact_lookup"]
    assert "From the tool: Fact sheet" in result.tasks_output[1].raw


@pytest.mark.crewai_fact
def test_crew_cache_is_off_unless_asked_for():
    # The guide's comment "cache=True # Cache LLM responses" suggests otherwise.
    assert Crew.model_fields["cache"].default is False


# --- max_rpm ----------------------------------------------------------------------------

@pytest.mark.crewai_fact
def test_crewai_rate_limiter_still_waits_through_the_method_we_shorten():
    wait = inspect.getsource(RPMController._wait_for_next_minute)
    check = inspect.getsource(RPMController.check_or_wait)
    assert "time.sleep(60)" in wait, "RPMController._wait_for_next_minute changed: update course/controls.py"
    assert "self._wait_for_next_minute()" in check, "RPMController.check_or_wait no longer calls the wait method"


@pytest.mark.crewai_fact
def test_max_rpm_pauses_between_the_second_and_third_call():
    original = RPMController.__dict__["_wait_for_next_minute"]
    llm = course.ScriptedLLM(latency=0.005)
    agents = [Agent(role=f"Researcher {i}", goal="Find facts", backstory="b", llm=llm) for i in range(4)]
    tasks = [Task(description=f"Research topic {i}", expected_output="notes", agent=a) for i, a in enumerate(agents)]
    with controls.short_minute(0.3) as minute:
        assert RPMController.__dict__["_wait_for_next_minute"] is not original
        with course.record() as recording:
            Crew(agents=agents, tasks=tasks, max_rpm=2).kickoff()
    assert RPMController.__dict__["_wait_for_next_minute"] is original
    calls = recording.run.llm_calls
    assert len(calls) == 4
    gaps = [(b.start - a.end).total_seconds() for a, b in zip(calls, calls[1:])]
    assert gaps[1] >= 0.3, gaps  # call 3 waited for the (short) minute
    assert gaps[1] > max(gaps[0], gaps[2]), gaps
    assert len(minute.pauses) == 1 and minute.pauses[0] >= 0.3


def test_short_minute_restores_crewai_even_after_an_error_and_when_nested():
    original = RPMController.__dict__["_wait_for_next_minute"]
    with pytest.raises(RuntimeError):
        with controls.short_minute(0.5):
            with controls.short_minute(0.1):
                pass
            assert RPMController.__dict__["_wait_for_next_minute"] is not original  # outer block still active
            raise RuntimeError("boom")
    assert RPMController.__dict__["_wait_for_next_minute"] is original
    with pytest.raises(ValueError):
        with controls.short_minute(0):
            pass


# --- errors -----------------------------------------------------------------------------

def _two_step_crew(llm: course.ScriptedLLM) -> Crew:
    researcher = Agent(role="Researcher", goal="Find facts", backstory="Careful.", llm=llm)
    writer = Agent(role="Writer", goal="Write clearly", backstory="Clear.", llm=llm)
    return Crew(agents=[researcher, writer], tasks=[
        Task(description="Research the history of tea", expected_output="notes", agent=researcher),
        Task(description="Write an article about the history of tea", expected_output="article", agent=writer),
    ])


@pytest.mark.crewai_fact
def test_injected_failure_is_not_mistaken_for_a_rate_limit():
    # A "rate limit" message would be retried inside BaseLLM for ~8 s before CrewAI sees it.
    from crewai.llms.retry import _ThrottlingErrorClassifier

    llm = course.ScriptedLLM()
    for message in (llm.fail_message, f"{llm.fail_message} for role 'Writer'"):
        assert not _ThrottlingErrorClassifier.is_throttling_error(InjectedFailure(message))


@pytest.mark.crewai_fact
def test_a_failing_writer_raises_at_kickoff_after_crewais_retries():
    llm = course.ScriptedLLM(fail_roles=["Writer"])
    with pytest.raises(InjectedFailure, match=r"injected failure\) for role 'Writer'"):
        _two_step_crew(llm).kickoff()
    # One call and max_retry_limit=2 retries, no more: the failure reached kickoff at once.
    assert [(c.role, c.failed) for c in llm.calls] == [("Researcher", False)] + [("Writer", True)] * 3
    run = course.last_run()
    assert run.tasks[0].ran and "injected failure" in (run.tasks[1].error or "")


@pytest.mark.crewai_fact
def test_one_failed_call_is_retried_by_crewai_and_the_result_is_unchanged():
    clean = _two_step_crew(course.ScriptedLLM()).kickoff()
    flaky_llm = course.ScriptedLLM(fail_first=1)
    flaky = _two_step_crew(flaky_llm).kickoff()
    assert [c.failed for c in flaky_llm.calls] == [True, False, False]
    assert [t.raw for t in flaky.tasks_output] == [t.raw for t in clean.tasks_output]


def test_run_with_retry_builds_a_fresh_crew_and_falls_back():
    shared = course.ScriptedLLM(fail_first=3)  # exhausts CrewAI's own 3 attempts once
    outcome = controls.run_with_retry(lambda: _two_step_crew(shared), attempts=2)
    assert outcome.attempts == 2 and len(outcome.errors) == 1 and "InjectedFailure" in outcome.errors[0]
    assert outcome.result.raw.startswith("[ref:") and not outcome.used_fallback

    always = course.ScriptedLLM(fail_roles=["Writer"])
    fallback = controls.run_with_retry(lambda: _two_step_crew(always), attempts=2,
                                       fallback=lambda error: f"fallback after {type(error).__name__}")
    assert fallback.used_fallback and fallback.result == "fallback after InjectedFailure"
    assert len(fallback.errors) == 2
    with pytest.raises(InjectedFailure):
        controls.run_with_retry(lambda: _two_step_crew(always), attempts=1)


def test_arun_with_retry_works_inside_an_event_loop():
    shared = course.ScriptedLLM(fail_first=3)
    outcome = asyncio.run(controls.arun_with_retry(lambda: _two_step_crew(shared), attempts=2))
    assert len(outcome.errors) == 1 and outcome.result.raw.startswith("[ref:")


# --- kickoff(inputs=...) ---------------------------------------------------------------------

@pytest.mark.crewai_fact
def test_inputs_fill_every_placeholder_and_reach_the_model(scripted_llm):
    agent = Agent(role="{topic} Researcher", goal="Find facts about {topic}",
                  backstory="An expert on {topic} who writes for {audience}.")
    task = Task(description="Research {topic} for {audience}", expected_output="A report on {topic}", agent=agent)
    result = Crew(agents=[agent], tasks=[task]).kickoff(
        inputs={"topic": "Artificial Intelligence", "audience": "Business executives"})
    prompt = scripted_llm.calls[-1].prompt
    assert "You are Artificial Intelligence Researcher. An expert on Artificial Intelligence who writes for " \
           "Business executives." in prompt
    assert "Your personal goal is: Find facts about Artificial Intelligence" in prompt
    assert "Current Task: Research Artificial Intelligence for Business executives" in prompt
    assert "expected criteria for your final answer: A report on Artificial Intelligence" in prompt
    assert "{" not in prompt.replace("{}", "")
    assert "Research notes on Artificial Intelligence for Business executives" in result.raw


def _placeholder_crew(role="R", goal="g", description="Research {topic} for {audience}", expected="notes"):
    agent = Agent(role=role, goal=goal, backstory="b")
    return Crew(agents=[agent], tasks=[Task(description=description, expected_output=expected, agent=agent)])


@pytest.mark.crewai_fact
def test_missing_inputs_raise_crewais_exact_errors():
    with pytest.raises(ValueError) as described:
        _placeholder_crew().kickoff(inputs={"topic": "AI"})
    assert str(described.value) == ("Missing required template variable 'Template variable 'audience' not found "
                                    "in inputs dictionary' in description")
    with pytest.raises(ValueError) as expected:
        _placeholder_crew(description="Research", expected="A {format}").kickoff(inputs={"topic": "AI"})
    assert str(expected.value) == 'Error interpolating expected_output: "Template variable \'format\' not found ' \
                                  'in inputs dictionary"'
    with pytest.raises(KeyError) as agent_field:
        _placeholder_crew(goal="Study {field}", description="Research").kickoff(inputs={"topic": "AI"})
    assert agent_field.value.args[0] == "Template variable 'field' not found in inputs dictionary"


@pytest.mark.crewai_fact
def test_without_inputs_placeholders_stay_as_written(scripted_llm):
    result = _placeholder_crew().kickoff()
    assert "Current Task: Research {topic} for {audience}" in scripted_llm.calls[-1].prompt
    assert "{topic}" in result.raw


# --- verbose -------------------------------------------------------------------------------------

@pytest.mark.crewai_fact
def test_verbose_run_prints_panels_but_no_debug_line_network_or_version_check(scripted_llm, capfd, monkeypatch):
    from crewai.agents.agent_executor import AgentExecutor
    from crewai.events.utils import console_formatter

    # (crewai/__init__.py copies base_agent's module dict, __file__ included, into
    # agent_executor's, so inspect must start from the function, not the module.)
    finalize = AgentExecutor.finalize.unwrap()
    assert controls.FINALIZE_LINE in inspect.getsource(finalize), (
        "CrewAI no longer prints the [Finalize] line: drop controls.quiet_finalize_line")
    assert isinstance(finalize.__globals__["PRINTER"], controls._QuietPrinter), "the line is printed another way now"
    asked = []
    monkeypatch.setattr(console_formatter, "is_newer_version_available", lambda *a, **k: asked.append(1) or (False, "", ""))
    before = course.network_attempts()
    agent = Agent(role="Researcher", goal="Find facts", backstory="Careful.", verbose=True)
    Crew(agents=[agent], tasks=[Task(description="Research bees", expected_output="notes", agent=agent)],
         verbose=True).kickoff()
    crewai_event_bus.flush()
    out = capfd.readouterr()
    assert "Crew Execution Started" in out.out and "Agent Final Answer" in out.out
    assert "[Finalize]" not in out.out + out.err
    assert asked == [] and course.network_attempts() == before


def test_quiet_printer_passes_every_other_line_through():
    seen = []

    class Spy:
        def print(self, content="", color=None):
            seen.append((content, color))

    quiet = controls._QuietPrinter(Spy())
    quiet.print(content="[Finalize] todos_count=0, todos_with_results=0", color="magenta")
    quiet.print(content="Thought: hello", color="green")
    assert seen == [("Thought: hello", "green")]


def test_quiet_failure_logs_keeps_crewais_retry_lines_back_and_only_inside_the_block(caplog):
    import logging

    llm = course.ScriptedLLM(fail_roles=["Writer"])
    with controls.quiet_failure_logs() as kept, caplog.at_level(logging.ERROR):
        with pytest.raises(InjectedFailure):
            _two_step_crew(llm).kickoff()
        logging.getLogger("crewai.flow.runtime").error("another error")  # not a retry line: still goes out
    assert len(kept) == 3 and all(line.startswith("Error executing listener") for line in kept)
    shown = [r.getMessage() for r in caplog.records]
    assert "another error" in shown and not any(m.startswith("Error executing listener") for m in shown)
    caplog.clear()
    with caplog.at_level(logging.ERROR), pytest.raises(InjectedFailure):
        _two_step_crew(course.ScriptedLLM(fail_roles=["Writer"])).kickoff()
    assert sum(r.getMessage().startswith("Error executing listener") for r in caplog.records) == 3  # back


def test_a_reused_crew_that_failed_half_way_keeps_the_previous_runs_output():
    # What the tour shows live: a crew is not reset by a failed kickoff.
    steady, flaky = course.ScriptedLLM(), course.ScriptedLLM(fail_roles=["Writer"])
    crew = _two_step_crew(steady)
    crew.kickoff()
    first = [t.output.raw for t in crew.tasks]
    crew.agents[1].llm = flaky
    crew.tasks[0].description = "Research something else"
    with controls.quiet_failure_logs(), pytest.raises(InjectedFailure):
        crew.kickoff()
    assert crew.tasks[0].output.raw != first[0]  # new research
    assert crew.tasks[1].output.raw == first[1]  # the old draft, still there


def test_without_local_embedder_gives_crewai_its_default_back_for_one_block():
    assert controls.local_embedder_is_default()
    with controls.without_local_embedder():
        assert not controls.local_embedder_is_default()
    assert controls.local_embedder_is_default()
    with pytest.raises(KeyError), controls.without_local_embedder():
        raise KeyError("boom")
    assert controls.local_embedder_is_default()
