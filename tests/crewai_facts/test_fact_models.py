"""CrewAI 1.15.30's custom-model extension point, as the scripted model uses it (docs/crewai-facts.md,
"Kickoff and models")."""

from __future__ import annotations

import pytest
from crewai import Crew
from crewai.llms.base_llm import BaseLLM
from pydantic import ValidationError

import course
from tests.crewai_facts.facts_support import agent, task

pytestmark = pytest.mark.crewai_fact


def test_a_custom_model_needs_a_model_name():
    """BaseLLM's validator raises "Model name is required" unless `model` is passed or defaulted in
    `__init__` (ScriptedLLM defaults it)."""

    class Bare(BaseLLM):
        def call(self, messages, **kwargs):  # noqa: ANN001
            return "Final Answer: done"

    with pytest.raises(ValidationError, match="Model name is required"):
        Bare()
    assert course.ScriptedLLM().model == "scripted"


def test_a_model_without_function_calling_gets_the_react_prompt_and_its_plain_answer_is_the_output():
    """Without native function calling the agent speaks ReAct text: with no tools the prompt ends "Provide your
    complete response:", and a reply "Final Answer: ..." becomes the task output. The system message reads
    `You are {role}. {backstory}` then `Your personal goal is: {goal}`."""
    model = course.ScriptedLLM()
    writer = agent("Writer", model)
    result = Crew(agents=[writer], tasks=[task("Write about tea", writer)]).kickoff()
    prompt = model.calls[0].prompt
    assert prompt.startswith("[system] You are Writer. An experienced writer.\nYour personal goal is: Do the writer work")
    assert prompt.rstrip().endswith("Provide your complete response:")
    reply = model.calls[0].reply
    assert "Final Answer:" in reply
    assert result.raw == reply.split("Final Answer:", 1)[1].strip()
