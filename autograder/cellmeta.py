"""A sanitize step nbgrader needs before it restores cells.

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
from nbgrader.preprocessors import NbGraderPreprocessor


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
