"""The rules each part grades, as functions of recorded runs only.

One implementation of each rule, evaluated on a ``RecordedRun`` wherever it was
built: inside the kernel from CrewAI's events (the checks, the learner's
Validate) or in the grader from the witness's journal
(``RecordedRun.from_model_calls``, ``autograder/grading/witness_rules.py``). They say
what is wrong (or None); the checks turn that into a message for the learner.
"""

from __future__ import annotations

from typing import Any, Sequence

from course.recording import RecordedRun, TaskRecord

RUNS_WANTED = 3  # 1.4: the runs `orders` holds, each of a fresh crew


def by_start(run: RecordedRun) -> list[TaskRecord]:
    """The run's tasks in the order they started."""
    __tracebackhide__ = True
    return sorted((t for t in run.tasks if t.start is not None), key=lambda t: (t.start, t.index))


def out_of_turn(run: RecordedRun, tasks: Sequence[TaskRecord] | None = None) -> tuple[TaskRecord, TaskRecord] | None:
    """The first (before, after) in ``tasks`` (default: start order) where ``after`` started before ``before`` ended."""
    __tracebackhide__ = True
    tasks = list(tasks) if tasks is not None else by_start(run)
    for before, after in zip(tasks, tasks[1:]):
        if not run.started_after_all(after, [before]):
            return before, after
    return None


def unreceived(join: TaskRecord, before: Sequence[TaskRecord]) -> list[str]:
    """Names of the tasks in ``before`` whose outputs did not reach ``join``."""
    __tracebackhide__ = True
    return [b.name for b in before if b.name not in join.received_from]


def chain_broken(tasks: Sequence[TaskRecord]) -> tuple[TaskRecord, TaskRecord] | None:
    """The first step in ``tasks`` that did not receive the previous step's output."""
    __tracebackhide__ = True
    tasks = list(tasks)
    for before, after in zip(tasks, tasks[1:]):
        if unreceived(after, [before]):
            return before, after
    return None


def apart(run: RecordedRun, tasks: Sequence[Any]) -> tuple[Any, Any] | None:
    """The first pair of ``tasks`` that did not run at the same moment (None: all overlapped)."""
    __tracebackhide__ = True
    tasks = list(tasks)
    for i, first in enumerate(tasks):
        for second in tasks[i + 1:]:
            if not run.overlap(first, second):
                return first, second
    return None


def kept_by_manager(run: RecordedRun, roles: set[str] | None = None) -> TaskRecord | None:
    """The first task the manager did itself (or gave to someone not in ``roles``, when given)."""
    __tracebackhide__ = True
    return next((t for t in run.tasks if t.worker == run.manager or (roles is not None and t.worker not in roles)),
                None)


def one_worker(run: RecordedRun) -> str | None:
    """The worker who did every task, when one did them all."""
    __tracebackhide__ = True
    workers = {t.worker for t in run.tasks}
    return str(next(iter(workers))) if len(workers) == 1 else None


def not_delegated(run: RecordedRun, roles: set[str] | None = None) -> bool:
    """True unless each task went to a worker and the tasks were shared among more than one."""
    __tracebackhide__ = True
    return kept_by_manager(run, roles) is not None or one_worker(run) is not None
