"""What the grader confirms for each graded part, from evidence made outside the kernel (issues 11, 20).

The kernel is the learner's: any check inside it can be switched off (one AST
transformer that swallows every exception does it). So a test cell keeps its
points only when the kernel's check passed **and** this module confirms the part
from three kinds of evidence the kernel cannot make:

- the witness's journal (``autograder/grading/witness.py``): every model call, on the
  grader's clock; the calls of one kickoff become a ``RecordedRun``
  (``RecordedRun.from_model_calls``) and each part's rule from
  ``autograder/checks/rules.py`` (the same functions the kernel's checks use) is
  evaluated on those runs;
- the hand-in as the grader reads it (``autograder/grading/learner_code.py``): what the
  learner's own cells write, for ideas the model cannot see (``context=`` on a
  sync task, ``async_execution``);
- the typed answers, read from the kernel just before their test (the learner's
  answer, nothing more) and judged here against the journal: 1.4's ``orders``,
  2.4's choices and ``extra_calls``, 3.5's seconds, 4.1's DAG.

Which runs count. The kit's own crews (``course.examples``, whose agents say
they are the course's example team) never confirm a part: they are the
notebooks' demonstrations. For a test cell, the grader's runs are those begun in
any test cell's window up to and including it (test cells share runs); the
learner's runs are those of the learner's own cells before it (answer cells and
cells the learner added, never the course's locked demo cells).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from course.recording import RecordedRun

from autograder.checks import rules
from autograder.grading.learner_code import LearnerCode

Runs = list[RecordedRun]

# What every agent of the kit's example crews says of itself (course/examples.py).
KIT_MARK = " on the course's example team"


@dataclass
class Seen:
    """One kickoff as the witness saw it."""

    run: RecordedRun
    kit: bool  # the kit's own crew (a demonstration)
    cell: dict  # the window of the cell that started it
    offered: list[list[str]]  # for each manager call, the coworkers its prompt offered
    task_ids: frozenset[str] = frozenset()  # the Task objects it ran: the same for a crew run again


@dataclass
class Evidence:
    """What one test cell is judged on; none of it is the kernel's word."""

    tests: Runs  # the grader's runs of the learner's crew (test-cell windows), the kit's left out
    mine: list[Seen]  # the learner's own runs, in the learner's cells before the test, the kit's left out
    shown: list[Seen]  # every run of the non-test cells before the test, the kit's demonstrations too
    answers: dict[str, Any] = field(default_factory=dict)  # typed answers as the test began
    code: LearnerCode = field(default_factory=LearnerCode)
    seen_tests: list[Seen] = field(default_factory=list)  # the grader's runs with their calls' details
    at: int = 0  # the test cell's index in the notebook

    @property
    def mine_runs(self) -> Runs:
        return [s.run for s in self.mine]


def _complete(run: RecordedRun, size: int | None = None) -> bool:
    return bool(run.tasks) and all(t.ref for t in run.tasks) and (size is None or len(run.tasks) == size)


def _sequential(run: RecordedRun, size: int) -> bool:
    return run.process == "sequential" and _complete(run, size)


def _order(run: RecordedRun) -> list[str]:
    return [t.name for t in rules.by_start(run)]


def _seq_crew(ev: Evidence) -> bool:
    return any(_sequential(r, 3) and len({t.worker for t in r.tasks}) == 3 for r in ev.tests)


def _seq_order(ev: Evidence) -> bool:
    return any(_sequential(r, 3) and rules.out_of_turn(r) is None for r in ev.tests)


def _seq_context(ev: Evidence) -> bool:
    # Without context a sync step still receives every earlier output: what the model sees is the
    # same, so "names the previous step in context" is read from the hand-in.
    return ev.code.writes("context") and any(
        _sequential(r, 3) and rules.chain_broken(rules.by_start(r)) is None for r in ev.tests)


