"""The checks behind the crew_processes test cells.

Each check builds the learner's crew again, runs it through the course
recorder (``runner.run``) and grades what really happened: order, overlap,
joins, who did each task, which outputs reached which task, the task graph.
Tasks are matched by their place in the graph, never by their wording.
A failed check raises AssertionError with what was expected, what happened
and a hint; a passed one prints a one-line confirmation.
"""

from __future__ import annotations

from typing import Any

from crewai import Crew, Process

from course import recording as _recording

from autograder import integrity as _integrity
from autograder import shapes
from autograder.feedback import fail, passed
from autograder.runner import build, grader_runs, run, runs

__all__ = [
    "integrity", "run",
    "sequential_crew", "sequential_order", "sequential_context", "sequential_determinism",
    "hierarchical_setup", "hierarchical_delegation", "hierarchical_order", "hierarchical_answers",
    "async_shape", "async_agents", "async_overlap", "async_join", "async_timing",
    "dag_data", "mixed_matches_dag", "mixed_parallel", "mixed_joins",
]

# Model latencies for re-runs. Order and context do not depend on timing, so those
# checks run fast; overlap does, so async checks give each call time to be seen
# running. Thorough (hidden) checks run two schedules: what holds at both is no luck.
FAST, FAST_THOROUGH = (0.01,), (0.0, 0.03)
TIMED, TIMED_THOROUGH = (0.05,), (0.03, 0.08)


def integrity() -> None:
    """The course kit and the grader are as shipped (hidden tests run this first)."""
    __tracebackhide__ = True
    _integrity.check()


def _runs(build_crew: Any, thorough: bool, timed: bool = False, **arguments: Any):
    __tracebackhide__ = True
    if timed:
        latencies = TIMED_THOROUGH if thorough else TIMED
    else:
        latencies = FAST_THOROUGH if thorough else FAST
    return runs(build_crew, len(latencies), latencies, **arguments)


def _names(items: list[Any], joiner: str = ", ") -> str:
    """Task names for a message: ``joiner=" -> "`` for an order, a plain list otherwise."""
    __tracebackhide__ = True
    return joiner.join(repr(shapes.label(i)) if not isinstance(i, str) else repr(i) for i in items) or "(none)"


def _order(items: list[Any]) -> str:
    __tracebackhide__ = True
    return _names(items, " -> ")


def _process(crew: Crew) -> str:
    __tracebackhide__ = True
    return str(getattr(crew.process, "value", crew.process))


def _role(agent: Any) -> str | None:
    __tracebackhide__ = True
    return str(agent.role) if agent is not None else None


# --- 01: sequential ----------------------------------------------------------------------

def _three_sequential_tasks(crew: Crew) -> None:
    __tracebackhide__ = True
    if _process(crew) != Process.sequential.value:
        fail("The crew does not use the sequential process.", "process=Process.sequential",
             f"process={_process(crew)}", "Pass process=Process.sequential to Crew(...).")
    if len(crew.tasks) != 3:
        fail("The crew should have three tasks.", "research, write and edit",
             f"{len(crew.tasks)} task(s): {_names(crew.tasks)}", "Put exactly three tasks in tasks=[...].")
    asynchronous = [t for t in crew.tasks if t.async_execution]
    if asynchronous:
        fail("A pipeline step runs asynchronously.", "three plain (sync) tasks, each waiting for the one before",
             f"async_execution=True on {_names(asynchronous)}", "Leave async_execution out in this exercise.")


def sequential_crew(build_crew: Any) -> None:
    """Three sync tasks, each with its own agent, run sequentially through the course model."""
    __tracebackhide__ = True
    crew = build(build_crew)
    _three_sequential_tasks(crew)
    missing = [t for t in crew.tasks if t.agent is None]
    if missing:
        fail("A task has no agent.", "agent=... on every task (sequential crews have no manager)",
             f"no agent on {_names(missing)}", "Give each task the agent that should do it.")
    roles = [_role(t.agent) for t in crew.tasks]
    if len({id(t.agent) for t in crew.tasks}) != 3:
        fail("The same agent does more than one step.", "a researcher, a writer and an editor: three agents",
             f"the tasks' agents are {roles}", "Create three agents and give one to each task.")
    recorded = run(crew, latency=FAST[0])
    passed(f"a sequential crew of three tasks ran: {' -> '.join(recorded.order())}")


