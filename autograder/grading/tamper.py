"""What a notebook's code changed that it must not: locked cells, the kit, the gradebook's definition.

Each finding is evidence read outside the kernel (the hand-in, files on disk, the
gradebook); ``verdict.py`` turns the findings into a status and a reason.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import sys
from pathlib import Path

import nbformat

from autograder.paths import SANDBOX_KIT

# The gradebook tables that define the assignment. A notebook's code that
# changes them (to turn a test into `pass`, raise points...) is tampering.
DEFINITION_TABLES = ("course", "assignment", "notebook", "base_cell", "grade_cells", "solution_cells",
                     "task_cells", "source_cell")


def definition_digest(db_path: Path) -> str:
    """A digest of the tables that define the assignment (not the grades)."""
    digest = hashlib.sha256()
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        for table in DEFINITION_TABLES:
            try:
                rows = db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            except sqlite3.DatabaseError:
                rows = [("missing table",)]
            digest.update(table.encode())
            digest.update(repr(rows).encode())
    return digest.hexdigest()


def gradebook_changed(db_path: Path, template_db: Path) -> bool:
    try:
        return definition_digest(db_path) != definition_digest(template_db)
    except sqlite3.DatabaseError:
        return True


def locked_cells(template: Path, assignment: str, notebook: str) -> dict[str, dict]:
    """The locked cells of a notebook as the learner received them: {grade_id: {source, points}}."""
    released = nbformat.read(str(template / "release" / assignment / f"{notebook}.ipynb"), as_version=4)
    cells = {}
    for cell in released.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("locked") and meta.get("grade_id"):
            cells[meta["grade_id"]] = {"source": cell.source, "points": meta.get("points") if meta.get("grade") else None}
    return cells


def tampered_locked_cells(submitted: nbformat.NotebookNode, locked: dict[str, dict]) -> list[str]:
    """Locked cells the learner deleted or edited, or whose points they changed (nbgrader restores them)."""
    seen: dict[str, nbformat.NotebookNode] = {}
    for cell in submitted.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id and grade_id not in seen:
            seen[grade_id] = cell
    notes = []
    for grade_id, original in locked.items():
        cell = seen.get(grade_id)
        if cell is None:
            notes.append(f"locked cell '{grade_id}' was deleted (the original was put back and graded)")
            continue
        if cell.get("source", "") != original["source"]:
            notes.append(f"locked cell '{grade_id}' was edited (the original was put back and graded)")
        if _points_changed(cell.get("metadata", {}).get("nbgrader", {}).get("points"), original["points"]):
            notes.append(f"the points of '{grade_id}' were changed (the original points were used)")
    return notes


def _points_changed(points, original) -> bool:
    if original is None or points is None:
        return False
    try:
        return float(points) != float(original)
    except (TypeError, ValueError):
        return True


def refused_writes(outputs: str) -> list[str]:
    """Files of the kit or the venv a notebook tried to write, as the failed writes' errors name them."""
    places = [SANDBOX_KIT, os.path.realpath(sys.prefix)]
    found = []
    for match in re.finditer(r"Read-only file system: '([^']+)'", outputs):
        path = match.group(1)
        if any(path == p or path.startswith(p + "/") for p in places):
            shown = path.replace(SANDBOX_KIT + "/", "")
            if shown not in found:
                found.append(shown)
    return found


def outputs_text(notebook_path: Path) -> str:
    """Every output of the executed notebook as text (what hit a limit shows up there)."""
    try:
        nb = nbformat.read(str(notebook_path), as_version=4)
    except Exception:
        return ""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(str(out.get("ename", "")) + " " + str(out.get("evalue", "")) + " " + str(out.get("text", "")))
    return "\n".join(parts)[:1_000_000]
