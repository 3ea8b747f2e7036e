"""Exercise 2 (source/cells_02_hierarchical.py): the same pipeline under a manager, compared with sequential."""

from __future__ import annotations

from typing import Any

from crewai import Crew, Process

from autograder.checks.common import (
    FAST_THOROUGH, cell_trouble, in_list_order_one_at_a_time, learner_runs, names, process, require_process, run, shaped_runs,
    three_sync_tasks,
)
from autograder.checks import rules
from autograder.checks.messages import fail, passed, said_once


def hierarchical(crew: Crew) -> None:
    __tracebackhide__ = True
    require_process(crew, Process.hierarchical.value)
    if crew.manager_agent is None and crew.manager_llm is None:
        fail("The crew has no manager.", "manager_agent=<an Agent> or manager_llm=\"gpt-4o\"",
             "neither is set", "Hierarchical crews need someone to delegate: add a manager.")
    three_sync_tasks(crew, ("The crew should have the three tasks of the pipeline.", "Keep exactly three tasks."),
                     ("A task is asynchronous under the hierarchical process.", "plain (sync) tasks",
                      "In CrewAI 1.15.30 the manager cannot run two delegations at once: async tasks fail here."))


def workers_to_choose_from(crew: Crew) -> set[str]:
    """2.2's shape: the manager's crew with no task bound to an agent; returns the workers' roles."""
    __tracebackhide__ = True
    hierarchical(crew)
    fixed = [t for t in crew.tasks if t.agent is not None]
    if fixed:
        fail("The manager had nothing to decide.", "tasks without agent=, so that the manager picks each worker",
             f"agent= is set on {names(fixed)}",
             "Remove agent= from the tasks: with it, CrewAI lets the manager delegate only to that agent.")
    return {str(a.role) for a in crew.agents}


@said_once
def hierarchical_setup(build_crew: Any) -> None:
    """2.1: a hierarchical crew with a manager (agent or model) that runs to the end."""
    __tracebackhide__ = True
    _, (recorded,) = shaped_runs(build_crew, hierarchical)
    who = f"manager {recorded.manager!r}" if recorded.manager else "a manager"
    passed(f"a hierarchical crew ran with {who}")


@said_once
def hierarchical_delegation(build_crew: Any, thorough: bool = False) -> None:
    """2.2: the manager chose who does each task: no task names its agent, every task went to a worker, not all to one."""
    __tracebackhide__ = True
    roles, made = shaped_runs(build_crew, workers_to_choose_from, thorough)
    for recorded in made:
        task = rules.kept_by_manager(recorded, roles)
        if task is not None:
            fail(f"The manager did {task.name!r} itself.", "each task delegated to one of the workers",
                 f"done by {task.worker!r}", "Give the crew worker agents whose roles fit the tasks.")
        alone = rules.one_worker(recorded)
        if alone is not None:
            fail("One worker did every task.", "the manager sharing the tasks among the workers",
                 f"{alone!r} did all three",
                 "Give each worker a role that names its kind of work (research, writing, editing).")
    passed("the manager delegated: " + ", ".join(f"{t.name} -> {t.worker}" for t in recorded.tasks))


@said_once
def hierarchical_order(build_crew: Any, thorough: bool = False) -> None:
    """2.3: tasks still ran in list order, one at a time, each seeing the previous output."""
    __tracebackhide__ = True
    for recorded in shaped_runs(build_crew, hierarchical, thorough)[1]:
        in_list_order_one_at_a_time(recorded, "List the tasks in pipeline order: research, write, edit.")
        broken = rules.chain_broken(recorded.tasks)
        if broken:
            before, after = broken
            fail(f"{after.name!r} never saw the output of {before.name!r}.",
                 "each step working from the previous step's output",
                 f"it received output from: {names(after.received_from)}",
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


def _measured_in_this_kernel(extra_calls: Any) -> bool:
    """``extra_calls`` is the difference of a hierarchical and a sequential run the learner made here."""
    __tracebackhide__ = True
    made = learner_runs()
    calls = {kind: {len(r.llm_calls) for r in made if r.process == kind} for kind in ("hierarchical", "sequential")}
    return any(h - s == extra_calls for h in calls["hierarchical"] for s in calls["sequential"])


@said_once
def hierarchical_answers(build_crew: Any, order_decided_by: Any, workers_decided_by: Any, extra_calls: Any,
                         baseline: Any) -> None:
    """2.4: who decided the order, who decided the workers, and what the manager cost in model calls."""
    __tracebackhide__ = True
    # The messages never name the right choice: the runs printed above answer it.
    for name, value, right, hint in (
            ("order_decided_by", order_decided_by, "task list",
             "Compare the order of the tasks in both runs with the order of tasks=[...]. Did anything change it?"),
            ("workers_decided_by", workers_decided_by, "manager",
             "Your tasks have no agent=: look at who really did each one (worker) and at the delegations printed "
             "under the hierarchical run.")):
        if _choice(value) is None:
            fail(f"`{name}` is not one of the two choices.", "TASK_LIST or MANAGER", f"{value!r}",
                 "Set it to one of the two names defined in the cell above.")
        if _choice(value) != right:
            fail(f"`{name}` does not fit what your runs show.", "the choice the two runs support", f"{value!r}", hint)
    # Model calls do not depend on timing: the fastest schedule, the one 2.2 and 2.3 already ran.
    _, (managed,) = shaped_runs(build_crew, hierarchical, latency=FAST_THOROUGH[0])
    hierarchical_calls = len(managed.llm_calls)
    sequential_calls = len(run(baseline, latency=FAST_THOROUGH[0], name="the sequential baseline").llm_calls)
    expected = hierarchical_calls - sequential_calls
    if isinstance(extra_calls, bool) or not isinstance(extra_calls, (int, float)) or extra_calls != expected:
        fail("`extra_calls` is not what your runs show.",
             f"{expected} (your hierarchical run made {hierarchical_calls} model calls, the sequential one "
             f"{sequential_calls})", f"{extra_calls!r}" + cell_trouble("extra_calls"),
             "Use len(run.llm_calls) for each run and subtract.")
    if not _measured_in_this_kernel(extra_calls):
        fail("`extra_calls` was not measured in this notebook.",
             "the difference of len(llm_calls) between the two runs made above",
             f"{extra_calls!r}, but no hierarchical and sequential run made here differ by that much",
             "Run the two cells above, then compute it: len(hier_run.llm_calls) - len(seq_run.llm_calls).")
    passed(f"the task list set the order, the manager chose the workers, at the price of {expected} extra model calls")
