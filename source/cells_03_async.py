"""Exercise 3: three independent async research tasks joined by a synthesis, and the timing checkpoint."""

from cells_01_sequential import SETUP

CELLS = [
    ("md", "intro", r"""
# Exercise 3 · Run independent work at the same time

Three research tasks that do not need each other can run side by side: mark them `async_execution=True`. A
synthesis task that lists all three in its `context` is the **join**: it starts only when all three are done,
and receives all three outputs. Then the checkpoint: time it against a fully sequential version.

| Part | What is graded | Points |
|---|---|---|
| 3.1 | three async research tasks then a sync synthesis; `parallel=False` switches async off | 1 |
| 3.2 | each async task has its own agent | 1 |
| 3.3 | the three research tasks really overlap | 2 |
| 3.4 | the synthesis joins all three: lists them, waits for them, receives their outputs | 2 |
| 3.5 | timing checkpoint: you measured both versions, and the parallel one ran its research side by side | 2 |
| | **total** | **8** |
"""),
    ("locked", "setup", SETUP),
    ("md", "build-md", r"""
## 3.1 Build the crew

Fill in `build_crew(parallel=True)` so that it returns a `Crew` with `process=Process.sequential` and:

* three research tasks on three different topics, listed first, with `async_execution=parallel`;
* **one agent per research task**. A common tutorial example gives one researcher all three async tasks; in
  CrewAI 1.15.30 one agent cannot work on two tasks at once, and that fails with *"Executor is already running"*;
* a synthesis task, listed last, with its own agent, `context=[...]` holding all three research tasks, and no
  `async_execution` (a crew may end with at most one async task, and the join must wait).

`build_crew(parallel=False)` must build the very same crew with every task sync: that is the baseline you time
against in 3.5.
"""),
    ("answer", "async_build", '''
def build_crew(parallel=True):
    """Three independent research tasks (async when parallel=True) and a synthesis task that joins them."""
    ### BEGIN SOLUTION
    topics = ["solar power", "wind power", "battery storage"]
    researchers = [Agent(role=f"{topic.title()} Researcher", goal=f"Find accurate information on {topic}",
                         backstory="A focused researcher") for topic in topics]
    writer = Agent(role="Writer", goal="Combine research into one clear report", backstory="A synthesis specialist")
    research = [Task(description=f"Research {topic}", expected_output=f"Notes on {topic}", agent=researcher,
                     async_execution=parallel) for topic, researcher in zip(topics, researchers)]
    synthesis = Task(description="Combine all research into one report", expected_output="Combined report",
                     agent=writer, context=research)
    return Crew(agents=[*researchers, writer], tasks=[*research, synthesis], process=Process.sequential)
    ### END SOLUTION
'''),
    ("locked", "async_run", '''
from course.traps import explain
try:
    crew = build_crew()
    result = await crew.kickoff_async()
except NotImplementedError:
    raise  # build_crew() is not written yet
except Exception as error:
    explain(error)  # a known trap? this says what went wrong and how to fix it
    raise
parallel_run = course.last_run()
print(parallel_run.summary())
pictures.gantt(parallel_run)
'''),
    ("md", "dag-md", r"""
The same crew as a graph: an arrow means "waits for"; a solid one also carries the output. The three research
tasks wait for nothing, so they can start together; the synthesis waits for all three.
"""),
    ("locked", "async_dag", '''
pictures.dag(crew)
'''),
    ("md", "barrier-md", r"""
Would the synthesis still wait without `context`? Try it on the course's own version of this crew, with the
synthesis given `context=[]` (receive nothing):
"""),
    ("locked", "async_barrier_demo", '''
from course.examples import async_crew

demo = async_crew()
demo.tasks[-1].context = []  # the synthesis lists nothing
await demo.kickoff_async()
demo_run = course.last_run()
print(demo_run.summary())
synthesis = demo_run.tasks[-1]
print(f"\\nthe synthesis started at {synthesis.start:.2f} s, after every research task had ended "
      f"({max(t.end for t in demo_run.tasks[:-1]):.2f} s), and received: {synthesis.received_from or 'nothing'}")
'''),
    ("md", "barrier-after-md", r"""
It still waited: before a sync task CrewAI waits for every async task still running (the **barrier**), whatever
its `context` says. `context` is what hands a task the outputs; without it the synthesis had nothing to combine.
"""),
    ("test", "test_async_shape", '''
from autograder import checks
checks.needs("build_crew")
checks.async_shape(build_crew)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.async_shape(build_crew)
### END HIDDEN TESTS
''', 1),
    ("test", "test_async_agents", '''
from autograder import checks
checks.needs("build_crew")
checks.async_agents(build_crew)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.async_agents(build_crew)
### END HIDDEN TESTS
''', 1),
    ("test", "test_async_overlap", '''
from autograder import checks
checks.needs("build_crew")
checks.async_overlap(build_crew)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.async_overlap(build_crew, thorough=True)
### END HIDDEN TESTS
''', 2),
    ("test", "test_async_join", '''
from autograder import checks
checks.needs("build_crew")
checks.async_join(build_crew)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.async_join(build_crew, thorough=True)
### END HIDDEN TESTS
''', 2),
    ("md", "timing-md", r"""
## 3.5 Timing checkpoint

The cell below makes every model call take 0.12 s, as a (very fast) real model would take a while. Measure both
versions with `time.perf_counter()`: read the clock, `await` a fresh crew's `kickoff_async()`, read the clock
again. Store the seconds in `parallel_seconds` (from `build_crew(parallel=True)`) and `sequential_seconds`
(from `build_crew(parallel=False)`).
"""),
    ("locked", "timing_setup", '''
import time
model = course.reset_default_llm(latency=0.12)  # agents built from now on use a 0.12 s model
'''),
    ("answer", "async_timing", '''
### BEGIN SOLUTION
start = time.perf_counter()
await build_crew(parallel=True).kickoff_async()
parallel_seconds = time.perf_counter() - start

start = time.perf_counter()
await build_crew(parallel=False).kickoff_async()
sequential_seconds = time.perf_counter() - start
### END SOLUTION
print(f"parallel {parallel_seconds:.2f} s, sequential {sequential_seconds:.2f} s: "
      f"{sequential_seconds / parallel_seconds:.1f}x faster")
'''),
    ("md", "timing-why-md", r"""
Why that speed-up? The sequential version is four 0.12 s turns in a row. The parallel one is one 0.12 s turn for all
three research tasks, then the synthesis. The longest chain of tasks that must wait for each other (the
**critical path**: one research task, then the synthesis) is the floor no schedule can beat: ideally 4 turns
against 2, a 2x speed-up.

Measured, it stays a little below 2x: every task also costs CrewAI's own work around the model call (building the
prompt, parsing the reply, events, starting a thread for each async task). That overhead does not shrink when
tasks run side by side. The cell below runs both versions again at the same 0.12 s, prints the overhead per
task, and draws both timelines on one time axis.
"""),
    ("locked", "timing_explain", '''
import matplotlib.pyplot as plt

figure, axes = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True)  # one time axis for both
for ax, (label, parallel) in zip(axes, (("parallel", True), ("sequential", False))):
    await build_crew(parallel=parallel).kickoff_async()
    recorded = course.last_run()
    overhead = sum(t.duration for t in recorded.tasks) / len(recorded.tasks) - model.latency
    print(f"{label:>10}: wall {recorded.wall_time:.2f} s, CrewAI's overhead about {overhead * 1000:.0f} ms a task, "
          f"critical path {recorded.critical().describe()}")
    pictures.gantt(recorded, ax=ax, title=f"{label} version")
plt.close(figure)
figure
'''),
    ("test", "test_async_timing", '''
from autograder import checks
checks.needs("build_crew", "parallel_seconds", "sequential_seconds")
checks.async_timing(build_crew, parallel_seconds, sequential_seconds, model_latency=0.12)
### BEGIN HIDDEN TESTS
checks.integrity()
checks.async_timing(build_crew, parallel_seconds, sequential_seconds, model_latency=0.12)
### END HIDDEN TESTS
''', 2),
    ("md", "wrap-up", r"""
## What you saw

* `async_execution=True` is per task: when the sequential walk reaches a run of async tasks it launches them
  together and moves on; the first sync task after them waits for all of them, listed in its `context` or not
  (the barrier). `context` decides what it *receives*; list every task whose output it needs.
* Parallel speed-up needs tasks that are independent, one agent per concurrent task, and (with real models) a
  provider that will not rate-limit you into one call at a time.
* `Process` has no `parallel` member: parallelism comes from async tasks, not from a process type.
"""),
]