def _seq_determinism(ev: Evidence) -> bool:
    graded = [r for r in ev.tests if _sequential(r, 3)]
    outputs = [tuple(t.ref for t in rules.by_start(r)) for r in graded]
    if not any(outputs.count(o) >= 2 for o in outputs):
        return False
    order = _order(graded[0])
    orders = _value(ev.answers.get("orders"))
    if not isinstance(orders, (list, tuple)) or len(orders) < rules.RUNS_WANTED or any(list(o) != order for o in orders):
        return False
    # Each order came from a run of a fresh crew, made since the cell that fills `orders` (as the
    # kernel's check counts them: autograder/checks/ex01_sequential.py), never from earlier cells.
    filling = [i for i in ev.code.cells_binding("orders") if i < ev.at]
    since = max(filling, default=0)
    made = [s for s in ev.mine if s.cell.get("index", 0) >= since
            and _sequential(s.run, 3) and _order(s.run) == order][:len(orders)]
    return len(made) >= len(orders) and len({s.task_ids for s in made}) >= len(orders)


def _hierarchical(run: RecordedRun) -> bool:
    return run.process == "hierarchical" and _complete(run)


def _hier_setup(ev: Evidence) -> bool:
    return any(_hierarchical(r) for r in ev.tests)


def _hier_delegation(ev: Evidence) -> bool:
    # With agent= on a task, CrewAI offers the manager that one agent only: it had nothing to decide.
    return any(_hierarchical(s.run) and not rules.not_delegated(s.run) and s.offered
               and all(len(o) > 1 for o in s.offered) for s in ev.seen_tests)


def _hier_order(ev: Evidence) -> bool:
    return any(_hierarchical(r) and rules.out_of_turn(r) is None and rules.chain_broken(rules.by_start(r)) is None
               for r in ev.tests)


def _hier_answers(ev: Evidence) -> bool:
    from autograder.checks.ex02_hierarchical import _choice

    if not any(_hierarchical(r) for r in ev.tests):
        return False
    if (_choice(_value(ev.answers.get("order_decided_by"))) != "task list"
            or _choice(_value(ev.answers.get("workers_decided_by"))) != "manager"):
        return False
    extra = _value(ev.answers.get("extra_calls"))
    if isinstance(extra, bool) or not isinstance(extra, (int, float)):
        return False
    # The learner's crew's run under a manager (the notebook's own cell runs it) against a sequential
    # run shown before it (the course's baseline counts here: it is what the learner compares with).
    hierarchical = {len(s.run.llm_calls) for s in ev.shown if not s.kit and _hierarchical(s.run)}
    sequential = {len(s.run.llm_calls) for s in ev.shown if s.run.process == "sequential" and _complete(s.run)}
    return any(h - q == extra for h in hierarchical for q in sequential)


def _async_shape(ev: Evidence) -> bool:
    # Async flags leave no trace the model can see in a crew that fails (one agent for all three
    # research tasks runs one of them): the grader's runs reached the model, and the hand-in sets them.
    return ev.code.writes("async_execution") and any(r.tasks for r in ev.tests)


def _async_agents(ev: Evidence) -> bool:
    # Three different agents answered the research tasks: three roles, or three tasks at the same
    # moment (CrewAI refuses one agent two tasks at once, so agents that share a role are still three).
    for run in ev.tests:
        if _sequential(run, 4):
            research = rules.by_start(run)[:-1]
            if len({t.worker for t in research}) == 3 or rules.apart(run, research) is None:
                return True
    return False


def _research_and_join(run: RecordedRun) -> tuple[list, object] | None:
    if not _sequential(run, 4):
        return None
    ordered = rules.by_start(run)
    return ordered[:-1], ordered[-1]


def _async_overlap(ev: Evidence) -> bool:
    for run in ev.tests:
        found = _research_and_join(run)
        if found and rules.apart(run, found[0]) is None:
            return True
    return False


def _async_join(ev: Evidence) -> bool:
    # A synthesis without context receives every earlier output too: "lists them" is read from the hand-in.
    if not ev.code.writes("context"):
        return False
    for run in ev.tests:
        found = _research_and_join(run)
        if found and run.started_after_all(found[1], found[0]) and not rules.unreceived(found[1], found[0]):
            return True
    return False


