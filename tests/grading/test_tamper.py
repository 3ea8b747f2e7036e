"""autograder/grading/tamper.py: locked cells deleted, edited or repointed are reported."""

from __future__ import annotations

from autograder.grading import tamper

from tests.helpers import autograder_synth as synth


def test_locked_cells_deleted_edited_or_repointed_are_reported():
    nb = synth.source_notebooks()["00_double"]
    locked = {"test_double": {"source": nb.cells[3].source, "points": 2}, "setup": {"source": "import os", "points": None}}
    student = synth.student_notebook(nb, drop=("setup",), edit={"test_double": "pass"}, points={"test_double": 50})
    notes = tamper.tampered_locked_cells(student, locked)
    assert any("'setup' was deleted" in n for n in notes)
    assert any("'test_double' was edited" in n for n in notes)
    assert any("points of 'test_double'" in n for n in notes)
    assert tamper.tampered_locked_cells(nb, locked) == []
