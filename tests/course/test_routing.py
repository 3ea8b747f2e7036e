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


# --- routing.using: a scoped default model -------------------------------------------------

def test_using_installs_a_fresh_model_for_the_block_and_restores_the_previous_one():
    before = course.default_llm()
    with routing.using(latency=0.01, fail_roles=["Writer"], fail_first=2) as model:
        assert model is not before and course.default_llm() is model
        assert (model.latency, model.fail_roles, model.fail_first) == (0.01, ["Writer"], 2)
        assert Agent(role="R", goal="g", backstory="b").llm is model
        assert LLM(model="gpt-4o") is model  # model names too
        agent = Agent(role="R", goal="g", backstory="b")
    assert course.default_llm() is before
    assert agent.llm is model  # agents built in the block keep its model


def test_using_restores_the_default_after_an_error_and_when_nested():
    before = course.default_llm()
    with pytest.raises(ValueError):
        with routing.using() as outer:
            with routing.using(latency=0.02) as inner:
                assert course.default_llm() is inner
            assert course.default_llm() is outer
            raise ValueError("boom")
    assert course.default_llm() is before


def test_using_blocks_that_end_out_of_order_in_two_threads_leave_the_right_default():
    import threading

    before = course.default_llm()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with routing.using() as model:
            seen["first"] = model
            first_in.set()
            second_in.wait(10)
        first_out.set()  # ends while the second block is still open

    def second():
        first_in.wait(10)
        with routing.using() as model:
            seen["second"] = model
            second_in.set()
            first_out.wait(10)
            seen["during"] = course.default_llm()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen["during"] is seen["second"]  # the first block's exit did not undo the second's model
    assert course.default_llm() is before  # nor did the second's exit bring back the first's


def test_reset_inside_a_using_block_changes_only_that_block():
    before = course.default_llm()
    with routing.using():
        reset = course.reset_default_llm(latency=0.03)
        assert course.default_llm() is reset
    assert course.default_llm() is before


def test_using_takes_a_model_of_your_own_but_not_with_settings():
    mine = course.ScriptedLLM(latency=0.01)
    with routing.using(mine) as model:
        assert model is mine and course.default_llm() is mine
    with pytest.raises(TypeError, match="not both"):
        with routing.using(mine, latency=0.5):
            pass