def _both_kinds(runs: Runs) -> bool:
    four = [r for r in runs if _sequential(r, 4)]
    return any(r.overlapping_pairs() for r in four) and any(not r.overlapping_pairs() for r in four)


# The learner's clock reading wraps a kickoff: never shorter than the model calls inside it (less a
# little for two reads of one clock), never longer than the cell that ran it.
CLOCK_SLACK = 0.02


def _measured(seconds: Any, seen: list[Seen], overlapped: bool) -> bool:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return False
    return any(_sequential(s.run, 4) and bool(s.run.overlapping_pairs()) == overlapped
               and s.run.wall_time - CLOCK_SLACK <= seconds <= s.cell["end"] - s.cell["start"] + CLOCK_SLACK
               for s in seen)


def _async_timing(ev: Evidence) -> bool:
    # Faster is judged by the schedule (the research tasks overlapped), not by the two numbers: on a
    # busy machine CrewAI's own overhead can hide the speed-up in them, and a grade must not depend on load.
    return (_both_kinds(ev.tests) and _both_kinds(ev.mine_runs)
            and _measured(_value(ev.answers.get("parallel_seconds")), ev.mine, True)
            and _measured(_value(ev.answers.get("sequential_seconds")), ev.mine, False))


def _mixed_dag(ev: Evidence) -> bool:
    from autograder.checks.ex04_mixed import dag_data
    from autograder.checks.messages import CheckFailed

    dag = _value(ev.answers.get("dag"))
    if dag is None:
        return False
    try:
        dag_data(dag)
    except CheckFailed:
        return False
    return True


def _phases(run: RecordedRun) -> list | None:
    if not _sequential(run, 6):
        return None
    t = rules.by_start(run)
    return [t[0:2], t[2:3], t[3:5], t[5:6]]


def _mixed_matches(ev: Evidence) -> bool:
    for run in ev.tests:
        phases = _phases(run)
        if phases and all(run.started_after_all(task, before)
                          for before, now in zip(phases, phases[1:]) for task in now):
            return True
    return False


def _mixed_parallel(ev: Evidence) -> bool:
    for run in ev.tests:
        phases = _phases(run)
        if phases and rules.apart(run, phases[0]) is None and rules.apart(run, phases[2]) is None:
            return True
    return False


def _mixed_joins(ev: Evidence) -> bool:
    for run in ev.tests:
        phases = _phases(run)
        if phases and all(run.started_after_all(join[0], before) and not rules.unreceived(join[0], before)
                          for before, join in ((phases[0], phases[1]), (phases[2], phases[3]))):
            return True
    return False


def _value(text: Any) -> Any:
    """A typed answer as the kernel's repr gave it, back as a value (None: not there or not a literal)."""
    if not isinstance(text, str):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


@dataclass(frozen=True)
class Part:
    """What the grader requires for one test cell."""

    confirm: Callable[[Evidence], bool]
    confirms: str  # for the docs and the reason
    # A test that only reads the crew's structure makes no run of its own: the grader's runs of
    # the same crew in the notebook's other test cells are its evidence.
    every_test: bool = False
    answers: tuple[str, ...] = ()  # the typed answers it judges, read just before it runs


