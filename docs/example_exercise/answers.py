"""Learners' answers to the example exercise that differ from the reference, with the points each keeps.

The same shape as the course's own sample-class answers (``ALTERNATIVE``, ``WRONG`` and their scores, keyed by
notebook and answer cell): tests/release/test_authoring.py pastes them into the released notebook and grades them.
"""

NOTEBOOK = "05_fan_in.ipynb"

# Correct, written another way: other roles and wording, named tasks, the join's context in the other order,
# the process left at its default. Full marks.
ALTERNATIVE = {
    "fan_build": '''
def build_crew():
    scouts = [Agent(role=f"{animal} scout", goal=f"Watch {animal}", backstory="Patient") for animal in ("Fox", "Hare")]
    writer = Agent(role="Nature writer", goal="Tell what the scouts saw", backstory="Writes for kids")
    watch = [Task(name=f"watch {scout.role}", description=f"Report what the {scout.role} saw",
                  expected_output="A field note", agent=scout, async_execution=True) for scout in scouts]
    story = Task(name="story", description="Turn both field notes into one story", expected_output="A story",
                 agent=writer, context=list(reversed(watch)))
    return Crew(tasks=[*watch, story], agents=[*scouts, writer])
''',
}

# Typical mistakes. Each loses the points of exactly one idea.
WRONG = {
    # Research tasks left sync: they run one after the other (5.1 lost); the summary still gets both (5.2 kept).
    "sync research": '''
def build_crew():
    owls = Agent(role="Owl Researcher", goal="Find facts about owls", backstory="A field biologist")
    bats = Agent(role="Bat Researcher", goal="Find facts about bats", backstory="A cave explorer")
    editor = Agent(role="Editor", goal="Write one clear summary", backstory="A science editor")
    research_owls = Task(description="Research owls", expected_output="Notes", agent=owls)
    research_bats = Task(description="Research bats", expected_output="Notes", agent=bats)
    summary = Task(description="Compare owls and bats", expected_output="A comparison", agent=editor,
                   context=[research_owls, research_bats])
    return Crew(agents=[owls, bats, editor], tasks=[research_owls, research_bats, summary])
''',
    # The join forgets one research task: side by side still (5.1 kept), one output never arrives (5.2 lost).
    "half join": '''
def build_crew():
    owls = Agent(role="Owl Researcher", goal="Find facts about owls", backstory="A field biologist")
    bats = Agent(role="Bat Researcher", goal="Find facts about bats", backstory="A cave explorer")
    editor = Agent(role="Editor", goal="Write one clear summary", backstory="A science editor")
    research_owls = Task(description="Research owls", expected_output="Notes", agent=owls, async_execution=True)
    research_bats = Task(description="Research bats", expected_output="Notes", agent=bats, async_execution=True)
    summary = Task(description="Compare owls and bats", expected_output="A comparison", agent=editor,
                   context=[research_owls])
    return Crew(agents=[owls, bats, editor], tasks=[research_owls, research_bats, summary])
''',
}

# Points per test cell: the reference and ALTERNATIVE earn all of them, the untouched release none.
FULL_SCORES = {"test_fan_overlap": 1, "test_fan_join": 2}
WRONG_SCORES = {
    "sync research": {"test_fan_overlap": 0, "test_fan_join": 2},
    "half join": {"test_fan_overlap": 1, "test_fan_join": 0},
}