def sequential_order(build_crew: Any, thorough: bool = False) -> None:
    """The tasks ran in list order, one at a time, every time."""
    __tracebackhide__ = True
    crew = build(build_crew)
    _three_sequential_tasks(crew)
    for recorded in _runs(build_crew, thorough):
        _in_list_order_one_at_a_time(recorded, "A sequential crew runs tasks in the order of tasks=[...].")
    passed("the order is the task list's, one task at a time")


def _in_list_order_one_at_a_time(recorded: Any, order_hint: str) -> None:
    """Both processes walk the task list: in its order, each task after the previous one ended."""
    __tracebackhide__ = True
    listed = [t.name for t in recorded.tasks]
    if recorded.order() != listed:
        fail("The tasks did not run in the order of the task list.", _order(listed),
             _order(recorded.order()), order_hint)
    for before, after in zip(recorded.tasks, recorded.tasks[1:]):
        if not recorded.started_after_all(after, [before]):
            fail(f"{after.name!r} started before {before.name!r} had finished.",
                 "each task to start only after the previous one ended",
                 f"they overlapped ({before.name!r} ended at {before.end:.2f} s, {after.name!r} started at "
                 f"{after.start:.2f} s)", "Keep every task of this pipeline synchronous.")


def sequential_context(build_crew: Any, thorough: bool = False) -> None:
    """Each step names the previous one in ``context`` and really receives its output."""
    __tracebackhide__ = True
    crew = build(build_crew)
    _three_sequential_tasks(crew)
    tasks = list(crew.tasks)
    for before, after in zip(tasks, tasks[1:]):
        declared = after.context if isinstance(after.context, list) else []
        if not any(c is before for c in declared):
            fail(f"{shapes.label(after)!r} does not list {shapes.label(before)!r} in its context.",
                 f"context=[...] on {shapes.label(after)!r} that includes the {shapes.label(before)!r} task",
                 f"its context is {_names(declared) if declared else 'not set'}",
                 "Chain the steps explicitly: context=[previous_task]. Without it CrewAI passes every earlier "
                 "output, which works by accident and hides the pipeline's shape.")
    for recorded in _runs(build_crew, thorough):
        for before, after in zip(recorded.tasks, recorded.tasks[1:]):
            if before.name not in after.received_from:
                fail(f"{after.name!r} never saw the output of {before.name!r}.",
                     f"{before.name!r}'s output in {after.name!r}'s prompt",
                     f"it received output from: {_names(after.received_from)}",
                     "context=[previous_task] passes the previous output on.")
    passed("each step received the previous step's output through context")


def sequential_determinism(build_crew: Any, orders: Any) -> None:
    """The learner's repeated runs and the grader's all show one and the same order."""
    __tracebackhide__ = True
    if not isinstance(orders, (list, tuple)) or len(orders) < 2:
        fail("`orders` should hold the order of at least two runs.", "a list like [run1.order(), run2.order(), ...]",
             f"{orders!r}"[:120], "Run your crew several times and append course.last_run().order() each time.")
    if any(not isinstance(o, (list, tuple)) for o in orders):
        fail("Each item of `orders` should be a list of task names.", "course.last_run().order() for each run",
             f"{orders!r}"[:120], "Append course.last_run().order() after each run.")
    first, second = runs(build_crew, 2, FAST_THOROUGH)
    actual = first.order()
    if second.order() != actual:
        fail("Two runs of your crew ran in different orders.", "the same order every time",
             f"{_order(actual)} then {_order(second.order())}", "Keep all three tasks synchronous.")
    if [t.output for t in first.tasks] != [t.output for t in second.tasks]:
        fail("Two runs of your crew gave different outputs.", "the same inputs giving the same outputs",
             "the outputs differed", "Avoid anything random (time, random numbers) in task descriptions.")
    if any(list(o) != actual for o in orders):
        fail("`orders` does not match what your crew does.", f"every run in the order {_order(actual)}",
             f"{orders!r}"[:160], "Fill `orders` from real runs of your current build_crew().")
    passed(f"{len(orders)} runs, one order: {' -> '.join(actual)}")