PARTS: dict[str, Part] = {
    "test_seq_crew": Part(_seq_crew, "a sequential run of three tasks by three agents"),
    "test_seq_order": Part(_seq_order, "three tasks answered one after another"),
    "test_seq_context": Part(_seq_context, "each step received the previous step's output, and context= in your code"),
    "test_seq_determinism": Part(_seq_determinism,
                                 "two graded runs with the same outputs, and `orders` from runs of yours of that crew",
                                 answers=("orders",)),
    "test_hier_setup": Part(_hier_setup, "a run under a manager that finished every task"),
    "test_hier_delegation": Part(_hier_delegation,
                                 "a manager offered every worker, handing the tasks to more than one"),
    "test_hier_order": Part(_hier_order, "tasks one after another under the manager, each given the last output"),
    "test_hier_answers": Part(_hier_answers, "the two choices, and `extra_calls` as your own runs counted it",
                              answers=("order_decided_by", "workers_decided_by", "extra_calls")),
    "test_async_shape": Part(_async_shape, "the grader's runs of your crew, and async_execution in your code",
                             every_test=True),
    "test_async_agents": Part(_async_agents, "three tasks answered by three different agents, then one more",
                              every_test=True),
    "test_async_overlap": Part(_async_overlap, "three tasks answered at the same time, then one more"),
    "test_async_join": Part(_async_join,
                            "the last task started after the other three and received them, and context= in your code"),
    "test_async_timing": Part(_async_timing,
                              "runs with and without tasks side by side, the grader's and yours, timed by you",
                              answers=("parallel_seconds", "sequential_seconds")),
    "test_mixed_dag": Part(_mixed_dag, "a `dag` that is the four-phase flow", answers=("dag",)),
    "test_mixed_matches": Part(_mixed_matches, "tasks that waited as the four phases do"),
    "test_mixed_parallel": Part(_mixed_parallel, "both pairs of phase 1 and phase 3 side by side"),
    "test_mixed_joins": Part(_mixed_joins, "analysis and review started after, and received, both before them"),
}


def answer_names() -> dict[str, list[str]]:
    """Test cell -> the typed answers read just before it (the execute step's ``answer_names``)."""
    return {grade_id: list(part.answers) for grade_id, part in PARTS.items() if part.answers}


def runs_by_cell(journal: list[dict], cells: list[dict]) -> dict[int, list[Seen]]:
    """The journal's kickoffs, each in the cell that started it (before the first cell: nowhere)."""
    grouped: dict[str, list[dict]] = {}
    for call in journal:
        grouped.setdefault(call.get("run") or f"thread {call.get('thread', '')}", []).append(call)
    found: dict[int, list[Seen]] = {}
    for calls in grouped.values():
        first = min(float(c["start"]) for c in calls)
        # The cell whose window holds the first call, else the last cell begun before it: a thread a
        # cell started can make its first call just after that cell ended (a crew that failed in one
        # thread while another was about to call the model), and it is still that cell's run.
        cell = next((c for c in cells if c["start"] <= first <= c["end"]), None) \
            or next((c for c in reversed(cells) if c["start"] <= first), None)
        if cell is not None:
            found.setdefault(cell["index"], []).append(Seen(
                RecordedRun.from_model_calls(calls), any(c.get("kit") for c in calls), cell,
                [list(c.get("offered") or []) for c in calls if c.get("manager")],
                frozenset(str(c.get("task_id", "")) for c in calls)))
    return found


def evidence(by_cell: dict[int, list[Seen]], cells: list[dict], position: int, part: Part,
             code: LearnerCode) -> Evidence:
    """What the test cell at ``position`` of ``cells`` is judged on."""
    earlier = cells[:position + 1]
    tests = [s for c in (cells if part.every_test else earlier) if c.get("test")
             for s in by_cell.get(c["index"], []) if not s.kit]
    shown = [s for c in earlier if not c.get("test") for s in by_cell.get(c["index"], [])]
    mine = [s for s in shown if not s.kit and not s.cell.get("locked")]
    return Evidence(tests=[s.run for s in tests], mine=mine, shown=shown,
                    answers=dict(cells[position].get("answers") or {}), code=code, seen_tests=tests,
                    at=int(cells[position].get("index", 0)))


def judge(journal: list[dict], cells: list[dict], passed: set[str],
          code: LearnerCode | None = None) -> dict[str, str]:
    """grade_id -> why the grader does not confirm it, for each test cell the kernel passed."""
    by_cell = runs_by_cell(journal, cells)
    denied: dict[str, str] = {}
    for position, cell in enumerate(cells):
        grade_id = cell.get("grade_id")
        part = PARTS.get(grade_id or "")
        if not cell.get("test") or part is None or grade_id not in passed:
            continue
        if not part.confirm(evidence(by_cell, cells, position, part, code or LearnerCode())):
            denied[grade_id] = (f"the model never saw the work test '{grade_id}' reports (it looked for "
                                f"{part.confirms})")
    return denied
