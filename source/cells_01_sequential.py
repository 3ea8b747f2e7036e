"""Exercise 1: a sequential research -> write -> edit pipeline, chained with context."""

SETUP = '''
# Run this cell first. `import course` keeps CrewAI offline and gives every agent
# the course's scripted model: no API key, and the same answers on every run.
import course
from course import pictures
from crewai import Agent, Task, Crew, Process

model = course.reset_default_llm(latency=0.05)  # each model call takes 0.05 s, so timelines have something to show
'''

CELLS = [
    ("md", "intro", r"""
# Exercise 1 · A sequential pipeline

A research → write → edit pipeline: three agents, three tasks, and each step works from the output of the step
before it. You will build it, run it, and confirm two promises of `Process.sequential`: the order never changes,
and `context` decides which output reaches which task.

| Part | What is graded | Points |
|---|---|---|
| 1.1 | a sequential crew of three agents runs | 1 |
| 1.2 | the tasks run in list order, one at a time | 2 |
| 1.3 | each step receives the previous step's output through `context` | 2 |
| 1.4 | the order is the same in every run | 1 |
| | **total** | **6** |

The test cells re-build your crew with `build_crew()` and run it themselves, so they do not depend on how you ran
it. A passing test prints a ✔ line; a failing one says what it expected, what happened, and gives a hint. When your
notebook is graded, the same cells check a little more (for example, several fresh runs).
"""),
    ("locked", "setup", SETUP),
    ("md", "build-md", r"""
## 1.1 Build the crew

Fill in `build_crew()` so that it **returns** a `Crew` (build it, don't run it) with:

* three agents: someone who researches, someone who writes, someone who edits (roles and wording are up to you);
* three tasks, each with a `description`, an `expected_output` and its `agent`, listed in pipeline order;
* `context=[...]` on the writing task (pointing at the research task) and on the editing task (pointing at the
  writing task);
* `process=Process.sequential`.
"""),
    ("answer", "seq_build", '''
def build_crew():
    """Return a sequential crew: research -> write -> edit, each step chained to the previous one with context."""
    ### BEGIN SOLUTION
    researcher = Agent(role="Researcher", goal="Find accurate information", backstory="An expert researcher")
    writer = Agent(role="Writer", goal="Create engaging content", backstory="A professional writer")
    editor = Agent(role="Editor", goal="Polish content", backstory="A meticulous editor")
    research = Task(description="Research AI trends in healthcare", expected_output="Research notes",
                    agent=researcher)
    write = Task(description="Write an article based on the research", expected_output="Draft article",
                 agent=writer, context=[research])
    edit = Task(description="Edit and polish the article", expected_output="Final article",
                agent=editor, context=[write])
    return Crew(agents=[researcher, writer, editor], tasks=[research, write, edit], process=Process.sequential)
    ### END SOLUTION
'''),
    ("md", "run-md", r"""
Now run it. Inside Jupyter, start a crew with `await crew.kickoff_async()`: the notebook already runs an event
loop, and a plain `crew.kickoff()` raises there in CrewAI 1.15.30. `course.last_run()` then tells what really
happened: when each task started and ended, who did it, and whose output it received (`got:`).
"""),
    ("locked", "seq_run", '''
from course.traps import explain
try:
    crew = build_crew()
    result = await crew.kickoff_async()
except NotImplementedError:
    raise  # build_crew() is not written yet
except Exception as error:
    explain(error)  # a known trap? this says what went wrong and how to fix it
    raise
run = course.last_run()
print(run.summary())
print("\\nThe crew's final output (the last task's):\\n" + result.raw)
'''),
    ("locked", "seq_gantt", '''
pictures.gantt(run)
'''),
    ("test", "test_seq_crew", '''
from autograder import checks
checks.needs("build_crew")
checks.sequential_crew(build_crew)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.sequential_crew(build_crew)
### END HIDDEN TESTS
''', 1),
    ("md", "order-md", r"""
## 1.2 The order

In a sequential crew the order of `tasks=[...]` *is* the order of work: each task starts when the one before it
has finished. The timeline above should show three bars one after another.
"""),
    ("test", "test_seq_order", '''
from autograder import checks
checks.needs("build_crew")
checks.sequential_order(build_crew)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.sequential_order(build_crew, thorough=True)
### END HIDDEN TESTS
''', 2),
    ("md", "context-md", r"""
## 1.3 What each step saw

`context=[task]` puts that task's output into the next task's prompt. The scripted model tags every output
(`[ref:… by Writer; uses ref:…]`), so the course can tell whose output reached whom: that is the `got:` column
of the summary, and `received_from` on each task record.
"""),
    ("locked", "seq_received", '''
for task in run.tasks:
    print(f"{task.name!r:45} context={task.context}  received output from {task.received_from}")
'''),
    ("test", "test_seq_context", '''
from autograder import checks
checks.needs("build_crew")
checks.sequential_context(build_crew)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.sequential_context(build_crew, thorough=True)
### END HIDDEN TESTS
''', 2),
    ("md", "determinism-md", r"""
## 1.4 Same order, every time

Confirm it yourself: build and run a **fresh** crew (`build_crew()`) three times, and after each run append
`course.last_run().order()` to the list `orders`. Use `await ....kickoff_async()` as above.
"""),
    ("answer", "seq_orders", '''
orders = []
### BEGIN SOLUTION
for attempt in range(3):
    fresh = build_crew()
    await fresh.kickoff_async()
    orders.append(course.last_run().order())
### END SOLUTION
for number, order in enumerate(orders, start=1):
    print(f"run {number}: {' -> '.join(order)}")
'''),
    ("test", "test_seq_determinism", '''
from autograder import checks
checks.needs("build_crew", "orders")
checks.sequential_determinism(build_crew, orders)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.sequential_determinism(build_crew, orders)
### END HIDDEN TESTS
''', 1),
    ("md", "wrap-up", r"""
## What you saw

* `Process.sequential` walks `tasks=[...]` in order, one task at a time: the same order on every run.
* `context=[...]` says exactly which outputs a task receives. Try removing `context` from your editing task and
  run again: a sync task without `context` receives **every** earlier output (research *and* draft). That works,
  but the pipeline's shape is then an accident of the list, not something you wrote down.
* The scripted model makes runs repeatable; a real model would word things differently each time, but the
  order would not change.
"""),
]
