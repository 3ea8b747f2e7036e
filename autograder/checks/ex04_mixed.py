"""Exercise 4 (source/cells_04_mixed_phases.py): the four-phase flow, planned as a DAG, then built.

4.1 grades the plan (what each task will really wait for), 4.2 the crew's waits
against the flow the exercise asks for (not against the plan, so that one wrong
idea loses one part), 4.3 the parallel phases and 4.4 what the joins receive.
The graph rules (the barrier included) live in ``course.graph``.
"""

from __future__ import annotations

from typing import Any

from crewai import Crew, Process

from course import graph

from autograder.checks.common import names, process, require_process, shaped_runs
from autograder.checks import rules
from autograder.checks.messages import fail, passed, said_once

FOUR_PHASES: graph.Graph = {
    "research A": [], "research B": [],
    "analysis": ["research A", "research B"],
    "report": ["analysis"], "presentation": ["analysis"],
    "final review": ["report", "presentation"],
}
FLOW = "2 research tasks -> analysis waits for both -> 2 outputs wait for analysis -> final review waits for both"

BARRIER = ("In CrewAI 1.15.30 a sync task also waits for every async task still running when the walk "
           "reaches it, whether or not its context lists it (the barrier).")


def _phases(g: graph.Graph) -> str:
    return " -> ".join("{" + ", ".join(p) + "}" for p in graph.phases(g))


def four_phase_problem(g: graph.Graph) -> str | None:
    """None when the waits are the four-phase flow, else what differs, in words."""
    __tracebackhide__ = True
    if len(g) != 6:
        return f"it has {len(g)} tasks; the four-phase flow has 6 (2 research, analysis, 2 outputs, review)"
    if graph.same_shape(g, FOUR_PHASES):
        return None
    if graph.same_shape(graph.reverse(g), FOUR_PHASES):
        return ("your arrows point the wrong way: each task should list the tasks it waits for (the ones before "
                "it), not the ones that come after it")
    reduced = graph.reduce(g)
    groups = graph.phases(g)
    sizes = [len(p) for p in groups]
    if sizes != [2, 1, 2, 1]:
        return f"its phases have sizes {sizes} ({_phases(g)}); the flow has 2 -> 1 -> 2 -> 1"
    for later, earlier in ((1, 0), (2, 1), (3, 2)):
        for node in groups[later]:
            missing = [n for n in groups[earlier] if n not in reduced[node]]
            if missing:
                return f"{node!r} does not wait for {', '.join(map(repr, missing))}"
    return "its edges differ from the four-phase flow"


@said_once
def dag_data(dag: Any) -> None:
    """4.1: the learner's plan is the four-phase flow, with every wait the crew will really have."""
    __tracebackhide__ = True
    try:
        g = graph.parse(dag)
    except ValueError as exc:
        fail("`dag` is not a task graph yet.", "a dict {task: [tasks it waits for], ...} with all six tasks", str(exc),
             'Write one key per task, e.g. "analysis": ["research A", "research B"]; a task that waits for nothing gets [].')
    problem = four_phase_problem(g)
    if problem:
        hint = "Draw it on paper first: which tasks can start together, which must wait."
        if "does not wait for" in problem:
            hint = ("A task waits for more than its context: " + BARRIER + " Which tasks are still running when "
                    "the crew reaches it?")
        fail("`dag` is not the four-phase flow.", FLOW, problem, hint)
    passed("your DAG is the four-phase flow: " + _phases(g))


@said_once
def mixed_crew_graph(build_crew: Any) -> None:
    """4.2: what the crew's tasks wait for (context, order, async flags, the barrier) is the four-phase flow."""
    __tracebackhide__ = True
    _, (recorded,) = shaped_runs(build_crew, _sequential, timed=True)  # the run 4.3 and 4.4 read first
    waits = recorded.dependencies()
    problem = four_phase_problem(waits)
    if problem:
        fail("The crew's tasks do not wait as the four-phase flow does.", FLOW, f"in your crew {problem}",
             "A task waits for its context and for the sync task before it; a sync task also waits for the async "
             "tasks still running. Make each parallel pair async, and wire each phase's context to the phase before it.")
    passed("the crew waits as the four-phase flow: " + _phases(waits))


def _sequential(crew: Crew) -> Crew:
    __tracebackhide__ = True
    require_process(crew, Process.sequential.value,
                    "In CrewAI 1.15.30 async tasks only work under Process.sequential.")
    return crew


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


def _mixed_phases(crew: Crew) -> list[tuple[list[int], int | None]]:
    __tracebackhide__ = True
    batches = _batches(_sequential(crew))
    sizes = [len(b) for b, _ in batches]
    if sizes != [2, 2]:
        fail("The crew should have two parallel phases of two async tasks each.",
             "research x2 (async) -> analysis -> outputs x2 (async) -> review",
             f"groups of consecutive async tasks: {sizes or 'none'}",
             "List each parallel pair next to each other, both with async_execution=True.")
    return batches


@said_once
def mixed_parallel(build_crew: Any, thorough: bool = False) -> None:
    """4.3: phase 1 and phase 3 each ran their two tasks at the same time."""
    __tracebackhide__ = True
    batches, made = shaped_runs(build_crew, _mixed_phases, thorough, timed=True)
    for recorded in made:
        for number, (pair, _join) in zip((1, 3), batches):
            first, second = (recorded.tasks[i] for i in pair)
            if rules.apart(recorded, [first, second]):
                fail(f"Phase {number} did not run in parallel.", f"{first.name!r} and {second.name!r} overlapping",
                     f"{first.name!r} {first.start:.2f}-{first.end:.2f} s, {second.name!r} {second.start:.2f}-{second.end:.2f} s",
                     "Give each task of the phase its own agent.")
    passed("phase 1 and phase 3 each ran side by side")


def _six_tasks(crew: Crew) -> None:
    __tracebackhide__ = True
    if len(crew.tasks) != 6:
        fail("The crew should have the six tasks of the flow.", "research x2, analysis, report, presentation, review",
             f"{len(crew.tasks)} task(s): {names(crew.tasks)}", "List the six tasks in the order of the flow.")


# Every valid listing of the flow has this layout: the research pair, the analysis, the output pair, the review.
JOINS = {2: (0, 1), 5: (3, 4)}


@said_once
def mixed_joins(build_crew: Any, thorough: bool = False) -> None:
    """4.4: analysis and review each received both outputs of the phase before them (waiting alone is not enough)."""
    __tracebackhide__ = True
    for recorded in shaped_runs(build_crew, _six_tasks, thorough, timed=True)[1]:
        for join_index, before_indices in JOINS.items():
            join = recorded.tasks[join_index]
            before = [recorded.tasks[i] for i in before_indices]
            wanted = names([b.name for b in before])
            if not recorded.started_after_all(join, before):
                fail(f"{join.name!r} started too early.", f"it starts after {wanted} end",
                     f"it started at {join.start:.2f} s", "Keep async_execution off on the join tasks.")
            unseen = rules.unreceived(join, before)
            if unseen:
                fail(f"{join.name!r} did not receive every output it needs.", f"the outputs of {wanted}",
                     f"missing: {names(unseen)}",
                     "Waiting is not receiving: the barrier holds a sync task back until the async tasks end, but "
                     "only context passes their outputs on. List both tasks of the phase before it in its context.")
    passed("analysis and final review each waited for, and received, both tasks before them")
