"""The template course every grading starts from: source notebooks, their release, a gradebook.

nbgrader restores test cells (hidden ones included) from the gradebook, not
from ``source/``: a gradebook made from an older source would grade with old
tests. So each batch makes its own template from the current source with
``generate_assignment`` (into a build folder: the repo's ``release/`` and
``gradebook.db`` are not touched), and every notebook is graded against a
fresh copy of it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import sqlite3

from traitlets.config import Config

from autograder.paths import ASSIGNMENT, IGNORE, with_venv_on_path


class TemplateError(Exception):
    """The source assignment cannot be turned into a gradebook: nothing can be graded."""


def source_digest(source_assignment: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(source_assignment.rglob("*")):
        if path.is_file() and not any(part in (".ipynb_checkpoints", "__pycache__") for part in path.parts):
            digest.update(path.relative_to(source_assignment).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def nbgrader_config(root: Path, assignment: str = ASSIGNMENT) -> Config:
    from autograder.nbgrader_setup import course_config

    c = course_config(root, assignment)
    c.GenerateAssignment.create_assignment = True
    return c


def generate(root: Path, assignment: str = ASSIGNMENT) -> str:
    """Run nbgrader's generate_assignment in ``root`` (in this process); returns its log."""
    from nbgrader.converters import GenerateAssignment
    from nbgrader.coursedir import CourseDirectory

    # nbgrader creates the gradebook by running `alembic` from PATH.
    os.environ["PATH"] = with_venv_on_path()["PATH"]
    config = nbgrader_config(root, assignment)
    app = GenerateAssignment(coursedir=CourseDirectory(config=config), config=config)
    app.force = True
    from autograder.nbgrader_setup import run_converter  # one way to run an nbgrader app and keep its log

    ok, log, error = run_converter(app)
    if not ok:
        lines = [line for line in log.splitlines() if "ERROR" in line or "CRITICAL" in line]
        raise TemplateError(
            f"nbgrader could not generate the assignment from {root / 'source' / assignment}: "
            + ("; ".join(lines[-3:]) or error))
    return log


def build_template(source_root: Path, dest: Path, assignment: str = ASSIGNMENT) -> Path:
    """A course folder in ``dest`` with source/, release/ and gradebook.db for ``assignment``.

    ``source_root`` is a folder holding ``<assignment>/`` (the repo's ``source/``).
    """
    src = Path(source_root) / assignment
    notebooks = sorted(src.glob("*.ipynb")) if src.is_dir() else []
    if not notebooks:
        raise TemplateError(f"No source notebooks in {src}: there is nothing to grade against.")
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "source").mkdir(parents=True)
    shutil.copytree(src, dest / "source" / assignment, ignore=shutil.ignore_patterns(*IGNORE))
    generate(dest, assignment)
    if not (dest / "gradebook.db").exists():
        raise TemplateError("nbgrader generate_assignment made no gradebook.")
    return dest


# --- the template's facts -------------------------------------------------------------------

def template_notebooks(template: Path, assignment: str) -> list[str]:
    return sorted(p.stem for p in (template / "source" / assignment).glob("*.ipynb"))


def max_scores(template: Path, assignment: str) -> dict[str, float]:
    """Each notebook's maximum score, as the template gradebook defines it."""
    with sqlite3.connect(template / "gradebook.db") as db:
        rows = db.execute(
            "SELECT n.name, COALESCE(SUM(g.max_score), 0) FROM notebook n "
            "JOIN assignment a ON n.assignment_id = a.id "
            "LEFT JOIN base_cell b ON b.notebook_id = n.id AND b.type = 'GradeCell' "
            "LEFT JOIN grade_cells g ON g.id = b.id WHERE a.name = ? GROUP BY n.name",
            (assignment,)).fetchall()
    return {name: float(total) for name, total in rows}
