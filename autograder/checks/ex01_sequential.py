"""Exercise 1 (source/cells_01_sequential.py): a sequential pipeline of three tasks."""

from __future__ import annotations

from typing import Any

from crewai import Crew, Process

from course import cell_log, graph

from autograder.checks.common import (
    cell_trouble, in_list_order_one_at_a_time, learner_runs, names, order, process, require_process, role, schedules,
    shaped_runs, three_sync_tasks,
)
from autograder.checks import rules
from autograder.checks.messages import fail, passed, said_once


def three_sequential_tasks(crew: Crew) -> None:
    __tracebackhide__ = True
    require_process(crew, Process.sequential.value)
    three_sync_tasks(crew, ("The crew should have three tasks.", "Put exactly three tasks in tasks=[...]."),
                     ("A pipeline step runs asynchronously.", "three plain (sync) tasks, each waiting for the one before",
                      "Leave async_execution out in this exercise."))


def three_agents(crew: Crew) -> None:
    """1.1's shape: the pipeline's three tasks, each with an agent of its own."""
    __tracebackhide__ = True
    three_sequential_tasks(crew)
    missing = [t for t in crew.tasks if t.agent is None]
    if missing:
        fail("A task has no agent.", "agent=... on every task (sequential crews have no manager)",
             f"no agent on {names(missing)}", "Give each task the agent that should do it.")
    roles = [role(t.agent) for t in crew.tasks]
    if len({id(t.agent) for t in crew.tasks}) != 3:
        fail("The same agent does more than one step.", "a researcher, a writer and an editor: three agents",
             f"the tasks' agents are {roles}", "Create three agents and give one to each task.")


def chained_by_context(crew: Crew) -> None:
    """1.3's shape: the pipeline's three tasks, each step naming the one before it in ``context``."""
    __tracebackhide__ = True
    three_sequential_tasks(crew)
    tasks = list(crew.tasks)
    for before, after in zip(tasks, tasks[1:]):
        declared = after.context if isinstance(after.context, list) else []
        if not any(c is before for c in declared):
            fail(f"{graph.task_name(after)!r} does not list {graph.task_name(before)!r} in its context.",
                 f"context=[...] on {graph.task_name(after)!r} that includes the {graph.task_name(before)!r} task",
                 f"its context is {names(declared) if declared else 'not set'}",
                 "Chain the steps explicitly: context=[previous_task]. Without it CrewAI passes every earlier "
                 "output, which works by accident and hides the pipeline's shape.")


@said_once
def sequential_crew(build_crew: Any) -> None:
    """1.1: three sync tasks, each with its own agent, run sequentially through the course model."""
    __tracebackhide__ = True
    _, (recorded,) = shaped_runs(build_crew, three_agents)
    passed(f"a sequential crew of three tasks ran: {' -> '.join(recorded.order())}")


@said_once
def sequential_order(build_crew: Any, thorough: bool = False) -> None:
    """1.2: the tasks ran in list order, one at a time, every time."""
    __tracebackhide__ = True
    for recorded in shaped_runs(build_crew, three_sequential_tasks, thorough)[1]:
        in_list_order_one_at_a_time(recorded, "A sequential crew runs tasks in the order of tasks=[...].")
    passed("the order is the task list's, one task at a time")


@said_once
def sequential_context(build_crew: Any, thorough: bool = False) -> None:
    """1.3: each step names the previous one in ``context`` and really receives its output."""
    __tracebackhide__ = True
    for recorded in shaped_runs(build_crew, chained_by_context, thorough)[1]:
        broken = rules.chain_broken(recorded.tasks)
        if broken:
            before, after = broken
            fail(f"{after.name!r} never saw the output of {before.name!r}.",
                 f"{before.name!r}'s output in {after.name!r}'s prompt",
                 f"it received output from: {names(after.received_from)}",
                 "context=[previous_task] passes the previous output on.")
    passed("each step received the previous step's output through context")


from autograder.checks.rules import RUNS_WANTED  # noqa: E402  (one home: the witness counts the same)


@said_once
def sequential_determinism(build_crew: Any, orders: Any) -> None:
    """1.4: three runs of fresh crews, made in this notebook, and the grader's, all show one order."""
    __tracebackhide__ = True
    if not isinstance(orders, (list, tuple)) or len(orders) < RUNS_WANTED:
        fail(f"`orders` should hold the order of {RUNS_WANTED} runs.", "a list like [run1.order(), run2.order(), ...]",
             f"{orders!r}"[:120] + cell_trouble("orders"),
             "Run a fresh crew three times and append course.last_run().order() after each run.")
    if any(not isinstance(o, (list, tuple)) for o in orders):
        fail("Each item of `orders` should be a list of task names.", "course.last_run().order() for each run",
             f"{orders!r}"[:120], "Append course.last_run().order() after each run.")
    first, second = schedules(build_crew, thorough=True)  # two schedules, read by 1.2 and 1.3 too
    actual = first.order()
    if second.order() != actual:
        fail("Two runs of your crew ran in different orders.", "the same order every time",
             f"{order(actual)} then {order(second.order())}", "Keep all three tasks synchronous.")
    if [t.output for t in first.tasks] != [t.output for t in second.tasks]:
        fail("Two runs of your crew gave different outputs.", "the same inputs giving the same outputs",
             "the outputs differed", "Avoid anything random (time, random numbers) in task descriptions.")
    if any(list(o) != actual for o in orders):
        fail("`orders` does not match what your crew does.", f"every run in the order {order(actual)}",
             f"{orders!r}"[:160], "Fill `orders` from real runs of your current build_crew().")
    filled, counted = _runs_that_filled_orders([t.name for t in first.tasks], len(orders))
    if len(filled) < len(orders):
        fail("`orders` was not filled from runs made in this notebook.",
             f"{len(orders)} runs of your crew, made in the cell that fills `orders`",
             f"{counted} ran your crew {len(filled)} time{'s' if len(filled) != 1 else ''}",
             "Run the crew inside the loop, once per order you append: "
             "fresh = build_crew(), then await fresh.kickoff_async().")
    crews = len({r.crew_id for r in filled})
    if crews < len(orders):
        fail("The runs that filled `orders` reused a crew object.",
             f"{len(orders)} fresh crews: build_crew() called once per run",
             f"all {len(orders)} runs used one crew object" if crews == 1
             else f"the {len(orders)} runs used only {crews} crew objects",
             "A crew keeps state between runs. Build a fresh one per run, "
             "inside the loop: fresh = build_crew(), then await fresh.kickoff_async().")
    passed(f"{len(orders)} runs, one order: {' -> '.join(actual)}")


def _runs_that_filled_orders(shape: list[str], wanted: int) -> tuple[list, str]:
    """The learner's runs of this crew that filled `orders`, and who made them (for the message).

    Those made since the cell that sets `orders` began, first ones first: never what the kernel
    ran before it, so the same cells get one verdict in a fresh kernel and in a used one. A cell
    that ran before the course was imported has no known start: then the latest runs stand in.
    """
    __tracebackhide__ = True
    mine = [r for r in learner_runs() if [t.name for t in r.tasks] == shape]
    cell = cell_log.defining("orders")
    began = cell.began if cell is not None else None
    if began is None:
        return mine[-wanted:], "this notebook"
    return [r for r in mine if r.started_at >= began][:wanted], "the cell that fills `orders`"
