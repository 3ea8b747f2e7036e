"""Exercise 3 (source/cells_03_async.py): three async research tasks joined by a sync synthesis.

Each part requires only what it names: a crew with no async task at all still
earns the agents part and the join part when those are right.
"""

from __future__ import annotations

from typing import Any

from crewai import Crew, Process

from course import graph

from autograder.checks.common import (
    build, cell_trouble, learner_runs, names, process, role, run, shaped_runs, visible_latency,
)
from autograder.checks import rules
from autograder.checks.messages import fail, passed, said_once


def research_and_join(crew: Crew) -> tuple[list[Any], Any]:
    """The research tasks and the synthesis: the last task of four, or the sync task whose context holds the most."""
    __tracebackhide__ = True
    if process(crew) != Process.sequential.value:
        fail("Async tasks need the sequential process here.", "process=Process.sequential",
             f"process={process(crew)}",
             "In CrewAI 1.15.30 async tasks fail under the hierarchical process (one manager cannot delegate twice at once).")
    tasks = list(crew.tasks)
    if len(tasks) != 4:
        fail("The crew should have four tasks.", "three research tasks, then the synthesis",
             f"{len(tasks)} task(s): {names(tasks)}", "Three research tasks, then one synthesis task that joins them.")

    def held(task: Any) -> int:
        context = task.context if isinstance(task.context, list) else []
        return sum(1 for other in tasks if other is not task and any(c is other for c in context))

    sync = [t for t in tasks if not t.async_execution] or tasks
    join = max(reversed(sync), key=held)  # ties: the later task
    return [t for t in tasks if t is not join], join


def research_positions(crew: Crew) -> list[int]:
    """3.3's shape: where the research tasks stand in the task list."""
    __tracebackhide__ = True
    research, _join = research_and_join(crew)
    return [i for i, t in enumerate(crew.tasks) if any(t is r for r in research)]


def joined_research(crew: Crew) -> tuple[int, list[int], str]:
    """3.4's shape: a sync synthesis whose context lists every research task; where it and they stand, its name."""
    __tracebackhide__ = True
    research, join = research_and_join(crew)
    context = join.context if isinstance(join.context, list) else []
    missing = [a for a in research if not any(c is a for c in context)]
    join_name = graph.task_name(join)
    if missing:
        fail("The synthesis does not join all three research tasks.",
             f"context=[all three research tasks] on {join_name!r}",
             f"missing from its context: {names(missing)}", "List every research task in the synthesis' context.")
    if join.async_execution:
        fail(f"{join_name!r} is async, so nothing holds it back.", "a sync synthesis that waits for the research",
             "async_execution=True on the synthesis", "Leave async_execution off on the synthesis.")
    join_index = next(i for i, t in enumerate(crew.tasks) if t is join)
    positions = [i for i, t in enumerate(crew.tasks) if any(t is r for r in research)]
    return join_index, positions, join_name


@said_once
def async_shape(build_crew: Any) -> None:
    """3.1: three async tasks and a sync synthesis at the end; parallel=False makes them all sync."""
    __tracebackhide__ = True
    crew = build(build_crew, parallel=True)
    research, join = research_and_join(crew)
    asynchronous = [t for t in crew.tasks if t.async_execution]
    if len(asynchronous) != 3 or join.async_execution or crew.tasks[-1] is not join:
        fail("The crew should be three async research tasks, then the sync synthesis.",
             "async_execution=True on the three research tasks, the synthesis last and sync",
             f"async tasks: {names(asynchronous) or 'none'}; last task {graph.task_name(crew.tasks[-1])!r}"
             f"{' (async)' if crew.tasks[-1].async_execution else ''}",
             "Mark each independent research task async_execution=True and list the synthesis last.")
    baseline = build(build_crew, parallel=False)
    if len(baseline.tasks) != 4 or any(t.async_execution for t in baseline.tasks):
        fail("build_crew(parallel=False) should build the same crew with no async task.",
             "the same 4 tasks, async_execution=False everywhere",
             f"async tasks: {names([t for t in baseline.tasks if t.async_execution]) or 'none'}, "
             f"{len(baseline.tasks)} tasks", "Use async_execution=parallel on the research tasks.")
    passed("three async research tasks and a sync synthesis; parallel=False turns async off")


@said_once
def async_agents(build_crew: Any) -> None:
    """3.2: each research task has its own agent (one agent cannot run two tasks at once)."""
    __tracebackhide__ = True
    crew = build(build_crew, parallel=True)
    research, _join = research_and_join(crew)
    roles = [role(t.agent) for t in research]
    if None in roles:
        fail("A research task has no agent.", "agent=... on each research task", f"agents: {roles}",
             "Give every research task its own researcher.")
    if len({id(t.agent) for t in research}) != len(research):
        fail("Research tasks share an agent.", "three different agents for the three research tasks",
             f"their agents are {roles}",
             "One agent cannot run two tasks at the same moment (CrewAI raises 'Executor is already running'): "
             "create one researcher per topic.")
    passed(f"one agent per research task: {', '.join(roles)}")