# --- 02: hierarchical -----------------------------------------------------------------

def _hierarchical(crew: Crew) -> None:
    __tracebackhide__ = True
    if _process(crew) != Process.hierarchical.value:
        fail("The crew does not use the hierarchical process.", "process=Process.hierarchical",
             f"process={_process(crew)}", "Pass process=Process.hierarchical to Crew(...).")
    if crew.manager_agent is None and crew.manager_llm is None:
        fail("The crew has no manager.", "manager_agent=<an Agent> or manager_llm=\"gpt-4o\"",
             "neither is set", "Hierarchical crews need someone to delegate: add a manager.")
    if len(crew.tasks) != 3:
        fail("The crew should have the three tasks of the pipeline.", "research, write and edit",
             f"{len(crew.tasks)} task(s): {_names(crew.tasks)}", "Keep exactly three tasks.")
    asynchronous = [t for t in crew.tasks if t.async_execution]
    if asynchronous:
        fail("A task is asynchronous under the hierarchical process.", "plain (sync) tasks",
             f"async_execution=True on {_names(asynchronous)}",
             "In CrewAI 1.15.30 the manager cannot run two delegations at once: async tasks fail here.")


def hierarchical_setup(build_crew: Any) -> None:
    """A hierarchical crew with a manager (agent or model) that runs to the end."""
    __tracebackhide__ = True
    crew = build(build_crew)
    _hierarchical(crew)
    recorded = run(crew, latency=FAST[0])
    who = f"manager {recorded.manager!r}" if recorded.manager else "a manager"
    passed(f"a hierarchical crew ran with {who}")


def hierarchical_delegation(build_crew: Any, thorough: bool = False) -> None:
    """Every task was really done by a worker the manager chose, and not all by one."""
    __tracebackhide__ = True
    crew = build(build_crew)
    _hierarchical(crew)
    roles = {str(a.role) for a in crew.agents}
    for recorded in _runs(build_crew, thorough):
        for task in recorded.tasks:
            if task.worker not in roles or task.worker == recorded.manager:
                fail(f"The manager did {task.name!r} itself.", "each task delegated to one of the workers",
                     f"done by {task.worker!r}", "Give the crew worker agents whose roles fit the tasks.")
        workers = [t.worker for t in recorded.tasks]
        if len(set(workers)) == 1:
            fail("One worker did every task.", "the manager sharing the tasks among the workers",
                 f"{workers[0]!r} did all three",
                 "Give each worker a role that names its kind of work (research, writing, editing).")
    passed("the manager delegated: " + ", ".join(f"{t.name} -> {t.worker}" for t in recorded.tasks))


def hierarchical_order(build_crew: Any, thorough: bool = False) -> None:
    """Tasks still ran in list order, one at a time, each seeing the previous output."""
    __tracebackhide__ = True
    crew = build(build_crew)
    _hierarchical(crew)
    for recorded in _runs(build_crew, thorough):
        _in_list_order_one_at_a_time(recorded, "List the tasks in pipeline order: research, write, edit.")
        for before, after in zip(recorded.tasks, recorded.tasks[1:]):
            if before.name not in after.received_from:
                fail(f"{after.name!r} never saw the output of {before.name!r}.",
                     "each step working from the previous step's output",
                     f"it received output from: {_names(after.received_from)}",
                     "Leave context out (every earlier output is passed on) or chain it: context=[previous_task].")
    passed("same order as the list, one task at a time, each step saw the previous output")


def _choice(value: Any) -> str | None:
    __tracebackhide__ = True
    text = " ".join(str(value).lower().replace("_", " ").split())
    if "manager" in text and "list" not in text:
        return "manager"
    if ("list" in text or "order of the tasks" in text) and "manager" not in text:
        return "task list"
    return None


