"""Every model CrewAI builds is the scripted one: guards on the CrewAI internals we rely on."""

from __future__ import annotations

import pytest
from crewai import LLM, Agent, Crew, Process, Task
from crewai.utilities import llm_utils

import course
from course import routing


@pytest.mark.crewai_fact
def test_crewai_still_routes_model_strings_through_LLM_new():
    # If this fails, CrewAI moved its model factory: update course/routing.py.
    assert "__new__" in LLM.__dict__, "crewai.LLM no longer defines __new__"
    assert routing.is_active(), "course.routing's hook on crewai.LLM.__new__ is not installed"
    assert hasattr(llm_utils, "_llm_via_environment_or_fallback"), "CrewAI renamed its default-model fallback"
    assert llm_utils._llm_via_environment_or_fallback() is course.default_llm()


def test_agent_without_llm_uses_the_shared_default_model():
    agent = Agent(role="Researcher", goal="g", backstory="b")
    assert agent.llm is course.default_llm()


@pytest.mark.crewai_fact
def test_model_strings_use_the_scripted_model():
    assert Agent(role="R", goal="g", backstory="b", llm="gpt-4o").llm is course.default_llm()
    assert LLM(model="anthropic/claude-sonnet-4") is course.default_llm()


def test_default_latency_applies_to_agents_built_afterwards():
    fresh = course.reset_default_llm(latency=0.25)
    try:
        assert Agent(role="R", goal="g", backstory="b").llm.latency == 0.25
    finally:
        course.reset_default_llm()
    assert fresh is not course.default_llm()


def test_an_explicit_llm_instance_is_kept():
    mine = course.ScriptedLLM(latency=0.01)
    assert Agent(role="R", goal="g", backstory="b", llm=mine).llm is mine


@pytest.mark.crewai_fact
def test_manager_llm_string_runs_offline():
    worker = Agent(role="Researcher", goal="Find facts", backstory="b")
    crew = Crew(agents=[worker], tasks=[Task(description="Research bees", expected_output="notes")],
                process=Process.hierarchical, manager_llm="gpt-4o")
    assert crew.kickoff().raw.startswith("[ref:")
    assert course.last_run().tasks[0].worker == "Researcher"


def test_deactivate_restores_crewai_routing():
    routing.deactivate()
    try:
        assert not routing.is_active()
        assert LLM.__dict__["__new__"] is routing._original_new
    finally:
        routing.activate()
    assert routing.is_active()


def test_latency_set_on_the_shared_instance_reaches_existing_agents():
    agent = Agent(role="R", goal="g", backstory="b")
    shared = course.default_llm()
    before = shared.latency
    shared.latency = 0.05
    try:
        Crew(agents=[agent], tasks=[Task(description="Research owls", expected_output="n", agent=agent)]).kickoff()
        call = course.last_run().llm_calls[0]
        assert (call.end - call.start).total_seconds() >= 0.05
    finally:
        shared.latency = before
