"""A graded notebook's status, score and reason, decided from the evidence and worded for a person.

The one home of the row's wording: what voids a notebook (tampering), what stops
it (a dead or hung kernel, a kernel that never started), the notes that keep a
grade but say what happened, and nbgrader's own failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from autograder.grading.execute import ExecutionReport
from autograder.grading.result import NotebookResult


@dataclass
class Evidence:
    """What grading found outside the kernel, for one notebook."""

    report: ExecutionReport
    grades: list[dict] = field(default_factory=list)  # the gradebook's rows for its graded cells
    kit_changes: list[str] = field(default_factory=list)  # the private kit copy, compared with the pristine one
    refused_writes: list[str] = field(default_factory=list)  # kit or venv files the sandbox refused to write
    gradebook_changed: bool = False
    limit_hits: list[str] = field(default_factory=list)  # sandbox limits the notebook reached
    cell_timeout: int = 60


def tampering(ev: Evidence) -> list[str]:
    """What the notebook's code did that would fake results (each voids the notebook)."""
    found = []
    if ev.kit_changes:
        found.append("changed the course kit while it was graded (" + "; ".join(ev.kit_changes[:3]) + ")")
    if ev.gradebook_changed:
        found.append("changed the grader's gradebook while it was graded")
    if ev.report.tampered:
        found.append("replaced parts of the course or the grader before a test ran ("
                     + "; ".join(ev.report.tampered[:3]) + ")")
    return found


def decide(result: NotebookResult, score: float, ev: Evidence) -> NotebookResult:
    """Status, score, per-cell scores, notes and reason of a notebook nbgrader graded."""
    result.score, result.status = score, "graded"
    result.cells = {g["name"]: [g["score"], g["max_score"]] for g in ev.grades}
    if ev.refused_writes:
        # The sandbox made the write fail, so it changed nothing: the notebook is graded on its answers.
        # Only the kernel's own output shows the attempt (a kernel can hide it), so it is reported, never
        # scored: a score must not depend on what the kernel chooses to show (issue 20).
        result.notes.append("tried to rewrite the course kit or the Python environment ("
                            + "; ".join(ev.refused_writes[:3])
                            + "); the sandbox refused, so nothing changed and it was graded on its answers")
    tamper = tampering(ev)
    if tamper:
        _void(result, tamper)
    else:
        _stopped(result, ev.report)
    result.notes.extend(ev.limit_hits)
    if ev.limit_hits and result.status == "failed" and not tamper:
        result.reason += " Limits hit: " + "; ".join(ev.limit_hits) + "."
    result.notes.extend(_run_notes(ev, graded=result.status == "graded"))
    if result.status == "graded" and result.notes:
        result.reason = "Graded. Note: " + "; ".join(result.notes) + "."
    return result


def _void(result: NotebookResult, tamper: list[str]) -> None:
    result.status, result.score = "failed", 0.0
    result.cells = {name: [0.0, pair[1]] for name, pair in result.cells.items()}
    result.reason = ("This notebook's code " + " and ".join(tamper) + ", which would fake results, so it scores 0. "
                     "Remove any code that changes the course kit, the grader or its data (files or functions), "
                     "then hand it in again.")


def _stopped(result: NotebookResult, report: ExecutionReport) -> None:
    if report.stop_kind in ("died", "hung"):
        result.status = "failed"
        result.reason = (f"Grading stopped at {report.stopped_at}: {report.stop_detail} "
                         f"{report.cells_not_run} later cell(s) did not run, so their tests score 0; "
                         f"tests before it kept their points ({_fmt(result.score)} of {_fmt(result.max_score)}). "
                         "Run the notebook top to bottom (Kernel > Restart and Run All) to find the problem.")
    elif report.stop_kind == "startup":
        result.status, result.score = "failed", 0.0
        result.reason = (f"{report.stop_detail} This is a problem of the grading machine, not of the submission: "
                         "run the grade command again.")


def _run_notes(ev: Evidence, graded: bool) -> list[str]:
    report, notes = ev.report, []
    if report.interrupted:
        notes.append(f"{_join(report.interrupted)} ran longer than {ev.cell_timeout} s and was stopped")
    if report.truncated:
        notes.append(f"the output of {_join(report.truncated)} was cut (too long)")
    if report.network:
        hosts = sorted({a.split(" ", 1)[-1] for a in report.network})
        notes.append("tried to reach the network (" + ", ".join(hosts[:3]) + "), which the course refuses")
    manual = [g["name"] for g in ev.grades if g["needs_manual_grade"]]
    if manual and graded:
        notes.append(f"{len(manual)} cell(s) need manual grading in the formgrader ({', '.join(manual[:3])})")
    return notes


def left_processes(count: int) -> str:
    return f"left {count} background process(es) running, which the grader stopped"


def nbgrader_failure(error: str, log: str) -> str:
    text = error or next((line for line in reversed(log.splitlines()) if line.startswith("[ERROR]")), "")
    text = text.replace("[ERROR] ", "").strip().splitlines()[-1] if text.strip() else "no details"
    return (f"nbgrader could not grade this notebook ({text[:300]}). This usually means its grading "
            "information (cell metadata) was damaged: start again from the released notebook, copy your "
            "answers into it, and hand it in again.")


def grader_bug(err: Exception) -> str:
    return (f"The grader itself failed on this notebook ({type(err).__name__}: {err}). "
            "This is not the learner's fault: run the grade command again, and report it if it repeats.")


def _fmt(x: float) -> str:
    return f"{x:g}"


def _join(items: list[str]) -> str:
    items = list(dict.fromkeys(items))
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:2]) + f" and {len(items) - 2} more"