@said_once
def async_overlap(build_crew: Any, thorough: bool = False) -> None:
    """3.3: the three research tasks really ran at the same time."""
    __tracebackhide__ = True
    positions, made = shaped_runs(build_crew, research_positions, thorough, timed=True, parallel=True)
    for recorded in made:
        ran = [recorded.tasks[i] for i in positions]
        found = rules.apart(recorded, ran)
        if found:
            first, second = found
            fail(f"{first.name!r} and {second.name!r} did not overlap.", "all three research tasks running together",
                 f"{first.name!r} {first.start:.2f}-{first.end:.2f} s, {second.name!r} "
                 f"{second.start:.2f}-{second.end:.2f} s",
                 "Mark the three research tasks async_execution=True and list them next to each other, "
                 "before the synthesis.")
    passed("the three research tasks overlapped")


@said_once
def async_join(build_crew: Any, thorough: bool = False) -> None:
    """3.4: the synthesis lists all three in context, waits for all three, and receives all three outputs."""
    __tracebackhide__ = True
    (join_index, positions, join_name), made = shaped_runs(build_crew, joined_research, thorough, timed=True,
                                                           parallel=True)
    for recorded in made:
        record = recorded.tasks[join_index]
        ran = [recorded.tasks[i] for i in positions]
        if not recorded.started_after_all(record, ran):
            fail(f"{join_name!r} started before all research had finished.", "the synthesis to start last",
                 f"it started at {record.start:.2f} s; research ended at "
                 + ", ".join(f"{t.end:.2f} s" for t in ran), "List the synthesis after the research tasks.")
        unseen = rules.unreceived(record, ran)
        if unseen:
            fail(f"{join_name!r} did not receive every research output.", "all three outputs in its prompt",
                 f"missing: {names(unseen)}", "List all three research tasks in its context.")
    passed(f"{join_name!r} waited for all three research tasks and received their outputs")


@said_once
def async_timing(build_crew: Any, parallel_seconds: Any, sequential_seconds: Any, model_latency: float = 0.0) -> None:
    """3.5: the learner measured both versions; the parallel one is faster because its tasks overlapped.

    model_latency: the seconds each model call took while the learner measured. No run can beat its
    chain of model turns (2 in the parallel version, 4 in the sequential one), so a number below that
    was typed, not measured.
    """
    __tracebackhide__ = True
    for name, value, turns in (("parallel_seconds", parallel_seconds, 2), ("sequential_seconds", sequential_seconds, 4)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            fail(f"`{name}` is not a measured time.", "a number of seconds from time.perf_counter()",
                 f"{value!r}" + cell_trouble(name), "start = time.perf_counter(); await ...; seconds = time.perf_counter() - start")
        floor = 0.9 * turns * model_latency
        if value < floor:
            fail(f"`{name}` is shorter than any real run.",
                 f"at least {floor:.2f} s ({turns} model turns of {model_latency} s one after another)",
                 f"{value:.3f} s", "Measure a real run: read time.perf_counter() before and after the await, with agents "
                 "that use the course model (no llm= of their own).")
    # "Faster" is the schedule's: the research tasks overlapped (below). The two readings are checked
    # as measurements only, never against each other: on a busy machine CrewAI's own overhead per
    # task can eat the speed-up in them, and the same notebook must get the same grade at any load.
    parallel = run(build_crew, latency=visible_latency(timed=True), parallel=True)  # also read by 3.3 and 3.4
    sequential = run(build_crew, latency=visible_latency(timed=True), parallel=False)
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
    passed(f"both versions measured (parallel {parallel_seconds:.2f} s, sequential {sequential_seconds:.2f} s); "
           "the research tasks overlapped")


def _recorded_in_this_kernel(seconds: float, overlapped: bool) -> bool:
    """A learner's perf_counter reading matches a kickoff the learner made in this kernel.

    The reading wraps the whole kickoff, so it exceeds the recorded wall time by
    a few milliseconds on an idle machine (measured: 2-8 ms) and by much more on a
    busy one (CrewAI's set-up before the first call); the grader's own re-runs do
    not count. A typed-in number matches no run.
    """
    __tracebackhide__ = True
    for recorded in learner_runs():
        if bool(recorded.overlapping_pairs()) != overlapped:
            continue
        if recorded.wall_time - 0.02 <= seconds <= 1.5 * recorded.wall_time + 0.5:
            return True
    return False
