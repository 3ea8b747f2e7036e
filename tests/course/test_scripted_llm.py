"""The scripted model: pure, thread-safe, plausible, traceable, and able to fail on cue."""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from crewai import Agent, Crew, Task

import course
from course import examples, recording, replies, scripted_llm
from course.scripted_llm import JOURNAL

SYSTEM = "You are {role}. A backstory.\nYour personal goal is: {goal}"
USER = ("\nCurrent Task: {task}\n\nThis is the expected criteria for your final answer: notes\n"
        "you MUST return the actual complete content as the final answer, not a summary.\n\n"
        "{context}Provide your complete response:")


def messages(role: str, task: str, context: str = "") -> list[dict[str, str]]:
    ctx = f"This is the context you're working with:\n{context}\n\n" if context else ""
    return [{"role": "system", "content": SYSTEM.format(role=role, goal="Find things")},
            {"role": "user", "content": USER.format(task=task, context=ctx)}]


def test_reply_depends_only_on_role_task_context_and_tool_results():
    one, two = course.ScriptedLLM(), course.ScriptedLLM(latency=0.01)
    base = one.call(messages("Researcher", "Research AI trends"))
    assert two.call(messages("Researcher", "Research AI trends")) == base
    assert one.call(messages("Writer", "Research AI trends")) != base
    assert one.call(messages("Researcher", "Research solar power")) != base
    assert one.call(messages("Researcher", "Research AI trends", context="[ref:abcdef by X] notes")) != base
    with_tool = messages("Researcher", "Research AI trends")
    with_tool.append({"role": "assistant", "content": "Thought: look\nAction: lookup\nAction Input: {}\nObservation: 42"})
    assert one.call(with_tool) != base


def test_replies_read_like_the_work_of_the_role():
    llm = course.ScriptedLLM()
    research = llm.call(messages("Researcher", "Research AI trends"))
    draft = llm.call(messages("Writer", "Write an article", context=research.split("Final Answer: ")[1]))
    edited = llm.call(messages("Editor", "Edit and polish the article", context=draft.split("Final Answer: ")[1]))
    assert "Research notes on AI trends" in research
    assert "Draft" in draft and "1 upstream output" in draft
    assert "edited the draft" in edited


def test_provenance_tags_name_the_upstream_outputs_used():
    llm = course.ScriptedLLM()
    a = llm.call(messages("Researcher", "Research A")).split("Final Answer: ")[1]
    b = llm.call(messages("Researcher", "Research B")).split("Final Answer: ")[1]
    combined = llm.call(messages("Writer", "Combine", context=f"{a}\n\n{b}")).split("Final Answer: ")[1]
    own, used = replies.refs_in(a)[0], replies.refs_in(b)[0]
    assert combined.startswith("[ref:") and f"uses ref:{own}, ref:{used}]" in combined


def test_thread_safe_under_heavy_concurrency():
    llm = course.ScriptedLLM()
    jobs = [messages(f"Role {i % 7}", f"Task {i % 13}") for i in range(400)]
    expected = [course.ScriptedLLM().call(m) for m in jobs]
    with ThreadPoolExecutor(max_workers=16) as pool:
        got = list(pool.map(llm.call, jobs))
    assert got == expected
    assert len(llm.calls) == 400
    assert len({c.thread for c in llm.calls}) > 1


def test_seed_style_sequential_crew_is_identical_on_20_runs(scripted_llm):
    outputs = set()
    for _ in range(20):
        result = examples.sequential_crew().kickoff()
        outputs.add(tuple(t.raw for t in result.tasks_output))
    assert len(outputs) == 1


def test_async_crew_is_identical_under_any_thread_schedule():
    # Latency varies the interleaving of the three concurrent tasks between runs.
    outputs = set()
    for latency in (0.0, 0.003, 0.011, 0.0, 0.007, 0.002, 0.013, 0.0):
        with course.routing.using(latency=latency):
            outputs.add(tuple(t.raw for t in examples.mixed_phases_crew().kickoff().tasks_output))
            outputs.add(tuple(t.raw for t in examples.async_crew().kickoff().tasks_output[-1:]))
    assert len(outputs) == 2  # one per crew shape