def hierarchical_answers(build_crew: Any, order_decided_by: Any, workers_decided_by: Any, extra_calls: Any,
                         baseline: Any) -> None:
    """Who decided the order, who decided the workers, and what the manager cost in model calls."""
    __tracebackhide__ = True
    if _choice(order_decided_by) != "task list":
        fail("Who decided the order the tasks ran in?", "TASK_LIST",
             f"{order_decided_by!r}", "Compare the order in both runs with the order of tasks=[...].")
    if _choice(workers_decided_by) != "manager":
        fail("Who decided which agent did each task?", "MANAGER",
             f"{workers_decided_by!r}", "Your tasks have no agent=: look at who really did each one (worker).")
    crew = build(build_crew)
    _hierarchical(crew)
    hierarchical_calls = len(run(crew, latency=0.0).llm_calls)
    sequential_calls = len(run(baseline, latency=0.0, name="the sequential baseline").llm_calls)
    expected = hierarchical_calls - sequential_calls
    if isinstance(extra_calls, bool) or not isinstance(extra_calls, (int, float)) or extra_calls != expected:
        fail("`extra_calls` is not what your runs show.",
             f"{expected} (your hierarchical run made {hierarchical_calls} model calls, the sequential one "
             f"{sequential_calls})", f"{extra_calls!r}",
             "Use len(run.llm_calls) for each run and subtract.")
    passed(f"the task list set the order, the manager chose the workers, at the price of {expected} extra model calls")


# --- 03: async -------------------------------------------------------------------------------

def _async_parts(crew: Crew) -> tuple[list[Any], Any]:
    """The async tasks and the join: the sync task whose context holds the most of them."""
    __tracebackhide__ = True
    if _process(crew) != Process.sequential.value:
        fail("Async tasks need the sequential process here.", "process=Process.sequential",
             f"process={_process(crew)}",
             "In CrewAI 1.15.30 async tasks fail under the hierarchical process (one manager cannot delegate twice at once).")
    asynchronous = [t for t in crew.tasks if t.async_execution]
    if len(asynchronous) != 3:
        fail("The crew should have three async research tasks.", "async_execution=True on three tasks",
             f"{len(asynchronous)} async task(s): {_names(asynchronous)}",
             "Mark each independent research task async_execution=True.")
    sync = [t for t in crew.tasks if not t.async_execution]
    if not sync:
        fail("Nothing waits for the research.", "a synthesis task with async_execution left off",
             "every task is async", "Add a sync synthesis task with context=[the three research tasks].")

    def held(task: Any) -> int:
        context = task.context if isinstance(task.context, list) else []
        return sum(1 for a in asynchronous if any(c is a for c in context))

    join = max(sync, key=held)
    return asynchronous, join


def async_shape(build_crew: Any) -> None:
    """Three async tasks and a sync synthesis at the end; parallel=False makes them all sync."""
    __tracebackhide__ = True
    crew = build(build_crew, parallel=True)
    asynchronous, join = _async_parts(crew)
    if len(crew.tasks) != 4 or crew.tasks[-1] is not join:
        fail("The crew should be three research tasks, then the synthesis.", "4 tasks, the sync synthesis last",
             f"{_names(crew.tasks)}", "List the three research tasks first and the synthesis last.")
    baseline = build(build_crew, parallel=False)
    if len(baseline.tasks) != 4 or any(t.async_execution for t in baseline.tasks):
        fail("build_crew(parallel=False) should build the same crew with no async task.",
             "the same 4 tasks, async_execution=False everywhere",
             f"async tasks: {_names([t for t in baseline.tasks if t.async_execution]) or 'none'}, "
             f"{len(baseline.tasks)} tasks", "Use async_execution=parallel on the research tasks.")
    passed("three async research tasks and a sync synthesis; parallel=False turns async off")


