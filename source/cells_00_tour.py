"""The tour: every idea of a common CrewAI tutorial, run on the scripted model, with CrewAI 1.15.30's real behaviour.

Not graded. Where a tutorial claim is wrong or out of date for 1.15.30, a "⚠ In 1.15.30" note states the claim,
and the cell beside it shows what really happens. Nothing here waits a minute.
"""

CELLS = [
    ("md", "intro", r"""
# Tour · How a crew runs: sequential, hierarchical, async

This notebook walks through the ideas of a typical CrewAI tutorial on processes, with code you can run. Every agent
here talks to the course's **scripted model**: it answers instantly (or after a latency we choose), offline, for
free, and the same way every time. So you can see exactly *how* a crew runs, which is what this lesson is about.

Each run is recorded: `course.last_run()` tells which task ran when, who did it, and whose output it received.
`pictures.gantt(run)` draws the timeline and `pictures.dag(...)` the task graph.

Where a common tutorial claim is wrong or out of date for the CrewAI version installed here (1.15.30), a
**⚠ In 1.15.30** note states the claim, and the cell next to it shows what really happens.
"""),
    ("code", "setup", '''
import time

import course
from course import controls, pictures
from course.traps import explain
from crewai import Agent, Task, Crew, Process

model = course.reset_default_llm(latency=0.05)  # every model call takes 0.05 s, so timelines show something
'''),
    # --- levers -------------------------------------------------------------------------------
    ("md", "levers-md", r"""
## 1 · Three levers

| Lever | Where | What it decides |
|---|---|---|
| `process` | `Crew(process=...)` | **who hands out the tasks**: `Process.sequential` walks the task list in order, each task going to its own `agent=`; `Process.hierarchical` lets a manager agent decide who does each task |
| `async_execution` | `Task(async_execution=True)` | **whether a task may run at the same time** as its neighbours, instead of waiting its turn |
| `context` | `Task(context=[...])` | **what a task receives**: the outputs of those tasks go into its prompt (it waits for them too; a sync task also waits for every async task still running) |

Tutorials call the first two "two independent levers"; `context` is how you wire them together. There is no
third *process* for parallel work:
"""),
    ("code", "no-parallel-process", '''
print("Process members:", [p.value for p in Process])
try:
    Process.parallel
except AttributeError as error:
    explain(error)
'''),
    # --- kickoff ---------------------------------------------------------------------------------
    ("md", "kickoff-md", r"""
## 2 · A sequential crew, and how to start it in a notebook

Here is the usual first example (researcher → writer → editor), with `verbose=False` (section 14 shows verbose
output).
"""),
    ("code", "sequential-crew", '''
researcher = Agent(role="Researcher", goal="Find accurate information", backstory="Expert researcher")
writer = Agent(role="Writer", goal="Create engaging content", backstory="Professional writer")
editor = Agent(role="Editor", goal="Polish content", backstory="Meticulous editor")

task1 = Task(description="Research AI trends", expected_output="Research notes", agent=researcher)
task2 = Task(description="Write article based on research", expected_output="Draft article", agent=writer,
             context=[task1])
task3 = Task(description="Edit and polish the article", expected_output="Final article", agent=editor,
             context=[task2])

crew = Crew(agents=[researcher, writer, editor], tasks=[task1, task2, task3], process=Process.sequential,
            verbose=False)
'''),
    ("md", "kickoff-warning-md", r"""
A common tutorial line: `result = crew.kickoff()`. **⚠ In CrewAI 1.15.30 it fails inside Jupyter.** A notebook
already runs an asyncio event loop, and CrewAI refuses to run an agent synchronously inside one. Caught here so
that the tour goes on; in a cell of your own, the course shows the same short message instead of CrewAI's long
traceback (`%tb` in a new cell shows the full one):
"""),
    ("code", "kickoff-fails", '''
try:
    result = crew.kickoff()
except RuntimeError as error:
    explain(error)
'''),
    ("md", "kickoff-async-md", r"""
In a notebook, `await` the async form instead (`await crew.akickoff()` works too). In a plain Python script,
`crew.kickoff()` is fine.
"""),
    ("code", "kickoff-async", '''
result = await crew.kickoff_async()
print(result.raw)
'''),
    # --- sequential ------------------------------------------------------------------------------
    ("md", "sequential-md", r"""
## 3 · Sequential: one after another, in list order

The run record shows each task's start and end (seconds since kickoff), who did it, and whose output reached
it (`got:`). The scripted model tags every output with a short reference, which is how the course can tell.
"""),
    ("code", "sequential-run", '''
run = course.last_run()
print(run.summary())
pictures.gantt(run)
'''),
    ("md", "sequential-context-md", r"""
`context=[task1]` put the research, and only the research, into the writer's prompt. Without `context`, a sync
task receives **every** earlier output. Same crew, `context` left out:
"""),
    ("code", "sequential-no-context", '''
t1 = Task(description="Research AI trends", expected_output="Research notes", agent=researcher)
t2 = Task(description="Write article based on research", expected_output="Draft article", agent=writer)
t3 = Task(description="Edit and polish the article", expected_output="Final article", agent=editor)
await Crew(agents=[researcher, writer, editor], tasks=[t1, t2, t3]).kickoff_async()
for task in course.last_run().tasks:
    print(f"{task.name!r:35} received output from {task.received_from}")
'''),
    # --- hierarchical ------------------------------------------------------------------------------
    ("md", "sequential-none-md", r"""
Careful: *leaving `context` out* and *passing `context=None` or `context=[]`* differ. Left out, CrewAI passes
every earlier output; `None` or `[]` explicitly means "no context", and the task receives nothing (section 10
uses that on purpose).
"""),
    ("md", "hierarchical-md", r"""
## 4 · Hierarchical with a manager agent

The usual hierarchical crew: tasks without `agent=`, and a manager that delegates each one.
"""),
    ("code", "hierarchical-crew", '''
research_specialist = Agent(role="Research Specialist", goal="Gather comprehensive information",
                            backstory="Expert at finding and synthesizing information")
analyst = Agent(role="Data Analyst", goal="Analyze data and find insights",
                backstory="Skilled at interpreting complex data")
content_writer = Agent(role="Content Writer", goal="Create clear, engaging content",
                       backstory="Experienced technical writer")
manager = Agent(role="Project Manager", goal="Coordinate the team to deliver excellent results",
                backstory="You decide which team member should handle each part of the project.",
                allow_delegation=True)

def hierarchical_tasks():
    return [
        Task(description="Research the topic of machine learning in healthcare",
             expected_output="Comprehensive research findings"),
        Task(description="Analyze the research and identify key trends", expected_output="Analysis report with insights"),
        Task(description="Write a report combining research and analysis", expected_output="Final comprehensive report"),
    ]

crew = Crew(agents=[research_specialist, analyst, content_writer], tasks=hierarchical_tasks(),
            process=Process.hierarchical, manager_agent=manager)
result = await crew.kickoff_async()
run = course.last_run()
print(run.summary())
for handoff in run.delegations:
    print(f"  {run.manager} -> {handoff.coworker}: {handoff.task!r}")
print("\\nWhat CrewAI's result says did each task:", [out.agent for out in result.tasks_output])
'''),
    ("md", "hierarchical-facts-md", r"""
What happened:

* The manager chose a worker for every task by calling its `delegate_work_to_coworker` tool. (The scripted
  manager follows a fixed rule, documented in `course/delegation.py`: the kind of work a task names first
  against the kind each worker's role names, then shared words. A real model chooses by reading, and may not
  choose the same way twice.)
* **⚠ In 1.15.30** the manager does **not** choose the order: tasks still run in list order, one at a time.
* `result.tasks_output[i].agent` always names the manager. Who really did the work is only in the record
  (`worker`), drawn as the inner bar of the timeline.
* Each task cost three model calls (manager delegates, worker works, manager hands back), not one.
"""),
    ("code", "hierarchical-gantt", '''
print(f"{len(run.llm_calls)} model calls for {len(run.tasks)} tasks")
pictures.gantt(run)
'''),
    # --- manager_llm -----------------------------------------------------------------------------------
    ("md", "manager-llm-md", r"""
## 5 · Hierarchical with `manager_llm`

Instead of your own manager agent, give a model: CrewAI builds a manager (`"Crew Manager"`) around it. Two forms
work: a model name, `manager_llm="gpt-4o"`, and CrewAI's own wrapper, `manager_llm=LLM(model="gpt-4o")`, for when
you want to set more (`temperature=`, `base_url=`, ...). (Not LangChain's `ChatOpenAI`: CrewAI 1.x has its own.)
"""),
    ("code", "manager-llm", '''
from crewai import LLM

for label, manager_llm in (('"gpt-4o"', "gpt-4o"), ('LLM(model="gpt-4o")', LLM(model="gpt-4o"))):
    crew = Crew(agents=[research_specialist, analyst, content_writer], tasks=hierarchical_tasks(),
                process=Process.hierarchical, manager_llm=manager_llm)
    await crew.kickoff_async()
    run = course.last_run()
    print(f"manager_llm={label:21} -> manager {run.manager!r} on {type(crew.manager_agent.llm).__name__}")
print(run.summary())
'''),
    ("md", "model-key-md", r"""
**⚠ Model names need a key.** `manager_llm="gpt-4o"`, `LLM(model="gpt-4o")` and agents without `llm=` (which
default to an OpenAI model) all call OpenAI: without `OPENAI_API_KEY` they fail with *"OPENAI_API_KEY is
required"*. The cells above ran because this course routes every model name to its scripted model. Here is the
same model name with that routing switched off, for this one block only (`course.real_models()`; the course's
network guard stays on, so nothing leaves this machine):
"""),
    ("code", "model-key", '''
import os

with course.real_models(), controls.quiet_failure_logs():   # routing off, this block only
    real = LLM(model="gpt-4o")
    print(f"LLM(model='gpt-4o') is now {type(real).__name__} (CrewAI's OpenAI client), "
          f"OPENAI_API_KEY set: {'OPENAI_API_KEY' in os.environ}")
    try:
        real.call("Say hello")
    except Exception as error:
        explain(error)
print(f"after the block: {type(LLM(model='gpt-4o')).__name__} again")
'''),
    ("md", "manager-traps-md", r"""
Two mistakes CrewAI stops at once: no manager at all, and the manager listed among the workers.
"""),
    ("code", "manager-traps", '''
for settings in ({}, {"manager_agent": manager}):
    try:
        agents = [research_specialist, analyst] + ([manager] if settings else [])
        Crew(agents=agents, tasks=hierarchical_tasks(), process=Process.hierarchical, **settings)
    except Exception as error:
        explain(error)
'''),
    # --- async --------------------------------------------------------------------------------------
    ("md", "async-md", r"""
## 6 · Async tasks and joins

`async_execution=True` is per task. The sequential walk launches a run of async tasks together and moves on;
the next sync task waits for all of them (the **join**) and, through `context`, receives their outputs.
Waiting and receiving are two different things: section 8 shows a sync task that waits for a task it receives
nothing from.

A common tutorial example gives all three async tasks the same `researcher`. **⚠ In CrewAI 1.15.30 that
fails**: one agent cannot work on two tasks at the same moment:
"""),
    ("code", "async-one-agent", '''
def research_tasks(agents):
    return [Task(description=f"Research topic {topic}", expected_output=f"Research on {topic}", agent=agent,
                 async_execution=True) for topic, agent in zip("ABC", agents)]

tasks = research_tasks([researcher, researcher, researcher])
synthesis = Task(description="Combine all research into final report", expected_output="Combined report",
                 agent=writer, context=tasks)
try:
    await Crew(agents=[researcher, writer], tasks=[*tasks, synthesis]).kickoff_async()
except RuntimeError as error:
    explain(error)
'''),
    ("md", "async-fixed-md", r"""
The fix: one agent per concurrent task.
"""),
    ("code", "async-fixed", '''
researchers = [Agent(role=f"Researcher {topic}", goal=f"Research topic {topic}", backstory="Focused researcher")
               for topic in "ABC"]
tasks = research_tasks(researchers)
synthesis = Task(description="Combine all research into final report", expected_output="Combined report",
                 agent=writer, context=tasks)
await Crew(agents=[*researchers, writer], tasks=[*tasks, synthesis]).kickoff_async()
run = course.last_run()
print(run.summary())
print("overlapping:", run.overlapping_pairs())
pictures.gantt(run)
'''),
    ("md", "async-hierarchical-md", r"""
A common tutorial claim: async tasks work "within either process". **⚠ In CrewAI 1.15.30 they do not work under
`Process.hierarchical`**. Every task goes to the one manager, and the manager cannot run two at once:
"""),
    ("code", "async-hierarchical", '''
tasks = [Task(description=f"Research topic {topic}", expected_output="Notes", async_execution=True) for topic in "AB"]
combine = Task(description="Combine all research into final report", expected_output="Combined report", context=tasks)
try:
    await Crew(agents=researchers, tasks=[*tasks, combine], process=Process.hierarchical,
               manager_agent=manager).kickoff_async()
except RuntimeError as error:
    explain(error)
'''),
    ("md", "async-rules-md", r"""
CrewAI also checks the task list when you build the crew. Three rules:

1. a crew may end with **at most one** async task (something has to wait for them);
2. an async task may not list in its `context` **any** async task of the same unbroken run of async tasks, not
   only the one right before it (they all start together, so none can wait for another; once a sync task sits
   between them it is allowed);
3. a task cannot wait for a task listed **after** it.
"""),
    ("code", "async-rules", '''
a = Task(description="Research topic A", expected_output="Notes", agent=researchers[0], async_execution=True)
b = Task(description="Research topic B", expected_output="Notes", agent=researchers[1], async_execution=True)
b_needs_a = Task(description="Research topic B", expected_output="Notes", agent=researchers[1],
                 async_execution=True, context=[a])
late = Task(description="Write the report", expected_output="Report", agent=writer)
early = Task(description="Research topic A", expected_output="Notes", agent=researchers[0], context=[late])

c_needs_a = Task(description="Research topic C", expected_output="Notes", agent=researchers[2],
                 async_execution=True, context=[a])
for tasks in ([a, b], [a, b_needs_a, late], [a, b, c_needs_a, late], [early, late]):
    try:
        Crew(agents=[*researchers, writer], tasks=tasks)
    except Exception as error:
        explain(error)
'''),
    # --- choosing ----------------------------------------------------------------------------------
    ("md", "choosing-md", r"""
## 7 · Choosing a process

| | Sequential | Hierarchical |
|---|---|---|
| who picks the agent for a task | you (`agent=` on each task) | the manager, at run time |
| order of tasks | the list | still the list (in 1.15.30) |
| model calls per task | 1 (plus tool use) | about 3 (delegate, work, hand back) |
| async tasks | yes, one agent per concurrent task | no: they fail |
| good for | pipelines with clear steps: research → write → edit, extract → transform → load, draft → review → approve | many agents where *who* should do a task is the hard part |

Parallelism is orthogonal: it comes from `async_execution` on independent tasks, under `Process.sequential`.
"""),
    # --- mixing --------------------------------------------------------------------------------------
    ("md", "mixing-md", r"""
## 8 · Mixing phases

A four-phase flow that tutorials call "mixing approaches": parallel research → analysis → parallel outputs → final
review. It is a task graph, like a build system's: `context` lists the edges, `async_execution` marks tasks free
to run side by side.

The tutorial code for it usually leaves out `expected_output`. **⚠ In CrewAI 1.15.30 `Task` requires it**, so
that code does not run as printed:
"""),
    ("code", "mixing-missing-expected", '''
try:
    Task(description="Research A", agent=researchers[0], async_execution=True)
except Exception as error:
    explain(error)
'''),
    ("code", "mixing-crew", '''
def mixed_crew():
    r1, r2 = (Agent(role=f"Researcher {x}", goal=f"Research {x}", backstory="Researcher") for x in "AB")
    analyst = Agent(role="Analyst", goal="Analyze research", backstory="Data analyst")
    report_writer = Agent(role="Report Writer", goal="Write reports", backstory="Writer")
    designer = Agent(role="Designer", goal="Design presentations", backstory="Designer")
    reviewer = Agent(role="Editor", goal="Review all outputs", backstory="Senior editor")
    research_a = Task(name="research A", description="Research A", expected_output="Notes on A", agent=r1,
                      async_execution=True)
    research_b = Task(name="research B", description="Research B", expected_output="Notes on B", agent=r2,
                      async_execution=True)
    analysis = Task(name="analysis", description="Analyze all research", expected_output="Analysis",
                    agent=analyst, context=[research_a, research_b])
    report = Task(name="report", description="Write report", expected_output="Report", agent=report_writer,
                  context=[analysis], async_execution=True)
    presentation = Task(name="presentation", description="Create presentation", expected_output="Slides",
                        agent=designer, context=[analysis], async_execution=True)
    final_review = Task(name="final review", description="Review all outputs", expected_output="Review",
                        agent=reviewer, context=[report, presentation])
    return Crew(agents=[r1, r2, analyst, report_writer, designer, reviewer],
                tasks=[research_a, research_b, analysis, report, presentation, final_review])

crew = mixed_crew()
pictures.dag(crew)
'''),
    ("code", "mixing-run", '''
await crew.kickoff_async()
run = course.last_run()
print(run.summary())
print(f"\\ncritical path: {run.critical().describe()}; wall time {run.wall_time:.2f} s")
pictures.gantt(run)
'''),
    ("md", "barrier-md", r"""
**Waiting is more than `context`.** A common tutorial claim: "a task with `context=[...]` waits for exactly those
tasks." In CrewAI 1.15.30 that is not so. Before each **sync** task the walk waits for *every* async task still
running, listed in its context or not; `context` decides only which outputs the task *receives*.

Below, the final review lists only the presentation, and the report's writer has a slower model (0.4 s a
call). In the drawing, a solid arrow means "waits for and receives", a dotted one "waits for, receives nothing".
"""),
    ("code", "barrier-demo", '''
from course.examples import mixed_phases_crew

crew = mixed_phases_crew(review_context="presentation", report_latency=0.4)
pictures.dag(crew, title="The review lists only the presentation")
'''),
    ("md", "barrier-predict-md", r"""
**Predict before you run the next cell:** when does the review start, as soon as the presentation ends, or only
once the slow report ends? Write your guess down, then run the cell.
"""),
    ("code", "barrier-run", '''
await crew.kickoff_async()
run = course.last_run()
report, presentation, review = run.task("report"), run.task("presentation"), run.task("review")
print(f"presentation ended {presentation.end:.2f} s, report ended {report.end:.2f} s, review started {review.start:.2f} s")
print("review received output from:", review.received_from)
pictures.gantt(run)
'''),
    ("md", "barrier-after-md", r"""
The review started only after the slow report ended, although it received only the presentation. A plan of a
crew has every wait the crew really has: a task's context, the sync task before it, and for a sync task every
async task still running.
"""),
    # --- max_rpm -----------------------------------------------------------------------------------
    ("md", "max-rpm-md", r"""
## 9 · Rate limiting: `max_rpm`

`Crew(max_rpm=10)` caps the crew at 10 model requests per minute, as tutorials say. **⚠ What they do not say:** once
the budget is spent, CrewAI 1.15.30 simply sleeps **60 seconds** (hard-coded) before the next call. A notebook cell
that seems frozen for a minute is often this.

Below, `max_rpm=2` with four one-call tasks: calls 1 and 2 go through, call 3 waits for "the next minute".
`controls.short_minute(1.0)` makes that minute last one second, so you can see the pause without waiting.
"""),
    ("code", "max-rpm", '''
from course import controls

agents = [Agent(role=f"Researcher {i}", goal="Find facts", backstory="Careful") for i in range(1, 5)]
tasks = [Task(description=f"Research topic {i}", expected_output="Notes", agent=agent)
         for i, agent in enumerate(agents, start=1)]
with controls.short_minute(1.0) as minute:
    await Crew(agents=agents, tasks=tasks, max_rpm=2).kickoff_async()
run = course.last_run()
print(run.summary())
print(f"\\nthe rate limiter paused {len(minute.pauses)} time(s): "
      + ", ".join(f"{pause:.1f} s" for pause in minute.pauses) + " (60 s each without short_minute)")
'''),
    # --- memory ----------------------------------------------------------------------------------------
    ("md", "memory-md", r"""
## 10 · Memory

`Crew(memory=True)` stores what tasks produce and lets later tasks recall it. To store and search, memory
turns text into vectors with an **embedder**, and CrewAI's default embedder is OpenAI's.

A common tutorial line: `memory=True  # Enable memory between tasks`. **⚠ In CrewAI 1.15.30, memory without a
working embedder fails silently**: kickoff succeeds, nothing is remembered, and the only signs are warnings in the
output. The course makes a local embedder the default, so below it is switched off for one block
(`controls.without_local_embedder()`): this is plain `memory=True` as it behaves on a machine with no OpenAI key.
The writer gets **no** `context` (`context=[]`), so the only way the research can reach it is memory:
"""),
    ("code", "memory-silent", '''
import uuid

def tea_crew(**memory_settings):
    memory_researcher = Agent(role="Researcher", goal="Find facts", backstory="Careful")
    memory_writer = Agent(role="Writer", goal="Write clearly", backstory="Clear")
    research = Task(description="Research the history of tea", expected_output="Notes", agent=memory_researcher)
    article = Task(description="Write a short article about the history of tea", expected_output="Article",
                   agent=memory_writer, context=[])
    return Crew(agents=[memory_researcher, memory_writer], tasks=[research, article], memory=True,
                name=f"tea-{uuid.uuid4().hex[:6]}", **memory_settings)

def what_the_writer_recalled():
    writer_call = next(call for call in course.last_run().llm_calls if call.role == "Writer")
    start = writer_call.prompt.find("Relevant memories:")
    return writer_call.prompt[start:start + 330] if start >= 0 else "nothing: no memory reached the writer"

with controls.without_local_embedder():          # CrewAI's own default embedder (OpenAI's), this block only
    result = await tea_crew().kickoff_async()
print("kickoff succeeded; the writer recalled:", what_the_writer_recalled())
'''),
    ("md", "memory-fixed-md", r"""
Those signs are the two `[CrewAIEventsBus] Warning: Ending event 'memory_save_failed' ...` lines above, one per
task: its memory was not saved (the "empty scope stack" part is harmless: CrewAI 1.15.30 reports the failure
from a background thread).

The fix: give memory an embedder that works, here one that runs locally, `embedder=controls.local_embedder()`
(with a real provider: `embedder={"provider": "openai", ...}` and its key). Same crew:
"""),
    ("code", "memory", '''
result = await tea_crew(embedder=controls.local_embedder()).kickoff_async()
print("the writer recalled:", what_the_writer_recalled())
print("\\nand wrote:", result.raw)
'''),
    # --- cache -----------------------------------------------------------------------------------------
    ("md", "cache-md", r"""
## 11 · Cache

A common tutorial line: `cache=True  # Cache LLM responses`. **⚠ In CrewAI 1.15.30 that comment is wrong:** it
caches **tool results**, keyed by the tool's name and input: a second identical tool call is answered from the
cache, while the model is still called every time. (And `cache` is off unless you turn it on.)

`controls.FactLookupTool` counts how often it really runs. Two agents look up the same phrase:
"""),
    ("code", "cache", '''
def lookup_crew(tool, cache):
    looker = Agent(role="Researcher", goal="Find facts", backstory="Careful", tools=[tool])
    checker = Agent(role="Fact checker", goal="Check facts", backstory="Strict", tools=[tool])
    return Crew(agents=[looker, checker], cache=cache, tasks=[
        Task(description="Look up 'the boiling point of water'", expected_output="A fact", agent=looker),
        Task(description="Check 'the boiling point of water'", expected_output="A checked fact", agent=checker),
    ])

for cache in (False, True):
    tool = controls.FactLookupTool()
    await lookup_crew(tool, cache).kickoff_async()
    print(f"cache={cache!s:5}: the tool really ran {tool.runs} time(s); "
          f"the model was called {len(course.last_run().llm_calls)} times")
'''),
    # --- inputs ----------------------------------------------------------------------------------------
    ("md", "inputs-md", r"""
## 12 · Kickoff inputs

`{placeholders}` in roles, goals, backstories, descriptions and expected outputs are filled from
`kickoff(inputs={...})` (here `kickoff_async(inputs=...)`). A placeholder with no input is an error.
"""),
    ("code", "inputs", '''
def briefing():
    analyst = Agent(role="{audience} Analyst", goal="Explain {topic} to {audience}", backstory="Clear speaker")
    task = Task(description="Research {topic} for {audience}", expected_output="Research report", agent=analyst)
    return Crew(agents=[analyst], tasks=[task])

result = await briefing().kickoff_async(inputs={"topic": "Artificial Intelligence", "audience": "Business executives"})
print(course.last_run().tasks[0].description)
print(result.raw)
try:
    await briefing().kickoff_async(inputs={"topic": "Artificial Intelligence"})
except Exception as error:
    explain(error)
'''),
    # --- errors -----------------------------------------------------------------------------------------
    ("md", "errors-md", r"""
## 13 · Error handling

A common tutorial pattern: `try: result = crew.kickoff()` / `except Exception as e: print(...)` with the comment
*"Handle error - maybe retry or use fallback"*. Here it is written out, live. When a model call fails, CrewAI
retries the agent (3 attempts in all), then the error reaches your `try/except`. Below, the writer's model is told
to fail (`fail_roles=["Writer"]`), so the research succeeds and the run stops at the writing task. (Errors that
mention a *rate limit* are retried more, about 8 s here: not shown.)

First, what a failed crew leaves behind. **⚠ In CrewAI 1.15.30 a crew that failed half-way keeps its
half-finished state**, and reusing it does not clear it: run a crew once on tea, then again on coffee with the
writer failing, and its tasks hold the coffee research next to the *tea* article of the run before:
"""),
    ("code", "errors-half-finished", '''
steady = course.ScriptedLLM(latency=0.01)
flaky = course.ScriptedLLM(latency=0.01, fail_roles=["Writer"])

def fragile_crew(writer_llm):
    r = Agent(role="Researcher", goal="Find facts", backstory="Careful", llm=steady)
    w = Agent(role="Writer", goal="Write clearly", backstory="Clear", llm=writer_llm)
    t1 = Task(description="Research the history of {topic}", expected_output="Notes", agent=r)
    t2 = Task(description="Write about the history of {topic}", expected_output="Article", agent=w, context=[t1])
    return Crew(agents=[r, w], tasks=[t1, t2])

crew = fragile_crew(steady)
await crew.kickoff_async(inputs={"topic": "tea"})
crew.agents[1].llm = flaky                       # the same crew again; this time the writer's model fails
with controls.quiet_failure_logs() as retries:  # CrewAI's "Error executing listener" lines, kept back
    try:
        await crew.kickoff_async(inputs={"topic": "coffee"})
    except Exception as error:
        print(f"Crew execution failed: {type(error).__name__}: {error}")
print(f"(CrewAI tried the writer {len(retries)} times)")
for task in crew.tasks:
    print(f"{task.description!r:36} holds: {task.output.raw.splitlines()[0][:84] if task.output else None}")
'''),
    ("md", "errors-retry-md", r"""
So: build a **fresh** crew for every attempt, and take a fallback from what *this* attempt finished. Here the
retry and the fallback are written in the cell: two attempts, and if both fail, the research notes of the last
attempt are the result (unedited, but real). `controls.quiet_failure_logs()` only keeps CrewAI's red log lines
about each failed call ("Error executing listener ...") out of the output; take it away to see them.
"""),
    ("code", "errors-retry", '''
result, fallback = None, None
with controls.quiet_failure_logs():
    for attempt in (1, 2):
        crew = fragile_crew(flaky)                  # fresh each time: no state left from a failed attempt
        try:
            result = (await crew.kickoff_async(inputs={"topic": "coffee"})).raw
            break
        except Exception as error:
            print(f"attempt {attempt} failed: {type(error).__name__}: {error}")
            research = crew.tasks[0].output          # what this attempt finished before it failed
            fallback = research.raw if research else None
if result is None:
    print("every attempt failed; using the fallback, the research notes:")
    result = fallback
print(result)
'''),
    # --- verbose ----------------------------------------------------------------------------------------
    ("md", "verbose-md", r"""
## 14 · Monitoring: `verbose`

`verbose=True` prints each agent's task and answer as it works. Older tutorials write `verbose=2` (CrewAI 0.x
took levels). **⚠ In CrewAI 1.15.30 `verbose` takes a boolean only**, and a level is refused when the crew is
built:
"""),
    ("code", "verbose-level", '''
solo = Agent(role="Researcher", goal="Find accurate information", backstory="Expert researcher")
solo_task = Task(description="Research AI trends", expected_output="Three bullet points", agent=solo)
try:
    Crew(agents=[solo], tasks=[solo_task], verbose=2)
except Exception as error:
    explain(error)
'''),
    ("md", "verbose-true-md", r"""
With `verbose=True` CrewAI draws a panel for each step (the last one, "Crew Completion", may land below the
cell's own output). The cell then prints the course's own trace of the same run: one line per task, when it
started and ended and who did it, readable in any font.
"""),
    ("code", "verbose", '''
result = await Crew(agents=[solo], tasks=[solo_task], verbose=True).kickoff_async()
print(course.last_run().summary())  # the same run in the course's words
'''),
    # --- real model -----------------------------------------------------------------------------------
    ("md", "real-model-md", r"""
## 15 · Leaving the course: the same crews on a real model

Everything above ran on the scripted model. To run the same crews against a real model, switch the course off for
the rest of this kernel with `course.use_real_model(...)`: model names build CrewAI's real models again, and the
network guard lets connections out. It returns a `crewai.LLM` to pass as `llm=` or `manager_llm=`; agents without
`llm=` use the same model. Then **build your agents, tasks and crews again** (those built before keep the
scripted model).

```python
import course
llm = course.use_real_model("gpt-4o-mini")              # OpenAI: needs OPENAI_API_KEY in the environment
# or a local OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp server):
llm = course.use_real_model("llama3.1", base_url="http://localhost:11434/v1", api_key="unused")

crew = Crew(agents=[...], tasks=[...], process=Process.hierarchical, manager_llm=llm)
result = await crew.kickoff_async()
print(course.last_run().summary())                       # runs are still recorded
```

What changes: answers differ from run to run, each call costs time (and money), a provider's rate limits can
serialise async tasks, and a real manager chooses workers by reading, so it may not choose the same way twice.
What stays: the order rules, the joins and `context` are CrewAI's, not the course's. There is no switch back:
restart the kernel to return to the scripted model. (Not run here: this notebook stays offline.)
"""),
    # --- summary -----------------------------------------------------------------------------------------
    ("md", "summary-md", r"""
## Quick reference (CrewAI 1.15.30)

```python
Crew(agents=[a1, a2, a3], tasks=[t1, t2, t3], process=Process.sequential)           # list order, agent= on each task
Crew(agents=[a1, a2, a3], tasks=[t1, t2, t3], process=Process.hierarchical,
     manager_agent=manager)                  # or manager_llm="gpt-4o" / LLM(model="gpt-4o"); no async tasks
Task(..., async_execution=True)              # runs alongside its async neighbours; one agent per concurrent task
Task(..., context=[t1, t2])                  # receives t1's and t2's outputs, so waits for them (the join)
# a sync task also waits for every async task still running, listed in its context or not (the barrier)
result = await crew.kickoff_async(inputs={"topic": "AI"})       # in a notebook; crew.kickoff() in a script
Crew(..., memory=True, embedder=...)         # memory needs a working embedder, or it fails silently
Crew(..., verbose=True)                      # a boolean, not a level
llm = course.use_real_model("gpt-4o-mini")   # leave the scripted model (restart the kernel to come back)
```

Next: the exercises. `01_sequential` → `02_hierarchical` → `03_async` → `04_mixed_phases`.
"""),
]
