"""A tiny synthetic assignment for the autograder's tests: fast to grade, every trap reachable.

Two notebooks, no CrewAI (kernels start in a fraction of a second), each with
an answer cell, visible and hidden tests. ``student_notebook`` turns the
release copy into a learner's submission with given answers and mutations.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

import nbformat

ASSIGNMENT = "crew_processes"

HIDDEN_LINE = "assert double(21) == 42, 'secret-hidden-check'"


def _meta(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def _code(grade_id: str, source: str, **flags) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source, metadata=_meta(grade_id, **flags))
    cell.id = grade_id
    return cell


def _md(cell_id: str, text: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_markdown_cell(text)
    cell.id = cell_id
    return cell


def _notebook(cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def source_notebooks(setup: str = "import os") -> dict[str, nbformat.NotebookNode]:
    first = _notebook([
        _md("intro", "# Doubling\nWrite `double`."),
        _code("setup", setup, locked=True),
        _code("answer_double", "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
              solution=True),
        _code("test_double", "assert double(2) == 4, 'double(2) should be 4'\n"
              f"### BEGIN HIDDEN TESTS\n{HIDDEN_LINE}\n### END HIDDEN TESTS", grade=True, locked=True, points=2),
        _code("free_play", "# scratch space\n1 + 1"),
    ])
    second = _notebook([
        _md("intro2", "# Greeting"),
        _code("answer_greet", "def greet(name):\n    ### BEGIN SOLUTION\n    return f'hi {name}'\n    ### END SOLUTION",
              solution=True),
        _code("test_greet", "assert greet('a') == 'hi a', 'greet(\"a\") should be \"hi a\"'",
              grade=True, locked=True, points=1),
        _code("test_greet_hidden", "### BEGIN HIDDEN TESTS\nassert greet('zz') == 'hi zz', 'greet must work for any name'\n"
              "### END HIDDEN TESTS", grade=True, locked=True, points=2),
    ])
    return {"00_double": first, "01_greet": second}


MAX = {"00_double": 2.0, "01_greet": 3.0}
GOOD = {"answer_double": "def double(x):\n    return x + x", "answer_greet": "def greet(name):\n    return 'hi ' + name"}


def write_source(root: Path, setup: str = "import os") -> Path:
    """``root/source/crew_processes/*.ipynb``; returns ``root/source``."""
    folder = root / "source" / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    for name, nb in source_notebooks(setup).items():
        nbformat.write(nb, str(folder / f"{name}.ipynb"))
    return root / "source"


def student_notebook(release_nb: nbformat.NotebookNode, answers: dict[str, str] | None = None,
                     drop: tuple[str, ...] = (), edit: dict[str, str] | None = None,
                     points: dict[str, float] | None = None, append: list[str] | None = None,
                     insert_before: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """A learner's copy: answers filled in, cells dropped/edited, points changed, code added."""
    nb = copy.deepcopy(release_nb)
    cells = []
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in drop:
            continue
        if insert_before and grade_id in insert_before:
            extra = nbformat.v4.new_code_cell(insert_before[grade_id])
            extra.id = f"extra-{grade_id}"
            cells.append(extra)
        if answers and grade_id in answers:
            cell.source = answers[grade_id]
        if edit and grade_id in edit:
            cell.source = edit[grade_id]
        if points and grade_id in points:
            cell.metadata["nbgrader"]["points"] = points[grade_id]
        cells.append(cell)
    for i, code in enumerate(append or []):
        extra = nbformat.v4.new_code_cell(code)
        extra.id = f"appended-{i}"
        cells.append(extra)
    nb.cells = cells
    return nb


def write_student(folder: Path, notebooks: dict[str, nbformat.NotebookNode | str | bytes | None],
                  layout: str = "flat") -> Path:
    """One student's hand-in; a str/bytes value is written verbatim (a broken file), None is left out."""
    base = folder / ASSIGNMENT if layout == "nested" else folder
    base.mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        path = base / f"{name}.ipynb"
        if nb is None:
            continue
        if isinstance(nb, bytes):
            path.write_bytes(nb)
        elif isinstance(nb, str):
            path.write_text(nb)
        else:
            nbformat.write(nb, str(path))
    return folder


def folder_digest(folder: Path) -> str:
    """One hash of every path and file below ``folder``: equal digests mean nothing there changed."""
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        h.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def released(root: Path) -> tuple[Path, dict[str, nbformat.NotebookNode]]:
    """The synthetic course's source written under ``root``, and its release notebooks built by nbgrader."""
    from autograder.batch import template as course_template

    source = write_source(root / "course")
    template = course_template.build_template(source, root / "template")
    return source, {n: nbformat.read(str(template / "release" / "crew_processes" / f"{n}.ipynb"), as_version=4)
                    for n in MAX}