def async_agents(build_crew: Any) -> None:
    """Each async task has its own agent (one agent cannot run two tasks at once)."""
    __tracebackhide__ = True
    crew = build(build_crew, parallel=True)
    asynchronous, _join = _async_parts(crew)
    roles = [_role(t.agent) for t in asynchronous]
    if None in roles:
        fail("An async task has no agent.", "agent=... on each research task", f"agents: {roles}",
             "Give every research task its own researcher.")
    if len({id(t.agent) for t in asynchronous}) != 3:
        fail("Async tasks share an agent.", "three different agents for the three async tasks",
             f"their agents are {roles}",
             "One agent cannot run two tasks at the same moment (CrewAI raises 'Executor is already running'): "
             "create one researcher per topic.")
    passed(f"one agent per async task: {', '.join(roles)}")


def async_overlap(build_crew: Any, thorough: bool = False) -> None:
    """The three research tasks really ran at the same time."""
    __tracebackhide__ = True
    crew = build(build_crew, parallel=True)
    _async_parts(crew)
    for recorded in _runs(build_crew, thorough, timed=True, parallel=True):
        research = [t for t in recorded.tasks if t.async_execution]
        for i, first in enumerate(research):
            for second in research[i + 1:]:
                if not recorded.overlap(first, second):
                    fail(f"{first.name!r} and {second.name!r} did not overlap.", "all three research tasks running together",
                         f"{first.name!r} {first.start:.2f}-{first.end:.2f} s, {second.name!r} "
                         f"{second.start:.2f}-{second.end:.2f} s",
                         "Put the three async tasks next to each other in tasks=[...], before the synthesis.")
    passed("the three research tasks overlapped")


def async_join(build_crew: Any, thorough: bool = False) -> None:
    """The synthesis lists all three in context, waits for all three, and receives all three outputs."""
    __tracebackhide__ = True
    crew = build(build_crew, parallel=True)
    asynchronous, join = _async_parts(crew)
    context = join.context if isinstance(join.context, list) else []
    missing = [a for a in asynchronous if not any(c is a for c in context)]
    if missing:
        fail("The synthesis does not join all three research tasks.",
             f"context=[all three research tasks] on {shapes.label(join)!r}",
             f"missing from its context: {_names(missing)}", "List every research task in the synthesis' context.")
    join_name = shapes.label(join)
    join_index = next(i for i, t in enumerate(crew.tasks) if t is join)
    for recorded in _runs(build_crew, thorough, timed=True, parallel=True):
        record = recorded.tasks[join_index]
        research = [t for t in recorded.tasks if t.async_execution]
        if not recorded.started_after_all(record, research):
            fail(f"{join_name!r} started before all research had finished.", "the synthesis to start last",
                 f"it started at {record.start:.2f} s; research ended at "
                 + ", ".join(f"{t.end:.2f} s" for t in research), "Keep async_execution off on the synthesis.")
        unseen = [t.name for t in research if t.name not in record.received_from]
        if unseen:
            fail(f"{join_name!r} did not receive every research output.", "all three outputs in its prompt",
                 f"missing: {_names(unseen)}", "List all three research tasks in its context.")
    passed(f"{join_name!r} waited for all three research tasks and received their outputs")


