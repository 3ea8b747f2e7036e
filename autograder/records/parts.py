"""The graded parts of the assignment (1.1 ... 4.3), read from the notebooks' nbgrader metadata.

A part is one graded (test) cell: its ``grade_id`` and ``points`` are what
nbgrader grades by, so they are read from the notebooks, never from the checks'
code. The label is the exercise number (the notebook's ``NN_`` prefix) and the
cell's position among that notebook's graded cells: ``01_sequential``'s third
test is part ``1.3``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat


@dataclass(frozen=True)
class Part:
    label: str  # "1.3"
    notebook: str  # "01_sequential"
    grade_id: str  # "test_seq_context"
    points: float

    @property
    def column(self) -> str:
        """The column name in grades.csv and the exports: label and grade id, e.g. ``1.3 test_seq_context``."""
        return f"{self.label} {self.grade_id}"


def _exercise_number(notebook: str, fallback: int) -> int:
    match = re.match(r"(\d+)", notebook)
    return int(match.group(1)) if match else fallback


def parts(assignment_dir: Path) -> list[Part]:
    """Every graded cell of the assignment's notebooks (source or release), in notebook and cell order."""
    found: list[Part] = []
    for index, path in enumerate(sorted(Path(assignment_dir).glob("*.ipynb"))):
        nb = nbformat.read(str(path), as_version=4)
        number = _exercise_number(path.stem, index)
        position = 0
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and meta.get("grade_id"):
                position += 1
                found.append(Part(label=f"{number}.{position}", notebook=path.stem, grade_id=meta["grade_id"],
                                  points=float(meta.get("points") or 0)))
    return found
