"""The witness step of grading a notebook: the model's witness started for it, stopped after it,
and every passed test the witness does not confirm zeroed in the gradebook (the rules: witness_rules.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat

from autograder.grading import learner_code, sandbox, witness, witness_rules


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


def kernel_socket(settings) -> str:
    """Where the kernel reaches the witness, or "" when this grading runs without one."""
    return f"{witness.KERNEL_DIR}/{witness.SOCKET_NAME}" if _wanted(settings) else ""


def _wanted(settings) -> bool:
    # Without the sandbox the kernel runs as the grader and could read the witness's secret.
    return bool(getattr(settings, "sandbox", False) and getattr(settings, "witness", False))


def start(settings):
    """This notebook's witness, started (None when grading runs without one)."""
    if not _wanted(settings):
        return None
    # Run as root, the grader gives the socket to the sandbox's own uid (the warm kernel server picks the same one);
    # run as another user, the sandbox's user namespace maps to that user, who owns it already.
    owner = sandbox.sandbox_uid(os.getpid()) if os.geteuid() == 0 else None
    w = witness.Witness(witness.folder_for(settings.work), owner=owner, kit=(witness_rules.KIT_MARK,))
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
    began = time.monotonic()
    passed = {g["name"] for g in grades if g["score"] > 0}
    code = learner_code.read(nbformat.read(str(autograded), as_version=4))
    denied = witness_rules.judge(w.journal(), report.cells, passed, code)
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