def async_timing(build_crew: Any, parallel_seconds: Any, sequential_seconds: Any, model_latency: float = 0.0) -> None:
    """The learner measured both versions; the parallel one is faster because its tasks overlapped.

    model_latency: the seconds each model call took while the learner measured. No run can beat its
    chain of model turns (2 in the parallel version, 4 in the sequential one), so a number below that
    was typed, not measured.
    """
    __tracebackhide__ = True
    for name, value, turns in (("parallel_seconds", parallel_seconds, 2), ("sequential_seconds", sequential_seconds, 4)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            fail(f"`{name}` is not a measured time.", "a number of seconds from time.perf_counter()",
                 f"{value!r}", "start = time.perf_counter(); await ...; seconds = time.perf_counter() - start")
        floor = 0.9 * turns * model_latency
        if value < floor:
            fail(f"`{name}` is shorter than any real run.",
                 f"at least {floor:.2f} s ({turns} model turns of {model_latency} s one after another)",
                 f"{value:.3f} s", "Measure a real run: read time.perf_counter() before and after the await, with agents "
                 "that use the course model (no llm= of their own).")
    if not parallel_seconds < sequential_seconds:
        fail("Your parallel run was not faster.", "parallel_seconds < sequential_seconds",
             f"parallel {parallel_seconds:.2f} s, sequential {sequential_seconds:.2f} s",
             "Time build_crew(parallel=True) and build_crew(parallel=False) with the same latency.")
    parallel = run(build_crew, latency=0.05, parallel=True)
    sequential = run(build_crew, latency=0.05, parallel=False)
    if not parallel.overlapping_pairs():
        fail("No tasks overlapped in the parallel version.", "the research tasks running together",
             "they ran one at a time", "build_crew(parallel=True) should set async_execution=True on the research.")
    if sequential.overlapping_pairs():
        fail("Tasks overlapped in the sequential version.", "one task at a time with parallel=False",
             f"overlapping: {sequential.overlapping_pairs()}", "parallel=False should turn every async_execution off.")
    for name, value, overlapped in (("parallel_seconds", parallel_seconds, True),
                                    ("sequential_seconds", sequential_seconds, False)):
        if not _recorded_in_this_kernel(value, overlapped):
            kind = "with overlapping tasks" if overlapped else "with one task at a time"
            fail(f"`{name}` does not match any run of your crew.",
                 f"the time of a real run {kind}, measured in this notebook",
                 f"{value:.3f} s, but no recorded run {kind} took about that long",
                 "Set the variable from time.perf_counter() around the `await` of a fresh crew, and run that cell.")
    passed(f"speed-up measured: {sequential_seconds / parallel_seconds:.1f}x")


def _recorded_in_this_kernel(seconds: float, overlapped: bool) -> bool:
    """A learner's perf_counter reading matches a kickoff the learner made in this kernel.

    The reading wraps the whole kickoff, so it exceeds the recorded wall time by
    a few milliseconds (measured: 2-8 ms); the grader's own re-runs do not count.
    A typed-in number matches no run.
    """
    __tracebackhide__ = True
    for recorded in _recording._runs_since(None):
        if recorded.started_at in grader_runs() or recorded.error:
            continue
        if bool(recorded.overlapping_pairs()) != overlapped:
            continue
        if recorded.wall_time - 0.02 <= seconds <= recorded.wall_time + 0.05 + 0.1 * recorded.wall_time:
            return True
    return False


# --- 04: mixed phases -------------------------------------------------------------------------

def dag_data(dag: Any) -> None:
    """The learner's graph is the four-phase flow."""
    __tracebackhide__ = True
    try:
        graph = shapes.normalise(dag)
    except ValueError as exc:
        fail("`dag` is not a task graph yet.", "a dict {task: [tasks it waits for], ...} with all six tasks", str(exc),
             'Write one key per task, e.g. "analysis": ["research A", "research B"]; a task that waits for nothing gets [].')
    problem = shapes.four_phase_problem(graph)
    if problem:
        fail("`dag` is not the four-phase flow.",
             "2 research roots -> analysis waits for both -> 2 outputs wait for analysis -> review waits for both",
             problem, "Draw it on paper first: which tasks can start together, which must wait.")
    passed("your DAG is the four-phase flow: " + " -> ".join("{" + ", ".join(p) + "}" for p in shapes.phases(graph)))


def _crew_graph_problem(crew: Crew) -> str | None:
    __tracebackhide__ = True
    if _process(crew) != Process.sequential.value:
        return f"process={_process(crew)}; async phases need Process.sequential in CrewAI 1.15.30"
    return shapes.four_phase_problem(shapes.crew_graph(crew))


def mixed_matches_dag(dag: Any, build_crew: Any) -> None:
    """The crew's real wait graph (from context and async flags) is the learner's DAG."""
    __tracebackhide__ = True
    try:
        graph = shapes.normalise(dag)
    except ValueError as exc:
        fail("`dag` is not a task graph yet.", "{task: [tasks it waits for], ...}", str(exc), "Fill `dag` first.")
    crew = build(build_crew)
    actual = shapes.crew_graph(crew)
    if set(actual) == set(graph):
        different = [n for n in graph if set(shapes.reduce(graph)[n]) != set(shapes.reduce(actual)[n])]
        if different:
            name = different[0]
            fail(f"Your crew's {name!r} does not wait for what your DAG says.",
                 f"{name!r} waits for {shapes.reduce(graph)[name] or 'nothing'}",
                 f"in the crew it waits for {shapes.reduce(actual)[name] or 'nothing'}",
                 "A task waits for its context; without context, see the rule in the tour.")
    elif not shapes.same_shape(graph, actual):
        fail("Your crew's graph is not the one in `dag`.", f"the shape of your DAG: {shapes.reduce(graph)}",
             f"the crew's: {shapes.reduce(actual)}", "Compare the two drawings above; match the context lists.")
    problem = _crew_graph_problem(crew)
    if problem:
        fail("The crew is not the four-phase flow.", "research x2 -> analysis -> outputs x2 -> review", problem,
             "Wire each phase's context to the phase before it.")
    passed("the crew's graph matches your DAG")


def _batches(crew: Crew) -> list[tuple[list[int], int | None]]:
    """Runs of consecutive async tasks (CrewAI starts each run together), each with the sync task after it."""
    __tracebackhide__ = True
    found: list[tuple[list[int], int | None]] = []
    current: list[int] = []
    for i, task in enumerate(crew.tasks):
        if task.async_execution:
            current.append(i)
        elif current:
            found.append((current, i))
            current = []
    if current:
        found.append((current, None))
    return found


def _mixed_phases(build_crew: Any) -> list[tuple[list[int], int | None]]:
    __tracebackhide__ = True
    crew = build(build_crew)
    if _process(crew) != Process.sequential.value:
        fail("The crew does not use the sequential process.", "process=Process.sequential",
             f"process={_process(crew)}", "In CrewAI 1.15.30 async tasks only work under Process.sequential.")
    batches = _batches(crew)
    sizes = [len(b) for b, _ in batches]
    if sizes != [2, 2]:
        fail("The crew should have two parallel phases of two async tasks each.",
             "research x2 (async) -> analysis -> outputs x2 (async) -> review",
             f"groups of consecutive async tasks: {sizes or 'none'}",
             "List each parallel pair next to each other, both with async_execution=True.")
    return batches


def mixed_parallel(build_crew: Any, thorough: bool = False) -> None:
    """Phase 1 and phase 3 each ran their two tasks at the same time."""
    __tracebackhide__ = True
    batches = _mixed_phases(build_crew)
    for recorded in _runs(build_crew, thorough, timed=True):
        for number, (pair, _join) in zip((1, 3), batches):
            first, second = (recorded.tasks[i] for i in pair)
            if not recorded.overlap(first, second):
                fail(f"Phase {number} did not run in parallel.", f"{first.name!r} and {second.name!r} overlapping",
                     f"{first.name!r} {first.start:.2f}-{first.end:.2f} s, {second.name!r} {second.start:.2f}-{second.end:.2f} s",
                     "Give each task of the phase its own agent.")
    passed("phase 1 and phase 3 each ran side by side")


def mixed_joins(build_crew: Any, thorough: bool = False) -> None:
    """Analysis and review each waited for both tasks before them and received both outputs."""
    __tracebackhide__ = True
    batches = _mixed_phases(build_crew)
    if any(join is None for _pair, join in batches):
        fail("A parallel phase has no task after it.", "a sync task after each pair (analysis, final review)",
             "the crew ends with async tasks", "End with the final review, async_execution left off.")
    for recorded in _runs(build_crew, thorough, timed=True):
        for pair, join_index in batches:
            join = recorded.tasks[join_index]
            before = [recorded.tasks[i] for i in pair]
            names = _names([b.name for b in before])
            if not recorded.started_after_all(join, before):
                fail(f"{join.name!r} started too early.", f"it starts after {names} end",
                     f"it started at {join.start:.2f} s", "Keep async_execution off on the join tasks.")
            unseen = [b.name for b in before if b.name not in join.received_from]
            if unseen:
                fail(f"{join.name!r} did not receive every output it should wait for.", f"the outputs of {names}",
                     f"missing: {_names(unseen)}", "List both tasks of the phase before it in its context.")
    passed("analysis and final review each waited for, and received, both tasks before them")
