"""Exercise 4: the four-phase flow, written down as a DAG first, then built and checked against it."""

from cells_01_sequential import SETUP

CELLS = [
    ("md", "intro", r"""
# Exercise 4 · Mix the phases

A flow that CrewAI tutorials call "mixing approaches" has four phases:

1. two research tasks, in parallel;
2. an analysis that needs both;
3. two outputs from the analysis (a report and a presentation), in parallel;
4. a final review of both outputs.

Draw the graph first, as data: which task waits for which. Then build the crew, and let the course draw both and
check they agree. Build systems (Make, Bazel) work the same way: `context` lists the edges, `async_execution`
marks the tasks free to run side by side.

| Part | What is graded | Points |
|---|---|---|
| 4.1 | your DAG, written as data, is the four-phase flow | 2 |
| 4.2 | your crew waits as the four-phase flow does | 2 |
| 4.3 | phases 1 and 3 each run their two tasks at the same time | 2 |
| 4.4 | the analysis and the final review each receive the outputs of both tasks before them | 2 |
| | **total** | **8** |
"""),
    ("locked", "setup", SETUP),
    ("md", "dag-md", r"""
## 4.1 The plan, as data

Write `dag` as a dict: one key per task (six tasks, any names), and for each the list of tasks it will really
**wait for** (`[]` for a task that waits for nothing). For example, `"analysis": ["research A", "research B"]`.

A task waits for its `context`, for the sync task before it, and a sync task also for every async task still
running when the crew reaches it (the barrier, shown in the tour, section 8). Only direct waits are needed: if C
waits for B and B for A, C need not list A.
"""),
    ("answer", "mixed_dag", '''
dag = dict()  # your plan goes here: each task, with the list of tasks it waits for
### BEGIN SOLUTION
dag = {
    "research market": [],
    "research technology": [],
    "analysis": ["research market", "research technology"],
    "report": ["analysis"],
    "presentation": ["analysis"],
    "final review": ["report", "presentation"],
}
### END SOLUTION
'''),
    ("locked", "mixed_dag_picture", '''
pictures.dag(dag, title="Your plan")
'''),
    ("test", "test_mixed_dag", '''
from autograder import checks
checks.needs("dag")
checks.dag_data(dag)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.dag_data(dag)
### END HIDDEN TESTS
''', 2),
    ("md", "build-md", r"""
## 4.2 Build it

Fill in `build_crew()` so that it returns a `Crew` (`process=Process.sequential`) that does what your `dag` says:

* give each task `name=` the key it has in `dag`, so the drawings line up (the grader compares the shapes, so
  other names still count, but matching names make the pictures easier to read);
* `context=[...]` lists the tasks whose outputs a task receives (and waits for);
* the two tasks of a parallel phase get `async_execution=True` and **an agent each**;
* tasks are listed in an order where everything a task waits for comes before it.

CrewAI 1.15.30 checks a few rules when you build the crew: an async task may not list in its `context` any async
task of the same unbroken run of async tasks, a crew may end with at most one async task, and a task may not wait
for a later one.
"""),
    ("answer", "mixed_build", '''
def build_crew():
    """The four-phase flow: parallel research -> analysis -> parallel outputs -> final review."""
    ### BEGIN SOLUTION
    market_researcher = Agent(role="Market Researcher", goal="Research markets", backstory="Knows the market")
    tech_researcher = Agent(role="Technology Researcher", goal="Research technology", backstory="Reads the papers")
    analyst = Agent(role="Analyst", goal="Analyze research", backstory="A data analyst")
    writer = Agent(role="Report Writer", goal="Write reports", backstory="Writes for executives")
    designer = Agent(role="Presentation Designer", goal="Design presentations", backstory="Makes clear slides")
    editor = Agent(role="Senior Editor", goal="Review all outputs", backstory="Has the final word")
    market = Task(name="research market", description="Research the market for home batteries",
                  expected_output="Market notes", agent=market_researcher, async_execution=True)
    technology = Task(name="research technology", description="Research home battery technology",
                      expected_output="Technology notes", agent=tech_researcher, async_execution=True)
    analysis = Task(name="analysis", description="Analyze all research", expected_output="Analysis",
                    agent=analyst, context=[market, technology])
    report = Task(name="report", description="Write the report", expected_output="Report",
                  agent=writer, context=[analysis], async_execution=True)
    presentation = Task(name="presentation", description="Create the presentation", expected_output="Slides",
                        agent=designer, context=[analysis], async_execution=True)
    review = Task(name="final review", description="Review all outputs", expected_output="Review notes",
                  agent=editor, context=[report, presentation])
    return Crew(agents=[market_researcher, tech_researcher, analyst, writer, designer, editor],
                tasks=[market, technology, analysis, report, presentation, review], process=Process.sequential)
    ### END SOLUTION
'''),
    ("md", "compare-md", r"""
Your plan next to your crew. Edges in both are grey; red is a wait your crew has and your plan does not, orange
a wait you planned and your crew does not have. The lines above the drawing name each difference and the rule of
CrewAI that causes it. A wait that one of them has directly and the other through another task is no difference.
In the crew's drawing a dotted arrow is a wait that carries no output (the barrier), a thin grey one an output
received from a task waited for through others. Tasks are matched by their place in the graph when your names
differ from the crew's.
"""),
    ("locked", "mixed_compare", '''
from course.traps import explain
try:
    crew = build_crew()
except NotImplementedError:
    raise  # build_crew() is not written yet
except Exception as error:
    explain(error)  # a known trap? this says what went wrong and how to fix it
    raise
pictures.compare_dags(dag, crew)
'''),
    ("test", "test_mixed_matches", '''
from autograder import checks
checks.needs("build_crew")
checks.mixed_crew_graph(build_crew)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.mixed_crew_graph(build_crew)
### END HIDDEN TESTS
''', 2),
    ("md", "run-md", r"""
## 4.3 and 4.4 Run it

Now the timeline: the two research bars side by side, the analysis after both, the two output bars side by side,
the review last. The critical path, printed under the run, is the chain of waits that sets the wall time; when
several chains are about as long, it says how many tie.
"""),
    ("locked", "mixed_run", '''
try:
    result = await crew.kickoff_async()
except Exception as error:
    explain(error)
    raise
run = course.last_run()
print(run.summary())
print(f"\\ncritical path {run.critical().describe()}, wall time {run.wall_time:.2f} s")
pictures.gantt(run)
'''),
    ("test", "test_mixed_parallel", '''
from autograder import checks
checks.needs("build_crew")
checks.mixed_parallel(build_crew)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.mixed_parallel(build_crew, thorough=True)
### END HIDDEN TESTS
''', 2),
    ("test", "test_mixed_joins", '''
from autograder import checks
checks.needs("build_crew")
checks.mixed_joins(build_crew)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.mixed_joins(build_crew, thorough=True)
### END HIDDEN TESTS
''', 2),
    ("md", "barrier-md", r"""
## Waiting is not receiving (not graded)

The course's own four-phase crew, with one change: the review lists only the presentation in its `context`,
and the report's writer has a slower model. In the crew's drawing the wait it still has on the report is
dotted (no output passes); the timeline shows when the review really starts.
"""),
    ("locked", "mixed_barrier_demo", '''
from course.examples import mixed_phases_crew

demo = mixed_phases_crew(review_context="presentation", report_latency=0.3)
display(pictures.dag(demo, title="The review lists only the presentation"))
await demo.kickoff_async()
demo_run = course.last_run()
report, review = demo_run.task("report"), demo_run.task("review")
print(f"report ended {report.end:.2f} s, review started {review.start:.2f} s, "
      f"review received: {', '.join(review.received_from)}")
pictures.gantt(demo_run)
'''),
    ("md", "explorer-md", r"""
## Explore (not graded)

Predict, then run: the explorer below lets you change the model's latency, guess the wall time, run your crew,
and compare your guess with the timeline.
"""),
    ("locked", "mixed_explorer", '''
from course.explorer import explorer
explorer(build_crew)
'''),
    ("md", "wrap-up", r"""
## What you saw

* A DAG written down first is a spec you can check: the crew either matches it or it doesn't.
* Each join (analysis, final review) is a sync task whose `context` lists the phase before it; each parallel
  phase is a pair of async tasks with their own agents.
* Waiting and receiving differ: a sync task waits for every async task still running, but receives only what
  its `context` lists.
* The wall time is close to the critical path: four turns of the model, not six.
"""),
]
