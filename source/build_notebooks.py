"""Writes the crew_processes notebooks from the cells below.

Run from the repo root: ``python source/build_notebooks.py`` (then regenerate
the release: ``nbgrader generate_assignment crew_processes --force``).

Each ``cells_*.py`` module holds one notebook as a list of cells:
``(kind, id, source[, points])`` with kind ``md`` (markdown), ``code`` (free
code), ``locked`` (given code nbgrader restores at grading), ``answer`` (the
learner's cell; ``### BEGIN/END SOLUTION`` marks what the release hides) or
``test`` (graded; ``### BEGIN/END HIDDEN TESTS`` marks what the release hides).

The notebooks are generated, not hand-edited, so that every cell keeps a stable
id (a slug; the grade_id for nbgrader cells), the nbgrader metadata stays exactly
schema v3, and no output is ever saved. This file sits outside the assignment
folder so nbgrader does not copy it into the release.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
ASSIGNMENT = HERE / "crew_processes"

# Each notebook's cells live in a module beside this file (files, not a folder:
# nbgrader would take a folder in source/ for another assignment).
sys.path.insert(0, str(HERE))
sys.dont_write_bytecode = True  # a __pycache__/ folder in source/ would look like an assignment to nbgrader
import cells_00_tour  # noqa: E402
import cells_01_sequential  # noqa: E402
import cells_02_hierarchical  # noqa: E402
import cells_03_async  # noqa: E402
import cells_04_mixed_phases  # noqa: E402

NOTEBOOKS = {
    "00_tour.ipynb": cells_00_tour.CELLS,
    "01_sequential.ipynb": cells_01_sequential.CELLS,
    "02_hierarchical.ipynb": cells_02_hierarchical.CELLS,
    "03_async.ipynb": cells_03_async.CELLS,
    "04_mixed_phases.ipynb": cells_04_mixed_phases.CELLS,
}

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _nbgrader(kind: str, cell_id: str, points: int | None) -> dict | None:
    """nbgrader cell metadata, schema v3, exactly the keys nbgrader writes."""
    if kind == "answer":
        return {"grade": False, "grade_id": cell_id, "locked": False, "schema_version": 3, "solution": True}
    if kind == "test":
        return {"grade": True, "grade_id": cell_id, "locked": True, "points": points, "schema_version": 3,
                "solution": False}
    if kind == "locked":
        return {"grade": False, "grade_id": cell_id, "locked": True, "schema_version": 3, "solution": False}
    return None


def build(cells: list[tuple]) -> nbformat.NotebookNode:
    notebook = new_notebook(metadata={"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    seen: set[str] = set()
    for spec in cells:
        kind, cell_id, source = spec[:3]
        points = spec[3] if len(spec) > 3 else None
        if cell_id in seen:
            raise ValueError(f"duplicate cell id {cell_id!r}")
        seen.add(cell_id)
        source = source.strip("\n")
        cell = new_markdown_cell(source) if kind == "md" else new_code_cell(source)
        cell.id = cell_id
        meta = _nbgrader(kind, cell_id, points)
        if meta is not None:
            cell.metadata["nbgrader"] = meta
        notebook.cells.append(cell)
    nbformat.validate(notebook)
    return notebook


def write_all(target: Path = ASSIGNMENT) -> list[Path]:
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, cells in NOTEBOOKS.items():
        path = target / name
        path.write_text(nbformat.writes(build(cells)) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all():
        print(f"wrote {path.relative_to(HERE.parent)}")
