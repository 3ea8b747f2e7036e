"""What the witness confirms for each graded part, judged on its own journal (issue 11).

The grader knows when each cell ran (``execute.ExecutionReport.cells``, on the
worker's clock) and the witness (``autograder/witness.py``) knows every model
call it answered, on the same clock. The calls of one kickoff become a
``RecordedRun`` (``RecordedRun.from_model_calls``) and each part's rule from
``autograder/checks/rules.py`` (the same functions the kernel's checks use) is
evaluated on those runs. A test cell keeps its points only when the kernel's
check passed **and** the witness confirms.

Which runs count for a test cell: those that began in the window of any test
cell up to and including it (test cells may share one set of runs, made in the
first test cell that needs them); for parts about the learner's own runs
(1.4, 3.5) also those of the learner's cells before it, passed separately. A
run from a learner's cell never confirms a part the grader's own re-runs decide
(the notebooks' own demo cells run the course's example crews).

What the model cannot see stays graded in the kernel only: answers the learner
types (2.4's two choices and its number, Ex 4.1's DAG). For 2.4 the witness
still requires the two runs that test measures. 3.1 and 3.2 read the crew's
structure and make no run: their evidence is the grader's runs of the same crew
in the notebook's other test cells (3.1: that they reached the model; 3.2: three
tasks answered by three different agents).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from course.recording import RecordedRun

from autograder.checks import rules

Runs = list[RecordedRun]


def _complete(run: RecordedRun, size: int | None = None) -> bool:
    return bool(run.tasks) and all(t.ref for t in run.tasks) and (size is None or len(run.tasks) == size)


def _sequential(run: RecordedRun, size: int) -> bool:
    return run.process == "sequential" and _complete(run, size)


def _seq_crew(runs: Runs, mine: Runs) -> bool:
    return any(_sequential(r, 3) and len({t.worker for t in r.tasks}) == 3 for r in runs)


def _seq_order(runs: Runs, mine: Runs) -> bool:
    return any(_sequential(r, 3) and rules.out_of_turn(r) is None for r in runs)


def _seq_context(runs: Runs, mine: Runs) -> bool:
    return any(_sequential(r, 3) and rules.chain_broken(rules.by_start(r)) is None for r in runs)


RUNS_WANTED = 3  # as ex01_sequential.RUNS_WANTED


def _seq_determinism(runs: Runs, mine: Runs) -> bool:
    graded = [r for r in runs if _sequential(r, 3)]
    outputs = [tuple(t.ref for t in rules.by_start(r)) for r in graded]
    same = any(outputs.count(o) >= 2 for o in outputs)
    shapes = {tuple(t.name for t in rules.by_start(r)) for r in graded}
    learners = [r for r in mine if _sequential(r, 3) and tuple(t.name for t in rules.by_start(r)) in shapes]
    return same and len(learners) >= RUNS_WANTED


def _hierarchical(run: RecordedRun) -> bool:
    return run.process == "hierarchical" and _complete(run)


def _hier_setup(runs: Runs, mine: Runs) -> bool:
    return any(_hierarchical(r) for r in runs)


def _hier_delegation(runs: Runs, mine: Runs) -> bool:
    return any(_hierarchical(r) and not rules.not_delegated(r) for r in runs)


def _hier_order(runs: Runs, mine: Runs) -> bool:
    return any(_hierarchical(r) and rules.out_of_turn(r) is None and rules.chain_broken(rules.by_start(r)) is None
               for r in runs)


def _hier_answers(runs: Runs, mine: Runs) -> bool:
    # The numbers and choices are typed; what the model saw is the two runs the test measures.
    return any(_hierarchical(r) for r in runs) and any(_sequential(r, len(r.tasks)) for r in runs)


def _async_shape(runs: Runs, mine: Runs) -> bool:
    # Async flags leave no trace the model can see in a crew that fails (one agent for all three
    # research tasks runs one of them): the witness confirms that the grader's runs reached it.
    return any(r.tasks for r in runs)


def _async_agents(runs: Runs, mine: Runs) -> bool:
    # The research tasks (all but the one that started last) were answered by different agents.
    return any(_sequential(r, 4) and len({t.worker for t in rules.by_start(r)[:-1]}) == 3 for r in runs)


def _research_and_join(run: RecordedRun) -> tuple[list, object] | None:
    if not _sequential(run, 4):
        return None
    ordered = rules.by_start(run)
    return ordered[:-1], ordered[-1]


def _async_overlap(runs: Runs, mine: Runs) -> bool:
    for run in runs:
        found = _research_and_join(run)
        if found and rules.apart(run, found[0]) is None:
            return True
    return False


def _async_join(runs: Runs, mine: Runs) -> bool:
    for run in runs:
        found = _research_and_join(run)
        if found and run.started_after_all(found[1], found[0]) and not rules.unreceived(found[1], found[0]):
            return True
    return False


def _both_kinds(runs: Runs) -> bool:
    four = [r for r in runs if _sequential(r, 4)]
    return any(r.overlapping_pairs() for r in four) and any(not r.overlapping_pairs() for r in four)


def _async_timing(runs: Runs, mine: Runs) -> bool:
    # The grader's two runs (parallel and not) and the learner's own measured runs of both kinds.
    return _both_kinds(runs) and _both_kinds(mine)


def _phases(run: RecordedRun) -> list | None:
    if not _sequential(run, 6):
        return None
    t = rules.by_start(run)
    return [t[0:2], t[2:3], t[3:5], t[5:6]]


def _mixed_matches(runs: Runs, mine: Runs) -> bool:
    for run in runs:
        phases = _phases(run)
        if phases and all(run.started_after_all(task, before)
                          for before, now in zip(phases, phases[1:]) for task in now):
            return True
    return False


def _mixed_parallel(runs: Runs, mine: Runs) -> bool:
    for run in runs:
        phases = _phases(run)
        if phases and rules.apart(run, phases[0]) is None and rules.apart(run, phases[2]) is None:
            return True
    return False


def _mixed_joins(runs: Runs, mine: Runs) -> bool:
    for run in runs:
        phases = _phases(run)
        if phases and all(run.started_after_all(join[0], before) and not rules.unreceived(join[0], before)
                          for before, join in ((phases[0], phases[1]), (phases[2], phases[3]))):
            return True
    return False


@dataclass(frozen=True)
class Part:
    """What the witness requires for one test cell."""

    confirm: Callable[[Runs, Runs], bool]  # (the grader's runs, the learner's own runs) -> confirmed
    learner_runs: bool  # the learner's own runs (cells before the test) are passed too
    confirms: str  # for the docs and the reason
    # A test that only reads the crew's structure makes no run of its own: the grader's runs of
    # the same crew in the notebook's other test cells are its evidence.
    every_test: bool = False


PARTS: dict[str, Part] = {
    "test_seq_crew": Part(_seq_crew, False, "a sequential run of three tasks by three agents"),
    "test_seq_order": Part(_seq_order, False, "three tasks answered one after another"),
    "test_seq_context": Part(_seq_context, False, "each step received the previous step's output"),
    "test_seq_determinism": Part(_seq_determinism, True,
                                 "two graded runs with the same outputs and three runs of yours of that crew"),
    "test_hier_setup": Part(_hier_setup, False, "a run under a manager that finished every task"),
    "test_hier_delegation": Part(_hier_delegation, False, "the manager handed the tasks to more than one worker"),
    "test_hier_order": Part(_hier_order, False, "tasks one after another under the manager, each given the last output"),
    "test_hier_answers": Part(_hier_answers, False, "a run under a manager and a sequential run"),
    "test_async_shape": Part(_async_shape, False, "the grader's runs of your crew", every_test=True),
    "test_async_agents": Part(_async_agents, False, "three tasks answered by three different agents, then one more",
                              every_test=True),
    "test_async_overlap": Part(_async_overlap, False, "three tasks answered at the same time, then one more"),
    "test_async_join": Part(_async_join, False, "the last task started after the other three and received them"),
    "test_async_timing": Part(_async_timing, True,
                              "runs with and without tasks side by side, the grader's and yours"),
    "test_mixed_matches": Part(_mixed_matches, False, "tasks that waited as the four phases do"),
    "test_mixed_parallel": Part(_mixed_parallel, False, "both pairs of phase 1 and phase 3 side by side"),
    "test_mixed_joins": Part(_mixed_joins, False, "analysis and review started after, and received, both before them"),
}
# Typed answers the model never sees: graded in the kernel only.
KERNEL_ONLY = {"test_mixed_dag": "the DAG the learner typed"}


def runs_by_cell(journal: list[dict], cells: list[dict]) -> dict[int, Runs]:
    """The journal's kickoffs, each in the cell that started it (before the first cell: nowhere)."""
    grouped: dict[str, list[dict]] = {}
    for call in journal:
        grouped.setdefault(call.get("run") or f"thread {call.get('thread', '')}", []).append(call)
    found: dict[int, Runs] = {}
    for calls in grouped.values():
        first = min(float(c["start"]) for c in calls)
        # The cell whose window holds the first call, else the last cell begun before it: a thread a
        # cell started can make its first call just after that cell ended (a crew that failed in one
        # thread while another was about to call the model), and it is still that cell's run.
        cell = next((c for c in cells if c["start"] <= first <= c["end"]), None) \
            or next((c for c in reversed(cells) if c["start"] <= first), None)
        if cell is not None:
            found.setdefault(cell["index"], []).append(RecordedRun.from_model_calls(calls))
    return found


