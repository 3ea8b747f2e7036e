"""Exercise 5 (the example of docs/authoring.md): two research tasks side by side, one summary joins them.

Not part of the released assignment: tests/release/test_authoring.py copies it into a throwaway course as
``source/cells_05_fan_in.py``, builds the notebook, releases it and grades answers with ``grade``.
"""

from cells_01_sequential import SETUP

CELLS = [
    ("md", "intro", r"""
# Exercise 5 · Fan in

Two research tasks that do not need each other run side by side (`async_execution=True`); a summary task that
lists both in its `context` waits for both and works from both outputs.

| Part | What is graded | Points |
|---|---|---|
| 5.1 | the two research tasks run at the same time | 1 |
| 5.2 | the summary receives both research outputs | 2 |
| | **total** | **3** |
"""),
    ("locked", "setup", SETUP),
    ("md", "build-md", r"""
## Build the crew

Fill in `build_crew()` so that it returns a `Crew` with three tasks, in this order: two research tasks (each with
its own agent, `async_execution=True`), then a summary task with its own agent and `context=[...]` listing both.
"""),
    ("answer", "fan_build", '''
def build_crew():
    """Two async research tasks, then a summary that joins them through context."""
    ### BEGIN SOLUTION
    owls = Agent(role="Owl Researcher", goal="Find facts about owls", backstory="A field biologist")
    bats = Agent(role="Bat Researcher", goal="Find facts about bats", backstory="A cave explorer")
    editor = Agent(role="Editor", goal="Write one clear summary", backstory="A science editor")
    research_owls = Task(description="Research how owls hunt at night", expected_output="Notes",
                         agent=owls, async_execution=True)
    research_bats = Task(description="Research how bats hunt at night", expected_output="Notes",
                         agent=bats, async_execution=True)
    summary = Task(description="Compare how owls and bats hunt", expected_output="A short comparison",
                   agent=editor, context=[research_owls, research_bats])
    return Crew(agents=[owls, bats, editor], tasks=[research_owls, research_bats, summary],
                process=Process.sequential)
    ### END SOLUTION
'''),
    ("locked", "fan_run", '''
crew = build_crew()
result = await crew.kickoff_async()
run = course.last_run()
print(run.summary())
'''),
    ("md", "overlap-md", r"""
## 5.1 Side by side

In the summary above, the two research tasks start together and their times overlap.
"""),
    ("test", "test_fan_overlap", '''
from autograder import checks
checks.needs("build_crew")
checks.fan_in_overlap(build_crew)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.fan_in_overlap(build_crew, thorough=True)
### END HIDDEN TESTS
''', 1),
    ("md", "join-md", r"""
## 5.2 The join

The summary's `got:` column names both research tasks: their outputs reached its prompt through `context`.
"""),
    ("test", "test_fan_join", '''
from autograder import checks
checks.needs("build_crew")
checks.fan_in_join(build_crew)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.fan_in_join(build_crew, thorough=True)
### END HIDDEN TESTS
''', 2),
]
