"""The scripted model: pure, thread-safe, plausible, traceable, and able to fail on cue."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from crewai import Agent, Crew, Task

import course
from course import examples, replies
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