def judge(journal: list[dict], cells: list[dict], passed: set[str]) -> dict[str, str]:
    """grade_id -> why the witness does not confirm it, for each test cell the kernel passed."""
    by_cell = runs_by_cell(journal, cells)
    denied: dict[str, str] = {}
    for position, cell in enumerate(cells):
        grade_id = cell.get("grade_id")
        part = PARTS.get(grade_id or "")
        if not cell.get("test") or part is None or grade_id not in passed:
            continue
        earlier = cells[:position + 1]
        tests = [r for c in (cells if part.every_test else earlier) if c.get("test")
                 for r in by_cell.get(c["index"], [])]
        mine = [r for c in earlier if not c.get("test") for r in by_cell.get(c["index"], [])] \
            if part.learner_runs else []
        if not part.confirm(tests, mine):
            denied[grade_id] = (f"the model never saw the work test '{grade_id}' reports (it looked for "
                                f"{part.confirms})")
    return denied


def apply(denied: dict[str, str], gradebook_url: str, course_id: str, assignment: str, notebook: str,
          student: str, autograded: Path) -> None:
    """Score each denied test cell 0 in the gradebook and say why in its output (feedback shows it)."""
    import nbformat
    from nbgrader.api import Gradebook

    with Gradebook(gradebook_url, course_id) as gb:
        nb = gb.find_submission_notebook(notebook, assignment, student)
        for grade in nb.grades:
            if grade.name in denied:
                grade.auto_score = 0.0
                grade.needs_manual_grade = False
        gb.db.commit()
    executed = nbformat.read(str(autograded), as_version=4)
    for cell in executed.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in denied:
            cell.setdefault("outputs", []).append(nbformat.v4.new_output(
                "error", ename="NotWitnessed", evalue=denied[grade_id] + ", so this test scores 0.",
                traceback=[f"NotWitnessed: {denied[grade_id]}, so this test scores 0."]))
    nbformat.write(executed, str(autograded))


