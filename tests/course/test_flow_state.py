"""course/flow_state.py: CrewAI builds a new state class for every agent run; the course builds one per type."""

from __future__ import annotations

from crewai.flow import runtime
from crewai.flow import Flow, start
from crewai.flow.runtime import FlowState
from pydantic import BaseModel

import course
from course import flow_state


class Notes(BaseModel):
    topic: str = "solar power"
    drafts: list[str] = []


class NoteFlow(Flow[Notes]):
    @start()
    def begin(self) -> str:
        self.state.drafts.append(self.state.topic)
        return self.state.topic


def test_crewai_itself_declares_a_new_state_class_for_every_flow():
    first, second = NoteFlow(), NoteFlow()
    made = [flow_state.crewai_create_initial_state(f) for f in (first, second)]
    assert type(made[0]) is not type(made[1])  # what costs a fifth of a kickoff's CPU
    assert all(isinstance(state, (FlowState, Notes)) for state in made)


def test_the_course_keeps_one_class_per_state_type_and_a_fresh_state_per_flow():
    assert runtime.Flow._create_initial_state is flow_state._create_initial_state  # installed by import course
    first, second = NoteFlow(), NoteFlow()
    assert type(first.state) is type(second.state)
    assert isinstance(first.state, FlowState) and isinstance(first.state, Notes)
    assert first.state is not second.state and first.state.id != second.state.id
    first.kickoff()
    assert first.state.drafts == ["solar power"] and second.state.drafts == []  # no shared defaults
    ours = first.state.model_dump(exclude={"id"})
    theirs = flow_state.crewai_create_initial_state(NoteFlow()).model_dump(exclude={"id"})
    assert ours == {**theirs, "drafts": ["solar power"]}


def test_other_kinds_of_state_still_go_through_crewai():
    class Plain(Flow):
        @start()
        def begin(self) -> None:
            self.state["seen"] = True

    flow = Plain()
    assert isinstance(flow.state, dict) and flow.state["id"]
    given = NoteFlow(initial_state=Notes(topic="wind"))  # an instance: CrewAI copies it
    assert given.state.topic == "wind"


def test_crews_run_with_one_state_class_for_all_their_agents():
    from crewai.agents.agent_executor import AgentExecutorState

    from course import examples

    made = None
    for _ in range(2):
        with course.routing.using(latency=0.0):
            crew = examples.mixed_phases_crew()
            with course.record() as rec:
                crew.kickoff()
        assert rec.run.error is None and len(rec.run.tasks) == 6
        assert all(t.error is None and t.output for t in rec.run.tasks)
        assert AgentExecutorState in flow_state._CLASSES
        assert made is None or flow_state._CLASSES == made  # the second crew's six agents made no class
        made = dict(flow_state._CLASSES)
