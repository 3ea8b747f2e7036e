"""What kind of cell a cell is, and the sanitize steps nbgrader needs around restoring cells.

``is_test_cell`` is the one rule for "a test cell" (grading, feedback, the stock path).

With ``OverwriteCells.add_missing_cells = True`` (needed so that a deleted
test cell comes back and is graded), nbgrader 0.9.6 crashes with
``KeyError: 'grade_id'`` on any cell whose nbgrader metadata names a cell the
gradebook does not know: it deletes the unknown ``grade_id`` and then reads it.
Such cells are common (an ordinary cell that kept nbgrader metadata, a cell a
learner copied and renamed). They are ordinary cells for grading purposes, so
their nbgrader metadata is dropped before ``OverwriteCells`` runs.
"""

from __future__ import annotations

from nbgrader.api import Gradebook, MissingEntry
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor, OverwriteCells


def is_test_cell(cell) -> bool:
    """A graded code cell that is not an answer: nbgrader scores it by the absence of an error."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


class DropUnknownCellMetadata(NbGraderPreprocessor):
    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        known: set[str] = set()
        with Gradebook(info["db_url"]) as gb:
            try:
                notebook = gb.find_notebook(info["notebook"], info["assignment"])
            except MissingEntry:
                return nb, resources
            known = {cell.name for cell in notebook.source_cells}
        for cell in nb.cells:
            meta = cell.get("metadata", {})
            nbgrader = meta.get("nbgrader")
            if nbgrader is None:
                continue
            if not isinstance(nbgrader, dict) or nbgrader.get("grade_id") not in known:
                del meta["nbgrader"]
        return nb, resources


class OverwriteReleasedCells(OverwriteCells):
    """nbgrader's ``OverwriteCells``, without the false alarm on an untouched test cell.

    The gradebook keeps a locked cell's checksum from the source notebook, hidden tests
    included, and the release stores the checksum of the cell without them. So every test cell
    with hidden tests, handed in untouched, made stock ``autograde`` print "Attribute 'checksum'
    for cell ... has changed!" (jupyter/nbgrader#1961). For the instructor that reads like
    tampering. A cell whose source still matches the checksum the release wrote into it is as
    released, and is not reported. Every locked cell is still restored from the gradebook, and an
    edited one is still reported (tests/e2e/test_nbgrader_stock.py).
    """

    def preprocess_cell(self, cell, resources, cell_index):
        released = cell.get("metadata", {}).get("nbgrader", {}).get("checksum")
        self._as_released = bool(released) and utils.compute_checksum(cell) == released
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name, attr, old, new) -> None:
        if attr == "checksum" and getattr(self, "_as_released", False):
            return
        super().report_change(name, attr, old, new)