# --- the grader's hooks (autograder/grading.py) ------------------------------------------

def kernel_socket(settings) -> str:
    """Where the kernel reaches the witness, or "" when this grading runs without one."""
    from autograder import witness

    return f"{witness.KERNEL_DIR}/{witness.SOCKET_NAME}" if _wanted(settings) else ""


def _wanted(settings) -> bool:
    # Without the sandbox the kernel runs as the grader and could read the witness's secret.
    return bool(getattr(settings, "sandbox", False) and getattr(settings, "witness", False))


def start(settings):
    """This notebook's witness, started (None when grading runs without one)."""
    if not _wanted(settings):
        return None
    import os

    from autograder import sandbox, witness

    # Run as root, the grader gives the socket to the sandbox's own uid (forkkernel picks the same one);
    # run as another user, the sandbox's user namespace maps to that user, who owns it already.
    owner = sandbox.sandbox_uid(os.getpid()) if os.geteuid() == 0 else None
    w = witness.Witness(witness.folder_for(settings.work), owner=owner)
    w.start()
    return w


def stop(w) -> None:
    if w is not None:
        w.stop()


def conclude(w, report, grades: list[dict], gradebook_url: str, settings, student: str, notebook: str,
             autograded: Path) -> list[str]:
    """Zero each passed test cell the (stopped) witness does not confirm; the notes for the reason."""
    if w is None:
        return []
    import time

    began = time.monotonic()
    passed = {g["name"] for g in grades if g["score"] > 0}
    denied = judge(w.journal(), report.cells, passed)
    notes = []
    if report.witness:
        notes.append(f"the kernel could not reach the model's witness ({report.witness})")
    refused = w.problems()
    if refused:
        notes.append("the model's witness refused what this notebook's code did: " + "; ".join(refused))
    if denied:
        apply(denied, gradebook_url, settings.course_id, settings.assignment, notebook, student, autograded)
        notes.extend(f"{why}, so it scores 0" for why in denied.values())
    w.judged = time.monotonic() - began
    return notes
