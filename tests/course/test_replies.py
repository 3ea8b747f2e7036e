"""The scripted model's words read like work on the task's subject, and stay a pure function of the prompt."""

from __future__ import annotations

import asyncio
import uuid

from crewai import Agent, Crew, Task

import course
from course import controls, replies
from course.prompts import Prompt


def _reply(role: str, task: str, context: str = "", text: str = "") -> str:
    return replies.work(Prompt(role=role, task=task, context=context, text=text))


def test_a_pipeline_keeps_the_research_subject_to_the_end():
    research = _reply("Researcher", "Research AI trends")
    draft = _reply("Writer", "Write article based on research", context=research)
    final = _reply("Editor", "Edit and polish the article", context=draft)
    assert research.split("] ", 1)[1].startswith("Research notes on AI trends:")
    assert "Draft article on AI trends:" in draft
    assert "Final article on AI trends:" in final
    for text in (research, draft, final):
        assert "on the article" not in text and "on research" not in text
    # The draft opens with a finding the research really made.
    assert replies.findings_in(research)[0] in draft


def test_findings_are_about_the_subject_not_a_fixed_list():
    tea = _reply("Researcher", "Research the history of tea")
    assert all("the history of tea" in finding for finding in replies.findings_in(tea))
    assert len(replies.findings_in(tea)) == 3


def test_a_join_names_every_upstream_subject():
    notes = "\n\n".join(_reply(f"Researcher {x}", f"Research {topic}")
                        for x, topic in zip("ABC", ("solar power", "wind power", "battery storage")))
    combined = _reply("Synthesis Specialist", "Combine all research into one report", context=notes)
    assert "Combined report on solar power, wind power and battery storage:" in combined
    assert "uses ref:" in combined  # the provenance tag the checks read is unchanged


def test_a_task_with_no_subject_and_nothing_received_does_not_invent_one():
    final = _reply("Editor", "Edit and polish the article")
    assert "Final article:" in final and "on the article" not in final


def test_replies_are_a_pure_function_of_the_prompt_and_recalled_memories():
    memory = ("Relevant memories:\n- (score=0.58) Researcher completed 'Research the history of tea': "
              "[ref:ab8cb1 by Researcher] Research notes on the history of tea: - tea came from China - it "
              "reached Europe in the 1600s\n")
    first = _reply("Writer", "Write a short article about the history of tea", text=memory)
    again = _reply("Writer", "Write a short article about the history of tea", text=memory)
    without = _reply("Writer", "Write a short article about the history of tea")
    assert first == again and first != without
    assert "recalled memory" in first and "tea came from China" in first and "ref:ab8cb1" in first
    assert "recalled" not in without


def test_the_memory_demo_recalls_what_was_actually_researched(scripted_llm):
    researcher = Agent(role="Researcher", goal="Find facts", backstory="Careful")
    writer = Agent(role="Writer", goal="Write clearly", backstory="Clear")
    research = Task(description="Research the history of tea", expected_output="Notes", agent=researcher)
    article = Task(description="Write a short article about the history of tea", expected_output="Article",
                   agent=writer, context=[])  # no context: memory is the only way the research can arrive
    crew = Crew(agents=[researcher, writer], tasks=[research, article], memory=True,
                embedder=controls.local_embedder(), name=f"tea-{uuid.uuid4().hex[:6]}")
    result = asyncio.run(crew.kickoff_async())
    notes, draft = (out.raw for out in result.tasks_output)
    assert replies.findings_in(notes)[0] in draft
    assert f"ref:{replies.refs_in(notes)[0]}" in draft
    assert course.last_run().tasks[1].received_from == []  # memory is not context