def test_latency_is_a_real_sleep_outside_the_lock():
    llm = course.ScriptedLLM(latency=0.2)
    threads = [threading.Thread(target=llm.call, args=(messages(f"R{i}", "T"),)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    calls = sorted(llm.calls, key=lambda c: c.start)
    # All four were inside their sleep at once: each started before the first ended.
    assert all(c.start < calls[0].end for c in calls)
    assert all((c.end - c.start).total_seconds() >= 0.2 for c in calls)


def test_call_record_has_role_task_thread_times_prompt_and_reply(scripted_llm):
    examples.sequential_crew().kickoff()
    call = scripted_llm.calls[0]
    assert (call.role, call.task) == ("Researcher", "Research AI trends")
    assert call.thread and call.start <= call.end
    assert "Current Task: Research AI trends" in call.prompt and call.reply.startswith("Thought:")
    assert call in JOURNAL.between(call.start)


def _two_agent_crew(llm: course.ScriptedLLM) -> Crew:
    researcher = Agent(role="Researcher", goal="Find facts", backstory="b", llm=llm, max_retry_limit=0)
    writer = Agent(role="Writer", goal="Write", backstory="b", llm=llm, max_retry_limit=0)
    research = Task(description="Research AI", expected_output="notes", agent=researcher)
    write = Task(description="Write it up", expected_output="draft", agent=writer, context=[research])
    return Crew(agents=[researcher, writer], tasks=[research, write])


def test_failure_injection_by_role_reaches_kickoff():
    llm = course.ScriptedLLM(fail_roles=["writer"])
    with pytest.raises(Exception, match="injected failure"):
        _two_agent_crew(llm).kickoff()
    failed = [c for c in llm.calls if c.failed]
    assert failed and {c.role for c in failed} == {"Writer"}
    assert not [c for c in llm.calls if c.role == "Researcher" and c.failed]


def test_failure_injection_of_the_first_calls_then_recovery():
    llm = course.ScriptedLLM(fail_first=1)
    with pytest.raises(Exception, match="injected failure"):
        _two_agent_crew(llm).kickoff()
    result = _two_agent_crew(llm).kickoff()  # the one failure is used up
    assert result.raw.startswith("[ref:")
    llm.fail_first = 2
    with pytest.raises(Exception):
        _two_agent_crew(llm).kickoff()


# --- where an agent's call is answered: a reply function of the model's own, or the process's route ---------

def _answering(log: list, probe: contextvars.ContextVar | None = None):
    """A reply function that answers as the script does and notes who asked (and what ``probe`` held)."""
    def reply(request, latency, from_agent=None, from_task=None):
        log.append((request.role, probe.get() if probe is not None else None, threading.current_thread().name))
        return scripted_llm.compose(request)

    return reply


def _agent_calls(recorded) -> list[str]:
    return sorted(call.role for call in recorded.llm_calls)


@pytest.mark.parametrize("make", [examples.sequential_crew, examples.async_crew,
                                  lambda: examples.hierarchical_crew("agent"),
                                  lambda: examples.hierarchical_crew("string")],
                         ids=["sequential", "async", "hierarchical_manager_agent", "hierarchical_manager_llm"])
def test_a_reply_function_of_the_models_own_answers_every_agent_call(make):
    log: list = []
    with course.routing.using(reply_backend=_answering(log), latency=0.01) as model:
        assert model.reply_backend is not None
        recorded = recording.kickoff(make())  # a manager built from "gpt-4o" is made inside, in the block
    assert recorded.llm_calls and sorted(role for role, _, _ in log) == _agent_calls(recorded)
    assert scripted_llm.routed_to() is None  # nothing of it outlives the model


def test_a_model_without_a_reply_function_answers_in_this_process():
    recorded = recording.kickoff(examples.sequential_crew())
    assert scripted_llm.routed_to() is None and course.default_llm().reply_backend is None
    assert [t.output.startswith("[ref:") for t in recorded.tasks] == [True] * 3


def test_a_route_for_every_call_reaches_threads_a_context_does_not():
    """Why the grader's route is one per process (``scripted_llm._ProcessRoute``), not a context variable.

    A value the caller sets in a context variable is not in the threads the course's kickoff and a
    learner's code start (each starts from an empty context), though CrewAI copies it into the threads
    of its own async tasks. The process's route reaches every agent's call, in every one of them.
    """
    probe = contextvars.ContextVar("probe", default="empty context")
    log: list = []
    probe.set("the caller's context")
    scripted_llm.route_every_call(_answering(log, probe))
    try:
        runs = [recording.kickoff(examples.async_crew()),  # async tasks, in the course's kickoff thread
                recording.kickoff(examples.hierarchical_crew("agent")),
                recording.kickoff(examples.hierarchical_crew("string"))]
        mark = len(log)

        def in_a_thread_of_its_own() -> None:  # what a learner's thread does
            probe.set("the thread's own context")
            examples.async_crew().kickoff()

        worker = threading.Thread(target=in_a_thread_of_its_own)
        worker.start()
        worker.join(60)
        in_thread = len(log)
        with ThreadPoolExecutor(max_workers=1) as pool:  # a learner's pool
            pool.submit(lambda: examples.hierarchical_crew("agent").kickoff()).result(60)
    finally:
        scripted_llm.route_every_call(None)
    assert scripted_llm.routed_to() is None
    # Every agent call of every run went through the route: the managers', the async tasks', all.
    counted = [role for role, _, _ in log[:mark]]
    assert sorted(counted) == sorted(r for run in runs[:3] for r in _agent_calls(run))
    assert {"Project Manager", "Researcher 1", "Researcher 2", "Researcher 3", "Writer"} <= set(counted)
    assert len({thread for _, _, thread in log[:mark]}) > 1  # async tasks answered from threads of their own
    # The learner's thread and pool were routed too: each of their agents' calls.
    assert {role for role, _, _ in log[mark:in_thread]} == {"Researcher 1", "Researcher 2", "Researcher 3", "Writer"}
    assert {role for role, _, _ in log[in_thread:]} >= {"Project Manager", "Research Specialist"}
    # A context-scoped route would have missed them: no call saw the caller's context...
    assert "the caller's context" not in {value for _, value, _ in log}
    # ...though CrewAI hands the context of the thread that kicks off on to its async tasks' threads.
    assert {value for _, value, _ in log[mark:in_thread]} == {"the thread's own context"}
    assert len({thread for _, _, thread in log[mark:in_thread]}) > 1
