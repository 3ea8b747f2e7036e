"""Exercise 2: the same pipeline under Process.hierarchical, then compared with the sequential run."""

from cells_01_sequential import SETUP

CELLS = [
    ("md", "intro", r"""
# Exercise 2 · The same work, with a manager

Same pipeline as Exercise 1 (research → write → edit), but now `Process.hierarchical`: the tasks have **no**
`agent=`, and a manager hands each one to a worker. Then you compare with the sequential run: who decided the
order, who decided who works, and what the manager costs.

| Part | What is graded | Points |
|---|---|---|
| 2.1 | a hierarchical crew with a manager runs | 1 |
| 2.2 | each task is really done by a worker the manager chose (not all by one) | 2 |
| 2.3 | the tasks run in list order, one at a time, each seeing the previous output | 1 |
| 2.4 | your comparison with the sequential run | 2 |
| | **total** | **6** |
"""),
    ("locked", "setup", SETUP),
    ("md", "build-md", r"""
## 2.1 Build the crew

Fill in `build_crew()` so that it returns a `Crew` with:

* three worker agents in `agents=[...]`: a researcher, a writer, an editor;
* the three tasks in pipeline order, each with `description` and `expected_output` but **no** `agent=`;
* `process=Process.hierarchical` and a manager, either way works:
  * `manager_agent=Agent(...)`: an agent of your own, kept **out** of `agents=[...]` and without tools, or
  * `manager_llm="gpt-4o"`: CrewAI builds a manager around that model. (For real that needs an OpenAI key; in
    this course every model name is routed to the scripted model.)

How does the scripted manager choose? It matches the kind of work a task names first (research, write, edit, …)
with the kind each worker's role names, then counts shared words (see `course/delegation.py`). So give each
worker a role that says what it does.
"""),
    ("answer", "hier_build", '''
def build_crew():
    """Return a hierarchical crew: three workers, three tasks without agent=, and a manager."""
    ### BEGIN SOLUTION
    researcher = Agent(role="Research Specialist", goal="Gather accurate information",
                       backstory="Finds and checks sources")
    writer = Agent(role="Content Writer", goal="Write clear, engaging articles", backstory="A technical writer")
    editor = Agent(role="Editor", goal="Polish articles until they shine", backstory="A meticulous editor")
    manager = Agent(role="Project Manager", goal="Coordinate the team to deliver an excellent article",
                    backstory="You decide which team member handles each part of the work.", allow_delegation=True)
    research = Task(description="Research AI trends in healthcare", expected_output="Research notes")
    write = Task(description="Write an article based on the research", expected_output="Draft article")
    edit = Task(description="Edit and polish the article", expected_output="Final article")
    return Crew(agents=[researcher, writer, editor], tasks=[research, write, edit],
                process=Process.hierarchical, manager_agent=manager)
    ### END SOLUTION
'''),
    ("locked", "hier_run", '''
from course.traps import explain
try:
    crew = build_crew()
    result = await crew.kickoff_async()
except NotImplementedError:
    raise  # build_crew() is not written yet
except Exception as error:
    explain(error)  # a known trap? this says what went wrong and how to fix it
    raise
hier_run = course.last_run()
print(hier_run.summary())
print()
for handoff in hier_run.delegations:
    print(f"{hier_run.manager} delegated {handoff.task!r} to {handoff.coworker}")
'''),
    ("md", "gantt-md", r"""
In the timeline, the manager's lane holds each task from start to end; the worker's own turn is the shorter bar
in the worker's lane, inside that span (arrows: the hand-off and the answer coming back). Note that CrewAI's
`result.tasks_output[i].agent` always names the manager: who *really* did the work shows only in the run record
(`worker`).
"""),
    ("locked", "hier_gantt", '''
pictures.gantt(hier_run)
'''),
    ("test", "test_hier_setup", '''
from autograder import checks
checks.needs("build_crew")
checks.hierarchical_setup(build_crew)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.hierarchical_setup(build_crew)
### END HIDDEN TESTS
''', 1),
    ("test", "test_hier_delegation", '''
from autograder import checks
checks.needs("build_crew")
checks.hierarchical_delegation(build_crew)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.hierarchical_delegation(build_crew, thorough=True)
### END HIDDEN TESTS
''', 2),
    ("test", "test_hier_order", '''
from autograder import checks
checks.needs("build_crew")
checks.hierarchical_order(build_crew)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.hierarchical_order(build_crew, thorough=True)
### END HIDDEN TESTS
''', 1),
    ("md", "compare-md", r"""
## 2.4 Compare with the sequential run

The cell below runs the sequential pipeline of Exercise 1 (the course's copy: each task has a fixed `agent=`)
and prints both runs side by side.
"""),
    ("locked", "hier_compare", '''
from course.examples import sequential_crew

seq_crew = sequential_crew(topic="AI trends in healthcare")
await seq_crew.kickoff_async()
seq_run = course.last_run()

def text_sent(recorded):
    """Characters of prompt and reply over all model calls: what a real provider would bill as tokens."""
    return sum(len(call.prompt) + len(call.reply) for call in recorded.llm_calls)

for label, recorded in (("sequential", seq_run), ("hierarchical", hier_run)):
    print(f"{label}: {len(recorded.llm_calls)} model calls, {text_sent(recorded):,} characters of prompt and reply, "
          f"{recorded.wall_time:.2f} s")
    for task in sorted(recorded.tasks, key=lambda t: t.start):
        print(f"   {task.start:5.2f} s  {task.name!r:45} done by {task.worker}")
print(f"\\nThe hierarchical run moved {text_sent(hier_run) / text_sent(seq_run):.0f}x the text of the sequential one.")
'''),
    ("md", "questions-md", r"""
Now answer from what you see (the test re-runs both crews to check your numbers):

* `order_decided_by`: who decided the order in which the tasks ran under the hierarchical process?
* `workers_decided_by`: who decided which agent did each task?
* `extra_calls`: how many **more** model calls did the hierarchical run make than the sequential one?
  Compute it from the two runs (`len(run.llm_calls)`), don't type a number.
"""),
    ("locked", "choices", '''
TASK_LIST = "the task list"
MANAGER = "the manager"
'''),
    ("answer", "hier_answers", '''
### BEGIN SOLUTION
order_decided_by = TASK_LIST
workers_decided_by = MANAGER
extra_calls = len(hier_run.llm_calls) - len(seq_run.llm_calls)
### END SOLUTION
print(order_decided_by, "|", workers_decided_by, "|", extra_calls, "extra model calls")
'''),
    ("test", "test_hier_answers", '''
from autograder import checks
checks.needs("build_crew", "order_decided_by", "workers_decided_by", "extra_calls")
from course.examples import sequential_crew
checks.hierarchical_answers(build_crew, order_decided_by, workers_decided_by, extra_calls,
                            baseline=lambda: sequential_crew(topic="AI trends in healthcare"))
### BEGIN HIDDEN TESTS
checks.integrity()
checks.hierarchical_answers(build_crew, order_decided_by, workers_decided_by, extra_calls,
                            baseline=lambda: sequential_crew(topic="AI trends in healthcare"))
### END HIDDEN TESTS
''', 2),
    ("md", "wrap-up", r"""
## What you saw

* In CrewAI 1.15.30 the hierarchical process still walks `tasks=[...]` in order. The manager does not reorder
  work; it decides **who** does each task, by delegating it with a tool call.
* The work itself is the same kind of work by the same kinds of specialists, but every task now costs a
  manager's turn to delegate, the worker's turn, and a manager's turn to hand the answer back: three model calls
  where sequential needed one. The text is worse than the calls: each manager turn carries the whole task, the
  tool descriptions and every earlier answer, so your runs above moved many times the characters (on the course's
  own crews about 12x), and with a real model you pay for tokens, not calls. A real manager may also choose
  differently from run to run; the scripted manager follows a fixed rule, so yours will not.
* Was the result different from sequential? Look at your two runs: the same order, the same kinds of work by the
  same kinds of specialists; what changed is who decided the workers, and the cost.
* Async tasks do not mix with this process: the single manager cannot delegate two tasks at the same moment
  (the tour shows the error). Parallel work is Exercise 3, under `Process.sequential`.
"""),
]
